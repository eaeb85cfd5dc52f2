"""The dataset card (README.md). Placeholder: the card's writer replaces this module."""

from __future__ import annotations

from pathlib import Path

from .models import Export


def write_card(folder: Path, *, export: Export, manifest: dict) -> Path:
    path = folder / "README.md"
    path.write_text(f"# {export.study.title}: dataset export v{export.version}\n", encoding="utf-8")
    return path
