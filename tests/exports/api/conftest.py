"""Set-up shared by the exports tests: a folder of their own for EXPORTS_ROOT, a study with a researcher, an
annotator and a few ratings, and a way to finish an export without a worker."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.models import User
from exports import services
from exports.models import Export
from exports.tasks import build_export
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, rate_next


@pytest.fixture(autouse=True)
def exports_root(settings, tmp_path) -> Path:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    return settings.EXPORTS_ROOT


@pytest.fixture
def queued(monkeypatch):
    """Export ids the services queue for a build, instead of sending them to the broker."""
    calls: list[int] = []
    monkeypatch.setattr(build_export, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls


@pytest.fixture
def world(db):
    """A rated study with its researcher, one of its annotators, a crowd account of it, a researcher of
    another study, and a superuser."""
    study = StudyFactory(slug="faces-at-home")
    ClipFactory.create_batch(3, study=study)
    researcher = MembershipFactory(study=study, role="researcher").user
    annotators = [MembershipFactory(study=study) for _ in range(2)]
    for member in annotators:
        rate_next(member)
        rate_next(member)
    crowd = User.objects.create_user("crowd-x", crowd_study=study, crowd_pid="PID1", is_pseudonymous=True)
    MembershipFactory(study=study, user=crowd)
    other = StudyFactory()
    return {
        "study": study,
        "researcher": researcher,
        "annotator": annotators[0].user,
        "crowd": crowd,
        "other_researcher": MembershipFactory(study=other, role="researcher").user,
        "other_study": other,
        "superuser": User.objects.create_superuser("root-x", password="pw-for-tests-only"),
    }


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


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


@pytest.fixture
def done_export(world, queued):
    """A finished export of the world's study (stand-in files)."""
    export = services.export_start(study=world["study"], parameters={}, created_by=world["researcher"])
    return finish_by_hand(export)
