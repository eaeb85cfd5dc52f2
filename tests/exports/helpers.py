"""Helpers for the exports tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from exports.models import Export

FILES = {
    "data/ratings/train.parquet": bytes(range(256)) * 40,
    "data/ratings/validation.parquet": b"PAR1" + b"v" * 500,
    "data/ratings/test.parquet": b"PAR1" + b"t" * 300,
    "data/annotators/full.parquet": b"PAR1" + b"a" * 100,
    "README.md": "# Faces at home — dataset card\n\nPerceived affect in context.\n".encode(),
    "croissant.json": b'{"@context": {}, "name": "faces-at-home"}',
}


def finish_by_hand(export: Export, files: dict[str, bytes] | None = None) -> Export:
    """Mark `export` done with a folder of stand-in files and a manifest listing them (for the download
    mechanics: Range, ETag, zip, refusals). The real build is tested on real exports (tests/exports)."""
    files = FILES if files is None else files
    rel = f"{export.study_id}/v{export.version}-{export.pk}"
    folder = Path(settings.EXPORTS_ROOT) / rel
    entries = []
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
        entries.append({"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"format": "affect-labels-export/1", "export": {"id": export.pk}, "files": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    now = timezone.now()
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.DONE,
        progress=1.0,
        folder=rel,
        files=entries,
        total_bytes=sum(e["bytes"] for e in entries),
        started_at=now,
        finished_at=now,
        duration_s=0.5,
    )
    export.refresh_from_db()
    return export


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client
