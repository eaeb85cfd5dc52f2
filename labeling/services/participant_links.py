"""Self-report links and the self-reports given through them (retrospective self-annotation in the platform).

A researcher issues a private, expiring, revocable link per participant (participant_link_issue): the key is
shown once and stored only as its SHA-256 (api_token_hash) beside its first characters, like an API token.
The link opens that participant's own clips and nothing else (labeling.selectors.participant_links); after a
consent step (participant_link_consent) the participant rates them on the study's current scheme, with the
same rating page and the same validation as the annotators (labeling.services.annotations.rating_clean), as
whole-clip self-reports (self_report_submit).

A participant may rate their clips whatever Participant.consent_annotation says: that scope governs showing
their clips to annotators, and their own report is not annotation. A clip out of the annotators' queue
(inactive) is still theirs to rate; a withdrawn clip is not. Closing a study (Study.is_active) stops
annotation, not these links: revoke them to stop self-reports. Withdrawal ends every link of theirs.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labeling.errors import Conflict, Gone, NotAllowed, NotFound, ValidationFailed
from labeling.models import Clip, Participant, ParticipantLink, SelfReport, api_token_hash
from labeling.selectors.participant_links import participant_link_problem
from labeling.selectors.studies import scheme_current
from labeling.services.annotations import rating_clean, submission_uuid

log = logging.getLogger(__name__)

DEFAULT_DAYS = 14
MAX_DAYS = 90
MAX_NOTE_CHARS = 200
# last_used_at is written at most this often (the participant's pages stay read-only in between).
USAGE_RESOLUTION_SECONDS = 300
ALREADY_RATED = "You have already rated this clip; a rating cannot be given twice."


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise ValidationFailed(
            "The link was not issued: please correct the marked fields.",
            {"days": f"must be a whole number of days from 1 to {MAX_DAYS}"},
        )
    return value


def _note(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("The link was not issued: the note must be text.", {"note": "must be text"})
    note = value.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationFailed(
            "The link was not issued: the note is too long.", {"note": f"at most {MAX_NOTE_CHARS} characters"}
        )
    return note


def _lock_participant(participant_id: int) -> Participant:
    """The participant row FOR NO KEY UPDATE: withdrawal (participant_withdraw) takes the same lock, so a
    link or a report cannot slip past a withdrawal committing at the same time."""
    qs = Participant.objects.filter(pk=participant_id)
    if connection.features.has_select_for_update:
        qs = qs.select_for_update(no_key=True)
    return qs.get()


@transaction.atomic
def participant_link_issue(
    *, participant: Participant, by, days: int = DEFAULT_DAYS, note: str = ""
) -> tuple[ParticipantLink, str]:
    """A new self-report link for `participant`, valid for `days` (1..90): returns the row and the key, which
    is never stored and cannot be shown again. Refused (Conflict) for a withdrawn participant."""
    days, note = _days(days), _note(note)
    participant = _lock_participant(participant.pk)
    if participant.withdrawn_at is not None:
        raise Conflict("This participant has withdrawn from the study: no self-report link can be issued.")
    now = timezone.now()
    key = secrets.token_urlsafe(32)
    link = ParticipantLink.objects.create(
        participant=participant,
        key_hash=api_token_hash(key),
        prefix=key[: ParticipantLink.PREFIX_LENGTH],
        note=note,
        created_by=by,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    log.info("self-report link %s issued for participant %s (%s days)", link.pk, participant.pk, days)
    return link, key


@transaction.atomic
def participant_link_revoke(*, link: ParticipantLink, by) -> ParticipantLink:
    """Switch a link off now: it opens nothing any more (a page shows that it was switched off). Reports
    already given through it stay. Revoking a revoked link changes nothing."""
    updated = ParticipantLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    link.refresh_from_db(fields=["revoked_at"])
    if updated:
        log.info("self-report link %s revoked by user %s", link.pk, getattr(by, "pk", None))
    return link


def _usable(link_id: int) -> ParticipantLink:
    """The link, re-read inside the caller's transaction after locking its participant; Gone when it may not
    be used any more (revoked, expired, the participant withdrew)."""
    participant_id = ParticipantLink.objects.values_list("participant_id", flat=True).get(pk=link_id)
    participant = _lock_participant(participant_id)
    link = ParticipantLink.objects.get(pk=link_id)
    link.participant = participant
    problem = participant_link_problem(link)
    if problem:
        raise Gone(problem)
    return link


@transaction.atomic
def participant_link_consent(*, link: ParticipantLink) -> ParticipantLink:
    """The participant agreed on the link's consent step (ParticipantLink.consented_at, kept from the first
    time). Refused (Gone) once the link may not be used."""
    current = _usable(link.pk)
    if current.consented_at is None:
        current.consented_at = timezone.now()
        current.save(update_fields=["consented_at"])
        log.info("self-report link %s: the participant consented", current.pk)
    link.consented_at = current.consented_at
    return link


def participant_link_touch(*, link: ParticipantLink, now: datetime | None = None) -> None:
    """Record that the link was used (last_used_at), at most every USAGE_RESOLUTION_SECONDS."""
    now = now or timezone.now()
    if link.last_used_at is not None and now - link.last_used_at < timedelta(
        seconds=USAGE_RESOLUTION_SECONDS
    ):
        return
    ParticipantLink.objects.filter(pk=link.pk).update(last_used_at=now)
    link.last_used_at = now


def _replay(submission_id, *, participant_id: int, clip_id: int) -> SelfReport | None:
    """The report made with this submission id, for a retry: None if there is none; Conflict if it was made
    for another clip (or by anyone else)."""
    existing = SelfReport.objects.filter(submission_id=submission_id).first()
    if existing is None:
        return None
    if existing.participant_id == participant_id and existing.clip_id == clip_id:
        return existing
    raise Conflict("This submission id was already used for another clip.", {"submission_id": "already used"})


@transaction.atomic
def self_report_submit(*, link: ParticipantLink, clip: Clip, data: Any, submission_id: Any) -> SelfReport:
    """Store the participant's own whole-clip rating of one of their clips, given through `link`.

    Checked with the annotators' validation (rating_clean) against the study's current scheme, whose
    instrument, scale points and version the report records; "cannot judge" is refused (a self-report is the
    person's own rating). A retry with the same `submission_id` returns the first report; a second report on
    the same clip and instrument (the natural key) is a Conflict. Refused when the link is revoked or expired
    or the participant withdrew (Gone), before the consent step (NotAllowed), and for a clip that is not
    theirs or is withdrawn (NotFound).
    """
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The rating was not saved: send a JSON object.", {"non_field_errors": "not an object"}
        )
    submission = submission_uuid(submission_id)
    link = _usable(link.pk)
    participant = link.participant
    if link.consented_at is None:
        raise NotAllowed("Please read and agree to the consent step first.")
    owned = Clip.objects.filter(
        pk=clip.pk, participant_id=participant.pk, study_id=participant.study_id, withdrawn_at__isnull=True
    )
    if not owned.exists():
        raise NotFound("No such clip.")
    replay = _replay(submission, participant_id=participant.pk, clip_id=clip.pk)
    if replay is not None:
        return replay
    version = scheme_current(study=participant.study)
    if version is None:
        raise Conflict("This study has no rating scheme yet.")
    spec = version.spec
    values = rating_clean(
        spec=spec,
        data=data,
        require_full_view=participant.study.require_full_view,
        cannot_judge_allowed=False,
    )
    instrument = spec["instrument"]
    natural_key = SelfReport.objects.filter(
        participant=participant, clip_id=clip.pk, instrument=instrument, start_s__isnull=True
    )
    if natural_key.exists():
        raise Conflict(ALREADY_RATED, {"clip": "already rated"})
    report = SelfReport(
        study_id=participant.study_id,
        participant=participant,
        clip_id=clip.pk,
        instrument=instrument,
        scale_points=None if instrument == "slider" else spec["points"],
        valence=values["valence"],
        arousal=values["arousal"],
        valence_raw=values["valence_raw"],
        arousal_raw=values["arousal_raw"],
        valence_confidence=values["valence_confidence"],
        arousal_confidence=values["arousal_confidence"],
        confidence_points=spec["confidence_points"] if spec["ask_confidence"] else None,
        context_tags=values["context_tags"],
        context_note=values["context_note"],
        reported_at=timezone.now(),
        source=SelfReport.Source.PLATFORM,
        link=link,
        scheme_version=version,
        submission_id=submission,
    )
    try:
        with transaction.atomic():
            report.save(force_insert=True)
    except IntegrityError:  # a concurrent retry (same submission id) or a concurrent second report
        replay = _replay(submission, participant_id=participant.pk, clip_id=clip.pk)
        if replay is not None:
            return replay
        raise Conflict(ALREADY_RATED, {"clip": "already rated"}) from None
    log.info("self-report %s given through link %s", report.pk, link.pk)
    return report
