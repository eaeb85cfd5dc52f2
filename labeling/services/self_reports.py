"""Self-reports: the filmed participants' own ratings of their clips (experienced affect), imported from a
file. The rules, the columns and every message are documented in docs/self-reports.md.

self_reports_import reads a CSV or JSON file (labeling/services/_self_report_file.py), checks every row
against the study (participants, clips, windows, the named instrument's scale, the study's tag vocabulary,
reports already imported), and then writes all of it in one transaction, or nothing: a file with any bad row
raises SelfReportImportRefused, whose report lists every bad row with its line (CSV) or item (JSON) and why.
Re-importing a file creates nothing: a row equal to a stored report (same natural key — participant, clip,
instrument, window — or the same `id`, and the same values) counts as unchanged; a row with the key of a
stored report but other values is refused (self-reports are immutable: delete the stored one in the admin
first). Validation costs a few queries per import (values looked up in chunks), not one per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labeling.errors import Conflict, ValidationFailed
from labeling.models import Clip, Participant, SchemeVersion, SelfReport, Study
from labeling.scheme import (
    INSTRUMENTS,
    SchemeError,
    allowed_tags,
    check_raw,
    instrument_scale,
    parse_number,
    scale_name,
    to_canonical,
)
from labeling.services._self_report_file import (
    COLUMNS,
    FileRefused,
    Row,
    decode,
    file_format,
    read_csv,
    read_json,
)
from labeling.services.annotations import MAX_NOTE_CHARS
from labeling.text import text_problem

# A window may end this far past the clip's duration (media durations are rounded by players and probes).
WINDOW_TOLERANCE_S = 0.05
# A report "given" this far in the future is a clock's rounding, not a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_ID_CHARS = 128  # SelfReport.external_id
MAX_CODE_CHARS = 64  # Participant.code
BATCH_SIZE = 1000  # rows per INSERT
CHUNK = 2000  # values per IN (...) list: SQLite and PostgreSQL take it, and no file needs one query per row

# Stored values compared with a re-imported row, and the column each is read from.
COMPARED = {
    "scale_points": "points",
    "valence_raw": "valence",
    "arousal_raw": "arousal",
    "valence_confidence": "valence_confidence",
    "arousal_confidence": "arousal_confidence",
    "confidence_points": "confidence_points",
    "context_tags": "tags",
    "context_note": "note",
    "reported_at": "reported_at",
    "external_id": "id",
    "source": "source",
}
KEY = ("participant_id", "clip_id", "instrument", "start_s", "end_s")
KEY_COLUMNS = ("participant", "clip", "clip_file", "instrument", "start_s", "end_s")
ORDER = {name: i for i, name in enumerate(COLUMNS)}

REPORTED_AT_FORMAT = (
    "an ISO 8601 date and time with a time zone, e.g. 2026-03-01T14:30:00+01:00 or …Z for UTC"
)


@dataclass
class ImportReport:
    """What an import did, or would do (dry run), or why it did nothing (`errors`, every bad row).

    `errors`: [{"line": n, "where": "line n" | "item n", "field": column, "message": why}], in file order;
    `line` is the CSV file's physical line (the header is line 1) or the JSON item's index from 1 (None: the
    file as a whole)."""

    format: str
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return "item" if self.format == "json" else "line"

    @property
    def lines(self) -> str:
        if self.format == "json":
            return "Positions are items of the JSON list, counted from 1."
        return "Positions are physical lines of the CSV file; the header is line 1."

    @property
    def bad_rows(self) -> int:
        return len({e["line"] for e in self.errors if e["line"] is not None})

    def add(self, line: int | None, column: str, message: str) -> None:
        where = "file" if line is None else f"{self.unit} {line}"
        self.errors.append({"line": line, "where": where, "field": column, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "imported": not self.errors and not self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "unchanged": self.unchanged,
            "lines": self.lines,
            "errors": self.errors,
        }


class SelfReportImportRefused(ValidationFailed):
    """A file that cannot be read or has a bad row: nothing was imported. `report` lists every problem."""

    def __init__(self, report: ImportReport):
        if report.rows:  # the rows were read: some are bad
            message = (
                f"Nothing was imported: {report.bad_rows} of {report.rows} rows have problems; the report lists "
                f"each with its {report.unit} and why."
            )
        else:
            message = f"Nothing was imported: {report.errors[0]['message']}"
        super().__init__(message, {"file": message})
        self.report = report

    def as_dict(self) -> dict:
        return {**super().as_dict(), "report": self.report.as_dict()}


@dataclass
class _Candidate:
    """One row on its way to a SelfReport: the typed values, then the participant and clip it names."""

    row: Row
    code: str = ""
    clip_id: int | None = None
    clip_file: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, str]:
        return self.row.problems

    def refuse(self, column: str, message: str) -> None:
        self.problems[column] = f"{self.problems[column]}; {message}" if column in self.problems else message

    def key(self) -> tuple:
        return tuple(self.values[name] for name in KEY)


def _chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    items = sorted(values)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _text(c: _Candidate, column: str, limit: int | None = None) -> str:
    value = c.row.cells.get(column, "")
    if not isinstance(value, str):
        return ""
    if problem := text_problem(value):
        c.refuse(column, problem)
        return ""
    if limit is not None and len(value) > limit:
        c.refuse(column, f"at most {limit} characters")
        return ""
    return value


def _whole(c: _Candidate, column: str, lo: int, hi: int) -> int | None:
    text = _text(c, column)
    if not text:
        return None
    number = parse_number(text)
    if number is None or number != int(number) or not lo <= number <= hi:
        c.refuse(column, f"must be a whole number from {lo} to {hi}, not {text!r}")
        return None
    return int(number)


def _seconds(c: _Candidate, column: str) -> float | None:
    text = _text(c, column)
    if not text:
        return None
    number = parse_number(text)
    if number is None:
        c.refuse(column, f"must be a number of seconds, not {text!r}")
    elif number < 0:
        c.refuse(column, "must not be negative")
    return number


def _when(c: _Candidate, now: datetime) -> datetime | None:
    text = _text(c, "reported_at")
    if not text:
        c.refuse("reported_at", f"is required: when the participant gave the report, as {REPORTED_AT_FORMAT}")
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        c.refuse("reported_at", f"{text!r} is not {REPORTED_AT_FORMAT}")
        return None
    if when.tzinfo is None:
        c.refuse("reported_at", f"{text!r} has no time zone: give one (Z for UTC, or an offset like +01:00)")
        return None
    if when > now + FUTURE_TOLERANCE:
        c.refuse("reported_at", f"{text!r} is in the future")
        return None
    return when


class _Import:
    """The checks of one import, in passes over all rows: shape and scales (no queries), then the study's
    participants and clips (a few queries), duplicates in the file, and reports already stored."""

    def __init__(self, study: Study, report: ImportReport, *, lock: bool):
        self.study, self.report, self.lock = study, report, lock
        self.now = timezone.now()
        self.vocabulary: set[str] = set()
        for spec in SchemeVersion.objects.filter(study=study).values_list("spec", flat=True):
            self.vocabulary |= allowed_tags(spec)
        self.scales: dict[tuple, dict | tuple[str, str]] = {}

    def run(self, rows: list[Row]) -> tuple[list[dict[str, Any]], int]:
        candidates = [self.parse(row) for row in rows if row.readable]
        self.resolve(candidates)
        self.duplicates(candidates)
        new, unchanged = self.against_stored(candidates)
        for row in rows:  # each row's problems in the order of the columns, the row's own first
            for column in sorted(row.problems, key=lambda name: ORDER.get(name, -1)):
                self.report.add(row.position, column, row.problems[column])
        return new, unchanged

    # -- pass 1: each row alone ----------------------------------------------------------------------------

    def scale(self, instrument: str, points: int | None) -> dict | tuple[str, str]:
        """The named instrument's scale, or (column, why it is not one); cached: a file uses few."""
        if (instrument, points) not in self.scales:
            if instrument not in INSTRUMENTS:
                found: dict | tuple[str, str] = (
                    "instrument",
                    f"must be one of {', '.join(INSTRUMENTS)}, not {instrument!r}",
                )
            elif points is None and instrument != "slider":
                found = (
                    "points",
                    f"is required for a {instrument} scale: its number of points (odd, 3 to 21)",
                )
            else:
                try:
                    found = instrument_scale(instrument, points)
                except SchemeError as exc:
                    found = next(iter(exc.errors.items()))
            self.scales[instrument, points] = found
        return self.scales[instrument, points]

    def parse(self, row: Row) -> _Candidate:
        c = _Candidate(row=row)
        v = c.values
        v["source"] = SelfReport.Source.IMPORTED
        v["external_id"] = _text(c, "id", MAX_ID_CHARS)
        c.code = _text(c, "participant", MAX_CODE_CHARS)
        if not c.code and "participant" not in c.problems:
            c.refuse("participant", "is required: the participant's code")
        clip_text, c.clip_file = _text(c, "clip"), _text(c, "clip_file", 255)
        if clip_text:
            number = parse_number(clip_text)
            if number is None or number != int(number) or not 1 <= number < 2**63:
                c.refuse("clip", f"must be a clip's id (a whole number), not {clip_text!r}")
            else:
                c.clip_id = int(number)
        elif not c.clip_file and not {"clip", "clip_file"} & set(c.problems):
            c.refuse("clip", "is required: the clip's id (clip) or its file name (clip_file)")

        start, end = _seconds(c, "start_s"), _seconds(c, "end_s")
        if (start is None) != (end is None) and not {"start_s", "end_s"} & set(c.problems):
            c.refuse(
                "start_s" if start is None else "end_s",
                "a window needs both start_s and end_s (both empty: the whole clip)",
            )
        elif (
            start is not None
            and end is not None
            and not {"start_s", "end_s"} & set(c.problems)
            and end <= start
        ):
            c.refuse("end_s", f"the window must end after it starts ({end:g} s is not after {start:g} s)")
        v["start_s"], v["end_s"] = start, end

        instrument = _text(c, "instrument").lower()
        v["instrument"] = instrument
        points_text = _text(c, "points")
        points = parse_number(points_text) if points_text else None
        spec: dict | tuple[str, str] | None = None
        if points_text and (points is None or points != int(points)):
            c.refuse("points", f"must be a whole number, not {points_text!r}")
        elif not instrument:
            c.refuse("instrument", "is required: sam, grid or slider")
        else:
            spec = self.scale(instrument, None if points is None else int(points))
            if isinstance(spec, tuple):
                c.refuse(*spec)
        v["scale_points"] = spec["points"] if isinstance(spec, dict) else None

        given = {dim: _text(c, dim) for dim in ("valence", "arousal")}
        for dim, text in given.items():
            v[dim] = v[f"{dim}_raw"] = None
            if text and isinstance(spec, dict):
                raw, message = check_raw(spec, text, scale=scale_name(spec))
                if raw is None:
                    c.refuse(dim, f"{text!r} {message}")
                else:
                    v[f"{dim}_raw"], v[dim] = raw, to_canonical(spec, raw)
        if not any(given.values()) and not {"valence", "arousal"} & set(c.problems):
            c.refuse("valence", "give valence, arousal or both")

        conf_points = _whole(c, "confidence_points", 2, 10)
        v["confidence_points"] = None
        for dim in ("valence", "arousal"):
            column = f"{dim}_confidence"
            v[column] = confidence = _whole(c, column, 1, conf_points or 10)
            if confidence is not None:
                if conf_points is None and "confidence_points" not in c.problems:
                    c.refuse(
                        "confidence_points", "is required with a confidence: the confidence scale's points"
                    )
                if not given[dim] and dim not in c.problems:
                    c.refuse(column, f"a confidence needs a {dim} value")
                v["confidence_points"] = conf_points

        tags = c.row.cells.get("tags") or []
        bad = [tag for tag in tags if text_problem(tag)]
        unknown = sorted({tag for tag in tags if tag not in self.vocabulary} - set(bad))
        if bad:
            c.refuse("tags", text_problem(bad[0]) or "")
        if unknown:
            c.refuse("tags", f'not in this study\'s vocabulary ("group:tag"): {", ".join(unknown)}')
        v["context_tags"] = sorted(set(tags))
        v["context_note"] = _text(c, "note", MAX_NOTE_CHARS)
        v["reported_at"] = _when(c, self.now)
        return c

    # -- pass 2: the study's participants and clips ----------------------------------------------------------

    def resolve(self, candidates: list[_Candidate]) -> None:
        codes = {c.code for c in candidates if c.code}
        people: dict[str, tuple[int, datetime | None]] = {}
        for chunk in _chunks(codes):
            people.update(
                (code, (pk, withdrawn))
                for pk, code, withdrawn in Participant.objects.filter(
                    study=self.study, code__in=chunk
                ).values_list("pk", "code", "withdrawn_at")
            )
        if self.lock and connection.features.has_select_for_update and people:
            # The participants named, in one order (a withdrawal waits, or this waits for it: the check below
            # then reads the withdrawal).
            for chunk in _chunks(pk for pk, _ in people.values()):
                for pk, code, withdrawn in (
                    Participant.objects.select_for_update(no_key=True)
                    .filter(pk__in=chunk)
                    .order_by("pk")
                    .values_list("pk", "code", "withdrawn_at")
                ):
                    people[code] = (pk, withdrawn)
        fields = ("pk", "original_name", "participant_id", "duration_s", "participant__code")
        by_id: dict[int, tuple] = {}
        for chunk in _chunks({c.clip_id for c in candidates if c.clip_id is not None}):
            by_id.update(
                (row[0], row)
                for row in Clip.objects.filter(study=self.study, pk__in=chunk).values_list(*fields)
            )
        by_name: dict[str, list[tuple]] = {}
        for chunk in _chunks({c.clip_file for c in candidates if c.clip_file}):
            for row in Clip.objects.filter(study=self.study, original_name__in=chunk).values_list(*fields):
                by_name.setdefault(row[1], []).append(row)
        for c in candidates:
            person = people.get(c.code) if c.code else None
            if c.code and person is None:
                c.refuse("participant", f"no participant with the code {c.code!r} in this study")
            elif person is not None and person[1] is not None:
                c.refuse(
                    "participant", f"participant {c.code} has withdrawn: no self-report of theirs is imported"
                )
            c.values["participant_id"] = person[0] if person else None
            clip = self.clip(c, by_id, by_name)
            c.values["clip_id"] = clip[0] if clip else None
            if clip is None or person is None:
                continue
            owner = clip[2]
            if owner is None:
                c.refuse("clip", f"clip {clip[0]} ({clip[1]}) has no participant: it is not {c.code}'s")
            elif owner != person[0]:
                c.refuse("clip", f"clip {clip[0]} ({clip[1]}) is participant {clip[4]}'s, not {c.code}'s")
            end = c.values["end_s"]
            if end is not None and end > clip[3] + WINDOW_TOLERANCE_S:
                c.refuse(
                    "end_s",
                    f"the window ends at {end:g} s, after the clip's end: clip {clip[0]} lasts {clip[3]:.2f} s "
                    f"(up to {WINDOW_TOLERANCE_S:g} s past its end is accepted)",
                )

    def clip(self, c: _Candidate, by_id: dict, by_name: dict) -> tuple | None:
        found = None
        if c.clip_id is not None:
            found = by_id.get(c.clip_id)
            if found is None:
                c.refuse("clip", f"no clip with the id {c.clip_id} in this study")
                return None
        if c.clip_file:
            named = by_name.get(c.clip_file, [])
            if found is not None:
                if found[1] != c.clip_file:
                    c.refuse("clip_file", f"clip {found[0]} is the file {found[1]!r}, not {c.clip_file!r}")
                    return None
                return found
            if not named:
                c.refuse("clip_file", f"no clip with the file name {c.clip_file!r} in this study")
                return None
            if len(named) > 1:
                c.refuse(
                    "clip_file",
                    f"{len(named)} clips of this study have the file name {c.clip_file!r}: give the clip's id in "
                    "the clip column",
                )
                return None
            found = named[0]
        return found

    # -- pass 3: the file against itself, then against what is stored ---------------------------------------

    def duplicates(self, candidates: list[_Candidate]) -> None:
        keys: dict[tuple, int] = {}
        ids: dict[str, int] = {}
        for c in candidates:
            if not set(KEY_COLUMNS) & set(c.problems):
                key = c.key()
                if key in keys:
                    c.refuse(
                        "row",
                        f"the same participant, clip, instrument and window as {self.report.unit} {keys[key]}",
                    )
                keys.setdefault(key, c.row.position)
            ext = c.values.get("external_id")
            if ext:
                if ext in ids:
                    c.refuse("id", f"the id {ext!r} is also on {self.report.unit} {ids[ext]}")
                ids.setdefault(ext, c.row.position)

    def against_stored(self, candidates: list[_Candidate]) -> tuple[list[dict[str, Any]], int]:
        good = [c for c in candidates if not c.problems]
        columns = ("pk", *KEY, *COMPARED)
        stored: dict[tuple, dict] = {}
        for chunk in _chunks({c.values["clip_id"] for c in good}):
            for row in SelfReport.objects.filter(study=self.study, clip_id__in=chunk).values(*columns):
                stored[tuple(row[name] for name in KEY)] = row
        by_ext: dict[str, dict] = {}
        for chunk in _chunks({c.values["external_id"] for c in good if c.values["external_id"]}):
            for row in SelfReport.objects.filter(study=self.study, external_id__in=chunk).values(*columns):
                by_ext[row["external_id"]] = row
        new: list[dict[str, Any]] = []
        unchanged = 0
        for c in good:
            same_key, same_id = stored.get(c.key()), by_ext.get(c.values["external_id"])
            if same_key is None and same_id is None:
                new.append(c.values)
                continue
            if same_key is None or (same_id is not None and same_id["pk"] != same_key["pk"]):
                c.refuse(
                    "id",
                    f"the id {c.values['external_id']!r} was already imported for another participant, clip, "
                    f"instrument or window (self-report {same_id['pk'] if same_id else '?'}); delete it in the "
                    "admin first",
                )
                continue
            if same_key["source"] != SelfReport.Source.IMPORTED:
                c.refuse(
                    "row",
                    f"this participant already gave a self-report on this clip, instrument and window in the "
                    f"platform (self-report {same_key['pk']}); delete it in the admin first",
                )
                continue
            differ = [column for name, column in COMPARED.items() if same_key[name] != c.values[name]]
            if differ:
                c.refuse(
                    "row",
                    f"already imported with different values ({', '.join(differ)}) as self-report "
                    f"{same_key['pk']}; delete it in the admin first",
                )
            else:
                unchanged += 1
        return new, unchanged


