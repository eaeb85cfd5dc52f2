import hashlib
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings as django_settings

from exports.services import export_build, export_start
from exports.tables import SPLIT_NAMES
from labeling.models import Annotation
from labeling.services import participant_get_or_create
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory, rate_next

TAGS = [
    "setting:home",
    "setting:outdoors",
    "social:alone",
    "social:crowd",
    "activity:talking",
    "before:bad news",
]
SECRET_TEXTS = {
    "note": 'kitchen, "quiet"\nthen a door',
    "reason": "too dark, face hidden",
    "ua": "UA-Secret/1.0",
}


@pytest.fixture
def exports_root(settings, tmp_path):
    """Exports are built into a folder of this test's own."""
    settings.EXPORTS_ROOT = tmp_path / "exports"
    return settings.EXPORTS_ROOT


def add_ratings(study, members, per_member, *, seed=7, cannot_judge_share=0.2):
    """Each member rates up to per_member[i] clips through the real queue, with seeded varied values."""
    rng = random.Random(seed)
    for member, n in zip(members, per_member, strict=True):
        for _ in range(n):
            if rng.random() < cannot_judge_share:
                over = {
                    "cannot_judge": True,
                    "cannot_judge_reason": SECRET_TEXTS["reason"],
                    "valence": None,
                    "arousal": None,
                    "valence_confidence": None,
                    "arousal_confidence": None,
                    "context_tags": rng.sample(TAGS, rng.randint(0, 1)),
                }
            else:
                over = {
                    "valence": rng.randint(1, 9),
                    "arousal": rng.randint(1, 9),
                    "valence_confidence": rng.randint(1, 5),
                    "arousal_confidence": rng.randint(1, 5),
                    "context_tags": rng.sample(TAGS, rng.randint(0, 3)),
                    "context_note": SECRET_TEXTS["note"] if rng.random() < 0.5 else "",
                    "time_on_task_ms": rng.randint(1000, 60000),
                }
            rate_next(member, **over)
    Annotation.objects.filter(study=study).update(user_agent=SECRET_TEXTS["ua"])


@pytest.fixture
def rated(db, exports_root):
    """A study with 3 participants (2 clips each), 4 clips without one, and 4 annotators who rate 10, 8, 5
    and 3 clips (some clips end with 0 or 1 judged rating), one of them from a crowd link."""
    study = StudyFactory(overlap_k=4)
    people = [participant_get_or_create(study=study, code=f"P{i}") for i in range(3)]
    for i in range(10):
        ClipFactory(study=study, participant=people[i % 3] if i < 6 else None)
    members = [
        MembershipFactory(study=study, user=UserFactory(email=f"person{i}@example.org"), joined_via=via)
        for i, via in enumerate(["account", "invite", "crowd", "invite"])
    ]
    type(members[2]).objects.filter(pk=members[2].pk).update(crowd_study_id="CROWD-STUDY-XYZ")
    add_ratings(study, members, [10, 8, 5, 3])
    study.members = members
    study.people = people
    return study


def build(study, **parameters):
    """A finished export of the study (started and built in this process)."""
    export = export_start(study=study, parameters=parameters, enqueue=False)
    export = export_build(export_id=export.pk)
    assert export.status == "done", export.error
    return export


def folder_of(export) -> Path:
    return Path(django_settings.EXPORTS_ROOT) / export.folder


def read_table(export, table: str) -> pa.Table:
    """All split files of a table, concatenated in split order."""
    folder = folder_of(export)
    splits = ("full",) if table == "annotators" else SPLIT_NAMES
    return pa.concat_tables([pq.read_table(folder / f"data/{table}/{s}.parquet") for s in splits])


def manifest_of(export) -> dict:
    return json.loads((folder_of(export) / "manifest.json").read_text())


def content_hash(table: pa.Table, sort_key: str | None = None) -> str:
    """A hash of a table's content (schema and values), independent of how its files were written."""
    rows = table.to_pylist()
    if sort_key:
        rows.sort(key=lambda r: r[sort_key])
    text = json.dumps({"schema": str(table.schema), "rows": rows}, default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
