"""Studies and their scheme versions: which the requester may see, and the counts shown beside them."""

from __future__ import annotations

from django.db.models import (
    Count,
    Expression,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Least

from labeling.errors import NotFound
from labeling.models import Clip, Membership, Role, SchemeVersion, Study

from ._base import BAD_ID, User, count_of
from .annotations import annotations_for_analysis


def studies_for_user(*, user: User) -> QuerySet[Study]:
    return Study.objects.filter(memberships__user=user).distinct()


def studies_for_researcher(*, user: User) -> QuerySet[Study]:
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(memberships__user=user, memberships__role=Role.RESEARCHER)


def study_for_researcher(*, user: User, study_id: int) -> Study:
    """One of the requester's studies as a researcher (any study for a superuser), or NotFound."""
    try:
        return studies_for_researcher(user=user).get(pk=study_id)
    except (Study.DoesNotExist, *BAD_ID):
        raise NotFound("No such study.") from None


def scheme_current(*, study: Study) -> SchemeVersion | None:
    """The version new claims use (the highest); None only for a study made without the service."""
    return study.schemes.order_by("-version").first()


# --- Counts beside studies. Each is a correlated subquery: one query for the whole list, no fan-out. ---


def _annotator_count() -> Coalesce:
    """Annotator members of the study in the outer query."""
    return count_of(Membership.objects.filter(study=OuterRef("pk"), role=Role.ANNOTATOR))


def studies_with_counts(
    *, studies: QuerySet[Study], annotators: bool = False, annotations: bool = False
) -> QuerySet[Study]:
    """`studies` with `clip_count` (every clip, inactive and withdrawn ones included); with `annotators`, also
    `annotator_count` (annotator members); with `annotations`, also `annotation_count` (the labels that count:
    annotations_for_analysis). The admin's study list and the research API both count through this; `studies`
    is already scoped to the requester."""
    counts: dict[str, Expression] = {"clip_count": count_of(Clip.objects.filter(study=OuterRef("pk")))}
    if annotators:
        counts["annotator_count"] = _annotator_count()
    if annotations:
        counts["annotation_count"] = count_of(annotations_for_analysis(study=OuterRef("pk")))
    return studies.annotate(**counts)


def studies_with_stats(*, studies: QuerySet[Study]) -> QuerySet[Study]:
    """What the research API says of each study: its creator, clip and label counts (studies_with_counts) and
    its scheme versions newest first (as `scheme_versions`). `studies` is already scoped to the requester."""
    return studies_with_counts(
        studies=studies.select_related("created_by"), annotations=True
    ).prefetch_related(
        Prefetch("schemes", queryset=SchemeVersion.objects.order_by("-version"), to_attr="scheme_versions")
    )


def study_with_stats(*, study: Study) -> Study:
    """studies_with_stats for one study the caller has already scoped (or just created)."""
    return studies_with_stats(studies=Study.objects.filter(pk=study.pk)).get()


def studies_overview_for_researcher(*, user: User) -> QuerySet[Study]:
    """The requester's studies with clip, rating and annotator totals (one query, counted by subqueries).

    Clips and ratings are the active clips' (withdrawn participants' clips are inactive): `n_clips`,
    `n_ratings_done` (submitted, at most K per clip), `n_ratings_wanted` (K per clip); `n_annotators`.
    """

    def clip_total(expr: Expression) -> Coalesce:
        return Coalesce(
            Subquery(
                Clip.objects.filter(study=OuterRef("pk"), is_active=True)
                .order_by()
                .values("study")
                .annotate(total=expr)
                .values("total")
            ),
            0,
        )

    return (
        studies_for_researcher(user=user)
        .annotate(
            n_clips=clip_total(Count("id")),
            n_ratings_done=clip_total(Sum(Least("n_submitted", "target_k", output_field=IntegerField()))),
            n_ratings_wanted=clip_total(Sum("target_k")),
            n_annotators=_annotator_count(),
        )
        .order_by("-created_at")
    )


def scheme_versions_with_counts(*, versions: QuerySet[SchemeVersion]) -> QuerySet[SchemeVersion]:
    """`versions` with `annotation_count`: the labels made with each that count (annotations_for_analysis)."""
    labels = annotations_for_analysis(study=OuterRef("study_id")).filter(scheme_version=OuterRef("pk"))
    return versions.annotate(annotation_count=count_of(labels))
