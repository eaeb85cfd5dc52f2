"""How far an annotator is: "4 of 20" = clips rated / the most this annotator can rate right now."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef

from labeling import selectors
from labeling.models import Assignment, Clip, Membership

# Counting open clips is bounded: in a study of 100,000 clips the page says "4 of 5,004+".
COUNT_CAP = 5000


def annotator_progress(membership: Membership) -> dict[str, int]:
    """{"done", "total", "remaining", "capped"}: total = rated + leases held + clips with room for them.

    Uses labeling.selectors.annotator_progress for what it provides and fills in the rest here.
    """
    progress = dict(selectors.annotator_progress(membership=membership))
    if "total" not in progress:
        user_id, study_id = membership.user_id, membership.study_id
        held = Assignment.objects.filter(
            study_id=study_id, annotator_id=user_id, status=Assignment.Status.ACTIVE
        ).count()
        seen = Assignment.objects.filter(
            clip_id=OuterRef("pk"), annotator_id=user_id, status__in=Assignment.LIVE
        )
        open_clips = (
            Clip.objects.filter(study_id=study_id, is_active=True, n_assigned__lt=F("target_k"))
            .exclude(Exists(seen))
            .values("pk")[:COUNT_CAP]
            .count()
            if membership.study.is_active
            else 0
        )
        progress["total"] = progress["done"] + held + open_clips
        progress["capped"] = open_clips >= COUNT_CAP
    progress.setdefault("capped", False)
    progress["remaining"] = max(0, progress["total"] - progress["done"])
    return progress
