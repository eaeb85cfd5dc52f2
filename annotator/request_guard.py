"""Requests refused before any view reads them: oversized bodies, bodies of unknown length, NUL in the URL.

- **Body budget.** ``Content-Length`` is checked against a per-path budget *before* anything reads the body,
  so an oversized request is answered 413 without a byte of it being read (Django would otherwise spool an
  upload to a temporary file first). Everything gets ``REQUEST_MAX_BYTES`` (default 5 MB, Django's own
  DATA_UPLOAD_MAX_MEMORY_SIZE); only the clip-upload endpoints allow ``CLIP_MAX_BYTES`` per file plus form
  overhead, and the self-report imports ``SELF_REPORT_IMPORT_MAX_BYTES`` plus form overhead, and only to a
  signed-in researcher of that study (staff for the admin's pages). Anonymous clients get the small budget
  everywhere. A body without a ``Content-Length`` (``Transfer-Encoding:
  chunked``) is refused with 411: Django's WSGI handler would read nothing of it anyway.
- **NUL in the URL.** A ``%00`` in the path or the query string is a 400 (PostgreSQL text refuses NUL;
  no URL of this site has one).
- **Body errors raised inside HTML views** (too many files, a body over Django's memory limit) become a clear
  400/413 page; under ``/api/`` every refusal here is in the API's error shape
  (``{"detail": ..., "errors": {...}}``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from labeling.api.base import request_body_error
from labeling.api.serializers import MAX_ID
from labeling.models import Membership, Role

# Upload endpoints, by URL name: how many clip files one request may carry.
API_UPLOAD = "api-clips"
PAGE_UPLOADS = {"study-clip-upload", "admin:labeling_clip_upload", "admin:labeling_clip_add"}
# Self-report imports (one file each, up to SELF_REPORT_IMPORT_MAX_BYTES).
IMPORTS = {"api-self-reports-import", "admin:labeling_selfreport_import"}
FORM_OVERHEAD = 1024 * 1024  # multipart boundaries, headers and the small fields beside the files


def request_max_bytes() -> int:
    return getattr(settings, "REQUEST_MAX_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def refusal(request: HttpRequest, status: int, title: str, message: str, errors=None) -> HttpResponse:
    """The refusal in the API's error shape under /api/, else as a small page."""
    if _is_api(request):
        body = {"detail": message, **({"errors": errors} if errors else {})}
        return JsonResponse(body, status=status)
    return render(request, "request_refused.html", {"title": title, "message": message}, status=status)


def _api_user(request: HttpRequest, view_class):
    """The user a token (or other non-session) authenticator of the view accepts; None if none does.
    Session users come from AuthenticationMiddleware: reading them needs no body (no CSRF check here)."""
    drf_request = Request(request)
    for auth_class in getattr(view_class, "authentication_classes", []):
        if issubclass(auth_class, SessionAuthentication):
            continue
        try:
            found = auth_class().authenticate(drf_request)
        except exceptions.APIException:
            return None
        if found is not None:
            return found[0]
    return None


def body_budget(request: HttpRequest) -> int:
    """How many body bytes this request may send."""
    small = request_max_bytes()
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return small
    if request.method != "POST":
        return small
    if match.view_name == API_UPLOAD:
        budget = settings.CLIP_MAX_BYTES
    elif match.view_name in PAGE_UPLOADS:
        budget = (settings.DATA_UPLOAD_MAX_NUMBER_FILES or 100) * settings.CLIP_MAX_BYTES
    elif match.view_name in IMPORTS:
        budget = settings.SELF_REPORT_IMPORT_MAX_BYTES
    else:
        return small
    user = request.user if request.user.is_authenticated else None
    if user is None and _is_api(request):
        user = _api_user(request, getattr(match.func, "cls", None) or getattr(match.func, "view_class", None))
    if user is None or not user.is_active:
        return small
    if match.view_name.startswith("admin:"):
        allowed = user.is_staff
    else:
        study_id = match.kwargs.get("study_id")
        allowed = user.is_superuser or (
            isinstance(study_id, int)
            and 0 < study_id <= MAX_ID  # SQLite refuses larger integers
            and Membership.objects.filter(study_id=study_id, user=user, role=Role.RESEARCHER).exists()
        )
    return budget + FORM_OVERHEAD if allowed else small


class RequestGuardMiddleware:
    """Place it after AuthenticationMiddleware (it asks who is uploading) and before anything reads a body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.refuse(request) or self.get_response(request)

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        if "\x00" in request.path_info or "%00" in request.META.get("QUERY_STRING", ""):
            return refusal(
                request,
                400,
                "Bad request",
                "This address contains a NUL character, which no page here uses.",
                {"url": "Null characters are not allowed."},
            )
        declared = request.META.get("CONTENT_LENGTH") or ""
        if not declared:
            if request.META.get("HTTP_TRANSFER_ENCODING", "").strip():
                return refusal(
                    request, 411, "Length required", "Send the request body with a Content-Length header."
                )
            return None
        if not (declared.isascii() and declared.isdigit()):
            return refusal(request, 400, "Bad request", "The Content-Length header is not a number.")
        budget = body_budget(request)
        if len(declared) > 15 or int(declared) > budget:
            return refusal(
                request,
                413,
                "Request too large",
                f"The request body is too large for this address (at most {_mb(budget)}); nothing was read.",
            )
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Body errors Django raises while a view reads the body (DRF views answer these themselves)."""
        if not isinstance(exception, (RequestDataTooBig, TooManyFilesSent, TooManyFieldsSent)):
            return None
        status, body = request_body_error(exception)
        errors = body.get("errors") or {}
        title = "Request too large" if status == 413 else "Bad request"
        message = body["detail"] if _is_api(request) or not errors else " ".join(errors.values())
        return refusal(request, status, title, message, errors)
