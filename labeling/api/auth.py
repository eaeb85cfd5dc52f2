"""``Authorization: Token <key>``: one indexed lookup by the key's SHA-256; expired and revoked keys get
a clear 401. ``last_used_at`` is written at most every API_TOKEN_USAGE_RESOLUTION_SECONDS, so the hot path
stays read-only."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from labeling.models import ApiToken, api_token_hash, password_fingerprint

MAX_KEY_LENGTH = 200


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token scheme (same header, same ``WWW-Authenticate: Token``) over :class:`ApiToken`."""

    model = ApiToken

    def authenticate_credentials(self, key: str):
        if len(key) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed("Invalid token.")
        try:
            token = ApiToken.objects.select_related("user").get(key_hash=api_token_hash(key))
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        now = timezone.now()
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                "Token expired. Get a new one with POST /api/auth/token/ (username and password)."
            )
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token.password_fingerprint != password_fingerprint(user):
            raise exceptions.AuthenticationFailed(
                "Token revoked: the password was changed. Get a new one with POST /api/auth/token/."
            )
        resolution = timedelta(seconds=settings.API_TOKEN_USAGE_RESOLUTION_SECONDS)
        if token.last_used_at is None or now - token.last_used_at >= resolution:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token
