"""Withdrawal: a filmed participant's (their clips and every label of them), and an annotator's labels (a
spammer, or an annotator who asks). Withdrawn labels stay in the database and leave every read path through
the one rule (selectors.annotations_for_analysis). Each change is logged (ParticipantEvent, AnnotatorEvent:
when, by whom, a note, how many; never personal data) and announced to other apps through labeling.hooks,
in the same transaction.

Annotator withdrawal and the queue: the annotator's live leases in the study end now (each clip gets its slot
back) and they cannot take, take back or submit a clip there any more (assignment_claim_next,
assignment_heartbeat and annotation_submit refuse). Their submitted labels no longer count towards any clip's
K, so each clip they rated wants one more annotator: its extra_k and target_k grow by one (the clips of a
withdrawn participant too, harmlessly: they are out of the queue). A reinstatement takes that back (never
below the annotators a clip already has). One race is left open on purpose: a claim or a submit already
under way when the withdrawal commits can still complete on its own lease (closing it would add a
membership lock to the two hot writes); such a label is withdrawn like the others, and its clip is not
re-opened for it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling import hooks
from labeling.errors import Conflict, ValidationFailed
from labeling.models import (
    Annotation,
    AnnotatorEvent,
    Assignment,
    Clip,
    Membership,
    Participant,
    ParticipantEvent,
    Study,
)
from labeling.services.assignments import leases_expire, leases_release

log = logging.getLogger(__name__)


def _announce(*, kind: str, study_id: int, subject_id: int, at: datetime, **extra) -> None:
    """Tell other apps (exports), inside the withdrawal's transaction: their answer (marking the exports
    that hold the data) commits with it or not at all, so no download can slip between the two. `extra`:
    the kind's own arguments (`scope` for hooks.PARTICIPANT_SCOPE)."""
    hooks.data_withdrawn.send(
        sender=Study, kind=kind, study_id=study_id, subject_id=subject_id, at=at, **extra
    )


def participant_clips_leave_queue(*, participant: Participant, now: datetime, **also) -> int:
    """Take every clip of a (locked) participant out of the queue now: inactive (and `also`, e.g.
    withdrawn_at), their open leases end now and each clip gets its slot back, so no one is shown or rates
    them again. Returns how many clips. Shared by a withdrawal and by consent to annotation taken away."""
    clips = Clip.objects.filter(participant=participant)
    n = clips.update(is_active=False, **also)
    Assignment.objects.filter(clip__in=clips, status=Assignment.Status.ACTIVE).update(lease_expires_at=now)
    leases_expire(study_id=participant.study_id, now=now)
    return n


def _required_note(note: str, message: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(message, {"note": "is required"})
    return note[:500]


@transaction.atomic
def participant_withdraw(*, participant: Participant, by=None, note: str = "") -> Participant:
    """Withdraw a filmed person: their clips leave the queue (open leases end now) and every read path; their
    labels are kept in the database but no longer served, reported or exported. Logged as a ParticipantEvent;
    exports that hold their data are marked (labeling.hooks.data_withdrawn). Withdrawing someone already
    withdrawn changes nothing."""
    now = timezone.now()
    participant = Participant.objects.select_for_update(no_key=True).get(pk=participant.pk)
    if participant.withdrawn_at is not None:
        return participant
    participant.withdrawn_at = now
    participant.save(update_fields=["withdrawn_at"])
    n = participant_clips_leave_queue(participant=participant, now=now, withdrawn_at=now)
    ParticipantEvent.objects.create(
        participant=participant, action=ParticipantEvent.Action.WITHDRAWN, at=now, by=by, note=note, clips=n
    )
    _announce(kind=hooks.PARTICIPANT, study_id=participant.study_id, subject_id=participant.pk, at=now)
    log.info("participant %s of study %s withdrawn (%s clips)", participant.pk, participant.study_id, n)
    return participant


@transaction.atomic
def participant_reinstate(*, participant: Participant, by, note: str) -> Participant:
    """Undo a withdrawal (e.g. one made by mistake): the only way back, explicit and logged with who did it and
    why. The participant's clips return to the queue (unless they do not consent to annotation: then the
    clips come back inactive) and to every read path. Exports marked as holding their data stay marked."""
    note = _required_note(note, "Say why the withdrawal is undone (it is logged).")
    participant = Participant.objects.select_for_update(no_key=True).get(pk=participant.pk)
    if participant.withdrawn_at is None:
        raise Conflict("This participant has not withdrawn.")
    participant.withdrawn_at = None
    participant.save(update_fields=["withdrawn_at"])
    # Without consent to annotation their clips come back inactive (labeling.services.participants).
    n = Clip.objects.filter(participant=participant).update(
        is_active=participant.consent_annotation, withdrawn_at=None
    )
    ParticipantEvent.objects.create(
        participant=participant, action=ParticipantEvent.Action.REINSTATED, by=by, note=note, clips=n
    )
    log.info("participant %s of study %s reinstated (%s clips)", participant.pk, participant.study_id, n)
    return participant


def _lock(membership: Membership) -> tuple[Study, Membership]:
    """The study, then the membership, FOR NO KEY UPDATE: a concurrent change of K (study_update takes the
    same lock) cannot interleave with the retargeting below; claims and submits do not wait."""
    study = Study.objects.select_for_update(no_key=True).get(pk=membership.study_id)
    return study, Membership.objects.select_for_update(no_key=True).get(pk=membership.pk)


def _retarget(study: Study, membership: Membership, *, step: int, rated_by: datetime | None = None) -> int:
    """Move the target of every clip the annotator rated in the study by `step` (+1: one more annotator
    wanted for each withdrawn label; -1: taken back), never below the clip's live assignments. Clips are
    locked in id order first, as clip_targets_extend does. Returns how many clips changed."""
    rated = Assignment.objects.filter(
        study=study, annotator_id=membership.user_id, status=Assignment.Status.SUBMITTED
    )
    if rated_by is not None:
        rated = rated.filter(submitted_at__lte=rated_by)
    clips = Clip.objects.filter(pk__in=rated.values("clip_id"))
    if connection.features.has_select_for_update:
        list(clips.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))
    extra = Greatest(F("extra_k") + step, Value(0))
    return clips.update(extra_k=extra, target_k=Greatest(Value(study.overlap_k) + extra, F("n_assigned")))


