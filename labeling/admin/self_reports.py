"""Self-reports: read-only (they are immutable), deletable by the study's researchers, and imported from a
file on the "Import self-reports" page (labeling.services.self_reports_import: all or nothing).

Deleting is how a wrong import is undone: filter the list by the import ("imported at"), select all, delete
(Django's confirmation page lists what goes), then import the corrected file. Withdrawn participants'
self-reports are kept in the database but listed nowhere (selectors.self_reports_for_analysis)."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from labeling import selectors, services
from labeling.admin.base import ScopedAdmin, StudyFilter, id_param
from labeling.forms import SelfReportImportForm
from labeling.models import SelfReport
from labeling.pages import service_error_page


class ImportFilter(admin.SimpleListFilter):
    """The latest imports (their rows share one created_at), so one import can be listed — and deleted — whole."""

    title = "imported at"
    parameter_name = "imported_at"
    LATEST = 20

    def lookups(self, request, model_admin):
        imports = (
            model_admin.get_queryset(request)
            .filter(source=SelfReport.Source.IMPORTED)
            .order_by()
            .values("created_at")
            .annotate(n=Count("id"))
            .order_by("-created_at")[: self.LATEST]
        )
        return [
            (row["created_at"].isoformat(), f"{row['created_at']:%Y-%m-%d %H:%M:%S} ({row['n']} rows)")
            for row in imports
        ]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            when = datetime.fromisoformat(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(source=SelfReport.Source.IMPORTED, created_at=when)


@admin.register(SelfReport)
class SelfReportAdmin(ScopedAdmin):
    """Viewed, never edited (no change form saves); added only by importing a file; deleted by a researcher of
    the study, after Django's confirmation page."""

    list_display = [
        "id", "participant", "clip", "window", "instrument", "raw", "valence", "arousal", "source", "reported_at",
        "created_at", "study",
    ]  # fmt: skip
    list_filter = [StudyFilter, "source", "instrument", ImportFilter]
    list_select_related = ["participant", "clip", "study"]
    search_fields = ["participant__code", "clip__original_name", "=external_id"]
    list_per_page = 100
    fieldsets = [
        (None, {"fields": ["study", "participant", "clip", ("start_s", "end_s"), "source", "external_id"]}),
        ("Rating (canonical [-1, 1] and raw values on the instrument's scale)", {"fields": [
            ("instrument", "scale_points"), ("valence", "valence_raw", "valence_confidence"),
            ("arousal", "arousal_raw", "arousal_confidence"), "confidence_points",
        ]}),
        ("Context", {"fields": ["context_tags", "context_note"]}),
        ("Provenance", {"fields": ["reported_at", "created_by", "created_at", "link", "scheme_version", "submission_id"]}),
    ]  # fmt: skip

    def rows(self):
        # The self-reports that count: withdrawn participants' are kept in the database but shown nowhere.
        return selectors.self_reports_for_analysis(study=None)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False  # immutable: a wrong one is deleted, and the corrected file imported

    def get_urls(self):
        page = path(
            "import/", self.admin_site.admin_view(self.import_view), name="labeling_selfreport_import"
        )
        return [page, *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        # A self-report is added by importing a file: the add form is the import page.
        url = reverse("admin:labeling_selfreport_import")
        if id_param(request.GET.get("study")) is not None:
            url += f"?study={request.GET['study']}"
        return HttpResponseRedirect(url)

    @admin.display(description="window")
    def window(self, obj):
        return "whole clip" if obj.start_s is None else f"{obj.start_s:g}–{obj.end_s:g} s"

    @admin.display(description="raw V / A")
    def raw(self, obj):
        def show(value):
            return "—" if value is None else f"{value:g}"

        scale = f" of {obj.scale_points}" if obj.scale_points else ""
        return f"{show(obj.valence_raw)} / {show(obj.arousal_raw)}{scale}"

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        studies = selectors.studies_for_researcher(user=request.user).order_by("title")
        if request.method == "POST":
            form = SelfReportImportForm(request.POST, request.FILES, studies=studies)
        else:
            form = SelfReportImportForm(
                initial={"study": id_param(request.GET.get("study"))}, studies=studies
            )

        def page(*, report=None, problem=""):
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Import self-reports",
                "form": form,
                "report": report,
                "problem": problem,
                "has_view_permission": self.has_view_permission(request),
            }
            return TemplateResponse(request, "admin/labeling/selfreport/import.html", context)

        @service_error_page(
            lambda request, exc: page(report=getattr(exc, "report", None), problem=exc.message)
        )
        def run(request):
            data = form.cleaned_data
            report = services.self_reports_import(
                study=data["study"],
                content=data["file"].read(),
                filename_or_format=data["file"].name,
                by=request.user,
                dry_run=data["dry_run"],
            )
            if not report.dry_run:
                self.message_user(
                    request,
                    f"{report.created} self-report(s) imported into {data['study']}; {report.unchanged} row(s) "
                    "were already there.",
                    messages.SUCCESS,
                )
            return page(report=report)

        if request.method == "POST" and form.is_valid():
            return run(request)
        return page()
