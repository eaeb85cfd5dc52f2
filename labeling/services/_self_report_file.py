"""Reading a self-report file (CSV or JSON) into rows of text cells, before any rule of the study applies.

What the import of labeling.services.self_reports reads: every row as (position, {column: cell}), where a
cell is text ("" when empty) or, for `tags`, a list of texts. Problems of the file as a whole (too large, not
UTF-8, no rows, unknown or repeated columns, JSON that does not parse) raise FileRefused with one message;
problems of a single row's shape (a JSON value of the wrong type, a CSV row with too many fields) are
returned beside the row, so the report lists them with the row's other problems.

CSV: UTF-8 with or without a byte-order mark; a header row; the delimiter is read from the header line only:
',' when it has a comma, else a tab, else ';' (a header with none of them is one column, ','). The position
of a row is its physical line in the file (the header is line 1; a quoted cell may span lines: the row's
first). Blank lines and rows whose every cell is empty are skipped. `tags` is ';'-separated.
JSON: a list of objects (one per self-report) with the same keys; a position is the object's index in the
list, counted from 1. `tags` is a list of strings.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

COLUMNS = (
    "id",
    "participant",
    "clip",
    "clip_file",
    "start_s",
    "end_s",
    "instrument",
    "points",
    "valence",
    "arousal",
    "valence_confidence",
    "arousal_confidence",
    "confidence_points",
    "tags",
    "note",
    "reported_at",
)
FORMATS = ("csv", "json")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json"}


class FileRefused(Exception):
    """The file as a whole cannot be read; `line` is where (the CSV header: 1), or None."""

    def __init__(self, message: str, *, line: int | None = None, field: str = "file"):
        super().__init__(message)
        self.message, self.line, self.field = message, line, field


@dataclass
class Row:
    """One row of the file: its position, its cells, what is wrong with its shape, and whether its cells can
    be read at all (a JSON item that is no object, a CSV row with more fields than the header has columns)."""

    position: int
    cells: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)
    readable: bool = True


def size_text(n: int) -> str:
    return f"{n / 1048576:.3g} MB" if n >= 1048576 else f"{n} bytes"


def file_format(filename_or_format: str, content: bytes) -> str:
    """ "csv" or "json": named ("csv", "json"), else from the file name's ending (.csv, .tsv, .txt, .json),
    else from the content (a first character '[' or '{' is JSON)."""
    given = (filename_or_format or "").strip().lower()
    if given in FORMATS:
        return given
    for suffix, kind in _SUFFIXES.items():
        if given.endswith(suffix):
            return kind
    head = content[:64].removeprefix(b"\xef\xbb\xbf").lstrip()
    return "json" if head[:1] in (b"[", b"{") else "csv"


def decode(content: bytes, *, max_bytes: int) -> str:
    if len(content) > max_bytes:
        raise FileRefused(
            f"The file is larger than an import takes (at most {size_text(max_bytes)}): split it into several "
            "files."
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise FileRefused(
            f"The file is not UTF-8 text (byte 0x{content[exc.start]:02x} on line {line} is not UTF-8): save "
            "it as UTF-8, with or without a byte-order mark, and import it again."
        ) from None
    if "\x00" in text:
        raise FileRefused("The file contains NUL characters: it is not a text file.")
    if not text.strip():
        raise FileRefused("The file is empty: it has no self-reports.")
    return text


def _column_names(names: list[str], *, line: int | None) -> list[str]:
    """The header's names, lower-cased and stripped; unknown or repeated names refuse the file."""
    clean = [name.strip().lower() for name in names]
    unknown = [name if len(name) <= 40 else f"{name[:40]}…" for name in clean if name not in COLUMNS]
    if unknown:
        raise FileRefused(
            f"Unknown column(s): {', '.join(repr(n) for n in unknown)}. The columns are: {', '.join(COLUMNS)}.",
            line=line,
        )
    repeated = sorted({name for name in clean if clean.count(name) > 1})
    if repeated:
        raise FileRefused(f"Column(s) given twice: {', '.join(repeated)}.", line=line)
    return clean


def split_tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(";") if tag.strip()]


def _delimiter(header_line: str) -> str:
    for candidate in (",", "\t", ";"):
        if candidate in header_line:
            return candidate
    return ","


def read_csv(text: str, *, max_rows: int) -> list[Row]:
    first_line = next((line for line in io.StringIO(text) if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True)
    rows: list[Row] = []
    header: list[str] | None = None
    previous_end = 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = _column_names(record, line=start)
                _required_columns(header, line=start)
                continue
            if len(rows) >= max_rows:
                raise FileRefused(
                    f"The file has more than {max_rows} rows; an import takes at most {max_rows} (split it)."
                )
            row = Row(position=start, cells={})
            if len(record) > len(header):
                row.readable = False
                row.problems["row"] = (
                    f"this row has {len(record)} fields but the header has {len(header)} columns (a "
                    "delimiter inside a cell needs quotes)"
                )
            for name, cell in zip(header, record, strict=False):
                row.cells[name] = split_tags(cell) if name == "tags" else cell.strip()
            rows.append(row)
    except csv.Error as exc:
        raise FileRefused(f"The CSV cannot be read on line {reader.line_num}: {exc}.") from None
    if header is None or not rows:
        raise FileRefused("The file has no rows of self-reports below its header.")
    return rows


def _required_columns(names: list[str], *, line: int | None) -> None:
    missing = [name for name in ("participant", "instrument", "reported_at") if name not in names]
    if "clip" not in names and "clip_file" not in names:
        missing.append("clip (or clip_file)")
    if "valence" not in names and "arousal" not in names:
        missing.append("valence (or arousal)")
    if missing:
        raise FileRefused(f"Missing column(s): {', '.join(missing)}.", line=line)


def _json_cell(name: str, value: Any) -> tuple[Any, str | None]:
    """A JSON value as a cell: text as is, numbers as their text, null as empty; tags a list of strings."""
    if name == "tags":
        if value is None:
            return [], None
        if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
            return [tag.strip() for tag in value if tag.strip()], None
        return [], 'must be a list of "group:tag" strings'
    if value is None:
        return "", None
    if isinstance(value, str):
        return value.strip(), None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value), None
    return "", "must be text or a number"


def read_json(text: str, *, max_rows: int) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRefused(
            f"The JSON cannot be read: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError as exc:  # an integer of more digits than Python converts, say
        raise FileRefused(f"The JSON cannot be read: {exc}.") from None
    except RecursionError:
        raise FileRefused("The JSON is nested too deeply.") from None
    if not isinstance(data, list):
        raise FileRefused("The JSON must be a list of objects, one per self-report.")
    if not data:
        raise FileRefused("The file is an empty list: it has no self-reports.")
    if len(data) > max_rows:
        raise FileRefused(f"The file has {len(data)} items; an import takes at most {max_rows} (split it).")
    rows: list[Row] = []
    for index, item in enumerate(data, start=1):
        row = Row(position=index, cells={})
        rows.append(row)
        if not isinstance(item, dict):
            row.readable = False
            row.problems["row"] = "must be an object of column: value"
            continue
        unknown = [key for key in item if str(key).strip().lower() not in COLUMNS]
        if unknown:
            row.problems["row"] = f"unknown key(s): {', '.join(repr(k) for k in unknown)}"
        for key, value in item.items():
            name = str(key).strip().lower()
            if name in COLUMNS:
                row.cells[name], problem = _json_cell(name, value)
                if problem:
                    row.problems[name] = problem
    return rows
