"""Benchmark set-ups that bypass the ORM, checked against the models in the normal suite (not marked perf).

`make bench` broke once because the throughput benchmark's COPY into labeling_clip lacked a NOT NULL column
(`extra_k`) added by a later migration; CI's smoke run of the benchmarks now catches that too, and this test
names the column at once."""

import pytest

from labeling.models import Clip
from tests.perf.export_data import generate_study
from tests.perf.test_annotation_throughput import CLIP_COPY_COLUMNS


def test_throughput_benchmark_copy_fills_every_required_clip_column():
    required = {f.column for f in Clip._meta.concrete_fields if not f.primary_key and not f.null}
    assert required - set(CLIP_COPY_COLUMNS) == set()
    assert set(CLIP_COPY_COLUMNS) <= {f.column for f in Clip._meta.concrete_fields}  # no stale column either


def test_every_benchmark_is_marked_perf():
    """A benchmark without the perf mark is skipped by `make bench` and run (and failed) by `make test`: a
    helper once slid between the decorator and the benchmark it belonged to. What `make test` collects from
    tests/perf must be this module's checks only."""
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__)
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not perf", str(here.parent)],
        capture_output=True,
        text=True,
        cwd=here.parents[2],
        timeout=120,
    ).stdout.splitlines()
    collected = [line for line in listed if "::" in line]
    assert collected and all(line.startswith(f"tests/perf/{here.name}::") for line in collected), collected


@pytest.mark.postgres
@pytest.mark.django_db
def test_export_benchmark_data_keep_every_invariant():
    """The export benchmark writes its study with set-based SQL (tests/perf/export_data.py), constraints dropped
    and re-created around the insert: at a tiny size here, what it writes must be what the services would
    write (a new NOT NULL column or constraint breaks this test, not only `make bench`)."""
    from labeling.models import Annotation, Assignment, Membership

    data = generate_study(n_ratings=250, n_annotators=12, label="setup-check")
    counts = data["counts"]
    assert (counts["ratings"], counts["clips"], counts["clip_labels"], counts["members"]) == (250, 50, 50, 12)
    assert counts["bad_counters"] == counts["unmatched_assignments"] == counts["non_members"] == 0
    labels = Annotation.objects.filter(study_id=data["study_id"]).select_related("assignment", "clip")
    for label in labels:
        label.full_clean(validate_constraints=True)
        assert label.assignment.status == Assignment.Status.SUBMITTED and label.clip.n_submitted == 5
        if label.cannot_judge:
            assert label.cannot_judge_reason and label.valence_confidence is None
        else:
            assert label.valence == (label.valence_raw - 5) / 4 and 1 <= label.valence_confidence <= 5
    assert len({(a.clip_id, a.annotator_id) for a in labels}) == 250
    assert Membership.objects.filter(study_id=data["study_id"], consented_at__isnull=False).count() == 13
