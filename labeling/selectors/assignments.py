"""The queue, read: one annotator's assignment, how far they are ("4 of 20"), what is left for them, and the
assignments researchers may list."""

from __future__ import annotations

from enum import StrEnum

from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from labeling.errors import NotFound
from labeling.models import Assignment, Clip, Membership, Study

from ._base import BAD_ID, User

# Counting open clips is bounded: in a study of 100,000 clips the page says "4 of 5,004+".
COUNT_CAP = 5000


def assignment_for_annotator(*, user: User, assignment_id: int, with_clip: bool = True) -> Assignment:
    """One of the requester's own assignments (with its study and scheme, and its clip unless the caller
    needs only the clip's id) in a study they are still a member of, or NotFound."""
    related = ("study", "scheme_version", "clip") if with_clip else ("study", "scheme_version")
    try:
        return Assignment.objects.select_related(*related).get(
            pk=assignment_id, annotator=user, study__memberships__user=user
        )
    except (Assignment.DoesNotExist, *BAD_ID):
        raise NotFound("No such assignment.") from None


def assignments_for_researcher(*, study: Study | None) -> QuerySet[Assignment]:
    """Assignments a researcher may list: all but those of withdrawn participants' clips (who held such a clip
    is that participant's data too, out of every list like the labels). `study`: one study, or None for every
    study (only for a caller that scopes rows by study itself, like the admin's list)."""
    assignments = Assignment.objects.filter(clip__withdrawn_at__isnull=True)
    return assignments if study is None else assignments.filter(study=study)


# --- How far an annotator is, and what the end page should tell them. ---


class Outlook(StrEnum):
    CLOSED = "closed"  # the study is closed: whatever was rated is all there will be
    CONTINUE = "continue"  # a lease is held, or a clip has room for this annotator: the queue has work
    WAIT = "wait"  # every clip that could still come to them is leased by others right now
    FINISHED = "finished"  # no clip can come to this annotator any more


def _held_leases(membership: Membership) -> QuerySet[Assignment]:
    """The leases the queue would hand back: active, unexpired, on a clip still in the study."""
    return Assignment.objects.filter(
        study_id=membership.study_id,
        annotator_id=membership.user_id,
        status=Assignment.Status.ACTIVE,
        clip__is_active=True,
        lease_expires_at__gt=timezone.now(),
    )


def _unseen_clips(membership: Membership) -> QuerySet[Clip]:
    """Active clips this annotator never had (the queue gives no one a clip twice)."""
    seen = Assignment.objects.filter(clip_id=OuterRef("pk"), annotator_id=membership.user_id)
    return Clip.objects.filter(study_id=membership.study_id, is_active=True).exclude(Exists(seen))


def annotator_outlook(*, membership: Membership) -> Outlook:
    """What is left for this annotator (the requester's own membership, with its study), from at most three
    EXISTS probes (LIMIT 1), never a full count.

    WAIT covers the case where all clips with room are leased by others: a lease can lapse and the clip come
    back, so the annotator is not finished while some clip they never had still lacks ratings
    (n_submitted < target_k).
    """
    if not membership.study.is_active:
        return Outlook.CLOSED
    if _held_leases(membership).exists():
        return Outlook.CONTINUE
    unseen = _unseen_clips(membership)
    if unseen.filter(n_assigned__lt=F("target_k")).exists():
        return Outlook.CONTINUE
    if unseen.filter(n_submitted__lt=F("target_k")).exists():
        return Outlook.WAIT
    return Outlook.FINISHED


def annotator_progress(*, membership: Membership) -> dict[str, int]:
    """{"done", "total", "remaining", "capped"}: total = rated + leases held + clips with room for them.

    "done" is the annotator's work: every clip they rated, whatever became of the clip since."""
    done = Assignment.objects.filter(
        study_id=membership.study_id, annotator_id=membership.user_id, status=Assignment.Status.SUBMITTED
    ).count()
    held = _held_leases(membership).count()
    open_clips = (
        _unseen_clips(membership).filter(n_assigned__lt=F("target_k")).values("pk")[:COUNT_CAP].count()
        if membership.study.is_active
        else 0
    )
    total = done + held + open_clips
    return {"done": done, "total": total, "remaining": total - done, "capped": open_clips >= COUNT_CAP}
