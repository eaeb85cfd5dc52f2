"""Inside a study: consent, the queue, the rating page and the end page."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotator import services
from annotator.forms import ConsentForm
from labeling import selectors
from labeling.errors import ServiceError
from labeling.models import Assignment, Membership
from labeling.pages import service_error_page
from labeling.selectors import Outlook
from labeling.services import assignment_claim_next, membership_consent
from labeling.text import render_markdown

from .instrument import rating_page_context


def _member(request: HttpRequest, study_id: int) -> Membership:
    return selectors.membership_get(user=request.user, study_id=study_id)


def _message(request, *, membership, title: str, message: str, status: int = 200, retry: bool = False):
    return render(
        request,
        "annotator/message.html",
        {
            "study": membership.study,
            "membership": membership,
            "title": title,
            "message": message,
            "retry": retry,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = _member(request, study_id)
    study = membership.study
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["decision"] == "accept":
            membership_consent(membership=membership)
            return redirect("study-queue", study_id=study.pk)
        return redirect("study-declined", study_id=study.pk)
    return render(
        request,
        "annotator/consent.html",
        {
            "study": study,
            "membership": membership,
            "form": form,
            "consent_html": render_markdown(study.consent_text),
            "instructions_html": render_markdown(study.instructions),
        },
    )


@login_required
@require_GET
def declined(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = _member(request, study_id)
    return render(request, "annotator/declined.html", {"study": membership.study, "membership": membership})


def _claim_refused(request: HttpRequest, exc: ServiceError, *, study_id: int) -> HttpResponse:
    """No clip now: the study closed (the end page says what that means), the annotator's ratings were
    withdrawn from it (no more clips, nothing to retry), or the queue is busy (try again)."""
    membership = _member(request, study_id)
    if not membership.study.is_active:
        return redirect("study-done", study_id=membership.study_id)
    ended = membership.labels_withdrawn_at is not None
    return _message(
        request,
        membership=membership,
        title="Your part in this study has ended" if ended else "Please try again",
        message=exc.message,
        status=exc.status,
        retry=not ended,
    )


@login_required
@require_GET
@service_error_page(_claim_refused)
def queue(request: HttpRequest, study_id: int) -> HttpResponse:
    """Claim the next clip (or return the lease already held) and go to its rating page."""
    membership = _member(request, study_id)
    if membership.consented_at is None:
        return redirect("study-consent", study_id=membership.study_id)
    assignment = assignment_claim_next(membership=membership)
    if assignment is None:
        return redirect("study-done", study_id=membership.study_id)
    return redirect("study-rate", study_id=membership.study_id, assignment_id=assignment.pk)


@login_required
@require_GET
def rate(request: HttpRequest, study_id: int, assignment_id: int) -> HttpResponse:
    membership = _member(request, study_id)
    assignment = selectors.assignment_for_annotator(user=request.user, assignment_id=assignment_id)
    if assignment.study_id != membership.study_id:
        raise Http404("No such assignment.")
    if membership.consented_at is None:
        return redirect("study-consent", study_id=membership.study_id)
    if assignment.status == Assignment.Status.SUBMITTED:
        return redirect("study-queue", study_id=membership.study_id)  # already rated (back button, reload)
    if assignment.clip.withdrawn_at is not None:
        return redirect("study-queue", study_id=membership.study_id)  # its participant withdrew meanwhile
    progress = selectors.annotator_progress(membership=membership)
    context = rating_page_context(assignment=assignment, membership=membership, progress=progress)
    context["instructions_html"] = render_markdown(membership.study.instructions)
    response = render(request, "annotator/rate.html", context)
    response["Cache-Control"] = "no-store"
    return response


def completion_redirect_url(url: str, code: str) -> str:
    """The study's completion URL with the code: '{code}' is replaced, else ?cc=<code> is added if absent."""
    if "{code}" in url:
        return url.replace("{code}", code)
    if not code:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key == "cc" for key, _ in query):
        query.append(("cc", code))
    return urlunsplit(parts._replace(query=urlencode(query)))


WAIT_REFRESH_SECONDS = 10


def _finish(request: HttpRequest, membership: Membership, progress: dict, *, closed: bool) -> HttpResponse:
    """Record completion; show the code, or send a crowd worker to the completion URL with it."""
    study = membership.study
    services.membership_complete(membership=membership)
    if study.completion_url and membership.joined_via == Membership.Via.CROWD:
        return redirect(completion_redirect_url(study.completion_url, study.completion_code))
    return render(
        request,
        "annotator/done.html",
        {"study": study, "membership": membership, "progress": progress, "finished": True, "closed": closed},
    )


@login_required
@require_GET
def done(request: HttpRequest, study_id: int) -> HttpResponse:
    """The end page. Finished (code shown, completion recorded) only when no clip can come to this annotator
    any more, or the study closed after they rated something; never a code for nothing."""
    membership = _member(request, study_id)
    study = membership.study
    if membership.consented_at is None:
        return redirect("study-consent", study_id=study.pk)
    outlook = selectors.annotator_outlook(membership=membership)
    progress = selectors.annotator_progress(membership=membership)
    if outlook == Outlook.CLOSED:
        if progress["done"] == 0:
            return _message(
                request,
                membership=membership,
                title="This study is closed",
                message="The study closed before you could start rating, so there is nothing to complete. "
                "Thank you for your interest.",
            )
        return _finish(request, membership, progress, closed=True)
    if outlook == Outlook.CONTINUE:
        return render(
            request,
            "annotator/done.html",
            {"study": study, "membership": membership, "progress": progress, "finished": False},
        )
    if outlook == Outlook.WAIT:
        response = render(
            request,
            "annotator/waiting.html",
            {"study": study, "membership": membership, "progress": progress, "refresh": WAIT_REFRESH_SECONDS},
        )
        response["Cache-Control"] = "no-store"
        return response
    return _finish(request, membership, progress, closed=False)
