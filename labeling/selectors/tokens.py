"""API tokens, read: the requester's live ones (never the keys: only their hashes are stored)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from labeling.models import ApiToken, password_fingerprint

from ._base import User


def api_tokens_for_user(*, user: User) -> QuerySet[ApiToken]:
    """The requester's live tokens (not expired, not from before their last password change), newest first."""
    return ApiToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), password_fingerprint=password_fingerprint(user)
    ).order_by("-created_at", "-id")
