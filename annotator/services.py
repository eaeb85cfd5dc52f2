"""Writes for the annotator side: entry through crowd and invite links (and the lockout of self-report link
guessing), finishing a study, and accounts (deleting a user, anonymising an annotator).

Views log the returned user in; everything that changes rows happens here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotator.client import counter_incr
from labeling.errors import NotAllowed, RateLimited, ValidationFailed
from labeling.models import Annotation, Invite, Membership, Role, Study
from labeling.services import leases_release, membership_add

logger = logging.getLogger(__name__)

# Crowd-platform ids: Prolific uses 24 hex characters, MTurk worker ids are upper-case alphanumerics;
# accept any plain token of letters, digits, '-' and '_' (no spaces, no template placeholders).
CROWD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
CROWD_PID_RE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


def _free_username(prefix: str) -> str:
    User = get_user_model()
    for _ in range(5):
        username = f"{prefix}-{secrets.token_hex(5)}"
        if not User.objects.filter(username=username).exists():
            return username
    raise RuntimeError("could not pick a free pseudonymous user name")  # pragma: no cover


def _new_pseudonymous_user(*, prefix: str, crowd_study: Study | None = None, crowd_pid: str = ""):
    """An account with no password, no e-mail and a random name (a crowd account: of `crowd_study` only)."""
    User = get_user_model()
    user = User(
        username=_free_username(prefix), is_pseudonymous=True, crowd_study=crowd_study, crowd_pid=crowd_pid
    )
    user.set_unusable_password()
    user.save()
    return user


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


# Windows of the crowd sign-up limits (the counts are settings.CROWD_SIGNUPS_PER_CLIENT / _PER_STUDY).
CLIENT_WINDOW_SECONDS = 600
STUDY_WINDOW_SECONDS = 60


def _window_count(*, scope: str, ident: str, seconds: int) -> tuple[int, int]:
    """Count one more event in the current fixed window of `seconds`; returns (count, seconds left).
    In the shared cache, so every web process counts together (the key holds a hash, not the address)."""
    now = time.time()
    window = int(now // seconds)
    key = f"crowd-signup:{scope}:{hashlib.sha256(ident.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}:{window}"
    count = counter_incr(key, timeout=seconds + 5)
    return count, max(1, int((window + 1) * seconds - now))


def crowd_signup_allow(*, study: Study, client: str) -> None:
    """Count a new crowd account for this client address and this study; RateLimited when either has had
    too many lately. Only accounts about to be made are counted: returning participants pass freely."""
    count, left = _window_count(scope="client", ident=client or "-", seconds=CLIENT_WINDOW_SECONDS)
    if count > settings.CROWD_SIGNUPS_PER_CLIENT:
        raise RateLimited(
            "Too many new participants have started from this network just now. Please try again in a few "
            "minutes.",
            retry_after=left,
        )
    count, left = _window_count(scope="study", ident=str(study.pk), seconds=STUDY_WINDOW_SECONDS)
    if count > settings.CROWD_SIGNUPS_PER_STUDY:
        raise RateLimited(
            "Many participants are starting this study at the moment. Please try again in a minute.",
            retry_after=left,
        )


def _link_lookup_stem(client: str) -> str:
    return f"participant-link:client:{hashlib.sha256((client or '-').encode()).hexdigest()[:32]}"


def participant_link_lookup_allow(*, client: str) -> None:
    """RateLimited while this client address is locked out of self-report link lookups (too many keys that
    opened nothing lately); checked before the key is looked up, so a right key does not pass either."""
    until = cache.get(f"{_link_lookup_stem(client)}:locked")
    left = int(until - time.time()) + 1 if until else 0
    if left > 0:
        raise RateLimited(
            "Too many links that open nothing were tried from this network just now. Please check that you "
            "copied the whole link, and try again in a few minutes.",
            retry_after=left,
        )


def participant_link_lookup_failed(*, client: str) -> None:
    """Count a key that opened nothing for this client; at PARTICIPANT_LINK_FAILURES_PER_CLIENT within the
    lockout window, lock the client out of lookups for PARTICIPANT_LINK_LOCKOUT_SECONDS (shared cache: every
    web process counts together)."""
    window = settings.PARTICIPANT_LINK_LOCKOUT_SECONDS
    stem = _link_lookup_stem(client)
    if counter_incr(f"{stem}:failures", timeout=window) >= settings.PARTICIPANT_LINK_FAILURES_PER_CLIENT:
        cache.set(f"{stem}:locked", time.time() + window, timeout=window)
        cache.delete(f"{stem}:failures")


def crowd_account_get(*, study: Study, pid: str):
    """The crowd account of this study for this participant id, or None (never another study's)."""
    return get_user_model().objects.filter(crowd_study=study, crowd_pid=pid).first()


def crowd_enter(*, study: Study, pid: str, study_id: str = "", session_id: str = "", client: str = ""):
    """The pseudonymous annotator of this study for a crowd participant id (created on first visit, within
    the sign-up limits for `client`, the requester's address) and their membership.

    One account per (study, participant id): the same id in another study's link is another account, and
    a crowd account is never a member of another study. A later visit to the same study with the same id
    gets the same account back. Returns (user, membership).
    """
    params = crowd_params_check(pid=pid, study_id=study_id, session_id=session_id)
    User = get_user_model()
    user = crowd_account_get(study=study, pid=params["pid"])
    membership = Membership.objects.filter(study=study, user=user).first() if user is not None else None
    if membership is None and not study.is_active:
        raise NotAllowed("This study is closed and takes no new participants.")
    if user is None:
        crowd_signup_allow(study=study, client=client)
        try:
            with transaction.atomic():
                user = _new_pseudonymous_user(prefix="crowd", crowd_study=study, crowd_pid=params["pid"])
        except IntegrityError:  # the same PID arrived twice at once: the other request created it
            user = User.objects.get(crowd_study=study, crowd_pid=params["pid"])
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


RESEARCHER_NEEDS_ACCOUNT = (
    "A researcher invite needs an account with a password: log in, or sign up with a user name and password."
)


def invite_account_problem(*, invite: Invite, user) -> str | None:
    """Why `user` (None: an anonymous visitor) cannot take this invite's role, or None. Annotator invites
    may make a pseudonymous account; a researcher invite needs a real one (a password, not pseudonymous)."""
    if invite.role != Role.RESEARCHER:
        return None
    if user is None or getattr(user, "is_pseudonymous", False) or not user.has_usable_password():
        return RESEARCHER_NEEDS_ACCOUNT
    return None


@transaction.atomic
def invite_accept(*, invite: Invite, user=None):
    """Join the invite's study. `user` None (an anonymous visitor) gets a new pseudonymous account, for an
    annotator invite only: a researcher invite needs a real account (invite_accept_signup makes one).

    A use is counted atomically (never beyond max_uses, also under concurrency); someone who is already a
    member just continues and uses nothing up. Returns (user, membership).
    """
    now = timezone.now()
    if user is not None:
        existing = Membership.objects.filter(study_id=invite.study_id, user=user).first()
        if existing is not None:
            return user, existing
    problem = invite_problem(invite, now=now) or invite_account_problem(invite=invite, user=user)
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


@transaction.atomic
def invite_accept_signup(*, invite: Invite, username: str, password: str):
    """Sign up (a normal account: user name and password, checked by the password validators) and join
    through the invite, all or nothing. Returns (user, membership)."""
    User = get_user_model()
    username = User.normalize_username((username or "").strip())
    if not username:
        raise ValidationFailed("Choose a user name.", {"username": "must not be empty"})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed("That user name is taken.", {"username": "is taken: choose another"})
    user = User(username=username)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed("Choose another password.", {"password": " ".join(exc.messages)}) from exc
    user.set_password(password)
    user.save()
    return invite_accept(invite=invite, user=user)


def membership_complete(*, membership: Membership) -> Membership:
    """Record that the annotator reached the end of the study (first time only)."""
    if membership.completed_at is None:
        now = timezone.now()
        Membership.objects.filter(pk=membership.pk, completed_at__isnull=True).update(completed_at=now)
        membership.refresh_from_db(fields=["completed_at"])
    return membership


def user_delete(*, user) -> None:
    """Delete an account: its live leases end first, so every clip it held gets its slot back. An account
    with labels cannot be deleted (labels are never lost): anonymise it instead (annotator_anonymise)."""
    with transaction.atomic():
        if Annotation.objects.filter(annotator=user).exists():
            raise NotAllowed(
                "This account has made ratings, which are kept: anonymise it instead of deleting it."
            )
        leases_release(annotator_id=user.pk)
        user.delete()


@transaction.atomic
def annotator_anonymise(*, user):
    """Remove what identifies an annotator who asked to be removed, keeping their labels (they still count):
    a random user name, no names or e-mail, no usable password, inactive (no log-in, no API), no crowd ids;
    their live leases end. Logged by id only. Staff and superusers are refused."""
    if user.is_staff or user.is_superuser:
        raise NotAllowed("Staff accounts are not anonymised: remove their staff status first.")
    leases_release(annotator_id=user.pk)
    user.username = _free_username("anon")
    user.first_name = user.last_name = user.email = ""
    user.set_unusable_password()
    user.is_active = False
    user.is_pseudonymous = True
    user.crowd_pid = ""  # the account stays bound to its crowd study, if it had one
    user.save()
    Membership.objects.filter(user=user).update(crowd_study_id="", crowd_session_id="")
    logger.info("annotator anonymised: user id %s", user.pk)
    return user
