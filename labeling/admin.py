"""Django admin for researchers. Writes that carry rules go through labeling.services: creating a study,
changing its scheme (a used version is frozen: a change makes the next one), uploading clips, withdrawing
a participant. Queue state and submitted labels are read-only here. Staff who are not superusers see only
the studies they are researchers of. The clip admin (with bulk upload) is in labeling/admin_clips.py."""

from __future__ import annotations

import contextvars

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify

from labeling import selectors, services
from labeling.errors import ServiceError
from labeling.forms import SchemeJSONField
from labeling.models import (
    Annotation,
    Assignment,
    Clip,
    Invite,
    Membership,
    Participant,
    ParticipantEvent,
    Role,
    SchemeVersion,
    Study,
)
from labeling.scheme import DEFAULT_SPEC
from labeling.views import invite_url

# The request being served, so list columns can build absolute URLs (a ContextVar is per thread/task).
current_request: contextvars.ContextVar = contextvars.ContextVar("labeling_admin_request", default=None)


def id_param(value) -> int | None:
    """A row id from a query parameter, or None: ASCII digits within 64 bits (SQLite refuses larger integers
    with an OverflowError, and str.isdigit() accepts digits int() refuses, such as "²")."""
    value = str(value or "")
    if not (value.isascii() and value.isdigit() and len(value) <= 19):
        return None
    number = int(value)
    return number if number <= 2**63 - 1 else None


def count_of(qs, fk: str = "study"):
    """A correlated COUNT subquery (no join fan-out, no N+1)."""
    return Coalesce(Subquery(qs.order_by().values(fk).annotate(n=Count("pk")).values("n")), 0)


class StudyFilter(admin.SimpleListFilter):
    """The studies the user manages (one query), as ?study=<id>."""

    title = "study"
    parameter_name = "study"

    def lookups(self, request, model_admin):
        return list(
            selectors.studies_for_researcher(user=request.user).order_by("title").values_list("id", "title")
        )

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        study_id = id_param(value)
        return queryset.filter(study_id=study_id) if study_id is not None else queryset.none()


class SchemeVersionFilter(admin.SimpleListFilter):
    title = "scheme version"
    parameter_name = "scheme"

    def lookups(self, request, model_admin):
        qs = SchemeVersion.objects.filter(study__in=selectors.studies_for_researcher(user=request.user))
        study = request.GET.get("study", "")
        if study:
            qs = qs.filter(study_id=id_param(study)) if id_param(study) is not None else qs.none()
        qs = qs.order_by("study__title", "version").values_list("id", "study__title", "version")
        return [(pk, f"{title} v{version}") for pk, title, version in qs]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        version_id = id_param(value)
        return queryset.filter(scheme_version_id=version_id) if version_id is not None else queryset.none()


