"""Absolute links to pages of the annotator side, built without importing its views: invites, the crowd
link, a participant's self-report link. Used by the dashboard, the admin and the research API."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from labeling.models import Study

# Placeholders that Prolific substitutes in a study URL.
CROWD_QUERY = "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"


def site_path(name: str, fallback: str, **kwargs) -> str:
    """A path on the annotator side (built by another app): reversed when its URL name exists."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return fallback


def invite_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(site_path("invite", f"/invite/{token}/", token=token))


def crowd_url(request: HttpRequest, study: Study) -> str:
    """The crowd link with the study's secret key, or "" when the study takes no one through a crowd link."""
    if not study.crowd_key:
        return ""
    path = site_path("crowd-entry", f"/crowd/{study.slug}/", slug=study.slug)
    return f"{request.build_absolute_uri(path)}?{urlencode({'key': study.crowd_key})}&{CROWD_QUERY}"


def participant_link_path(key: str) -> str:
    """The path a participant's self-report link opens (/p/<key>/)."""
    return site_path("participant-home", f"/p/{key}/", key=key)


def participant_link_url(request: HttpRequest | None, key: str) -> str:
    """The whole self-report link, absolute when there is a request to build it from. Shown once, when
    issued: only the key's hash is stored."""
    path = participant_link_path(key)
    return request.build_absolute_uri(path) if request is not None else path
