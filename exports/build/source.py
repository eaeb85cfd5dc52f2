"""Reading a study for an export: every label comes from the labels that may be exported
(labeling.selectors.annotations_for_export: the labels that count, without the clips whose participant did
not consent to their labels leaving the platform) up to the export's watermark, and every self-report from
labeling.selectors.self_reports_for_export up to the export's self-report watermark, streamed in bounded
batches of Arrow tables; plus the small side tables (the study's clips, memberships, scheme versions) and the
latest agreement report's per-clip and per-annotator figures. The exporter never filters labels or
self-reports of its own: the consent scopes are applied by those selectors (and media sharing by the
participant's consent_media_sharing), and `consent_scopes` only counts what they left out.

PostgreSQL: the queryset's own SQL runs as `COPY (query) TO STDOUT (FORMAT csv)`, and pyarrow's streaming
CSV reader turns what the server sends into typed columns a few megabytes at a time. Like a server-side
cursor the server streams rows as the query produces them and the client holds one block; unlike fetching
rows through a cursor, no Python object is made per row or value (measured on 1 M ratings: about half the
wall time and 40 % less client CPU than a binary server-side cursor's fetchmany; docs/benchmarks.md). When
the build is not inside a caller's transaction (a worker, the management command), every read runs in one
REPEATABLE READ, READ ONLY transaction (`snapshot`): all queries see the same data.

SQLite (the embedded default): Django's chunked iterator, each chunk turned into the same Arrow columns.
"""

from __future__ import annotations

import io
import itertools
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection, transaction
from django.db.models import Count, Max, Min, OuterRef, QuerySet, Subquery, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from exports.models import Export
from exports.tables import TS
from labeling.models import AgreementReport, Annotation, Clip, Membership, Participant, SelfReport, Study
from labeling.scheme import DIMENSIONS
from labeling.selectors import (
    annotations_for_analysis,
    annotations_for_export,
    self_reports_for_analysis,
    self_reports_for_export,
)

F64, I64, TEXT = pa.float64(), pa.int64(), pa.string()
# What is read of each label and clip, with the Arrow type it is read as. Numbers that may be missing are
# floats (missing = NaN in numpy); "clip__participant_id" is the label's clip's participant (one join the
# selector makes anyway), from which the label's split follows.
RATING_COLUMNS: dict[str, pa.DataType] = {
    "id": I64,
    "clip_id": I64,
    "annotator_id": I64,
    "scheme_version_id": I64,
    "valence": F64,
    "arousal": F64,
    "cannot_judge": pa.bool_(),
    "valence_raw": F64,
    "arousal_raw": F64,
    "valence_confidence": F64,
    "arousal_confidence": F64,
    "tags_json": TEXT,
    "time_on_task_ms": I64,
    "watched_fraction": F64,
    "created_at": TS,
    "clip__participant_id": I64,
}
FREE_TEXT_COLUMNS: dict[str, pa.DataType] = {"cannot_judge_reason": TEXT, "context_note": TEXT}
# What is read of each self-report: first only what a clip's self value needs (before the ratings pass, which
# writes clip_labels), then every column of the self_reports table (after the clips pass, which fixes which
# clips are in the export and their splits).
SELF_VALUE_COLUMNS: dict[str, pa.DataType] = {
    "clip_id": I64,
    "start_s": F64,
    "end_s": F64,
    "valence": F64,
    "arousal": F64,
}
SELF_REPORT_COLUMNS: dict[str, pa.DataType] = {
    "id": I64,
    "participant_id": I64,
    "clip_id": I64,
    "start_s": F64,
    "end_s": F64,
    "instrument": TEXT,
    "scale_points": F64,
    "valence": F64,
    "arousal": F64,
    "valence_raw": F64,
    "arousal_raw": F64,
    "valence_confidence": F64,
    "arousal_confidence": F64,
    "confidence_points": F64,
    "tags_json": TEXT,
    "reported_at": TS,
    "source": TEXT,
}
SELF_REPORT_FREE_TEXT: dict[str, pa.DataType] = {"context_note": TEXT}
CLIP_COLUMNS: dict[str, pa.DataType] = {
    "id": I64,
    "participant_id": I64,
    "duration_s": F64,
    "fps": F64,
    "width": pa.int32(),
    "height": pa.int32(),
    "size_bytes": I64,
    "container": TEXT,
    "video_codec": TEXT,
    "has_audio": pa.bool_(),
    "sha256": TEXT,
    "file": TEXT,
}
CSV_BLOCK_BYTES = 1 << 20  # ~9,000 labels per batch: memory stays low, the overhead per batch small
_cursor_numbers = itertools.count(1)


