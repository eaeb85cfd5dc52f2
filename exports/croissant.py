"""croissant.json (MLCommons Croissant metadata). Placeholder: the card's writer replaces this module."""

from __future__ import annotations

import json
from pathlib import Path

from .models import Export


def write_croissant(folder: Path, *, export: Export, manifest: dict) -> Path:
    path = folder / "croissant.json"
    path.write_text(
        json.dumps({"name": f"{export.study.slug}-v{export.version}"}, indent=2), encoding="utf-8"
    )
    return path
