"""How an export's files leave the server: one file (its content type, the name it is saved as, its ETag) or
the whole folder as one zip, streamed as it is written.

The zip is written entry by entry into a small buffer that the response drains as it goes: nothing is built
in memory or on disk first, whatever the export's size. Entries are stored, not compressed (Parquet is
compressed already), ZIP64 where a file needs it, under one top folder `<study-slug>-v<version>/`, with the
time the export finished as every entry's date, so the same export always zips to the same bytes. Each
file's sha256 is checked as it streams: a damaged one ends the stream (the client's zip is then broken, never
quietly wrong).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .build.manifest import sha256_of
from .models import Export

BLOCK = 1024 * 1024

CONTENT_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/jsonl; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
}


def content_type(path: str) -> str:
    if path == "croissant.json":
        return "application/ld+json"
    return CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def top_folder(export: Export) -> str:
    return f"{export.study.slug or f'study-{export.study_id}'}-v{export.version}"


def attachment_name(export: Export, path: str) -> str:
    """The name a downloaded file is saved as: the export and the path inside it, so that the train split of
    two tables (or of two versions) never overwrite each other in a downloads folder."""
    return f"{top_folder(export)}-{path.replace('/', '-')}"


def etag(entry: dict, file: Path) -> str:
    """The strong ETag of one file: its sha256, from the manifest (hashed here only for a file the build
    recorded no sha256 for, which is at most manifest.json, a few kilobytes)."""
    return f'"{entry.get("sha256") or sha256_of(file)}"'


class DamagedExport(RuntimeError):
    """A file of a finished export no longer matches its manifest (raised while its zip is streamed)."""


class _Drain:
    """A write-only file for ZipFile: it keeps what was written until the response takes it. Having no
    tell() or seek(), it makes ZipFile write each entry's sizes and CRC after its data (a data descriptor)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_stream(export: Export, folder: Path, entries: list[dict]) -> Iterator[bytes]:
    """The zip of `entries` (paths relative to `folder`), as chunks of about BLOCK bytes (never empty ones:
    an empty chunk ends a chunked response early on some servers)."""
    top = top_folder(export)
    when = max((export.finished_at or export.created_at).timetuple()[:6], (1980, 1, 1, 0, 0, 0))
    out = _Drain()
    with zipfile.ZipFile(out, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in entries:
            file = folder / entry["path"]
            info = zipfile.ZipInfo(f"{top}/{entry['path']}", date_time=when)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.file_size = file.stat().st_size  # decides ZIP64 before the data is written
            digest = hashlib.sha256()
            with file.open("rb") as src, archive.open(info, mode="w") as dest:
                while chunk := src.read(BLOCK):
                    digest.update(chunk)
                    dest.write(chunk)
                    if data := out.take():
                        yield data
            if entry.get("sha256") and digest.hexdigest() != entry["sha256"]:
                # Too late for an error status: end the stream, so the client holds a broken zip rather than
                # a damaged file that looks whole.
                raise DamagedExport(f"export {export.pk}: {entry['path']} differs from its manifest sha256")
    if data := out.take():  # the last entry's descriptor and the central directory
        yield data