class DataChanged(RuntimeError):
    """The labels that count changed between two reads of the build (possible only where the build cannot
    read in one snapshot: SQLite): building again reads a consistent state."""

    def __init__(self):
        super().__init__(
            "The study's data changed while the export was being built (a participant or annotator was "
            "withdrawn or reinstated, or a clip's participant changed); build it again."
        )


def private_snapshot() -> bool:
    """Whether the build may open its own snapshot transaction (and must then save progress through another
    connection, or nobody would see it before the end)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


@contextmanager
def snapshot() -> Iterator[bool]:
    """One consistent, read-only view of the database for every read of the build, where possible."""
    if not private_snapshot():
        yield False
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # what COPY's text must be, whatever the server's defaults: ISO dates, floats that read back
            # exactly (the shortest exact form, PostgreSQL 12+)
            cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
            cursor.execute("SET LOCAL extra_float_digits = 1")
        setattr(connection, _SNAPSHOT_DEPTH, getattr(connection, _SNAPSHOT_DEPTH, 0) + 1)
        try:
            yield True
        finally:
            setattr(connection, _SNAPSHOT_DEPTH, getattr(connection, _SNAPSHOT_DEPTH) - 1)


class _CopyReader(io.RawIOBase):
    """A file-like view of a psycopg COPY TO STDOUT (which hands out one row at a time)."""

    def __init__(self, copy):
        self.copy, self.buffer, self.pos = copy, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, out) -> int:
        if self.pos >= len(self.buffer):
            parts, size = [], 0
            while size < len(out) and (chunk := self.copy.read()):
                parts.append(chunk)
                size += len(chunk)
            if not parts:
                return 0
            self.buffer, self.pos = b"".join(parts), 0
        n = min(len(out), len(self.buffer) - self.pos)
        out[:n] = self.buffer[self.pos : self.pos + n]
        self.pos += n
        return n


def _copy_batches(
    raw, sql: str, params, columns: dict[str, pa.DataType], multiline: bool
) -> Iterator[pa.Table]:
    """`raw`: the psycopg connection, taken by the caller (the generator may run in a reading thread)."""
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
        try:
            reader = _open_csv(copy, columns, multiline)
        except pa.ArrowInvalid as exc:
            if "Empty CSV" not in str(exc):
                raise
            return  # the query has no rows (a study without self-reports, or without labels)
        for batch in reader:
            yield pa.Table.from_batches([batch])


def _open_csv(copy, columns: dict[str, pa.DataType], multiline: bool) -> pacsv.CSVStreamingReader:
    """pyarrow's streaming CSV reader over a COPY's output, typed as `columns` (it reads the first block)."""
    return pacsv.open_csv(
        io.BufferedReader(_CopyReader(copy), 1 << 20),
        read_options=pacsv.ReadOptions(
            column_names=list(columns), block_size=CSV_BLOCK_BYTES, use_threads=False
        ),
        # COPY writes NULL as an empty field and an empty text as ""; booleans as t / f
        parse_options=pacsv.ParseOptions(newlines_in_values=multiline),
        convert_options=pacsv.ConvertOptions(
            column_types=columns,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )


def _arrow(rows: list[tuple], columns: dict[str, pa.DataType]) -> pa.Table:
    values = zip(*rows, strict=True)
    return pa.table(
        [pa.array(v, t) for v, t in zip(values, columns.values(), strict=True)],
        schema=pa.schema(list(columns.items())),
    )


def _iterator_batches(qs: QuerySet, columns: dict[str, pa.DataType], size: int) -> Iterator[pa.Table]:
    rows = qs.iterator(chunk_size=size)
    while chunk := list(islice(rows, size)):
        yield _arrow(chunk, columns)


def _cursor_batches(raw, sql: str, params, columns: dict[str, pa.DataType], size: int) -> Iterator[pa.Table]:
    """A server-side cursor in the caller's transaction: the connection stays free between fetches (for
    the progress saves the caller's transaction makes), which a COPY would hold until its end."""
    with raw.cursor(name=f"export_rows_{next(_cursor_numbers)}", binary=True) as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(size):
            yield _arrow(rows, columns)


