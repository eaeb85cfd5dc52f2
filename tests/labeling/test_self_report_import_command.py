"""`manage.py import_self_reports STUDY FILE [--dry-run]`, and the documented examples (docs/examples/
self_reports.csv and .json), which import cleanly into the demo study that `make run` loads."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.demo import demo_setup
from labeling.models import SelfReport
from tests.labeling.self_report_helpers import csv_bytes, row, world

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("import_self_reports", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:  # manage.py exits with status 1
        return out.getvalue(), exc
    return out.getvalue(), None


def test_the_command_imports_reports_a_second_run_as_unchanged_and_dry_runs(tmp_path):
    w = world()
    path = tmp_path / "reports.csv"
    path.write_bytes(csv_bytes([row(w, id="a"), row(w, id="b", start_s="0", end_s="1")]))
    out, exc = run(w.study.slug, str(path), "--dry-run")
    assert exc is None and "Dry run, nothing written: 2 rows checked; 2 would be created" in out
    assert not SelfReport.objects.exists()
    out, exc = run(str(w.study.pk), str(path))
    assert exc is None and "2 rows: 2 self-reports created, 0 already imported (unchanged)." in out
    out, exc = run(w.study.slug, str(path))
    assert exc is None and "0 self-reports created, 2 already imported (unchanged)" in out
    assert SelfReport.objects.count() == 2 and SelfReport.objects.filter(created_by=None).count() == 2


def test_a_bad_file_exits_with_every_bad_row_listed_and_imports_nothing(tmp_path):
    w = world()
    path = tmp_path / "reports.json"
    path.write_text(
        f'[{{"participant": "P-99", "clip": {w.clip1.pk}, "instrument": "sam", "points": 9, "valence": 5, '
        '"reported_at": "2026-03-01T10:00:00Z"}, {"participant": "P-01", "clip_file": "one.mp4", '
        '"instrument": "slider", "valence": 3, "reported_at": "2026-03-01T10:00:00"}]'
    )
    out, exc = run(w.study.slug, str(path))
    assert exc is not None and "Nothing was imported: 2 of 2 rows have problems" in str(exc)
    assert "items of the JSON list, counted from 1" in out
    lines = [line.strip() for line in out.splitlines()]
    assert "item 1  participant: no participant with the code 'P-99' in this study" in lines
    assert "item 2  valence: '3' must be between -1 and 1 on the slider" in lines
    assert any(line.startswith("item 2  reported_at:") for line in lines)
    assert not SelfReport.objects.exists()


def test_a_missing_file_or_study_is_a_clear_error(tmp_path):
    w = world()
    assert "Cannot read" in str(run(w.study.slug, str(tmp_path / "nowhere.csv"))[1])
    assert "No study with slug or id 'nope'" in str(run("nope", str(tmp_path / "nowhere.csv"))[1])


def test_the_documented_examples_import_cleanly_into_the_demo_study(media_root, render_once):
    study = demo_setup(simulate=False).study
    out, exc = run(study.slug, str(EXAMPLES / "self_reports.csv"))
    assert exc is None, out
    assert "12 rows: 12 self-reports created" in out
    # The JSON example holds the same self-reports: importing it too adds nothing.
    out, exc = run(study.slug, str(EXAMPLES / "self_reports.json"))
    assert exc is None and "0 self-reports created, 12 already imported (unchanged)" in out, out
    reports = SelfReport.objects.filter(
        study=study, external_id__startswith="sr-"
    )  # the demo has its own too
    assert reports.count() == 12 and {r.participant.code for r in reports} == {f"D-0{i}" for i in range(1, 7)}
    assert all(r.clip.participant_id == r.participant_id for r in reports)
    windowed = reports.filter(start_s__isnull=False).order_by("clip__original_name", "start_s")
    assert [(r.clip.original_name, r.start_s, r.end_s) for r in windowed] == [
        ("demo-02.mp4", 0, 1.5), ("demo-02.mp4", 1.5, 3), ("demo-07.mp4", 0, 1), ("demo-07.mp4", 1, 3),
    ]  # fmt: skip
