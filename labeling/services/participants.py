"""Participants and their consent: adding a filmed person with the consent they gave, and changing it.

The consent is machine-readable (Participant.CONSENT_SCOPES: annotation, labels_export, media_sharing,
self_reports_export) and every surface obeys it:
- annotation: without it no clip of theirs is served. Taking it away takes their clips out of the queue
  now (inactive, open leases end: the same step as a withdrawal, withdrawal.participant_clips_leave_queue);
  while it is absent a clip of theirs cannot be made active (clip_update refuses) and a new clip of theirs
  is added inactive. Giving it back does not reactivate anything by itself: the researcher makes the
  clips active again (the returned notices say so), since some may have been inactive for other reasons.
- labels_export, media_sharing, self_reports_export: the exporter reads through
  selectors.annotations_for_export / self_reports_for_export; taking one away also marks the exports
  already built that hold that data (labeling.hooks.data_withdrawn, kind PARTICIPANT_SCOPE, inside the
  transaction; exports/withdrawal.py decides which).
Every scope taken away or given back is one ParticipantEvent (scope = its name; withdrawn = taken away,
reinstated = given back) with who, when and the researcher's note; the service never writes personal data
(age band, gender) into the log. A whole withdrawal or reinstatement stays withdrawal.participant_withdraw /
participant_reinstate (scope "all").
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling import hooks
from labeling.errors import Conflict, ValidationFailed
from labeling.models import Clip, Participant, ParticipantEvent, Study
from labeling.models.people import CONSENT_SCOPES

from .clips import _participant_code
from .withdrawal import _announce, participant_clips_leave_queue

log = logging.getLogger(__name__)

# The fields a researcher sets (besides the code): consent, then what was given with it.
CONSENT_FIELDS = (
    "consent_version",
    "consent_date",
    *CONSENT_SCOPES.values(),
    "consent_scope",
    "age_band",
    "gender",
)
SCOPE_OF_FIELD = {name: scope for scope, name in CONSENT_SCOPES.items()}
# Scopes whose loss reaches exports already built (annotation does not: it is about the queue).
EXPORT_SCOPES = ("labels_export", "media_sharing", "self_reports_export")
OTHER_TERMS_MAX = 5000


def _plain(value, *, name: str, max_length: int, lines: bool = False) -> tuple[str, str | None]:
    """(cleaned text, problem or None): text without control characters (line breaks only if `lines`)."""
    if value is None:
        return "", None
    if not isinstance(value, str):
        return "", "must be text"
    value = value.strip()
    allowed = {"\n", "\r", "\t"} if lines else set()
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in allowed for ch in value):
        return "", "must be plain text (no control characters" + ("" if lines else " or line breaks") + ")"
    if len(value) > max_length:
        return "", f"has at most {max_length} characters"
    return value, None


def _date(value) -> tuple[dt.date | None, str | None]:
    if value in (None, ""):
        return None, None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            return None, "must be a date (YYYY-MM-DD)"
    if not isinstance(value, dt.date):
        return None, "must be a date (YYYY-MM-DD)"
    if value > timezone.localdate():
        return None, "cannot be in the future"
    return value, None


def consent_fields_clean(fields: dict) -> dict:
    """The consent fields, validated: ValidationFailed listing every problem (field -> what is wrong), or
    the cleaned values. Scopes are booleans; age_band one of Participant.AgeBand or empty; gender at most
    64 characters of plain text (the person's own words); consent_date a date not in the future."""
    problems: dict[str, str] = {}
    clean: dict = {}
    for name, value in fields.items():
        problem = None
        if name not in CONSENT_FIELDS:
            problem = "is not a participant field that can be set"
        elif name in SCOPE_OF_FIELD:
            if isinstance(value, bool):
                clean[name] = value
            else:
                problem = "must be true or false"
        elif name == "consent_date":
            clean[name], problem = _date(value)
        elif name == "age_band":
            value = "" if value is None else value
            if isinstance(value, str) and value.strip() in ("", *Participant.AgeBand.values):
                clean[name] = value.strip()
            else:
                problem = "must be one of: " + ", ".join(Participant.AgeBand.values) + " (or empty)"
        elif name == "gender":
            clean[name], problem = _plain(value, name=name, max_length=64)
        elif name == "consent_version":
            clean[name], problem = _plain(value, name=name, max_length=64)
        else:  # consent_scope: other consent terms, in words
            clean[name], problem = _plain(value, name=name, max_length=OTHER_TERMS_MAX, lines=True)
        if problem:
            problems[name] = problem
            clean.pop(name, None)
    if problems:
        listed = "; ".join(f"{name.replace('_', ' ')} {problem}" for name, problem in problems.items())
        raise ValidationFailed(f"The participant's details were not saved: {listed}.", problems)
    return clean


@transaction.atomic
def participant_create(*, study: Study, code: str, by=None, **fields) -> Participant:
    """Add a filmed person to the study under a pseudonymous `code` (never a name), with the consent they
    gave (`fields`: any of CONSENT_FIELDS; scopes left out take their defaults). ValidationFailed lists
    every bad value; Conflict if the code is taken. Nothing is logged: a new person's consent is what they
    gave, not a change. `by` is the researcher (kept for symmetry with participant_update)."""
    code = _participant_code(code)
    clean = consent_fields_clean(fields)
    if Participant.objects.filter(study=study, code=code).exists():
        raise Conflict(f"Participant {code} is already in this study.", {"code": "already used"})
    try:
        with transaction.atomic():
            participant = Participant.objects.create(study=study, code=code, **clean)
    except IntegrityError:  # added concurrently
        raise Conflict(f"Participant {code} is already in this study.", {"code": "already used"}) from None
    log.info("participant %s added to study %s", participant.pk, study.pk)
    return participant


@dataclass
class ParticipantChange:
    """What participant_update did: the participant (saved), the scopes taken away and given back, and
    notices to show the researcher (plain sentences)."""

    participant: Participant
    taken_away: list[str] = field(default_factory=list)
    given_back: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@transaction.atomic
def participant_update(*, participant: Participant, by, fields: dict, note: str = "") -> ParticipantChange:
    """Change a participant's consent or what they gave with it (`fields`: any of CONSENT_FIELDS). Every
    scope taken away or given back is logged as one ParticipantEvent with `note` (the researcher's reason;
    never personal data). Consent to annotation taken away: their clips leave the queue now. An export
    scope taken away: exports already built that hold that data are marked. Giving consent to annotation
    back leaves the clips inactive (a notice says so). ValidationFailed lists every bad value; a refusal
    changes nothing. Works on a withdrawn participant too (their clips stay out either way)."""
    clean = consent_fields_clean(fields)
    note = (note or "").strip()[:500]
    now = timezone.now()
    participant = Participant.objects.select_for_update(no_key=True).get(pk=participant.pk)
    change = ParticipantChange(participant=participant)
    changed = [name for name, value in clean.items() if getattr(participant, name) != value]
    for name in changed:
        setattr(participant, name, clean[name])
    if not changed:
        return change
    participant.save(update_fields=changed)
    n_clips = Clip.objects.filter(participant=participant).count()
    for name in changed:
        scope = SCOPE_OF_FIELD.get(name)
        if scope is None:
            continue
        given = bool(clean[name])
        clips = n_clips
        if scope == "annotation" and not given:
            clips = participant_clips_leave_queue(participant=participant, now=now)
        ParticipantEvent.objects.create(
            participant=participant,
            action=ParticipantEvent.Action.REINSTATED if given else ParticipantEvent.Action.WITHDRAWN,
            scope=scope,
            at=now,
            by=by,
            note=note,
            clips=clips,
        )
        (change.given_back if given else change.taken_away).append(scope)
        if not given and scope in EXPORT_SCOPES:
            _announce(
                kind=hooks.PARTICIPANT_SCOPE,
                study_id=participant.study_id,
                subject_id=participant.pk,
                at=now,
                scope=scope,
            )
    if "annotation" in change.taken_away and n_clips:
        change.notices.append(
            f"Participant {participant.code} no longer consents to annotation: their {n_clips} clip(s) left "
            "the queue (inactive; open leases ended)."
        )
    if "annotation" in change.given_back and n_clips and participant.withdrawn_at is None:
        change.notices.append(
            f"Participant {participant.code} consents to annotation again, but their clips stay inactive: "
            "make the ones you want rated active again from the clip list."
        )
    if any(scope in EXPORT_SCOPES for scope in change.taken_away):
        change.notices.append(
            "Exports already built that hold data this consent no longer covers are marked; build a new export."
        )
    log.info(
        "participant %s of study %s: consent taken away %s, given back %s",
        participant.pk,
        participant.study_id,
        change.taken_away,
        change.given_back,
    )
    return change
