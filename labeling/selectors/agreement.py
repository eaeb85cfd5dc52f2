"""Agreement reports, read: what a new run would use (the watermarks of the labels and of the self-reports),
and the study's latest reports."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q

from labeling.models import AgreementReport, Study

from .annotations import annotations_for_analysis
from .self_reports import self_reports_for_analysis


def annotation_watermark(*, study: Study) -> dict[str, int]:
    """How many annotations a report of the study would use now, and the highest id. Annotations are
    immutable, so (count, max id) changes exactly when the data does (a new label, or a withdrawal)."""
    row = annotations_for_analysis(study=study).aggregate(count=Count("id"), last=Max("id"))
    return {"annotation_count": row["count"], "last_annotation_id": row["last"] or 0}


def self_report_watermark(*, study: Study) -> dict[str, int]:
    """How many self-reports a report of the study would use now (self_reports_for_analysis), and the
    highest id: like the annotations', they are immutable, so the pair changes exactly when they do (a new
    or imported self-report, or a withdrawal)."""
    row = self_reports_for_analysis(study=study).aggregate(count=Count("id"), last=Max("id"))
    return {"self_report_count": row["count"], "last_self_report_id": row["last"] or 0}


def agreement_latest(*, study: Study) -> dict[str, Any]:
    """The study's latest finished report, the open (pending/running) one, whether the finished one is stale.

    Keys: "report" (latest done AgreementReport or None), "running" (pending/running one or None),
    "failed" (the latest report if it failed after the last done one, else None), "stale" (True when a done
    report exists and the study's annotations or self-reports changed since its watermark), "current_count",
    "current_last_id", "current_self_report_count", "current_last_self_report_id", and "new_self_reports"
    (self-reports counted now minus those the done report used). The study must already be scoped to the
    requester (study_for_researcher). Four queries.
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
    own = self_report_watermark(study=study)
    stale = bool(
        done is not None
        and (
            done.watermark_count,
            done.watermark_last_id,
            done.watermark_self_report_count or 0,
            done.watermark_last_self_report_id or 0,
        )
        != (
            mark["annotation_count"],
            mark["last_annotation_id"],
            own["self_report_count"],
            own["last_self_report_id"],
        )
    )
    return {
        "report": done,
        "running": running,
        "failed": failed,
        "stale": stale,
        "current_count": mark["annotation_count"],
        "current_last_id": mark["last_annotation_id"],
        "current_self_report_count": own["self_report_count"],
        "current_last_self_report_id": own["last_self_report_id"],
        "new_self_reports": own["self_report_count"] - (done.watermark_self_report_count or 0 if done else 0),
    }
