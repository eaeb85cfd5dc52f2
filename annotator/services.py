"""Writes for the annotator side: entry through crowd and invite links, and finishing a study.

Views log the returned user in; everything that changes rows happens here.
"""

from __future__ import annotations

import hmac
import re
import secrets

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from labeling.errors import NotAllowed, ValidationFailed
from labeling.models import Invite, Membership, Role, Study
from labeling.services import membership_add

# Crowd-platform ids: Prolific uses 24 hex characters, MTurk worker ids are upper-case alphanumerics;
# accept any plain token of letters, digits, '-' and '_' (no spaces, no template placeholders).
CROWD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
CROWD_PID_RE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


def _new_pseudonymous_user(*, prefix: str, crowd_pid: str = ""):
    """An account with no password, no e-mail and a random name."""
    User = get_user_model()
    for _ in range(5):
        username = f"{prefix}-{secrets.token_hex(5)}"
        if not User.objects.filter(username=username).exists():
            user = User(username=username, is_pseudonymous=True, crowd_pid=crowd_pid)
            user.set_unusable_password()
            user.save()
            return user
    raise RuntimeError("could not pick a free pseudonymous user name")  # pragma: no cover


# Compared against when there is no key to compare with, so a refusal takes the same time either way.
_NO_CROWD_KEY = secrets.token_urlsafe(18).encode()


def crowd_study_for_link(*, slug: str, key: str | None) -> Study | None:
    """The study a crowd link opens, or None. An unknown slug, a study that takes no crowd entrants (empty
    crowd_key) and a wrong or missing key all give None, so the link does not tell whether the study exists."""
    study = Study.objects.filter(slug=slug).first()
    expected = study.crowd_key.encode() if study is not None and study.crowd_key else _NO_CROWD_KEY
    given = (key or "").encode("utf-8", "surrogatepass")
    matches = hmac.compare_digest(given, expected)  # bytes: a non-ASCII key cannot raise TypeError
    if study is None or not study.crowd_key or not matches:
        return None
    return study


def crowd_params_check(*, pid: str | None, study_id: str | None, session_id: str | None) -> dict[str, str]:
    """Validate the crowd platform's query parameters; ValidationFailed says which one is wrong."""
    errors: dict[str, str] = {}
    pid = (pid or "").strip()
    if not pid:
        errors["PROLIFIC_PID"] = "is missing: open the study from the link on the crowd platform"
    elif "{" in pid or "%" in pid:
        errors["PROLIFIC_PID"] = "is a placeholder, not an id: the platform did not fill it in"
    elif not CROWD_PID_RE.match(pid):
        errors["PROLIFIC_PID"] = "is not a valid participant id (4-64 letters, digits, '-' or '_')"
    out = {"pid": pid}
    for name, key, value in (("STUDY_ID", "study_id", study_id), ("SESSION_ID", "session_id", session_id)):
        value = (value or "").strip()
        if value and not CROWD_ID_RE.match(value):
            errors[name] = "is not a valid id (letters, digits, '-' or '_', at most 128)"
        out[key] = value
    if errors:
        raise ValidationFailed("This study link is incomplete or damaged.", errors)
    return out


def crowd_enter(*, study: Study, pid: str, study_id: str = "", session_id: str = ""):
    """The pseudonymous annotator for a crowd participant id (created on first visit) and their membership.

    One account per PID across the site (User.crowd_pid is unique); a later visit with the same PID gets
    the same account back. Returns (user, membership).
    """
    params = crowd_params_check(pid=pid, study_id=study_id, session_id=session_id)
    User = get_user_model()
    user = User.objects.filter(crowd_pid=params["pid"]).first()
    membership = Membership.objects.filter(study=study, user=user).first() if user is not None else None
    if membership is None and not study.is_active:
        raise NotAllowed("This study is closed and takes no new participants.")
    if user is None:
        try:
            with transaction.atomic():
                user = _new_pseudonymous_user(prefix="crowd", crowd_pid=params["pid"])
        except IntegrityError:  # the same PID arrived twice at once: the other request created it
            user = User.objects.get(crowd_pid=params["pid"])
    if user.is_staff or user.is_superuser or not user.is_active or not user.is_pseudonymous:
        raise NotAllowed("This participant id cannot be used to sign in.")
    if membership is None:
        membership = membership_add(
            study=study,
            user=user,
            role=Role.ANNOTATOR,
            via=Membership.Via.CROWD,
            crowd_study_id=params["study_id"],
            crowd_session_id=params["session_id"],
        )
    if membership.role != Role.ANNOTATOR:
        raise NotAllowed("This participant id cannot be used to sign in.")
    changed = {}
    if params["session_id"] and membership.crowd_session_id != params["session_id"]:
        changed["crowd_session_id"] = params["session_id"]  # a new attempt on the platform
    if params["study_id"] and not membership.crowd_study_id:
        changed["crowd_study_id"] = params["study_id"]
    if changed:
        Membership.objects.filter(pk=membership.pk).update(**changed)
        for key, value in changed.items():
            setattr(membership, key, value)
    return user, membership


def invite_problem(invite: Invite, *, now=None) -> str | None:
    """Why this invite cannot be used now, or None."""
    now = now or timezone.now()
    if not invite.study.is_active:
        return "This study is closed and takes no new participants."
    if invite.expires_at is not None and invite.expires_at <= now:
        return "This invite link has expired. Ask the researcher for a new one."
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return "This invite link has been used as many times as it allows. Ask the researcher for a new one."
    return None


@transaction.atomic
def invite_accept(*, invite: Invite, user=None):
    """Join the invite's study. `user` None (an anonymous visitor) gets a new pseudonymous account.

    A use is counted atomically (never beyond max_uses, also under concurrency); someone who is already a
    member just continues and uses nothing up. Returns (user, membership).
    """
    now = timezone.now()
    if user is not None:
        existing = Membership.objects.filter(study_id=invite.study_id, user=user).first()
        if existing is not None:
            return user, existing
    problem = invite_problem(invite, now=now)
    if problem:
        raise NotAllowed(problem)
    counted = (
        Invite.objects.filter(pk=invite.pk)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
        .update(uses=F("uses") + 1)
    )
    if not counted:
        raise NotAllowed("This invite link has just been used up. Ask the researcher for a new one.")
    if user is None:
        user = _new_pseudonymous_user(prefix="guest")
    membership = membership_add(study=invite.study, user=user, role=invite.role, via=Membership.Via.INVITE)
    invite.refresh_from_db(fields=["uses"])
    return user, membership


def membership_complete(*, membership: Membership) -> Membership:
    """Record that the annotator reached the end of the study (first time only)."""
    if membership.completed_at is None:
        now = timezone.now()
        Membership.objects.filter(pk=membership.pk, completed_at__isnull=True).update(completed_at=now)
        membership.refresh_from_db(fields=["completed_at"])
    return membership
