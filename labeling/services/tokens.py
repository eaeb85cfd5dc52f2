"""API tokens: issue (the key is shown once), revoke. Checking one is labeling.api.auth's job."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.errors import NotFound
from labeling.models import ApiToken, api_token_hash, password_fingerprint

MAX_ID = 2**63 - 1


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
        raise NotFound("No such token.")
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise NotFound("No such token.")


def api_tokens_password_saved(*, user, old_encoded: str, hash_upgrade: bool) -> int:
    """The user's password hash is about to change from ``old_encoded`` to ``user.password``.

    A new password revokes every token (they would fail the fingerprint check anyway; this also removes
    them). A hash upgrade of the *same* password, which Django does on log-in when its hasher settings
    change, keeps the tokens that were live: they are re-stamped with the new fingerprint.
    """
    old = ApiToken.objects.filter(
        user_id=user.pk, password_fingerprint=password_fingerprint(encoded=old_encoded)
    )
    if hash_upgrade:
        return old.update(password_fingerprint=password_fingerprint(user))
    deleted, _ = ApiToken.objects.filter(user_id=user.pk).delete()
    return deleted


def on_user_pre_save(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """pre_save of the user model (connected in labeling.apps): hands password changes to the service."""
    if raw or instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    old_encoded = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    if old_encoded is None or old_encoded == instance.password:
        return
    # Django's check_password() upgrades a hash with set_password(), then clears `_password` ("hash
    # upgrades shouldn't be considered password changes") and saves only the password field.
    hash_upgrade = getattr(instance, "_password", None) is None and set(update_fields or ()) == {"password"}
    api_tokens_password_saved(user=instance, old_encoded=old_encoded, hash_upgrade=hash_upgrade)
