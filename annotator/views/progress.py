"""How far an annotator is ("4 of 20" = clips rated / the most this annotator can rate right now), and what
the end page should tell them."""

from __future__ import annotations

from enum import StrEnum

from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from labeling.models import Assignment, Clip, Membership

# Counting open clips is bounded: in a study of 100,000 clips the page says "4 of 5,004+".
COUNT_CAP = 5000


class Outlook(StrEnum):
    CLOSED = "closed"  # the study is closed: whatever was rated is all there will be
    CONTINUE = "continue"  # a lease is held, or a clip has room for this annotator: the queue has work
    WAIT = "wait"  # every clip that could still come to them is leased by others right now
    FINISHED = "finished"  # no clip can come to this annotator any more


def _held_leases(membership: Membership):
    """The leases the queue would hand back: active, unexpired, on a clip still in the study."""
    return Assignment.objects.filter(
        study_id=membership.study_id,
        annotator_id=membership.user_id,
        status=Assignment.Status.ACTIVE,
        clip__is_active=True,
        lease_expires_at__gt=timezone.now(),
    )


def _unseen_clips(membership: Membership):
    """Active clips this annotator never had (the queue gives no one a clip twice)."""
    seen = Assignment.objects.filter(clip_id=OuterRef("pk"), annotator_id=membership.user_id)
    return Clip.objects.filter(study_id=membership.study_id, is_active=True).exclude(Exists(seen))


def annotator_outlook(membership: Membership) -> Outlook:
    """What is left for this annotator, from at most three EXISTS probes (LIMIT 1), never a full count.

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


def annotator_progress(membership: Membership) -> dict[str, int]:
    """{"done", "total", "remaining", "capped"}: total = rated + leases held + clips with room for them."""
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
