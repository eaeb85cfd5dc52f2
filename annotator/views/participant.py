"""A filmed participant's own pages, opened by their private self-report link (/p/<key>/).

The key in the address is the only credential: no account, no session. What the key opens is decided by
labeling.selectors.participant_links: that participant's own clips, nothing else (another participant's or
study's clip is 404, like a clip that does not exist). The steps: what the self-report is for and the study's
consent text (agree, or decline); then the list of their clips (rated or not) and "rate next"; each clip on
the annotators' rating page and instrument (templates/annotator/rate.html, with self_report), posting to the
link's report endpoint (labeling.services.self_report_submit: the annotators' validation).

Every response here is private: no-store, Referrer-Policy no-referrer (the key never leaves in a Referer),
noindex. No CSRF check: the key in the address is the only credential (no session, no cookie a cross-site
request could ride on), and under no-referrer the browser sends `Origin: null` with a form post, which
Django's origin check would refuse. A revoked or expired link, or one whose participant withdrew, is a 410 page that says so plainly; a
key that opens nothing is a 404 page, and a client that tries many such keys is locked out for a while (429,
annotator.services.participant_link_lookup_*). Keys are redacted from every log (annotator/redaction.py).
No observer's rating, count or agreement figure is read by anything here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from annotator import services
from annotator.client import client_address
from annotator.forms import ConsentForm
from labeling import selectors
from labeling.api.base import BaseAPIView
from labeling.api.parsers import JSONParser
from labeling.errors import NotFound, RateLimited, ServiceError
from labeling.media.views import clip_media_response, clip_poster_response
from labeling.models import Clip, ParticipantLink
from labeling.services import participant_link_consent, participant_link_touch, self_report_submit
from labeling.text import render_markdown

from .instrument import self_report_page_context

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}

TITLES = {404: "Not found", 410: "This link no longer works", 429: "Please try again shortly"}


def _refusal(request: HttpRequest, exc: ServiceError, *, json: bool) -> HttpResponse:
    if json:
        response: HttpResponse = JsonResponse(exc.as_dict(), status=exc.status)
    else:
        title = TITLES.get(exc.status, "This page cannot be shown")
        response = render(
            request,
            "annotator/participant/message.html",
            {"title": title, "message": exc.message},
            status=exc.status,
        )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _open(request: HttpRequest, key: str) -> ParticipantLink:
    """The link the key opens (Gone for one that may not be used), within the client's lookup limit."""
    client = client_address(request)
    services.participant_link_lookup_allow(client=client)
    try:
        link = selectors.participant_link_open(key=key)
    except NotFound:
        services.participant_link_lookup_failed(client=client)
        raise
    participant_link_touch(link=link)
    return link


def participant_page(
    *, json: bool = False
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., Any]]:
    """Decorate a participant view ``view(request, link, key, **kwargs)``: the key is opened first, and the
    project's errors become this surface's pages (or JSON bodies, `json`) in this one place — 404 for a key
    or a clip that is not there, 410 for a link that no longer works, 429 while the client is locked out.
    Every response gets the private headers. CSRF-exempt (see the module's note): the key is the credential."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, key: str, **kwargs: Any) -> HttpResponseBase:
            try:
                response = view(request, _open(request, key), key, **kwargs)
            except ServiceError as exc:
                response = _refusal(request, exc, json=json)
            for header, value in PRIVATE_HEADERS.items():
                response[header] = value
            return response

        return wrapped

    return decorate


def _instrument(link: ParticipantLink) -> tuple[Any, dict[str, Any]]:
    """The study's current scheme version and its spec (what a report now is made with)."""
    version = selectors.scheme_current(study=link.participant.study)
    spec = version.spec if version is not None else {}
    return version, spec


def _clips(link: ParticipantLink) -> list[Clip]:
    _, spec = _instrument(link)
    return list(selectors.participant_clips(link=link, instrument=spec.get("instrument", "")))