class ScopedAdmin(admin.ModelAdmin):
    """Rows of the user's own studies only (superusers see everything)."""

    study_path = "study"
    show_full_result_count = False  # no second COUNT(*) over big tables

    def get_queryset(self, request):
        current_request.set(request)
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.study_path}__in": selectors.studies_for_researcher(user=request.user)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "study" and not request.user.is_superuser:
            kwargs["queryset"] = selectors.studies_for_researcher(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(ScopedAdmin):
    """History and queue state: viewable, never edited, added or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def person(user) -> str:
    return user.crowd_pid or user.get_username()


# --- Studies and schemes ---------------------------------------------------------------------------------


class SchemeVersionInline(admin.TabularInline):
    model = SchemeVersion
    extra = 0
    can_delete = False
    fields = ["version", "created_at", "summary", "labels"]
    readonly_fields = fields
    ordering = ["-version"]
    verbose_name_plural = (
        "scheme versions (a version in use is frozen; edit the scheme above to make a new one)"
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_labels=Count("annotations"))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="scheme")
    def summary(self, obj):
        spec = obj.spec
        groups = ", ".join(g.get("label") or g["name"] for g in spec.get("context_groups", []))
        confidence = (
            f"confidence 1–{spec.get('confidence_points')}" if spec.get("ask_confidence") else "no confidence"
        )
        return f"{spec.get('instrument')} · {spec.get('points')} points · {confidence} · context: {groups or '—'}"

    @admin.display(description="labels")
    def labels(self, obj):
        return obj.n_labels


QUEUE_FIELDS = ("overlap_k", "lease_minutes", "require_full_view")
POLICY_FIELDS = ("extra_annotator_sd_threshold", "extra_annotator_cap_k")
STUDY_FIELDS = (
    "is_active",
    "instructions",
    "consent_text",
    *QUEUE_FIELDS,
    "completion_code",
    "completion_url",
    "crowd_key",
    *POLICY_FIELDS,
)


class StudyForm(forms.ModelForm):
    scheme = SchemeJSONField(label="Rating scheme")

    class Meta:
        model = Study
        fields = ["title", "slug", *STUDY_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:
            self.fields["slug"].required = False
            self.fields["slug"].help_text = "Used in crowd links. Left empty, it is made from the title."
        self.current_scheme = selectors.scheme_current(study=self.instance) if self.instance.pk else None
        self.fields["scheme"].initial = (
            self.current_scheme.spec if self.current_scheme else dict(DEFAULT_SPEC)
        )

    def clean(self):
        data = super().clean()
        if "slug" in self.fields and not data.get("slug") and data.get("title"):
            data["slug"] = slugify(data["title"])[:80]
            if not data["slug"]:
                self.add_error("slug", "The title gives no usable slug; enter one.")
            elif Study.objects.filter(slug=data["slug"]).exclude(pk=self.instance.pk).exists():
                self.add_error("slug", f"{data['slug']!r} is taken; enter another slug.")
        return data


@admin.register(Study)
class StudyAdmin(ScopedAdmin):
    study_path = "pk"
    form = StudyForm
    list_display = ["title", "slug", "is_active", "overlap_k", "clips", "annotators", "created_at", "page"]
    list_filter = ["is_active"]
    search_fields = ["title", "slug"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "is_active"]}),
        ("Text shown to annotators (Markdown)", {"fields": ["instructions", "consent_text"]}),
        ("Queue", {"fields": list(QUEUE_FIELDS)}),
        ("Crowd platforms", {"fields": ["crowd_key", "completion_code", "completion_url"]}),
        ("Agreement: one more annotator for clips rated far apart (K+1)", {"fields": list(POLICY_FIELDS)}),
        ("Rating scheme", {"fields": ["scheme"]}),
    ]
    actions = ["compute_agreement"]

    @admin.action(description="Compute agreement now")
    def compute_agreement(self, request, queryset):
        started = running = 0
        for study in queryset:  # already scoped to the user's studies
            try:
                _, created = services.agreement_request(study=study, requested_by=request.user)
            except ServiceError as exc:  # the broker is down: say so, and stop (the next would fail too)
                self.message_user(request, f"{study}: {exc.message}", messages.ERROR)
                break
            started += created
            running += not created
        if not (started or running):
            return
        parts = [f"Agreement run queued for {started} {'study' if started == 1 else 'studies'}."]
        if running:
            parts.append(f"{running} already had a run pending or going; it was left to finish.")
        self.message_user(request, " ".join(parts), messages.SUCCESS)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_clips=count_of(Clip.objects.filter(study=OuterRef("pk"))),
                n_annotators=count_of(Membership.objects.filter(study=OuterRef("pk"), role=Role.ANNOTATOR)),
            )
        )

    def get_inlines(self, request, obj):
        return [SchemeVersionInline] if obj is not None else []

    def view_on_site(self, obj):
        return reverse("study-detail", args=[obj.pk])

    @admin.display(description="clips", ordering="n_clips")
    def clips(self, obj):
        return obj.n_clips

    @admin.display(description="annotators", ordering="n_annotators")
    def annotators(self, obj):
        return obj.n_annotators

    @admin.display(description="study page")
    def page(self, obj):
        return format_html('<a href="{}">open</a>', reverse("study-detail", args=[obj.pk]))

    def save_model(self, request, obj, form, change):
        spec = form.cleaned_data["scheme"]
        if not change:  # through the service: scheme v1 and the creator's researcher membership
            created = services.study_create(
                title=form.cleaned_data["title"],
                slug=form.cleaned_data["slug"],
                created_by=request.user,
                scheme=spec,
                **{f: form.cleaned_data[f] for f in STUDY_FIELDS if f in form.cleaned_data},
            )
            obj.pk, obj.created_by, obj.created_at = created.pk, created.created_by, created.created_at
            obj._state.adding, obj._state.db = False, created._state.db
            return
        current = form.current_scheme
        changed_scheme = current is None or spec != current.spec
        fields = {f: form.cleaned_data[f] for f in ("title", "slug", *STUDY_FIELDS) if f in form.changed_data}
        services.study_update(study=obj, fields=fields, scheme=spec if changed_scheme else None)
        if changed_scheme:
            version = selectors.scheme_current(study=obj)
            if current is not None and version.version != current.version:
                self.message_user(
                    request,
                    f"Scheme v{current.version} is in use, so the change was saved as v{version.version}.",
                    messages.WARNING,
                )


@admin.register(SchemeVersion)
class SchemeVersionAdmin(ReadOnlyAdmin):
    list_display = ["study", "version", "created_at"]
    list_filter = [StudyFilter]
    list_select_related = ["study"]
    readonly_fields = ["study", "version", "spec", "created_at"]


# --- People ---------------------------------------------------------------------------------------------


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


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    """Removing a member goes through membership_remove: their live leases end and the clips get their
    slots back."""

    form = MembershipForm
    list_display = ["who", "study", "role", "joined_via", "consented_at", "completed_at", "created_at"]
    list_filter = [StudyFilter, "role", "joined_via"]
    list_select_related = ["user", "study"]
    search_fields = ["user__username", "user__email", "user__crowd_pid", "crowd_session_id"]
    autocomplete_fields = ["user"]
    readonly_fields = ["consented_at", "completed_at", "crowd_study_id", "crowd_session_id", "created_at"]

    @admin.display(description="user", ordering="user__username")
    def who(self, obj):
        return person(obj.user)

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.membership_remove(membership=membership)


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
    """The withdrawal log: read-only, never deleted."""

    model = ParticipantEvent
    extra = 0
    can_delete = False
    fields = ["at", "action", "by", "clips", "note"]
    readonly_fields = fields
    verbose_name_plural = "withdrawal log"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReinstateForm(forms.Form):
    note = forms.CharField(
        label="Why is the withdrawal undone?",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept in the withdrawal log with your name and the time.",
    )


@admin.register(Participant)
class ParticipantAdmin(ScopedAdmin):
    list_display = ["code", "study", "clips", "withdrawn_at", "created_at"]
    list_filter = [StudyFilter]
    list_select_related = ["study"]
    search_fields = ["code"]
    readonly_fields = ["withdrawn_at", "created_at"]
    actions = ["withdraw", "reinstate"]
    inlines = [ParticipantEventInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_clips=count_of(Clip.objects.filter(participant=OuterRef("pk")), "participant"))
        )

    def has_delete_permission(self, request, obj=None):
        return False  # a participant's rows go with their study; withdrawal is the way out, and it is logged

    @admin.display(description="clips", ordering="n_clips")
    def clips(self, obj):
        return obj.n_clips

    @admin.action(description="Withdraw: take their clips and labels out of the queue and every read path")
    def withdraw(self, request, queryset):
        for participant in queryset:
            services.participant_withdraw(participant=participant, by=request.user)
        self.message_user(request, f"{queryset.count()} participant(s) withdrawn.", messages.SUCCESS)

    @admin.action(description="Reinstate: undo a withdrawal (asks why; logged)")
    def reinstate(self, request, queryset):
        withdrawn = queryset.filter(withdrawn_at__isnull=False)
        form = ReinstateForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            for participant in withdrawn:
                services.participant_reinstate(
                    participant=participant, by=request.user, note=form.cleaned_data["note"]
                )
            self.message_user(
                request,
                f"{withdrawn.count()} participant(s) reinstated; their clips are active again.",
                messages.WARNING,
            )
            return None
        return TemplateResponse(
            request,
            "admin/labeling/participant/reinstate.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Undo a withdrawal",
                "form": form,
                "participants": withdrawn,
                "selected": queryset.values_list("pk", flat=True),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


# --- Queue and labels (read-only) -----------------------------------------------------------------------


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "clip", "who", "study", "status", "leased_at", "lease_expires_at", "submitted_at"]
    list_filter = ["status", StudyFilter]
    list_select_related = ["clip", "annotator", "study"]
    search_fields = ["annotator__username", "annotator__crowd_pid", "clip__original_name"]

    def get_queryset(self, request):
        # Who held a withdrawn participant's clip is theirs too: out of the lists like the labels.
        return super().get_queryset(request).filter(clip__withdrawn_at__isnull=True)

    @admin.display(description="annotator", ordering="annotator__username")
    def who(self, obj):
        return person(obj.annotator)


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    """Submitted labels are never changed by hand: no add, no change, no delete."""

    list_display = [
        "created_at", "clip", "who", "valence", "arousal", "raw", "confidence", "cannot_judge", "version", "study",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["study", "clip", "annotator", "assignment", "scheme_version", "submission_id", "created_at"]}),
        ("Rating (canonical [-1, 1] and raw scale values)", {"fields": [
            ("valence", "valence_raw", "valence_confidence"), ("arousal", "arousal_raw", "arousal_confidence"),
            ("cannot_judge", "cannot_judge_reason"),
        ]}),
        ("Context", {"fields": ["context_tags", "context_note"]}),
        ("How it was made", {"fields": ["time_on_task_ms", "watched_fraction", "user_agent"]}),
    ]  # fmt: skip
    list_filter = [StudyFilter, "cannot_judge", SchemeVersionFilter]
    list_select_related = ["clip", "annotator", "study", "scheme_version"]

    def get_queryset(self, request):
        # Labels of withdrawn participants' clips are kept in the database but shown nowhere.
        return super().get_queryset(request).filter(clip__withdrawn_at__isnull=True)

    search_fields = ["annotator__username", "annotator__crowd_pid", "clip__original_name", "=clip__sha256"]

    @admin.display(description="annotator", ordering="annotator__username")
    def who(self, obj):
        return person(obj.annotator)

    @admin.display(description="raw V / A")
    def raw(self, obj):
        return "—" if obj.cannot_judge else f"{obj.valence_raw:g} / {obj.arousal_raw:g}"

    @admin.display(description="confidence")
    def confidence(self, obj):
        if obj.valence_confidence is None:
            return "—"
        return f"{obj.valence_confidence} / {obj.arousal_confidence}"

    @admin.display(description="scheme", ordering="scheme_version__version")
    def version(self, obj):
        return f"v{obj.scheme_version.version}"


from labeling import admin_clips  # noqa: E402,F401  (registers the clip admin)