def stream(
    qs: QuerySet, columns: dict[str, pa.DataType], *, size: int, multiline: bool = False
) -> Iterator[pa.Table]:
    """The rows of `qs` (values_list of `columns`, in that order) as Arrow tables of bounded size, in the
    queryset's order. `multiline`: a text column may hold line breaks.

    PostgreSQL, in the build's own snapshot (a worker, the command): COPY, read and parsed in a second
    thread a batch or two ahead while this one aggregates and writes, so the server's work, the parsing and
    the aggregation overlap. The COPY holds the connection until it ends, so nothing else may use it
    meanwhile: the build's progress goes through another connection (exports.services). PostgreSQL inside
    a caller's transaction (a test's): a server-side cursor, `size` rows per fetch. SQLite: Django's
    chunked iterator."""
    qs = qs.values_list(*columns)
    if connection.vendor != "postgresql":
        return _iterator_batches(qs, columns, size)
    sql, params = qs.query.sql_with_params()
    connection.ensure_connection()
    if _in_own_snapshot():
        return read_ahead(_copy_batches(connection.connection, sql, params, columns, multiline))
    return _cursor_batches(connection.connection, sql, params, columns, size)


_SNAPSHOT_DEPTH = "export_snapshot_depth"


def _in_own_snapshot() -> bool:
    return getattr(connection, _SNAPSHOT_DEPTH, 0) > 0


def read_ahead(items: Iterator, depth: int = 2) -> Iterator:
    """`items`, produced by a thread of their own up to `depth` ahead. An error there is raised here; when
    the consumer stops early, the producer is told to stop and is waited for."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            slots.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            slots.put((done, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="export-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if isinstance(item, tuple) and len(item) == 2 and item[0] is done:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting for room, then wait for it
            try:
                slots.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.1)


def labels(export: Export) -> QuerySet[Annotation]:
    """The export's labels: those that may be exported (selectors.annotations_for_export), up to its
    watermark. The one place the builder reads labels."""
    return annotations_for_export(study=export.study).filter(id__lte=export.watermark_last_id or 0)


def self_reports(export: Export) -> QuerySet[SelfReport]:
    """The export's self-reports: those that may be exported (selectors.self_reports_for_export), up to its
    self-report watermark (none for an export requested before it had one). The one place the builder reads
    self-reports; the build keeps those of the clips in the export."""
    return self_reports_for_export(study=export.study).filter(id__lte=export.watermark_self_report_id or 0)


def self_value_batches(export: Export, *, size: int) -> Iterator[pa.Table]:
    """SELF_VALUE_COLUMNS of the export's self-reports, ordered by (clip_id, id)."""
    return stream(self_reports(export).order_by("clip_id", "id"), SELF_VALUE_COLUMNS, size=size)


def self_report_batches(export: Export, *, free_text: bool, size: int) -> Iterator[pa.Table]:
    """SELF_REPORT_COLUMNS (+ the note when asked) of the export's self-reports, ordered by (clip_id, id)."""
    columns = {**SELF_REPORT_COLUMNS, **(SELF_REPORT_FREE_TEXT if free_text else {})}
    qs = self_reports(export).annotate(tags_json=Cast("context_tags", TextField())).order_by("clip_id", "id")
    return stream(qs, columns, size=size, multiline=free_text)


