"""Researcher pages: the list of one's studies, the study page (full page, or its live partial for htmx),
a clip's page (the observers beside the filmed person's own report) and clip upload. Thin: reads come from
selectors, writes from services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from labeling import plots, selectors, services
from labeling.errors import ServiceError
from labeling.forms import ClipUploadForm
from labeling.links import crowd_url, invite_url
from labeling.models import Study
from labeling.pages import service_error_page

RECENT_ROWS = 12
ANNOTATOR_ROWS = 50


def _bucket_colour(ratings: int, k: int) -> str:
    if ratings == 0:
        return "var(--dash-empty)"
    if ratings >= k:
        return "var(--dash-done)"
    return f"hsl(212 80% {78 - 36 * ratings / k:.0f}%)"


def _live_context(study: Study) -> dict:
    now = timezone.now()
    coverage = selectors.study_coverage(study=study)
    for bucket in coverage["buckets"]:
        bucket["colour"] = _bucket_colour(bucket["ratings"], coverage["k"])
    return {
        "study": study,
        "now": now,
        "coverage": coverage,
        "counts": selectors.study_annotator_counts(study=study, now=now),
        "annotators": selectors.study_annotators(study=study, limit=ANNOTATOR_ROWS, now=now),
        "annotator_rows": ANNOTATOR_ROWS,
        "recent": selectors.study_recent_annotations(study=study, limit=RECENT_ROWS),
        "rate": selectors.study_rating_rate(study=study, now=now),
    }


def _agreement_context(study: Study, *, figures: bool = True) -> dict:
    """The agreement section: latest done / open / failed report (agreement_latest), plots from its result."""
    latest = selectors.agreement_latest(study=study)
    report = latest["report"]
    result = report.result if report is not None else None
    agreement = {
        **latest,
        "result": result,
        "new_ratings": latest["current_count"] - (report.watermark_count or 0) if report else 0,
        "has_self_reports": latest["current_self_report_count"] > 0,
        # which finished reports the page shows: when this changes, the whole section is re-rendered
        "seen": f"{report.pk if report else 0}-{latest['failed'].pk if latest['failed'] else 0}",
    }
    agreement["background"] = selectors.background_status()  # reports and lease expiry need both
    if figures and result:
        agreement["figures"] = plots.report_figures(result)
        agreement["perceived"] = plots.perceived_figures(
            result.get("perceived_vs_experienced"), href=_clip_href(study)
        )
    return {"study": study, "agreement": agreement, "now": timezone.now()}


def _clip_href(study: Study) -> str:
    """The clip page's address with "{clip}" for the clip id (the plots make links without Django)."""
    return reverse("study-clip", args=[study.pk, 0]).replace("/clips/0/", "/clips/{clip}/")


def agreement_section(request: HttpRequest, study: Study, error: str = "") -> HttpResponse:
    """htmx: the status strip while nothing new has finished (it polls), else the whole section."""
    if request.htmx.target == "agreement-status" and not error:
        context = _agreement_context(study, figures=False)
        if request.GET.get("seen") == context["agreement"]["seen"]:
            return render(request, "labeling/_agreement.html#status", context)
    context = _agreement_context(study)
    context["agreement"]["request_error"] = error
    response = render(request, "labeling/_agreement.html", context)
    response["HX-Retarget"], response["HX-Reswap"] = "#agreement", "outerHTML"
    return response


def _agreement_run_answer(request: HttpRequest, study: Study, error: str = "") -> HttpResponse:
    """htmx gets the agreement section back (with the error, if any); a form post a redirect to it."""
    if request.htmx:
        return agreement_section(request, study, error=error)
    if error:
        messages.error(request, error)
    return redirect(reverse("study-detail", args=[study.pk]) + "#agreement")


def _agreement_run_refused(request: HttpRequest, exc: ServiceError, *, study_id: int) -> HttpResponse:
    """The run could not be started (the task queue is unreachable): the section says why."""
    study = selectors.study_for_researcher(user=request.user, study_id=study_id)
    return _agreement_run_answer(request, study, error=exc.message)