@transaction.atomic
def annotator_labels_withdraw(*, membership: Membership, by, note: str) -> Membership:
    """Withdraw an annotator's labels from a study (a spammer, or at their request): the labels stay in the
    database and leave every read path (selectors.annotations_for_analysis); their live leases there end now
    and they can take no more clips there; each clip they rated wants one more annotator (see the module's
    docstring). Logged as an AnnotatorEvent with `note` (required: why); exports that hold their labels are
    marked (labeling.hooks.data_withdrawn). Reversible with annotator_labels_reinstate until an export is
    built. Conflict if they are already withdrawn."""
    note = _required_note(note, "Say why the labels are withdrawn (it is logged).")
    study, membership = _lock(membership)
    if membership.labels_withdrawn_at is not None:
        raise Conflict(
            f"This annotator's labels were already withdrawn on {membership.labels_withdrawn_at:%Y-%m-%d}."
        )
    now = timezone.now()
    membership.labels_withdrawn_at = now
    membership.save(update_fields=["labels_withdrawn_at"])
    leases_release(annotator_id=membership.user_id, study_id=study.pk, now=now)
    _retarget(study, membership, step=1)
    _log(membership, AnnotatorEvent.Action.WITHDRAWN, at=now, by=by, note=note)
    _announce(kind=hooks.ANNOTATOR, study_id=study.pk, subject_id=membership.user_id, at=now)
    return membership


@transaction.atomic
def annotator_labels_reinstate(*, membership: Membership, by, note: str) -> Membership:
    """Undo the withdrawal of an annotator's labels (e.g. one made by mistake): they count again everywhere
    and the annotator may take clips again; the extra annotator each of their clips was given is taken back
    where no one has taken it yet. Logged with `note` (required: why). Refused (Conflict, nothing changed)
    when they are not withdrawn, or once an export of the study has been built since the withdrawal (a
    receiver of labeling.hooks.annotator_reinstating says so)."""
    note = _required_note(note, "Say why the withdrawal is undone (it is logged).")
    study, membership = _lock(membership)
    withdrawn_at = membership.labels_withdrawn_at
    if withdrawn_at is None:
        raise Conflict("This annotator's labels have not been withdrawn.")
    hooks.annotator_reinstating.send(
        sender=Membership, study_id=study.pk, annotator_id=membership.user_id, withdrawn_at=withdrawn_at
    )
    membership.labels_withdrawn_at = None
    membership.save(update_fields=["labels_withdrawn_at"])
    _retarget(study, membership, step=-1, rated_by=withdrawn_at)
    _log(membership, AnnotatorEvent.Action.REINSTATED, at=timezone.now(), by=by, note=note)
    return membership


def _log(membership: Membership, action: str, *, at: datetime, by, note: str) -> None:
    """An AnnotatorEvent with the number of the annotator's labels in the study (and a log line, ids only)."""
    n = Annotation.objects.filter(study_id=membership.study_id, annotator_id=membership.user_id).count()
    AnnotatorEvent.objects.create(
        study_id=membership.study_id,
        annotator_id=membership.user_id,
        action=action,
        at=at,
        by=by,
        note=note,
        labels=n,
    )
    log.info("annotator %s of study %s: labels %s (%s)", membership.user_id, membership.study_id, action, n)