def consent_scopes(export: Export, *, self_reports_written: int, media: dict | None) -> dict:
    """What the consent scopes left out of this export: counts, never who. Each is the difference between
    what counts for analysis and what the export selector lets out (labeling.selectors), both up to the
    export's watermarks, so no rule is restated here. `self_reports_written`: the rows of self_reports.
    `media`: the media-sharing counts the clips pass made (None when media were not asked for).

    Labels: the participants who have a label that counts but none that may be exported (a probe each way per
    participant, which stops at the first label found), then the clips and labels of those few."""
    study = export.study
    counted = annotations_for_analysis(study=study).filter(id__lte=export.watermark_last_id or 0)
    allowed_labels = annotations_for_export(study=study).filter(id__lte=export.watermark_last_id or 0)

    def first(labels: QuerySet) -> Subquery:
        # a scalar subquery with LIMIT 1 stays a per-participant probe (clip, then label, by index); an
        # EXISTS would be planned as an anti-join hashing every label of the study (seconds at 1 M)
        return Subquery(labels.filter(clip__participant_id=OuterRef("pk")).order_by().values("pk")[:1])

    left_out = list(
        Participant.objects.filter(study=study)
        .annotate(counted=first(counted), allowed=first(allowed_labels))
        .filter(counted__isnull=False, allowed__isnull=True)
        .values_list("pk", flat=True)
    )
    labels = {"ratings": 0, "clips": 0}
    if left_out:
        labels = counted.filter(clip__participant_id__in=left_out).aggregate(
            ratings=Count("id"), clips=Count("clip_id", distinct=True)
        )
    mark = export.watermark_self_report_id or 0
    reports = self_reports_for_analysis(study=study).filter(id__lte=mark)
    allowed = self_reports_for_export(study=study).filter(id__lte=mark)
    before = reports.aggregate(n=Count("id"), participants=Count("participant_id", distinct=True))
    after = allowed.aggregate(n=Count("id"), participants=Count("participant_id", distinct=True))
    return {
        "labels_export": {
            "selector": "labeling.selectors.annotations_for_export",
            "participants_left_out": len(left_out),
            "clips_left_out": labels["clips"],
            "ratings_left_out": labels["ratings"],
        },
        "self_reports_export": {
            "selector": "labeling.selectors.self_reports_for_export",
            "participants_left_out": before["participants"] - after["participants"],
            "self_reports_left_out": before["n"] - after["n"],
            # allowed, but about a clip not in the export (no label that may be exported)
            "self_reports_of_clips_not_exported": after["n"] - self_reports_written,
        },
        "media_sharing": media
        if media is not None
        else {"requested": False, "participants_left_out": None, "clips_left_out": None},
    }


def rating_batches(export: Export, *, free_text: bool, size: int) -> Iterator[pa.Table]:
    """RATING_COLUMNS (+ FREE_TEXT_COLUMNS when asked) of the export's labels, ordered by (clip_id, id)."""
    columns = {**RATING_COLUMNS, **(FREE_TEXT_COLUMNS if free_text else {})}
    qs = (
        labels(export)
        .annotate(tags_json=Cast("context_tags", TextField()))  # decoded once per distinct list, not per row
        .order_by("clip_id", "id")
    )
    return stream(qs, columns, size=size, multiline=free_text)


def clip_batches(export: Export, *, size: int) -> Iterator[pa.Table]:
    """CLIP_COLUMNS of the study's clips, by id (the build keeps those that have labels)."""
    return stream(Clip.objects.filter(study=export.study).order_by("id"), CLIP_COLUMNS, size=size)


def clip_id_range(study: Study) -> tuple[int, int]:
    """The lowest and highest clip id of the study (to tell how far the ratings pass is)."""
    bounds = Clip.objects.filter(study=study).aggregate(lo=Min("id"), hi=Max("id"))
    return bounds["lo"] or 0, bounds["hi"] or 0


def media_sharing(study: Study) -> dict[int, bool]:
    """Participant id -> whether they consented to their clips being shared in a dataset."""
    return dict(Participant.objects.filter(study=study).values_list("pk", "consent_media_sharing"))


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


def latest_report(study: Study, *, as_of) -> ReportFigures:
    """The figures of the study's latest agreement report finished by `as_of` (the export's request time: a
    retried build uses the same report, whatever finished since)."""
    report = (
        AgreementReport.objects.filter(
            study=study, status=AgreementReport.Status.DONE, finished_at__lte=as_of
        )
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


def withdrawals(study: Study) -> dict:
    """What the manifest says of withdrawals: applied through now (the build reads the labels that count as
    they are now), and how many, never who."""
    return {
        "applied_through": timezone.now().isoformat(),
        "participants_withdrawn": Participant.objects.filter(study=study, withdrawn_at__isnull=False).count(),
        "annotators_withdrawn": Membership.objects.filter(
            study=study, labels_withdrawn_at__isnull=False
        ).count(),
    }
