"""API tokens: issue (the key is shown once), revoke. Checking one is labeling.api.auth's job."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.errors import ServiceError
from labeling.models import ApiToken, api_token_hash, password_fingerprint

MAX_ID = 2**63 - 1


class TokenNotFound(ServiceError):
    status = 404


@transaction.atomic
def api_token_create(*, user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user``: returns the row and the key, which is never stored and cannot be shown
    again. Dead tokens (expired, or from before a password change) are deleted; beyond
    ``API_TOKEN_MAX_PER_USER`` live tokens the oldest go."""
    now = timezone.now()
    fingerprint = password_fingerprint(user)
    ApiToken.objects.filter(
        Q(user=user), Q(expires_at__lte=now) | ~Q(password_fingerprint=fingerprint)
    ).delete()
    keep = settings.API_TOKEN_MAX_PER_USER - 1
    stale = list(
        ApiToken.objects.filter(user=user).order_by("-created_at", "-id").values_list("pk", flat=True)[keep:]
    )
    if stale:
        ApiToken.objects.filter(pk__in=stale).delete()
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_hash=api_token_hash(key),
        prefix=key[: ApiToken.PREFIX_LENGTH],
        password_fingerprint=fingerprint,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.API_TOKEN_TTL_SECONDS),
        last_used_at=now,
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> None:
    """Delete one of ``user``'s tokens; another user's token id is "not found", like a missing one."""
    if not 0 < token_id <= MAX_ID:  # a number the database cannot hold is no token either
        raise TokenNotFound("No such token.")
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise TokenNotFound("No such token.")
