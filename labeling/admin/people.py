"""Members, invites and participants: membership changes and withdrawal go through labeling.services."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from labeling import selectors, services
from labeling.admin.base import (
    ScopedAdmin,
    StudyFilter,
    current_request,
    id_param,
    person,
)
from labeling.admin.participant_links import ParticipantLinkInline, ParticipantLinksAdmin
from labeling.errors import ServiceError
from labeling.links import invite_url
from labeling.models import (
    AnnotatorEvent,
    Invite,
    Membership,
    Participant,
    ParticipantEvent,
)
from labeling.services.participants import CONSENT_FIELDS


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["study", "user", "role", "joined_via"]

    def clean(self):
        data = super().clean()
        study, user, role = data.get("study"), data.get("user"), data.get("role")
        if study is not None and user is not None and role:
            problem = services.membership_problem(study=study, user=user, role=role)
            if problem:
                raise forms.ValidationError({"user": problem})
        return data


class WhyForm(forms.Form):
    """The reason an action asks for before it changes anything; kept in a log with the user and the time."""

    LABEL = ""
    note = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept in the withdrawal log with your name and the time.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = self.LABEL


class ReinstateForm(WhyForm):
    LABEL = "Why is the withdrawal undone?"


class WithdrawLabelsForm(WhyForm):
    LABEL = "Why are these labels withdrawn?"


def ask_why(
    model_admin: admin.ModelAdmin,
    request,
    queryset,
    *,
    form_class: type[WhyForm],
    rows: list[str],
    act: Callable[[str], None],
    **text: str,
):
    """An action that asks why first: the form (with `text`: title, intro, button, empty), then `act(note)`
    once a reason is given. Nothing changes before that."""
    form = form_class(request.POST if "confirm" in request.POST else None)
    if form.is_bound and form.is_valid():
        act(form.cleaned_data["note"])
        return None
    return TemplateResponse(
        request,
        "admin/labeling/ask_why.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "form": form,
            "rows": rows,
            "action": request.POST.get("action", ""),
            "selected": queryset.values_list("pk", flat=True),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **text,
        },
    )


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    """Removing a member goes through membership_remove: their live leases end and the clips get their
    slots back. A member whose labels are withdrawn is kept (their membership records it). Withdrawing and
    reinstating an annotator's labels are actions that ask why (labeling.services.withdrawal)."""

    form = MembershipForm
    list_display = [
        "who",
        "study",
        "role",
        "joined_via",
        "consented_at",
        "completed_at",
        "labels_withdrawn_at",
        "created_at",
    ]
    list_filter = [StudyFilter, "role", "joined_via", ("labels_withdrawn_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user", "study"]
    search_fields = ["user__username", "user__email", "user__crowd_pid", "crowd_session_id"]
    autocomplete_fields = ["user"]
    readonly_fields = [
        "consented_at",
        "completed_at",
        "crowd_study_id",
        "crowd_session_id",
        "created_at",
        "labels_withdrawn_at",
        "withdrawal_log",
    ]
    actions = ["withdraw_labels", "reinstate_labels"]

    @admin.display(description="user", ordering="user__username")
    def who(self, obj):
        return person(obj.user)

    @admin.display(description="withdrawal log")
    def withdrawal_log(self, obj):
        if obj.pk is None:
            return "-"
        events = AnnotatorEvent.objects.filter(
            study_id=obj.study_id, annotator_id=obj.user_id
        ).select_related("by")
        rows = format_html_join(
            "",
            "<li>{} {}: {} label(s), by {}. {}</li>",
            (
                (f"{e.at:%Y-%m-%d %H:%M}", e.get_action_display().lower(), e.labels, e.by or "-", e.note)
                for e in events
            ),
        )
        return format_html("<ul>{}</ul>", rows) if rows else "-"

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.labels_withdrawn_at is not None:
            # The membership records the withdrawal (services.membership_remove refuses too): no delete button,
            # and a bulk delete that includes it is refused by the admin's own permission check.
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.membership_remove(membership=membership)

    def _each(self, request, memberships, service, note: str, done: str) -> None:
        changed = 0
        for membership in memberships:
            try:
                service(membership=membership, by=request.user, note=note)
            except ServiceError as exc:  # e.g. an export was built since: say so, and go on with the others
                self.message_user(request, f"{person(membership.user)}: {exc.message}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} {done}", messages.SUCCESS)

    @admin.action(description="Withdraw labels: their ratings count nowhere, no more clips (asks why)")
    def withdraw_labels(self, request, queryset):
        chosen = list(queryset.filter(labels_withdrawn_at__isnull=True).select_related("user", "study"))
        return ask_why(
            self,
            request,
            queryset,
            form_class=WithdrawLabelsForm,
            rows=[f"{person(m.user)} ({m.study})" for m in chosen],
            act=lambda note: self._each(
                request,
                chosen,
                services.annotator_labels_withdraw,
                note,
                "member(s)' labels withdrawn; each clip they rated wants one more annotator.",
            ),
            title="Withdraw an annotator's labels",
            intro="Their ratings stay in the database but leave every list, report and export, and they can "
            "take no more clips in the study; each clip they rated is offered to one more annotator. Exports "
            "already built that hold their ratings are marked. This can be undone only until the next export.",
            button="Withdraw labels",
            empty="The selected members' labels are already withdrawn: there is nothing to do.",
        )

    @admin.action(description="Reinstate labels: undo a withdrawal until the next export (asks why)")
    def reinstate_labels(self, request, queryset):
        chosen = list(queryset.filter(labels_withdrawn_at__isnull=False).select_related("user", "study"))
        return ask_why(
            self,
            request,
            queryset,
            form_class=ReinstateForm,
            rows=[
                f"{person(m.user)} ({m.study}), withdrawn {m.labels_withdrawn_at:%Y-%m-%d %H:%M}"
                for m in chosen
            ],
            act=lambda note: self._each(
                request, chosen, services.annotator_labels_reinstate, note, "member(s)' labels reinstated."
            ),
            title="Undo a withdrawal of labels",
            intro="Their ratings count again everywhere and they may take clips again. Refused once an export "
            "of the study has been built since the withdrawal.",
            button="Reinstate labels",
            empty="None of the selected members' labels are withdrawn: there is nothing to undo.",
        )


@admin.register(Invite)
class InviteAdmin(ScopedAdmin):
    list_display = ["study", "role", "note", "used", "expires_at", "link"]
    list_filter = [StudyFilter, "role"]
    list_select_related = ["study"]
    search_fields = ["note", "token"]
    fields = ["study", "role", "note", "max_uses", "expires_at", "link", "uses", "created_at"]
    readonly_fields = ["link", "uses", "created_at"]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if id_param(request.GET.get("study")) is not None:
            initial["study"] = request.GET["study"]
        return initial

    @admin.display(description="uses")
    def used(self, obj):
        return f"{obj.uses} / {obj.max_uses}" if obj.max_uses else str(obj.uses)

    @admin.display(description="invite link")
    def link(self, obj):
        if not obj.pk:
            return "shown after saving"
        request = current_request.get()
        url = invite_url(request, obj.token) if request else f"/invite/{obj.token}/"
        return format_html('<input type="text" readonly value="{}" size="60">', url)


class ParticipantEventInline(admin.TabularInline):
    """The log of withdrawals and consent changes (scope "all", or the consent scope taken away or given
    back): read-only, never deleted."""

    model = ParticipantEvent
    extra = 0
    can_delete = False
    fields = ["at", "action", "scope", "by", "clips", "note"]
    readonly_fields = fields
    verbose_name_plural = "withdrawal and consent log"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ParticipantForm(forms.ModelForm):
    """The consent fields, checked by the service's rules (every problem on its field); `change_note` is
    kept in the log with each consent scope taken away or given back."""

    change_note = forms.CharField(
        required=False,
        max_length=500,
        label="Why (for the log)",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Kept in the log with each consent scope taken away or given back, with your name and the "
        "time. Never personal data.",
    )

    class Meta:
        model = Participant
        fields = ["study", "code", *CONSENT_FIELDS]

    def clean(self):
        data = super().clean()
        consent = {name: data[name] for name in CONSENT_FIELDS if name in data}
        try:
            data.update(services.consent_fields_clean(consent))
        except ServiceError as exc:
            for name, problem in exc.errors.items():
                self.add_error(name if name in self.fields else None, problem)
        return data


@admin.register(Participant)
class ParticipantAdmin(ParticipantLinksAdmin, ScopedAdmin):
    """Adding a participant and changing their consent go through labeling.services.participants, so each
    scope taken away or given back is logged (and taking consent to annotation away takes their clips out
    of the queue); withdrawing and reinstating are actions (labeling.services.withdrawal)."""

    form = ParticipantForm
    list_display = [
        "code",
        "study",
        "clips",
        "consent_annotation",
        "consent_labels_export",
        "consent_media_sharing",
        "consent_self_reports_export",
        "withdrawn_at",
        "created_at",
    ]
    list_filter = [
        StudyFilter,
        "consent_annotation",
        "consent_labels_export",
        "consent_media_sharing",
        "consent_self_reports_export",
    ]
    list_select_related = ["study"]
    search_fields = ["code"]
    readonly_fields = ["withdrawn_at", "created_at"]
    fieldsets = [
        (None, {"fields": ["study", "code"]}),
        ("Consent", {"fields": ["consent_version", "consent_date"]}),
        (
            "Consent scopes",
            {
                "fields": [
                    "consent_annotation",
                    "consent_labels_export",
                    "consent_media_sharing",
                    "consent_self_reports_export",
                ],
                "description": "What the person agreed to. The queue, the media and the exports obey these. "
                "Taking consent to annotation away takes their clips out of the queue now; giving it back "
                "leaves the clips inactive until you make them active. Each change is logged.",
            },
        ),
        ("Given with consent (optional)", {"fields": ["age_band", "gender"]}),
        ("Other consent terms", {"fields": ["consent_scope"]}),
        (None, {"fields": ["change_note"]}),
        ("Withdrawal", {"fields": ["withdrawn_at", "created_at"]}),
    ]
    actions = ["withdraw", "reinstate", "issue_link"]
    inlines = [ParticipantEventInline, ParticipantLinkInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a participant being added has no events or links yet

    def get_queryset(self, request):
        return selectors.participants_with_counts(participants=super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        # The study and the code are set once: clips, self-reports and exports refer to them.
        return [*self.readonly_fields, "study", "code"] if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # a participant's rows go with their study; withdrawal is the way out, and it is logged

    def save_model(self, request, obj, form, change):
        consent = {name: form.cleaned_data[name] for name in CONSENT_FIELDS if name in form.cleaned_data}
        if not change:
            created = services.participant_create(study=obj.study, code=obj.code, by=request.user, **consent)
            obj.pk, obj.created_at = created.pk, created.created_at
            obj._state.adding = False
            return
        result = services.participant_update(
            participant=obj, by=request.user, fields=consent, note=form.cleaned_data.get("change_note", "")
        )
        for notice in result.notices:
            self.message_user(request, notice, messages.WARNING)

    @admin.display(description="clips", ordering="clip_count")
    def clips(self, obj):
        return obj.clip_count

    @admin.action(description="Withdraw: take their clips and labels out of the queue and every read path")
    def withdraw(self, request, queryset):
        for participant in queryset:
            services.participant_withdraw(participant=participant, by=request.user)
        self.message_user(request, f"{queryset.count()} participant(s) withdrawn.", messages.SUCCESS)

    @admin.action(description="Reinstate: undo a withdrawal (asks why; logged)")
    def reinstate(self, request, queryset):
        withdrawn = list(queryset.filter(withdrawn_at__isnull=False).select_related("study"))

        def act(note: str) -> None:
            for participant in withdrawn:
                services.participant_reinstate(participant=participant, by=request.user, note=note)
            held = [p.code for p in withdrawn if not p.consent_annotation]
            message = f"{len(withdrawn)} participant(s) reinstated; their clips are active again"
            if held:
                message += (
                    " except those of " + ", ".join(held) + ", who do not consent to annotation (their clips "
                    "stay inactive)"
                )
            self.message_user(request, message + ".", messages.WARNING)

        return ask_why(
            self,
            request,
            queryset,
            form_class=ReinstateForm,
            rows=[f"{p.code} ({p.study}), withdrawn {p.withdrawn_at:%Y-%m-%d %H:%M}" for p in withdrawn],
            act=act,
            title="Undo a withdrawal",
            intro="A withdrawal is the filmed person's decision. Undo it only if it was made by mistake or the "
            "person has asked to take part again. Their clips return to the queue and their labels to every "
            "report and export.",
            button="Reinstate",
            empty="None of the selected participants has withdrawn: there is nothing to undo.",
        )
