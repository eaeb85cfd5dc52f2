"""manifest.json: what the folder holds (see docs/exports.md and the export contract). Written last, listing
every other file with its size, rows and SHA-256."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = "affect-labels-export/1"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(folder: Path, path: str, **extra) -> dict:
    """{path, bytes, sha256, **extra} of a file of the folder (`path` relative, with forward slashes)."""
    full = folder / path
    return {"path": path, "bytes": full.stat().st_size, "sha256": sha256_of(full), **extra}


def write_manifest(folder: Path, manifest: dict) -> Path:
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
