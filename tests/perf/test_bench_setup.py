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
