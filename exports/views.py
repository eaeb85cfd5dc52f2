"""The study page's "Dataset exports" section (the labeling study page loads it by URL with htmx, so labeling
never imports exports): the study's exports with their progress, downloads and delete buttons, and the form
that starts one. Without JavaScript the same URL is a page of its own, and the forms post and redirect.

One view, two renderings: the whole section (or page), or only the list while a build is polled."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from labeling import selectors as labeling_selectors
from labeling.errors import NotFound, ServiceError
from labeling.models import Study
from labeling.pages import service_error_page

from . import selectors, services
from .forms import ExportStartForm
from .models import Export

LISTED = 20  # exports shown; older ones are in the API's list


def _rows(study: Study) -> tuple[list[dict], int]:
    exports = list(selectors.exports_for_study(study=study)[: LISTED + 1])
    rows = []
    for export in exports[:LISTED]:
        refusal = selectors.export_refusal(export)
        rows.append(
            {
                "export": export,
                "refusal": refusal.message if refusal else "",
                "open": export.status in Export.OPEN,
            }
        )
    more = selectors.exports_for_study(study=study).count() - LISTED if len(exports) > LISTED else 0
    return rows, more


def _context(study: Study, form: ExportStartForm | None = None, **extra) -> dict:
    rows, more = _rows(study)
    queued = any(r["export"].status == Export.Status.PENDING for r in rows)
    return {
        "study": study,
        "rows": rows,
        "more": more,
        "polling": any(r["open"] for r in rows),
        # A queued build waits for a worker: say so when none is running (one query, only then).
        "no_worker": queued and labeling_selectors.background_status()["worker"] != "ok",
        "form": form or ExportStartForm(),
        **extra,
    }


def _section(request: HttpRequest, study: Study, *, status: int = 200, **extra) -> HttpResponse:
    """htmx: the section (swapped in place of the study page's placeholder); otherwise the page."""
    template = "exports/section.html" if request.htmx else "exports/page.html"
    return render(request, template, _context(study, **extra), status=status)


@login_required
@require_GET
def study_exports(request: HttpRequest, study_id: int) -> HttpResponse:
    study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
    if request.htmx and request.htmx.target == "export-list":
        return render(request, "exports/section.html#list", _context(study))
    return _section(request, study)


def _back(request: HttpRequest, study: Study, *, note: str = "", error: str = "", **extra) -> HttpResponse:
    """After a post: htmx gets the section back; a form post a redirect to the study page's section."""
    if request.htmx:
        return _section(request, study, note=note, error=error, **extra)
    if error:
        messages.error(request, error)
    elif note:
        messages.success(request, note)
    return redirect(reverse("study-detail", args=[study.pk]) + "#exports")


def _start_refused(request: HttpRequest, exc: ServiceError, *, study_id: int) -> HttpResponse:
    """The parameters were refused (shown beside their fields) or the task queue is unreachable."""
    study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
    form = ExportStartForm(request.POST)
    form.is_valid()
    if exc.errors:
        form.refused(exc.errors)
    return _section(request, study, form=form, error=exc.message, status=200 if request.htmx else 400)


@login_required
@require_POST
@service_error_page(_start_refused)
def study_export_start(request: HttpRequest, study_id: int) -> HttpResponse:
    study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
    form = ExportStartForm(request.POST)
    if not form.is_valid():
        error = "The export was not started: correct the marked fields."
        return _section(request, study, form=form, error=error, status=200 if request.htmx else 400)
    export = services.export_start(study=study, parameters=form.parameters(), created_by=request.user)
    return _back(request, study, note=f"Export v{export.version} started; it is built in the background.")


def _delete_refused(
    request: HttpRequest, exc: ServiceError, *, study_id: int, export_id: int
) -> HttpResponse:
    study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
    return _back(request, study, error=exc.message)


@login_required
@require_POST
@service_error_page(_delete_refused)
def study_export_delete(request: HttpRequest, study_id: int, export_id: int) -> HttpResponse:
    study = labeling_selectors.study_for_researcher(user=request.user, study_id=study_id)
    export = selectors.export_for_researcher(user=request.user, export_id=export_id)
    if export.study_id != study.pk:
        raise NotFound("No such export.")
    services.export_delete(export=export)
    return _back(request, study, note=f"Export v{export.version} and its files were deleted.")