@require_http_methods(["GET", "POST"])
@participant_page()
def home(request: HttpRequest, link: ParticipantLink, key: str) -> HttpResponse:
    """Before consent: what the self-report is for and the consent step (POST: agree or decline). After it:
    the participant's own clips, rated or not, and "rate next"."""
    participant = link.participant
    study = participant.study
    if link.consented_at is None:
        form = ConsentForm(request.POST or None)
        if form.is_valid():
            if form.cleaned_data["decision"] == "accept":
                participant_link_consent(link=link)
                return redirect("participant-home", key=key)
            return redirect("participant-declined", key=key)
        context = {
            "study": study,
            "link": link,
            "participant": participant,
            "form": form,
            "consent_html": render_markdown(study.consent_text),
        }
        return render(
            request, "annotator/participant/consent.html", context, status=400 if form.is_bound else 200
        )
    if request.method == "POST":  # agreed already (a second tab, the back button)
        return redirect("participant-home", key=key)
    clips = _clips(link)
    done = sum(1 for clip in clips if clip.rated)
    return render(
        request,
        "annotator/participant/clips.html",
        {"study": study, "link": link, "key": key, "clips": clips, "done": done, "total": len(clips)},
    )


@require_GET
@participant_page()
def declined(request: HttpRequest, link: ParticipantLink, key: str) -> HttpResponse:
    return render(
        request,
        "annotator/participant/declined.html",
        {"study": link.participant.study, "link": link, "key": key},
    )


@require_GET
@participant_page()
def next_clip(request: HttpRequest, link: ParticipantLink, key: str) -> HttpResponse:
    """The first of the participant's clips not rated yet; their list when every one is."""
    if link.consented_at is None:
        return redirect("participant-home", key=key)
    todo = next((clip for clip in _clips(link) if not clip.rated), None)
    if todo is None:
        return redirect("participant-home", key=key)
    return redirect("participant-clip", key=key, clip_id=todo.pk)


@require_GET
@participant_page()
def rate(request: HttpRequest, link: ParticipantLink, key: str, clip_id: int) -> HttpResponse:
    """One of the participant's clips on the annotators' rating page and instrument (the study's current
    scheme), posting to participant-report."""
    if link.consented_at is None:
        return redirect("participant-home", key=key)
    version, spec = _instrument(link)
    if version is None:
        raise NotFound("This study has no rating scheme yet.")
    clip = selectors.participant_clip(link=link, instrument=spec["instrument"], clip_id=clip_id)
    if clip.rated:
        return redirect("participant-next", key=key)  # already rated (back button, reload)
    clips = _clips(link)
    progress = {"done": sum(1 for c in clips if c.rated), "total": len(clips), "capped": False}
    context = self_report_page_context(link=link, key=key, clip=clip, spec=spec, progress=progress)
    return render(request, "annotator/rate.html", context)


@require_http_methods(["GET", "HEAD"])
@participant_page()
def clip_media(request: HttpRequest, link: ParticipantLink, key: str, clip_id: int) -> HttpResponseBase:
    """The participant's own clip's video, with Range (labeling.media's serving); any other clip is 404."""
    return clip_media_response(request, _own_clip(link, clip_id))


@require_http_methods(["GET", "HEAD"])
@participant_page()
def clip_poster(request: HttpRequest, link: ParticipantLink, key: str, clip_id: int) -> HttpResponseBase:
    return clip_poster_response(request, _own_clip(link, clip_id))


def _own_clip(link: ParticipantLink, clip_id: int) -> Clip:
    _, spec = _instrument(link)
    return selectors.participant_clip(link=link, instrument=spec.get("instrument", ""), clip_id=clip_id)


class ReportView(BaseAPIView):
    """POST the participant's rating of one of their own clips (JSON, the rating page's body). The key in the
    address is the credential: no account, no session, no CSRF token.
    Errors in the API's shape ({"detail", "errors"}); 200 with the stored report's submission id, for the
    first post and for a retry with the same submission id alike."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(exclude=True)  # a page's endpoint, not the research API
    def post(self, request: Request, link: ParticipantLink, key: str, clip_id: int) -> Response:
        _, spec = _instrument(link)
        clip = selectors.participant_clip(link=link, instrument=spec.get("instrument", ""), clip_id=clip_id)
        data = request.data
        submission_id = data.get("submission_id") if isinstance(data, dict) else None
        report = self_report_submit(link=link, clip=clip, data=data, submission_id=submission_id)
        return Response({"submission_id": str(report.submission_id), "clip": clip.pk, "saved": True})


report = require_http_methods(["POST"])(participant_page(json=True)(ReportView.as_view()))
