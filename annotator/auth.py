"""Password guessing is throttled per account and per client, for every log-in that checks a password.

The check lives in the authentication backend, so the site's log-in page, the Django admin's and the API
token endpoint (all call ``django.contrib.auth.authenticate``) share it. Counts live in Django's cache:
Redis in production (``CACHE_URL``, shared by every web process), per-process memory by default.

After ``LOGIN_FAILURES_PER_ACCOUNT`` wrong passwords for one username, or ``LOGIN_FAILURES_PER_CLIENT``
from one client address (:func:`annotator.client.client_address`), within ``LOGIN_LOCKOUT_SECONDS``, that
account or client is locked for ``LOGIN_LOCKOUT_SECONDS``: every attempt is refused *before* the password
is checked, so the right password does not get in either. A refused attempt sets
``request.login_throttled_seconds`` (how long to wait), which the log-in forms and the token endpoint
turn into a clear message (and a 429 where the protocol has one).
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from annotator.client import client_address, counter_incr

THROTTLED_ATTR = "login_throttled_seconds"


def _subjects(request, username: str) -> list[tuple[str, int]]:
    """(cache key stem, failure limit) for the account and, when there is a request, the client."""
    account = hashlib.sha256(username.casefold().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    out = [(f"login:account:{account}", settings.LOGIN_FAILURES_PER_ACCOUNT)]
    if request is not None:
        out.append((f"login:client:{client_address(request)}", settings.LOGIN_FAILURES_PER_CLIENT))
    return out


def login_lockout_seconds(*, request, username: str) -> int:
    """Seconds until this account and client may try again; 0 when neither is locked."""
    locks = cache.get_many([f"{stem}:locked" for stem, _ in _subjects(request, username)])
    until = max(locks.values(), default=0)
    return max(0, math.ceil(until - time.time()))


def login_failure_record(*, request, username: str) -> None:
    window = settings.LOGIN_LOCKOUT_SECONDS
    for stem, limit in _subjects(request, username):
        key = f"{stem}:failures"
        if counter_incr(key, timeout=window) >= limit:
            cache.set(f"{stem}:locked", time.time() + window, timeout=window)
            cache.delete(key)


def login_success_record(*, request, username: str) -> None:
    """A right password clears the account's count (not the client's: one valid log-in must not reset
    the count of a client guessing other accounts' passwords)."""
    stem, _ = _subjects(None, username)[0]
    cache.delete(f"{stem}:failures")


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None
        username = str(username)
        wait = login_lockout_seconds(request=request, username=username)
        if wait:
            if request is not None:
                setattr(request, THROTTLED_ATTR, wait)
            raise PermissionDenied("Too many failed log-ins.")  # stops authenticate(): no other backend runs
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(request=request, username=username)
            raise PermissionDenied("Wrong username or password.")  # no second check by the next backend
        login_success_record(request=request, username=username)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


def throttled_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (
        f"Too many failed log-in attempts. For your security, log-in is paused for this account or "
        f"network; try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