def self_reports_import(
    *, study: Study, content: bytes, filename_or_format: str, by=None, dry_run: bool = False
) -> ImportReport:
    """Import self-reports into `study` from a CSV or JSON file (`filename_or_format`: "csv", "json" or the
    file's name). All or nothing, in one transaction: a file with any bad row (or that cannot be read) raises
    SelfReportImportRefused, whose report lists every bad row, and writes nothing. Returns the report: rows
    created, rows equal to reports already stored (unchanged). `dry_run`: the same checks and report, nothing
    written. Conflict if another import wrote the same reports meanwhile (nothing written by this one)."""
    report = ImportReport(format=file_format(filename_or_format, content), dry_run=dry_run)
    try:
        text = decode(content, max_bytes=settings.SELF_REPORT_IMPORT_MAX_BYTES)
        read = read_json if report.format == "json" else read_csv
        rows = read(text, max_rows=settings.SELF_REPORT_IMPORT_MAX_ROWS)
    except FileRefused as exc:
        report.add(exc.line, exc.field, exc.message)
        raise SelfReportImportRefused(report) from None
    report.rows = len(rows)
    try:
        with transaction.atomic():
            new, report.unchanged = _Import(study, report, lock=not dry_run).run(rows)
            if report.errors:
                raise SelfReportImportRefused(report)
            report.created = len(new)
            if not dry_run:
                # One created_at for the whole import: the admin lists (and deletes) an import by it.
                now = timezone.now()
                SelfReport.objects.bulk_create(
                    (
                        SelfReport(study_id=study.pk, created_by=by, created_at=now, **values)
                        for values in new
                    ),
                    batch_size=BATCH_SIZE,
                )
    except IntegrityError:
        raise Conflict(
            "Another import wrote some of these self-reports at the same time; nothing was imported by this "
            "one. Import the file again: the rows already stored then count as unchanged."
        ) from None
    return report
