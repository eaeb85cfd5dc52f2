"""Clips: who may watch one, the researcher's list, and the study's coverage (clips by ratings so far)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import Least

from labeling.errors import NotFound
from labeling.models import Assignment, Clip, Membership, Role, Study

from ._base import BAD_ID, User


def clip_for_member(*, user: User, clip_id: int) -> Clip:
    """A clip the requester may watch: researchers see the clips of their studies, annotators only active
    clips they hold a lease on or rated (not ones whose lease lapsed unrated), and never a clip whose
    participant does not consent to annotation (even if it were active). A withdrawn participant's clip is
    shown to no one, superusers included. Anything else is NotFound."""
    qs = Clip.objects.select_related("study", "participant").filter(withdrawn_at__isnull=True)
    try:
        clip = qs.get(pk=clip_id)
    except (Clip.DoesNotExist, *BAD_ID):
        raise NotFound("No such clip.") from None
    if user.is_superuser:
        return clip
    role = Membership.objects.filter(user=user, study_id=clip.study_id).values_list("role", flat=True).first()
    if role == Role.RESEARCHER:
        return clip
    if (
        role == Role.ANNOTATOR
        and clip.is_active
        and (
            clip.participant is None
            or (clip.participant.consent_annotation and clip.participant.withdrawn_at is None)
        )
        and Assignment.objects.filter(clip=clip, annotator=user, status__in=Assignment.LIVE).exists()
    ):
        return clip
    raise NotFound("No such clip.")


def clips_for_researcher(*, study: Study) -> QuerySet[Clip]:
    """A study's clips with what their researcher-facing views show (participant, uploader). Withdrawn
    participants' clips are not among them (the admin lists them, marked, without their video). `study` is
    already scoped to the requester (study_for_researcher)."""
    return Clip.objects.filter(study=study, withdrawn_at__isnull=True).select_related(
        "participant", "uploaded_by"
    )


def clip_for_researcher(*, study: Study, clip_id: int) -> Clip:
    """One of clips_for_researcher, or NotFound."""
    try:
        return clips_for_researcher(study=study).get(pk=clip_id)
    except (Clip.DoesNotExist, *BAD_ID):
        raise NotFound("No Clip matches the given query.") from None


def study_coverage(*, study: Study) -> dict[str, Any]:
    """Clips by number of submitted ratings 0..K (K and more fold into K), ratings done/wanted, open leases.

    Active clips only (withdrawn participants' clips are inactive): inactive ones are counted apart. One
    aggregate query over the study's clips, grouped by (is_active, n_submitted).
    """
    rows = (
        Clip.objects.filter(study=study)
        .order_by()
        .values("is_active", "n_submitted")
        .annotate(
            clips=Count("id"),
            leased=Sum(F("n_assigned") - F("n_submitted")),
            wanted=Sum("target_k"),
            done=Sum(Least("n_submitted", "target_k", output_field=IntegerField())),
            complete=Count("id", filter=Q(n_submitted__gte=F("target_k"))),
        )
    )
    k = study.overlap_k
    counts = [0] * (k + 1)
    totals = {"clips": 0, "inactive": 0, "complete": 0, "ratings": 0, "wanted": 0, "done": 0, "leased": 0}
    for row in rows:
        if not row["is_active"]:
            totals["inactive"] += row["clips"]
            continue
        counts[min(row["n_submitted"], k)] += row["clips"]
        totals["clips"] += row["clips"]
        totals["complete"] += row["complete"]
        totals["ratings"] += row["n_submitted"] * row["clips"]
        totals["wanted"] += row["wanted"] or 0
        totals["done"] += row["done"] or 0
        totals["leased"] += row["leased"] or 0
    n = totals["clips"]
    buckets = [
        {
            "ratings": i,
            "label": f"{i}+" if i == k and k > 0 else str(i),
            "clips": c,
            "percent": 100.0 * c / n if n else 0.0,
        }
        for i, c in enumerate(counts)
    ]
    percent = 100.0 * totals["done"] / totals["wanted"] if totals["wanted"] else 0.0
    return {"k": k, "buckets": buckets, "percent": percent, **totals}
