"""Clip admin: probed metadata read-only, counters never written from a form, uploads (one or many files)
only through labeling.services.clip_create, each file reported as imported or refused with the reason."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from labeling import selectors, services
from labeling.admin.base import ScopedAdmin, StudyFilter
from labeling.errors import ValidationFailed
from labeling.forms import AdminClipUploadForm
from labeling.links import site_path
from labeling.models import Clip, Participant

EDITABLE = ("participant", "is_active")


def poster_url(clip: Clip) -> str:
    return site_path("clip-poster", f"/media/clips/{clip.pk}/poster/", clip_id=clip.pk)


def media_url(clip: Clip) -> str:
    return site_path("clip-media", f"/media/clips/{clip.pk}/", clip_id=clip.pk)


class ClipForm(forms.ModelForm):
    """Participant and queue switch, checked by the service's rules (a withdrawn participant's clip stays out)."""

    class Meta:
        model = Clip
        fields = list(EDITABLE)

    def clean(self):
        data = super().clean()
        changes = {}
        if "participant" in self.changed_data:
            changes["participant"] = data.get("participant")
        if "is_active" in self.changed_data:
            changes["is_active"] = data.get("is_active")
        try:
            services.clip_update_check(clip=self.instance, **changes)
        except ValidationFailed as exc:
            field = next(iter(exc.errors), None)
            self.add_error(field if field in self.fields else None, exc.message)
        return data


@admin.register(Clip)
class ClipAdmin(ScopedAdmin):
    form = ClipForm
    list_display = [
        "thumb",
        "original_name",
        "duration",
        "size",
        "ratings",
        "participant",
        "is_active",
        "study",
    ]
    list_display_links = ["thumb", "original_name"]
    list_filter = [StudyFilter, "is_active", "has_audio"]
    list_select_related = ["study", "participant"]
    search_fields = ["original_name", "^sha256"]
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["preview", "original_name", "study", "participant", "is_active"]}),
        ("Probed on upload", {"fields": [
            ("container", "video_codec"), ("duration_s", "fps"), ("width", "height"), ("has_audio", "size"), "sha256",
        ]}),
        ("Queue", {"fields": [("target_k", "n_assigned", "n_submitted")]}),
        ("Provenance", {"fields": [("uploaded_by", "created_at")]}),
    ]  # fmt: skip
    readonly_fields = [
        "preview", "original_name", "study", "container", "video_codec", "duration_s", "fps", "width", "height",
        "has_audio", "size", "sha256", "target_k", "n_assigned", "n_submitted", "uploaded_by", "created_at",
    ]  # fmt: skip

    def get_urls(self):
        upload = path("upload/", self.admin_site.admin_view(self.upload_view), name="labeling_clip_upload")
        return [upload, *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        # A clip is made from a file, by the service; the add form is the upload page.
        url = reverse("admin:labeling_clip_upload")
        if str(request.GET.get("study", "")).isdigit():
            url += f"?study={request.GET['study']}"
        return HttpResponseRedirect(url)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "participant" in form.base_fields:
            form.base_fields["participant"].queryset = Participant.objects.filter(study_id=obj.study_id)
        return form

    def save_model(self, request, obj, form, change):
        # Write only what the form edits, through the service: the queue counters move under concurrent
        # claims and must not be overwritten with the values read when the page was opened.
        changes = {f: form.cleaned_data[f] for f in EDITABLE if f in form.changed_data}
        if changes:
            services.clip_update(clip=obj, **changes)

    @admin.display(description="")
    def thumb(self, obj):
        if obj.withdrawn_at is not None:
            return format_html('<span class="clip-thumb clip-thumb-none">{}</span>', "withdrawn")
        if not obj.poster:
            return format_html('<span class="clip-thumb clip-thumb-none">{}</span>', "no poster")
        return format_html(
            '<img class="clip-thumb" src="{}" alt="" loading="lazy" width="80" height="{}">',
            poster_url(obj),
            round(80 * obj.height / obj.width) if obj.width else 45,
        )

    @admin.display(description="preview")
    def preview(self, obj):
        if obj.withdrawn_at is not None:
            return "The filmed participant has withdrawn: the video is no longer shown to anyone."
        return format_html(
            '<video src="{}" poster="{}" controls preload="none" style="max-width: 480px; max-height: 320px"></video>',
            media_url(obj),
            poster_url(obj) if obj.poster else "",
        )

    @admin.display(description="duration", ordering="duration_s")
    def duration(self, obj):
        return f"{obj.duration_s:.1f} s"

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj):
        return filesizeformat(obj.size_bytes)

    @admin.display(description="ratings", ordering="n_submitted")
    def ratings(self, obj):
        return f"{obj.n_submitted} / {obj.target_k}"

    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        studies = selectors.studies_for_researcher(user=request.user).order_by("title")
        results = []
        if request.method == "POST":
            form = AdminClipUploadForm(request.POST, request.FILES, studies=studies)
            if form.is_valid():
                study = form.cleaned_data["study"]
                results = services.clips_upload(
                    study=study, files=form.cleaned_data["files"], uploaded_by=request.user
                )
                form = AdminClipUploadForm(initial={"study": study.pk}, studies=studies)
        else:
            form = AdminClipUploadForm(initial={"study": request.GET.get("study")}, studies=studies)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Upload clips",
            "form": form,
            "results": results,
            "n_imported": sum(r.ok for r in results),
            "n_refused": sum(not r.ok for r in results),
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/labeling/clip/upload.html", context)
