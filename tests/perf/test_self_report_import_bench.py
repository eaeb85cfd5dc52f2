"""What importing self-reports costs (labeling.services.self_reports_import), on a file of 10,000 rows: 500
participants x 2 clips x 10 windows, CSV, every column filled.

Measured, each the median of 3 runs in the same process: a dry run (read and check every row, write nothing),
the import (the same, then INSERTs in batches of 1,000), and a re-import of the same file (every row found
unchanged); the baseline is the write alone (bulk_create of the same 10,000 rows, built in Python), so the
ratios say what reading and checking add to it. The queries each import makes are counted: they do not grow
with the rows (values are looked up in chunks of 2,000). Run with `make bench`.
"""

import csv
import io
import statistics
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from labeling.models import Clip, Participant, SelfReport
from labeling.services import self_reports_import
from tests.factories import ClipFactory, StudyFactory
from tests.perf.report import check_target, smoke_or, write_section

pytestmark = [pytest.mark.perf, pytest.mark.django_db]

PARTICIPANTS, CLIPS_EACH, WINDOWS = smoke_or(500, 25), 2, 10
ROWS = PARTICIPANTS * CLIPS_EACH * WINDOWS
RUNS = 3


def build():
    study = StudyFactory()
    people = Participant.objects.bulk_create(
        Participant(study=study, code=f"P{i:05d}") for i in range(PARTICIPANTS)
    )
    clips = Clip.objects.bulk_create(
        ClipFactory.build(
            study=study, participant=p, original_name=f"p{i}-c{k}.mp4", sha256=f"{i * CLIPS_EACH + k:064x}",
            duration_s=30.0,
        )
        for i, p in enumerate(people)
        for k in range(CLIPS_EACH)
    )  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["id", "participant", "clip", "start_s", "end_s", "instrument", "points", "valence", "arousal",
         "valence_confidence", "arousal_confidence", "confidence_points", "tags", "note", "reported_at"]
    )  # fmt: skip
    for n, clip in enumerate(clips):
        for w in range(WINDOWS):
            writer.writerow(
                [f"r{n}-{w}", clip.participant.code, clip.pk, 3 * w, 3 * w + 3, "sam", 9, 1 + (n + w) % 9,
                 1 + (2 * n + w) % 9, 3, 4, 5, "setting:home;social:alone", f"window {w}", "2026-03-01T10:00:00Z"]
            )  # fmt: skip
    return study, out.getvalue().encode()


def timed(fn) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
    return elapsed, len(ctx.captured_queries)


def test_importing_ten_thousand_self_reports():
    study, content = build()
    assert content.count(b"\n") == ROWS + 1

    def dry():
        report = self_reports_import(study=study, content=content, filename_or_format="csv", dry_run=True)
        assert report.created == ROWS

    def baseline():
        """The write alone: the same rows, already typed, inserted in the same batches (then removed)."""
        rows = [
            SelfReport(
                study=study, participant_id=r.participant_id, clip_id=r.clip_id, start_s=r.start_s, end_s=r.end_s,
                instrument="sam", scale_points=9, valence=r.valence, arousal=r.arousal, valence_raw=r.valence_raw,
                arousal_raw=r.arousal_raw, valence_confidence=3, arousal_confidence=4, confidence_points=5,
                context_tags=r.context_tags, context_note=r.context_note, reported_at=r.reported_at,
                source="imported", external_id=r.external_id + "b",
            )
            for r in template
        ]  # fmt: skip
        with transaction.atomic():
            SelfReport.objects.bulk_create(rows, batch_size=1000)

    def real():
        report = self_reports_import(study=study, content=content, filename_or_format="csv")
        assert report.created == ROWS

    def again():
        report = self_reports_import(study=study, content=content, filename_or_format="csv")
        assert (report.created, report.unchanged) == (0, ROWS)

    times: dict[str, list[float]] = {"baseline": [], "dry run": [], "import": [], "re-import": []}
    queries: dict[str, int] = {}
    real()  # once, to have the rows the baseline copies
    template = list(SelfReport.objects.filter(study=study))
    SelfReport.objects.filter(study=study).delete()
    for _ in range(RUNS):
        for name, fn in (("baseline", baseline), ("dry run", dry), ("import", real), ("re-import", again)):
            if name == "dry run":
                SelfReport.objects.filter(study=study).delete()  # the baseline's rows (not timed)
            elapsed, n = timed(fn)
            times[name].append(elapsed)
            queries[name] = n
        SelfReport.objects.filter(study=study).delete()
    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["baseline"]
    lines = [
        "## Self-report import (10,000 rows)",
        "",
        f"`self_reports_import` on a CSV of {ROWS:,} rows ({len(content) / 1e6:.1f} MB; {PARTICIPANTS} participants x "
        f"{CLIPS_EACH} clips x {WINDOWS} windows, every column filled), {connection.vendor}; median of {RUNS} runs. "
        "Baseline: the write alone (bulk_create of the same rows, already typed).",
        "",
        "| | seconds | rows/s | × baseline | queries |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {median[name]:.2f} | {ROWS / median[name]:,.0f} | {median[name] / base:.1f} | {queries[name]} |"
            for name in times
        ),
        "",
        f"Reading and checking every row (the dry run) costs {median['dry run'] / base:.1f}× the write alone; the "
        f"import {median['import'] / base:.1f}×. The checks take {queries['dry run']} queries whatever the rows; "
        "the import adds one INSERT per 1,000 rows.",
    ]
    print("\n".join(lines))
    write_section("self-report-import", "\n".join(lines))
    inserts = -(-ROWS // 1000)
    check_target(
        queries["dry run"] <= 12 and queries["import"] <= queries["dry run"] + inserts + 2,
        f"an import of {ROWS} rows made {queries['import']} queries (its checks {queries['dry run']})",
    )
    check_target(median["import"] < 30, f"importing {ROWS} rows took {median['import']:.1f} s")
