"""Who am I, and a token for scripts: training pipelines and annotation clients use token auth."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from labeling.api.base import BAD_INPUT, BaseAPIView, error
from labeling.api.parsers import FormParser, JSONParser, MultiPartParser
from labeling.api.serializers import MeSerializer, TokenInputSerializer, TokenSerializer
from labeling.models import Membership

TAG = ["account"]


class MeView(BaseAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="me",
        summary="The requester and the studies they belong to (with their role in each)",
        responses={200: MeSerializer, 401: error("Not authenticated.")},
    )
    def get(self, request: Request) -> Response:
        user = request.user
        memberships = (
            Membership.objects.filter(user=user).select_related("study").order_by("-created_at", "-id")
        )
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
    """Slows password guessing: per client address, per process (the default cache)."""

    scope = "auth_token"
    rate = "30/min"


class TokenObtainView(BaseAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        tags=TAG,
        operation_id="auth_token_obtain",
        summary="Exchange a username and password for an API token",
        description="Send the token as `Authorization: Token <token>`. The same token is returned every time.",
        request=TokenInputSerializer,
        responses={200: TokenSerializer, 400: BAD_INPUT, 429: error("Too many attempts; wait and retry.")},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = AuthTokenSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=data.validated_data["user"])
        return Response({"token": token.key})
