"""Checking an export folder against its manifest: every listed file present with its size and SHA-256, no
file the manifest does not list (manifest.json itself aside), and each Parquet file's row count as listed.
Used by `manage.py verify_export DIR` and before a download is served."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pyarrow.parquet as pq

from .build.manifest import MANIFEST, sha256_of


def _safe(path: object) -> bool:
    if not isinstance(path, str) or not path or "\\" in path:
        return False
    pure = PurePosixPath(path)
    return not pure.is_absolute() and ".." not in pure.parts and path != MANIFEST


def verify_folder(folder: Path) -> list[str]:
    """Every problem found, in plain words (empty: the folder matches its manifest)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder."]
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, list):
            raise TypeError("files is not a list")
    except FileNotFoundError:
        return [f"{MANIFEST} is missing."]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST} cannot be read: {exc}."]
    problems, listed = [], set()
    for entry in files:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not _safe(path):
            problems.append(f"The manifest lists a path outside the folder or malformed: {path!r}.")
            continue
        listed.add(path)
        full = folder / path
        if not full.is_file():
            problems.append(f"{path}: missing.")
            continue
        size = full.stat().st_size
        if size != entry.get("bytes"):
            problems.append(f"{path}: {size} bytes, the manifest says {entry.get('bytes')}.")
        elif sha256_of(full) != entry.get("sha256"):
            problems.append(f"{path}: SHA-256 differs from the manifest (the file was changed or damaged).")
        elif entry.get("format") == "parquet" and "rows" in entry:
            try:
                rows = pq.ParquetFile(full).metadata.num_rows
            except Exception as exc:  # noqa: BLE001 - any unreadable file is a problem to report
                problems.append(f"{path}: not a readable Parquet file ({exc}).")
                continue
            if rows != entry["rows"]:
                problems.append(f"{path}: {rows} rows, the manifest says {entry['rows']}.")
    for full in sorted(p for p in folder.rglob("*") if p.is_file()):
        path = full.relative_to(folder).as_posix()
        if path != MANIFEST and path not in listed:
            problems.append(f"{path}: not listed in the manifest.")
    return problems
