"""Self-report links in the participant admin: the action that issues them (each whole link shown once, with
its expiry) and the read-only list of a participant's links, each with a revoke button. Issuing and revoking
go through labeling.services.participant_links; the keys are never stored, so never shown again."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from labeling import selectors, services
from labeling.errors import ServiceError
from labeling.links import participant_link_url
from labeling.models import ParticipantLink
from labeling.services.participant_links import DEFAULT_DAYS, MAX_DAYS, MAX_NOTE_CHARS

from .base import current_request, id_param


class IssueLinkForm(forms.Form):
    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        initial=DEFAULT_DAYS,
        label="Valid for (days)",
        help_text=f"1 to {MAX_DAYS}. The link stops working after that; you can revoke it sooner.",
    )
    note = forms.CharField(
        max_length=MAX_NOTE_CHARS,
        required=False,
        label="Note (optional)",
        help_text="For you, to tell links apart (e.g. how it was sent). Never shown to the participant.",
    )


class ParticipantLinkInline(admin.TabularInline):
    """A participant's self-report links: read-only (never the key: only its first characters), with a
    revoke button for a link that still works."""

    model = ParticipantLink
    extra = 0
    can_delete = False
    fields = [
        "prefix",
        "note",
        "created_at",
        "created_by",
        "expires_at",
        "consented_at",
        "last_used_at",
        "state",
    ]
    readonly_fields = fields
    verbose_name = "self-report link"
    verbose_name_plural = "self-report links"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="status")
    def state(self, link: ParticipantLink):
        state = selectors.participant_link_state(link)
        if state != "active":
            when = link.revoked_at if state == "revoked" else None
            return f"{state} {when:%Y-%m-%d %H:%M}" if when else state
        request = current_request.get()
        if request is None or not request.user.has_perm("labeling.change_participant"):
            return state
        url = reverse("admin:labeling_participant_link_revoke", args=[link.participant_id, link.pk])
        # The inline sits inside the participant's change form (and its CSRF token): this button posts that
        # form to the revoke view instead of saving it.
        return format_html(
            'active <button type="submit" formaction="{}" formmethod="post" formnovalidate '
            'class="button" name="_revoke_link" value="{}">Revoke</button>',
            url,
            link.pk,
        )


class ParticipantLinksAdmin(admin.ModelAdmin):
    """Mixed into the participant admin: the "issue a self-report link" action and the revoke view."""

    def get_urls(self):
        revoke = self.admin_site.admin_view(self.revoke_link_view)
        return [
            path(
                "<path:object_id>/links/<int:link_id>/revoke/",
                revoke,
                name="labeling_participant_link_revoke",
            ),
            *super().get_urls(),
        ]

    def revoke_link_view(self, request, object_id, link_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        row_id = id_param(object_id)
        participant = self.get_queryset(request).filter(pk=row_id).first() if row_id is not None else None
        if participant is None or not self.has_change_permission(request, participant):
            raise Http404("No such participant.")
        link = selectors.participant_link_for_researcher(participant=participant, link_id=link_id)
        services.participant_link_revoke(link=link, by=request.user)
        self.message_user(
            request, f"Link {link.prefix}… revoked: it opens nothing any more.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:labeling_participant_change", args=[participant.pk]))

    @admin.action(description="Issue a self-report link (shown once)")
    def issue_link(self, request, queryset):
        chosen = list(queryset.select_related("study"))
        form = IssueLinkForm(request.POST if "confirm" in request.POST else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Issue self-report links",
            "form": form,
            "rows": chosen,
            "action": request.POST.get("action", ""),
            "selected": [p.pk for p in chosen],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "issued": None,  # the form; a list once links are issued
        }
        if form.is_bound and form.is_valid():
            issued = []
            for participant in chosen:
                try:
                    link, key = services.participant_link_issue(
                        participant=participant,
                        by=request.user,
                        days=form.cleaned_data["days"],
                        note=form.cleaned_data["note"],
                    )
                except ServiceError as exc:  # e.g. withdrawn: say so, and go on with the others
                    self.message_user(request, f"{participant.code}: {exc.message}", messages.ERROR)
                else:
                    issued.append(
                        {"participant": participant, "link": link, "url": participant_link_url(request, key)}
                    )
            context.update(title="Self-report links issued", issued=issued, now=timezone.now())
        response = TemplateResponse(request, "admin/labeling/participant/issue_link.html", context)
        response["Cache-Control"] = "no-store"  # the page holds whole links: never kept by a cache
        return response
