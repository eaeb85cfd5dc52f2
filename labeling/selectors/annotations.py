"""Submitted labels: the one rule for which count, and the reads built on it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from labeling.models import Annotation, Membership, Study


def annotations_for_analysis(*, study: Study | OuterRef | None) -> QuerySet[Annotation]:
    """The labels that count: the one rule for which submitted labels are shown, counted and analysed.

    The agreement report (labeling.reports.ratings), the research API's annotation list and counts, the
    admin's annotation list, the dashboard's figures, the exporter (exports/) and every later analysis MUST
    read through this selector and never filter labels of their own, so that a withdrawal or an exclusion can
    never be applied in one place and forgotten in another. Today: every label of the study except
    - those of clips whose filmed participant withdrew (Clip.withdrawn_at, set with the withdrawal in one
      transaction; no join to the participant), and
    - those of annotators whose labels were withdrawn from the study (Membership.labels_withdrawn_at). For one
      study, NOT IN over that study's few withdrawn members (PostgreSQL hashes it once; its cost against the
      read without the rule: docs/benchmarks.md, "labels-rule"); for an OuterRef or every study, a correlated
      NOT EXISTS on the membership's unique (study, user) index.
    Labels of clips that are merely inactive (taken out of the queue) still count, and so do those of a member
    removed from the study. Exclusions to come (screened-out crowd participants, flagged rows) are added here,
    and only here.

    `study`: a study, an OuterRef to one (a correlated count per study), or None for every study (only for a
    caller that scopes rows by study itself, like the admin's list). Submitted labels are never deleted by
    this rule: they stay in the database, out of every read path.
    """
    labels = Annotation.objects.filter(clip__withdrawn_at__isnull=True)
    if isinstance(study, Study):
        withdrawn = Membership.objects.filter(study=study, labels_withdrawn_at__isnull=False)
        return labels.filter(study=study).exclude(annotator_id__in=withdrawn.values("user_id"))
    correlated = Membership.objects.filter(
        study_id=OuterRef("study_id"), user_id=OuterRef("annotator_id"), labels_withdrawn_at__isnull=False
    )
    labels = labels.exclude(Exists(correlated))
    return labels if study is None else labels.filter(study=study)


def annotations_for_researcher(
    *,
    study: Study,
    clip_id: int | None = None,
    annotator_id: int | None = None,
    since: datetime | None = None,
) -> QuerySet[Annotation]:
    """The study's labels a researcher may read (the labels that count), with their annotator, clip and scheme
    version; optionally only one clip's, one annotator's, or those created at or after `since`. `study` is
    already scoped to the requester (study_for_researcher)."""
    labels = annotations_for_analysis(study=study).select_related("annotator", "clip", "scheme_version")
    if clip_id is not None:
        labels = labels.filter(clip_id=clip_id)
    if annotator_id is not None:
        labels = labels.filter(annotator_id=annotator_id)
    if since is not None:
        labels = labels.filter(created_at__gte=since)
    return labels


def study_recent_annotations(*, study: Study, limit: int = 10) -> list[Annotation]:
    """The latest labels that count (for researchers only), newest first."""
    return list(
        annotations_for_analysis(study=study)
        .select_related("clip", "annotator")
        .order_by("-created_at", "-id")[:limit]
    )


def study_rating_rate(*, study: Study, now: datetime | None = None) -> dict[str, int]:
    """Labels that count submitted in the last hour and the last 24 hours (an index range on
    (study, created_at)). One query."""
    now = now or timezone.now()
    return (
        annotations_for_analysis(study=study)
        .filter(created_at__gte=now - timedelta(days=1))
        .aggregate(
            last_hour=Count("id", filter=Q(created_at__gte=now - timedelta(hours=1))),
            last_day=Count("id"),
        )
    )


def annotations_for_export(*, study: Study) -> QuerySet[Annotation]:
    """The labels that count AND may leave the platform: annotations_for_analysis without the clips whose
    participant did not consent to their labels being exported (Participant.consent_labels_export). The
    exporter reads labels through this, and only this."""
    return annotations_for_analysis(study=study).exclude(clip__participant__consent_labels_export=False)
