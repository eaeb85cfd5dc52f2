"""Reads, always scoped to who is asking. A row the requester may not see is a 404, never a 403."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.http import Http404
from django.utils import timezone

from labeling.models import (
    AgreementReport,
    Annotation,
    ApiToken,
    Assignment,
    Clip,
    Heartbeat,
    Invite,
    Membership,
    Role,
    SchemeVersion,
    Study,
    password_fingerprint,
)


def studies_for_user(*, user) -> QuerySet[Study]:
    return Study.objects.filter(memberships__user=user).distinct()


def studies_for_researcher(*, user) -> QuerySet[Study]:
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(memberships__user=user, memberships__role=Role.RESEARCHER)


def membership_get(*, user, study_id: int) -> Membership:
    """The requester's membership of a study (with the study), or 404."""
    try:
        return Membership.objects.select_related("study").get(user=user, study_id=study_id)
    except (Membership.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such study.") from None


def study_for_researcher(*, user, study_id: int) -> Study:
    try:
        return studies_for_researcher(user=user).get(pk=study_id)
    except (Study.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such study.") from None


def assignment_for_annotator(*, user, assignment_id: int, with_clip: bool = True) -> Assignment:
    """One of the requester's own assignments (with its study and scheme, and its clip unless the caller
    needs only the clip's id) in a study they are still a member of, or 404."""
    related = ("study", "scheme_version", "clip") if with_clip else ("study", "scheme_version")
    try:
        return Assignment.objects.select_related(*related).get(
            pk=assignment_id, annotator=user, study__memberships__user=user
        )
    except (Assignment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such assignment.") from None


def clip_for_member(*, user, clip_id: int) -> Clip:
    """A clip the requester may watch: researchers see the clips of their studies, annotators only active
    clips they hold a lease on or rated (not ones whose lease lapsed unrated). A withdrawn participant's
    clip is shown to no one, superusers included."""
    qs = Clip.objects.select_related("study").filter(withdrawn_at__isnull=True)
    try:
        clip = qs.get(pk=clip_id)
    except (Clip.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such clip.") from None
    if user.is_superuser:
        return clip
    role = Membership.objects.filter(user=user, study_id=clip.study_id).values_list("role", flat=True).first()
    if role == Role.RESEARCHER:
        return clip
    if (
        role == Role.ANNOTATOR
        and clip.is_active
        and Assignment.objects.filter(clip=clip, annotator=user, status__in=Assignment.LIVE).exists()
    ):
        return clip
    raise Http404("No such clip.")


def scheme_current(*, study: Study) -> SchemeVersion:
    return study.schemes.latest("version")  # every study has one (study_create makes v1)


def clips_for_researcher(*, study: Study) -> QuerySet[Clip]:
    """A study's clips with what their researcher-facing views show (participant, uploader). Withdrawn
    participants' clips are not among them (the admin lists them, marked, without their video)."""
    return Clip.objects.filter(study=study, withdrawn_at__isnull=True).select_related(
        "participant", "uploaded_by"
    )


def annotations_for_researcher(*, user, study_id: int) -> QuerySet[Annotation]:
    """The study's labels a researcher may read: those that count (agreement_annotations), so labels of a
    withdrawn participant's clips are never served."""
    study = study_for_researcher(user=user, study_id=study_id)
    return agreement_annotations(study=study).select_related("annotator", "clip", "scheme_version")


# --- Researcher dashboard reads. Each is a fixed number of queries, whatever the size of the study. ---


def studies_overview_for_researcher(*, user) -> QuerySet[Study]:
    """The requester's studies with clip, rating and annotator totals (one query, counted by subqueries)."""

    def clip_total(expr):
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

    annotators = (
        Membership.objects.filter(study=OuterRef("pk"), role=Role.ANNOTATOR)
        .order_by()
        .values("study")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        studies_for_researcher(user=user)
        .annotate(
            n_clips=clip_total(Count("id")),
            n_ratings_done=clip_total(Sum(Least("n_submitted", "target_k", output_field=IntegerField()))),
            n_ratings_wanted=clip_total(Sum("target_k")),
            n_annotators=Coalesce(Subquery(annotators), 0),
        )
        .order_by("-created_at")
    )


def study_coverage(*, study: Study) -> dict:
    """Clips by number of submitted ratings 0..K (K and more fold into K), ratings done/wanted, open leases.

    One aggregate query over the study's clips, grouped by (is_active, n_submitted).
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


def study_annotator_counts(*, study: Study, now=None) -> dict[str, int]:
    """How many annotators joined, consented, finished, came from a crowd link, and hold a live lease now."""
    now = now or timezone.now()
    live = Assignment.objects.filter(
        study=study, annotator=OuterRef("user"), status=Assignment.Status.ACTIVE, lease_expires_at__gt=now
    )
    annotator = Q(role=Role.ANNOTATOR)
    return Membership.objects.filter(study=study).aggregate(
        annotators=Count("id", filter=annotator),
        consented=Count("id", filter=annotator & Q(consented_at__isnull=False)),
        completed=Count("id", filter=annotator & Q(completed_at__isnull=False)),
        crowd=Count("id", filter=annotator & Q(joined_via=Membership.Via.CROWD)),
        working_now=Count("id", filter=annotator & Q(Exists(live))),
        researchers=Count("id", filter=Q(role=Role.RESEARCHER)),
    )


def study_annotators(*, study: Study, limit: int = 50, now=None) -> list[Membership]:
    """The study's annotators, most recently active first, each with `submitted`, `leases` (live now),
    `last_submitted_at` and `last_active_at`. One query (a filtered join on the study's assignments)."""
    now = now or timezone.now()
    qs = (
        Membership.objects.filter(study=study, role=Role.ANNOTATOR)
        .select_related("user")
        .annotate(work=FilteredRelation("user__assignments", condition=Q(user__assignments__study=study)))
        .annotate(
            submitted=Count("work", filter=Q(work__status=Assignment.Status.SUBMITTED)),
            leases=Count(
                "work", filter=Q(work__status=Assignment.Status.ACTIVE, work__lease_expires_at__gt=now)
            ),
            last_submitted_at=Max("work__submitted_at"),
            last_leased_at=Max("work__leased_at"),
        )
        .annotate(
            last_active_at=Coalesce(
                Greatest(Coalesce("last_submitted_at", "last_leased_at"), "last_leased_at"),
                "consented_at",
                "created_at",
            )
        )
        .order_by(F("last_active_at").desc(nulls_last=True), "-id")
    )
    return list(qs[:limit])


def study_recent_annotations(*, study: Study, limit: int = 10) -> list[Annotation]:
    """The latest submitted ratings (for researchers only), newest first."""
    return list(
        agreement_annotations(study=study)
        .select_related("clip", "annotator")
        .order_by("-created_at", "-id")[:limit]
    )


def study_rating_rate(*, study: Study, now=None) -> dict[str, int]:
    """Ratings submitted in the last hour and the last 24 hours (an index range on (study, created_at))."""
    now = now or timezone.now()
    return Annotation.objects.filter(study=study, created_at__gte=now - timedelta(days=1)).aggregate(
        last_hour=Count("id", filter=Q(created_at__gte=now - timedelta(hours=1))),
        last_day=Count("id"),
    )


def invites_for_study(*, study: Study) -> QuerySet[Invite]:
    return Invite.objects.filter(study=study).order_by("-created_at")


# --- Agreement reports (issue 3). ---


def agreement_annotations(*, study: Study) -> QuerySet[Annotation]:
    """The labels that count, for every read: agreement reports, the researcher API, the study page (and
    exports). All of the study's, except those of clips whose filmed participant withdrew (Clip.withdrawn_at,
    set with the withdrawal in one transaction: no join to the participant)."""
    return Annotation.objects.filter(study=study, clip__withdrawn_at__isnull=True)


def annotation_watermark(*, study: Study) -> dict[str, int]:
    """How many annotations a report of the study would use now, and the highest id. Annotations are
    immutable, so (count, max id) changes exactly when the data does (a new label, or a withdrawal)."""
    row = agreement_annotations(study=study).aggregate(count=Count("id"), last=Max("id"))
    return {"annotation_count": row["count"], "last_annotation_id": row["last"] or 0}


def agreement_latest(*, study: Study) -> dict:
    """The study's latest finished report, the open (pending/running) one, whether the finished one is stale.

    Keys: "report" (latest done AgreementReport or None), "running" (pending/running one or None),
    "failed" (the latest report if it failed after the last done one, else None), "stale" (True when a done
    report exists and the study's annotations changed since its watermark), "current_count", "current_last_id".
    The study must already be scoped to the requester (study_for_researcher). Three queries.
    """
    reports = AgreementReport.objects.filter(study=study)
    done = reports.filter(status=AgreementReport.Status.DONE).order_by("-finished_at", "-id").first()
    others = list(
        reports.exclude(status=AgreementReport.Status.DONE)
        .filter(Q(status__in=AgreementReport.OPEN) | Q(finished_at__gt=done.finished_at) if done else Q())
        .order_by("-requested_at", "-id")[:5]
    )
    running = next((r for r in others if r.status in AgreementReport.OPEN), None)
    failed = next((r for r in others if r.status == AgreementReport.Status.FAILED), None)
    mark = annotation_watermark(study=study)
    stale = bool(
        done is not None
        and (done.watermark_count, done.watermark_last_id)
        != (mark["annotation_count"], mark["last_annotation_id"])
    )
    return {
        "report": done,
        "running": running,
        "failed": failed,
        "stale": stale,
        "current_count": mark["annotation_count"],
        "current_last_id": mark["last_annotation_id"],
    }


def api_tokens_for_user(*, user) -> QuerySet[ApiToken]:
    """The requester's live tokens (not expired, not from before their last password change), newest first."""
    return ApiToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), password_fingerprint=password_fingerprint(user)
    ).order_by("-created_at", "-id")


def background_status(*, now: datetime | None = None) -> dict:
    """Are the Celery worker(s) and beat alive? Site-wide (no study data), one query.

    "worker" / "beat": "ok" (a heartbeat within BACKGROUND_STALE_SECONDS), "stale" (older) or "never";
    "workers": how many workers are ok; "worker_seen_at" / "beat_seen_at": the latest heartbeat or None.
    """
    now = now or timezone.now()
    fresh_since = now - timedelta(seconds=settings.BACKGROUND_STALE_SECONDS)
    rows: dict[str, Mapping[str, Any]] = {
        row["kind"]: row
        for row in Heartbeat.objects.order_by()
        .values("kind")
        .annotate(last=Max("seen_at"), alive=Count("id", filter=Q(seen_at__gte=fresh_since)))
    }
    status: dict = {}
    for kind in Heartbeat.Kind.values:
        last = rows.get(kind, {}).get("last")
        status[kind] = "never" if last is None else ("ok" if last >= fresh_since else "stale")
        status[f"{kind}_seen_at"] = last
    status["workers"] = rows.get(Heartbeat.Kind.WORKER, {}).get("alive", 0)
    return status