@login_required
@require_POST
@service_error_page(_agreement_run_refused)
def study_agreement_run(request: HttpRequest, study_id: int) -> HttpResponse:
    """Start an agreement run now ("Compute agreement now"); htmx gets the section back, a form post a redirect."""
    study = selectors.study_for_researcher(user=request.user, study_id=study_id)
    services.agreement_request(study=study, requested_by=request.user)
    return _agreement_run_answer(request, study)


@login_required
@require_GET
def study_list(request: HttpRequest) -> HttpResponse:
    studies = list(selectors.studies_overview_for_researcher(user=request.user))
    for s in studies:
        s.percent = 100.0 * s.n_ratings_done / s.n_ratings_wanted if s.n_ratings_wanted else 0.0
    return render(request, "labeling/study_list.html", {"studies": studies})


@login_required
@require_GET
def study_detail(request: HttpRequest, study_id: int) -> HttpResponse:
    """The study page; an htmx request (the 5-second poll) gets only the live partial."""
    study = selectors.study_for_researcher(user=request.user, study_id=study_id)
    if request.htmx and request.htmx.target in ("agreement", "agreement-status"):
        return agreement_section(request, study)
    context = _live_context(study)
    if request.htmx:
        return render(request, "labeling/study_detail.html#coverage", context)
    scheme = selectors.scheme_current(study=study)
    context.update(
        scheme=scheme,
        invites=[
            (invite, invite_url(request, invite.token)) for invite in selectors.invites_for_study(study=study)
        ],
        crowd_link=crowd_url(request, study),
        upload_form=ClipUploadForm(),
        agreement=_agreement_context(study)["agreement"],
        links={
            "admin": reverse("admin:labeling_study_change", args=[study.pk]),
            "clips": reverse("admin:labeling_clip_changelist") + f"?study={study.pk}",
            "annotations": reverse("admin:labeling_annotation_changelist") + f"?study={study.pk}",
            "memberships": reverse("admin:labeling_membership_changelist") + f"?study={study.pk}",
            "add_invite": reverse("admin:labeling_invite_add") + f"?study={study.pk}",
            "api_docs": reverse("api-docs"),
        },
    )
    return render(request, "labeling/study_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def clip_upload(request: HttpRequest, study_id: int) -> HttpResponse:
    """Upload clips to a study; every file is reported as imported or refused with the reason."""
    study = selectors.study_for_researcher(user=request.user, study_id=study_id)
    results: list[services.UploadResult] = []
    form = ClipUploadForm()
    if request.method == "POST":
        form = ClipUploadForm(request.POST, request.FILES)
        if form.is_valid():
            results = services.clips_upload(
                study=study, files=form.cleaned_data["files"], uploaded_by=request.user
            )
            form = ClipUploadForm()
    context = {
        "study": study,
        "form": form,
        "results": results,
        "n_imported": sum(r.ok for r in results),
        "n_refused": sum(not r.ok for r in results),
    }
    if request.htmx:
        response = render(request, "labeling/clip_upload.html#results", context)
        if any(r.ok for r in results):
            response["HX-Trigger"] = "clips-uploaded"
        return response
    return render(request, "labeling/clip_upload.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def study_clip(request: HttpRequest, study_id: int, clip_id: int) -> HttpResponse:
    """A clip's page for the study's researchers: the player, the observers' ratings on the valence × arousal
    plane beside the filmed person's own self-reports, and the gap per dimension. Anyone else: 404."""
    study = selectors.study_for_researcher(user=request.user, study_id=study_id)
    clip = selectors.clip_for_researcher(study=study, clip_id=clip_id)
    perceived = selectors.clip_perceived(study=study, clip=clip)
    reports = perceived["self_reports"]
    marks = [
        {
            "valence": r.valence,
            "arousal": r.arousal,
            "whole": r.start_s is None,
            "label": "whole clip" if r.start_s is None else f"{r.start_s:g}–{r.end_s:g} s",
        }
        for r in reports
    ]
    context = {
        "study": study,
        "clip": clip,
        "perceived": perceived,
        "dimensions": [{"dimension": d, **row} for d, row in perceived["dimensions"].items()],
        "plane_svg": plots.clip_plane(perceived["ratings"], marks),
    }
    return render(request, "labeling/clip_detail.html", context)
