"""Dataset exports in the Django admin: read-only (builds are started from the study page, the API, the
command, or the "Build a dataset export" action this module adds to the study list), scoped like every
labeling admin (a researcher sees only their studies' exports), deletable through exports.services (folder,
then row; never one still being built)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import actions as admin_actions
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from labeling.admin import studies as _study_admin  # noqa: F401  (the Study admin this module adds an action to)
from labeling.admin.base import ScopedAdmin, StudyFilter
from labeling.errors import ServiceError
from labeling.models import Study

from . import selectors, services
from .models import Export

FILES_SHOWN = 30


class WithdrawnFilter(admin.SimpleListFilter):
    title = "withdrawn data"
    parameter_name = "withdrawn"

    def lookups(self, request, model_admin):
        return [("yes", "Holds withdrawn data"), ("no", "No withdrawn data")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(withdrawn_data_at__isnull=self.value() == "no")
        return queryset


@admin.register(Export)
class ExportAdmin(ScopedAdmin):
    list_display = ["study", "version", "status", "progress_pct", "ratings", "size", "created_at", "created_by",
                    "withdrawn"]  # fmt: skip
    list_display_links = ["study", "version"]
    list_filter = [StudyFilter, "status", WithdrawnFilter]
    list_select_related = ["study", "created_by"]
    ordering = ["-created_at"]
    fieldsets = [
        (None, {"fields": ["study", "version", "status", "progress_pct", "progress_message", "error", "downloads"]}),
        ("Withdrawn data", {"fields": ["withdrawn_data_at", "withdrawn_note"]}),
        ("What it holds", {"fields": ["parameters", "watermark_last_id", "watermark_at",
                                      "watermark_self_report_id", "row_counts", "size",
                                      "file_list", "supersedes", "code_version"]}),
        ("Build", {"fields": ["created_by", "created_at", "started_at", "finished_at", "duration_s", "attempts",
                              "folder"]}),
    ]  # fmt: skip
    readonly_fields = [f for _, group in fieldsets for f in group["fields"]]
    actions = ["delete_selected"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: the detail page is a view

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status not in Export.OPEN)

    # Named as the site-wide action, so it replaces it: this one leaves builds in progress alone.
    @admin.action(description="Delete the selected exports and their files", permissions=["delete"])
    def delete_selected(self, request, queryset):
        building = queryset.filter(status__in=Export.OPEN)
        if building.exists() and request.POST.get("post") is None:  # said once, on the confirmation page
            names = ", ".join(str(e) for e in building)
            self.message_user(request, f"Still being built, so left alone: {names}.", messages.WARNING)
        return admin_actions.delete_selected(self, request, queryset.exclude(status__in=Export.OPEN))

    def delete_model(self, request, obj):
        services.export_delete(export=obj)

    def delete_queryset(self, request, queryset):
        for export in queryset:
            try:
                services.export_delete(export=export)
            except ServiceError as exc:  # it started building since the confirmation page
                self.message_user(request, exc.message, messages.WARNING)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as exc:  # it started building since the page was shown
            self.message_user(request, exc.message, messages.ERROR)
            return self.response_post_save_change(request, None)

    @admin.display(description="progress", ordering="progress")
    def progress_pct(self, obj):
        return f"{obj.progress:.0%}"

    @admin.display(description="ratings")
    def ratings(self, obj):
        count = (obj.row_counts or {}).get("ratings")
        return "—" if count is None else f"{count:,}"

    @admin.display(description="size", ordering="total_bytes")
    def size(self, obj):
        return filesizeformat(obj.total_bytes) if obj.total_bytes else "—"

    @admin.display(description="files")
    def file_list(self, obj):
        """The first files with their size (an export with media may hold thousands); all are in the manifest."""
        shown = obj.files[:FILES_SHOWN]
        lines = [f"{f['path']} · {filesizeformat(f['bytes'])}" for f in shown]
        if len(obj.files) > FILES_SHOWN:
            lines.append(f"… and {len(obj.files) - FILES_SHOWN:,} more (see manifest.json)")
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) if lines else "—"

    @admin.display(description="withdrawn data", boolean=True, ordering="withdrawn_data_at")
    def withdrawn(self, obj):
        return obj.withdrawn_data_at is not None

    @admin.display(description="downloads")
    def downloads(self, obj):
        refusal = selectors.export_refusal(obj)
        if refusal is not None:
            return refusal.message
        return format_html(
            '<a href="{}">zip</a> · <a href="{}">manifest.json</a> · <a href="{}">dataset card</a>',
            reverse("api-export-zip", args=[obj.pk]),
            reverse("api-export-file", args=[obj.pk, "manifest.json"]),
            reverse("api-export-file", args=[obj.pk, "README.md"]),
        )


@admin.action(description="Build a dataset export (default parameters)")
def build_dataset_export(modeladmin, request, queryset):
    """On the study list: one export per selected study (already scoped to the user's studies)."""
    started = []
    for study in queryset:
        try:
            export = services.export_start(study=study, parameters={}, created_by=request.user)
        except ServiceError as exc:  # the broker is down: say so, and stop (the next would fail too)
            modeladmin.message_user(request, f"{study}: {exc.message}", messages.ERROR)
            break
        started.append(f"{study} v{export.version}")
    if started:
        modeladmin.message_user(
            request,
            f"Export started: {', '.join(started)}. Follow it on the study page or under Dataset exports.",
            messages.SUCCESS,
        )


_study_admin_site = admin.site.get_model_admin(Study)
_study_admin_site.actions = [*_study_admin_site.actions, build_dataset_export]
