"""Reading a study for an export: every row comes from the labels that count
(labeling.selectors.annotations_for_analysis) up to the export's watermark, streamed in bounded batches
(server-side cursors on PostgreSQL, through Django's iterator), plus the small side tables (clips of those
labels, memberships, scheme versions) and the latest agreement report's per-clip and per-annotator figures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from exports.models import Export
from labeling.models import AgreementReport, Annotation, Clip, Membership, Participant, Study
from labeling.scheme import DIMENSIONS
from labeling.selectors import annotations_for_analysis

RATING_FIELDS = (
    "id",
    "clip_id",
    "annotator_id",
    "scheme_version_id",
    "valence",
    "arousal",
    "cannot_judge",
    "valence_raw",
    "arousal_raw",
    "valence_confidence",
    "arousal_confidence",
    "tags_json",
    "time_on_task_ms",
    "watched_fraction",
    "created_at",
)
FREE_TEXT_FIELDS = ("cannot_judge_reason", "context_note")
CLIP_FIELDS = (
    "id",
    "participant_id",
    "duration_s",
    "fps",
    "width",
    "height",
    "size_bytes",
    "container",
    "video_codec",
    "has_audio",
    "sha256",
    "file",
)


def labels(export: Export) -> QuerySet[Annotation]:
    """The export's labels: those that count, up to its watermark. The one place the builder reads labels."""
    return annotations_for_analysis(study=export.study).filter(id__lte=export.watermark_last_id or 0)


def batches(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def rating_batches(export: Export, *, free_text: bool, size: int) -> Iterator[list[tuple]]:
    """Rows of RATING_FIELDS (+ FREE_TEXT_FIELDS when asked) ordered by (clip_id, id), `size` at a time.
    On PostgreSQL Django's iterator reads through a server-side cursor, `size` rows per fetch."""
    fields = RATING_FIELDS + (FREE_TEXT_FIELDS if free_text else ())
    qs = (
        labels(export)
        .annotate(tags_json=Cast("context_tags", TextField()))  # decoded once per distinct list, not per row
        .order_by("clip_id", "id")
        .values_list(*fields)
    )
    return batches(qs.iterator(chunk_size=size), size)


def clip_batches(export: Export, *, size: int) -> Iterator[list[tuple]]:
    """Rows of CLIP_FIELDS for the clips that have labels in the export, by id."""
    qs = Clip.objects.filter(pk__in=labels(export).values("clip_id")).order_by("id").values_list(*CLIP_FIELDS)
    return batches(qs.iterator(chunk_size=size), size)


def media_sharing(study: Study) -> dict[int, bool]:
    """Participant id -> whether they consented to their clips being shared in a dataset. Read per object
    with a default of False, so a participant model without the consent field shares nothing."""
    return {
        p.pk: bool(getattr(p, "consent_media_sharing", False))
        for p in Participant.objects.filter(study=study).iterator(chunk_size=2000)
    }


def joined_via(study: Study) -> dict[int, str]:
    return dict(Membership.objects.filter(study=study).values_list("user_id", "joined_via"))


@dataclass
class ReportFigures:
    """The latest finished agreement report's figures the tables carry (empty when there is none)."""

    report: AgreementReport | None = None
    # per dimension: clip ids (sorted) and their sd (nan where the report has none)
    clip_sd: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # per dimension: user id -> {"r_loo": ..., "alpha_without": ...}
    annotators: dict[str, dict[int, dict]] = field(default_factory=dict)

    def sd_of(self, dim: str, clip_ids: np.ndarray) -> np.ndarray:
        """The report's sd of each clip (nan when the clip is not in the report, or has no sd there)."""
        out = np.full(clip_ids.size, np.nan)
        if dim not in self.clip_sd or not self.clip_sd[dim][0].size:
            return out
        ids, sd = self.clip_sd[dim]
        pos = np.minimum(np.searchsorted(ids, clip_ids), ids.size - 1)
        hit = ids[pos] == clip_ids
        out[hit] = sd[pos[hit]]
        return out


def latest_report(study: Study) -> ReportFigures:
    report = (
        AgreementReport.objects.filter(study=study, status=AgreementReport.Status.DONE)
        .order_by("-finished_at", "-id")
        .defer("result")
        .first()
    )
    if report is None:
        return ReportFigures()
    figures = ReportFigures(report=report)
    for dim in DIMENSIONS:
        ids, sd = _report_clip_sd(report.pk, dim)
        order = np.argsort(ids, kind="stable")
        figures.clip_sd[dim] = (ids[order], sd[order])
        rows = (
            AgreementReport.objects.filter(pk=report.pk)
            .values_list(f"result__dimensions__{dim}__annotators", flat=True)
            .first()
        )
        figures.annotators[dim] = {
            int(row["annotator"]): row for row in rows or [] if isinstance(row, dict) and "annotator" in row
        }
    return figures


def _report_clip_sd(report_id: int, dim: str) -> tuple[np.ndarray, np.ndarray]:
    """(clip ids, sds) of result["dimensions"][dim]["clips"], unpacked by the database: the list holds one
    entry per rated clip (hundreds of thousands), too many to load as Python objects."""
    table = AgreementReport._meta.db_table
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT (e->>'clip')::bigint, (e->>'sd')::double precision FROM {table} r "
            "CROSS JOIN LATERAL jsonb_array_elements(r.result->'dimensions'->%s->'clips') e WHERE r.id = %s"
        )
        params: list = [dim, report_id]
    elif connection.vendor == "sqlite":
        sql = (
            f"SELECT json_extract(e.value, '$.clip'), json_extract(e.value, '$.sd') FROM {table} r, "
            "json_each(r.result, %s) e WHERE r.id = %s"
        )
        params = [f"$.dimensions.{dim}.clips", report_id]
    else:  # not a supported database; correct, only slower
        rows = AgreementReport.objects.filter(pk=report_id).values_list(
            f"result__dimensions__{dim}__clips", flat=True
        )
        pairs = [(c["clip"], c.get("sd")) for c in (rows.first() or [])]
        return _arrays(pairs)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _arrays(cursor.fetchall())


def _arrays(pairs: list) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([p[0] for p in pairs], dtype=np.int64)
    sd = np.array([np.nan if p[1] is None else p[1] for p in pairs], dtype=float)
    return ids, sd


COL_CLIP = RATING_FIELDS.index("clip_id")


def withdrawals(study: Study) -> dict:
    """What the manifest says of withdrawals: applied through now (the build reads the labels that count as
    they are now), and how many, never who. Annotator withdrawals are counted once the platform records
    them per study (the annotator-withdrawal feature)."""
    return {
        "applied_through": timezone.now().isoformat(),
        "participants_withdrawn": Participant.objects.filter(study=study, withdrawn_at__isnull=False).count(),
        "annotators_withdrawn": 0,
    }
