"""Members, invites and participants: membership changes and withdrawal go through labeling.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html

from labeling import selectors, services
from labeling.admin.base import (
    ScopedAdmin,
    StudyFilter,
    current_request,
    id_param,
    person,
)
from labeling.links import invite_url
from labeling.models import (
    Invite,
    Membership,
    Participant,
    ParticipantEvent,
)


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
        return selectors.participants_with_counts(participants=super().get_queryset(request))

    def has_delete_permission(self, request, obj=None):
        return False  # a participant's rows go with their study; withdrawal is the way out, and it is logged

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
