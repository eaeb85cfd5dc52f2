"""What every API view shares: authentication order, one error shape, and the error schema.

Every error body is ``{"detail": "<message>", "errors": {"<field>": "<message>"}}`` (``errors`` only when
fields are at fault). Service errors (labeling.errors.ServiceError) carry their own HTTP status; DRF and
Django validation errors become 400 in the same shape, and so do the request-body errors Django raises while
a view reads the body (too large: 413, too many files or fields: 400) and bodies no parser can take.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler, set_rollback

from labeling.api.auth import ApiTokenAuthentication
from labeling.errors import ServiceError

INVALID_INPUT = "Please correct the marked fields."


def _flatten(detail: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested error detail as {"field" or "field.0.sub": "message message"}."""
    if isinstance(detail, dict):
        out: dict[str, str] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or "non_field_errors": " ".join(str(item) for item in detail)}
        out = {}
        for i, item in enumerate(detail):
            if item:
                out.update(_flatten(item, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix or "non_field_errors": str(detail)}


def request_body_error(exc: Exception) -> tuple[int, dict] | None:
    """(status, error body) for what Django or a parser raises on a request body it will not take; else None."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        return 413, {"detail": f"The request body is too large (at most {limit} MB outside file uploads)."}
    if isinstance(exc, TooManyFilesSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 400, {"detail": INVALID_INPUT, "errors": {"file": f"At most {n} files per request."}}
    if isinstance(exc, TooManyFieldsSent):
        n = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, {"detail": f"The request has more than {n} fields."}
    if isinstance(exc, RecursionError):
        return 400, {"detail": "The request body is nested too deeply."}
    if isinstance(exc, UnicodeError):
        return 400, {"detail": "The request is not valid UTF-8 text."}
    return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if body_error := request_body_error(exc):
        set_rollback()
        return Response(body_error[1], status=body_error[0])
    if isinstance(exc, ServiceError):
        set_rollback()
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return Response({"detail": INVALID_INPUT, "errors": _flatten(exc.detail)}, status=400)
    return exception_handler(exc, context)


class BaseAPIView(APIView):
    """Token first, so a request without credentials gets 401 with ``WWW-Authenticate: Token``.

    Session-authenticated writes need the CSRF token (``X-CSRFToken`` header), as DRF enforces.
    """

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]

    def get_exception_handler(self):
        return api_exception_handler


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")
    errors = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Field name -> message, when fields are at fault.",
    )


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


NOT_FOUND = error("No such object, or not yours to see (other users' objects are 404, never 403).")
BAD_INPUT = error("Invalid input; `errors` says which field and why. Nothing was changed.")
