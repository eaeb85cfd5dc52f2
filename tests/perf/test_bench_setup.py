"""Benchmark set-ups that bypass the ORM, checked against the models in the normal suite (not marked perf).

`make bench` broke once because the throughput benchmark's COPY into labeling_clip lacked a NOT NULL column
(`extra_k`) added by a later migration; CI's smoke run of the benchmarks now catches that too, and this test
names the column at once."""

from labeling.models import Clip
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
