"""Who am I, and tokens for scripts: training pipelines and annotation clients use token auth.

A token is issued for a username and password (a new one each time, shown once), expires after
API_TOKEN_TTL_SECONDS, dies when the password changes, and can be revoked by its owner. Password guessing
is throttled per account and per client by the authentication backend (annotator/auth.py), which marks
the request with ``login_throttled_seconds``; and per client address by :class:`TokenThrottle`.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from labeling import selectors, services
from labeling.api.base import BAD_INPUT, NOT_FOUND, BaseAPIView, error
from labeling.api.parsers import FormParser, JSONParser, MultiPartParser
from labeling.api.serializers import (
    ApiTokenSerializer,
    MeSerializer,
    TokenInputSerializer,
    TokenSerializer,
)
from labeling.models import ApiToken

TAG = ["account"]
THROTTLED_ATTR = "login_throttled_seconds"  # set by the authentication backend (annotator/auth.py)
NOT_AUTHENTICATED = error("Not authenticated, or the token is invalid, expired or revoked.")


class MeView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="me",
        summary="The requester and the studies they belong to (with their role in each)",
        responses={200: MeSerializer, 401: error("Not authenticated.")},
    )
    def get(self, request: Request) -> Response:
        user = request.user
        memberships = selectors.memberships_for_user(user=user)
        return Response(
            MeSerializer(
                {
                    "id": user.pk,
                    "username": user.get_username(),
                    "is_staff": user.is_staff,
                    "is_pseudonymous": getattr(user, "is_pseudonymous", False),
                    "memberships": memberships,
                }
            ).data
        )


class TokenThrottle(AnonRateThrottle):
    """Slows password guessing per client address (REMOTE_ADDR, which annotator.client's middleware sets
    from trusted proxies only), in the default cache: Redis in production, shared by all web processes."""

    scope = "auth_token"
    rate = "30/min"


class LoginThrottled(exceptions.Throttled):
    default_detail = "Too many failed log-in attempts."

    def __init__(self, wait: int):
        minutes = max(1, -(-wait // 60))
        super().__init__(
            wait=wait,
            detail=(
                "Too many failed log-in attempts. For your security, log-in is paused for this account or "
                f"network; try again in {minutes} minute{'s' if minutes != 1 else ''}."
            ),
        )


class TokenView(BaseAPIView):
    """POST: log in for a new token (no authentication). DELETE: revoke the token this request carries."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def _logging_in(self) -> bool:
        return getattr(self.request, "method", None) == "POST"  # no request yet while the schema is built

    def get_authenticators(self):
        return [] if self._logging_in() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self._logging_in() else [IsAuthenticated()]

    def get_throttles(self):
        return [TokenThrottle()] if self._logging_in() else super().get_throttles()

    @extend_schema(
        tags=TAG,
        operation_id="auth_token_obtain",
        summary="Exchange a username and password for a new API token",
        description=(
            "Send the token as `Authorization: Token <token>`. Each call issues a new token, shown only in "
            "this response (only its hash is stored). It expires at `expires_at`, and is revoked when the "
            "password changes. After repeated wrong passwords the account or client is locked for a while "
            "(429), and then even the right password is refused."
        ),
        request=TokenInputSerializer,
        responses={201: TokenSerializer, 400: BAD_INPUT, 429: error("Too many attempts; wait and retry.")},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request=request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        wait = getattr(request, THROTTLED_ATTR, 0)
        if wait:
            raise LoginThrottled(wait)
        if user is None:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Unable to log in with provided credentials."]}
            )
        token, key = services.api_token_create(user=user, name=data.validated_data["name"])
        return Response(TokenSerializer(token, context={"key": key, "current": None}).data, status=201)

    @extend_schema(
        tags=TAG,
        operation_id="auth_token_revoke_current",
        summary="Revoke the token this request is authenticated with (log the script out)",
        request=None,
        responses={
            204: OpenApiResponse(description="Revoked."),
            400: error("The request was not made with a token."),
            401: NOT_AUTHENTICATED,
        },
    )
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise exceptions.ValidationError(
                {"non_field_errors": ["This request was not made with a token; nothing to revoke."]}
            )
        services.api_token_revoke(user=request.user, token_id=request.auth.pk)
        return Response(status=204)


class TokenListView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="auth_tokens_list",
        summary="The requester's live API tokens (never the keys), newest first",
        description="At most API_TOKEN_MAX_PER_USER (default 20) per user, so the list is not paginated.",
        responses={200: ApiTokenSerializer(many=True), 401: NOT_AUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        tokens = selectors.api_tokens_for_user(user=request.user)
        current = request.auth if isinstance(request.auth, ApiToken) else None
        return Response(ApiTokenSerializer(tokens, many=True, context={"current": current}).data)


class TokenDetailView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="auth_tokens_revoke",
        summary="Revoke one of the requester's API tokens",
        request=None,
        responses={204: OpenApiResponse(description="Revoked."), 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    def delete(self, request: Request, token_id: int) -> Response:
        services.api_token_revoke(user=request.user, token_id=token_id)
        return Response(status=204)
