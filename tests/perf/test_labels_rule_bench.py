"""What the withdrawn-annotator rule costs the labels that count (selectors.annotations_for_analysis).

Every analysis and the exporter read a study's labels through that selector, ordered by id. The rule that
leaves withdrawn annotators' labels out can be written two ways; this measures both against the read without
the rule (the baseline, in the same run), on 200,000 labels (40,000 clips x 5 of 500 annotators, 5 of them
withdrawn):
- the selector as written: for one study, NOT IN over the study's withdrawn members (PostgreSQL hashes the
  small subquery once);
- the alternative: a correlated NOT EXISTS on the membership's unique (study, user) index, which the
  selector keeps only for a correlated count per study and the admin's every-study list.
On PostgreSQL the figure is the server's execution time (EXPLAIN ANALYZE, no parallel workers, so the
shared machine's other load disturbs it less), median of 9 interleaved runs; on SQLite, the wall time of
reading the rows, median of 5. Run with `make bench`.
"""

import statistics
import time

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef

from labeling import selectors, services
from labeling.models import Annotation, Clip, Membership, Role
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.labeling.report_helpers import rate_many
from tests.perf.report import smoke_or, write_section

pytestmark = [pytest.mark.perf, pytest.mark.django_db]

CLIPS, ANNOTATORS, PER_CLIP, WITHDRAWN = smoke_or(40_000, 400), 500, 5, 5
COLUMNS = ("id", "clip_id", "annotator_id", "valence", "arousal", "cannot_judge", "scheme_version_id")


def build_study():
    study = StudyFactory(overlap_k=PER_CLIP)
    users = [MembershipFactory(study=study, role=Role.ANNOTATOR).user for _ in range(ANNOTATORS)]
    clips = Clip.objects.bulk_create(
        ClipFactory.build(study=study, original_name=f"c{i}.mp4", sha256=f"{i:064x}", target_k=PER_CLIP)
        for i in range(CLIPS)
    )
    rows = [
        (clip, users[(7 * i + 101 * k) % ANNOTATORS], 0.1, -0.2, [])
        for i, clip in enumerate(clips)
        for k in range(PER_CLIP)
    ]
    rate_many(study, rows, batch_size=5000)
    for membership in Membership.objects.filter(study=study, role=Role.ANNOTATOR).order_by("id")[:WITHDRAWN]:
        services.annotator_labels_withdraw(membership=membership, by=None, note="benchmark")
    return study


def variants(study):
    base = Annotation.objects.filter(clip__withdrawn_at__isnull=True, study=study)
    correlated = Membership.objects.filter(
        study_id=OuterRef("study_id"), user_id=OuterRef("annotator_id"), labels_withdrawn_at__isnull=False
    )
    return {
        "no rule (baseline)": base,
        "the selector (NOT IN)": selectors.annotations_for_analysis(study=study),
        "correlated NOT EXISTS": base.exclude(Exists(correlated)),
    }


def server_ms(qs) -> float:
    sql, params = qs.order_by("id").values_list(*COLUMNS).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params)
        return cursor.fetchone()[0][0]["Execution Time"]


def wall_ms(qs) -> float:
    start = time.perf_counter()
    list(qs.order_by("id").values_list(*COLUMNS))
    return 1000 * (time.perf_counter() - start)


def test_the_withdrawn_annotator_rule_costs_little():
    study = build_study()
    ways = variants(study)
    n_total = Annotation.objects.filter(study=study).count()
    kept = set(ways["the selector (NOT IN)"].values_list("id", flat=True))
    withdrawn_labels = Annotation.objects.filter(
        study=study,
        annotator__memberships__study=study,
        annotator__memberships__labels_withdrawn_at__isnull=False,
    ).count()
    assert n_total == CLIPS * PER_CLIP and withdrawn_labels > 0
    assert len(kept) == n_total - withdrawn_labels
    assert kept == set(ways["correlated NOT EXISTS"].values_list("id", flat=True))

    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute("ANALYZE")
    measure, reps = (server_ms, 9) if postgres else (wall_ms, 5)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(reps):
        for name, qs in ways.items():
            times[name].append(measure(qs))
    median = {name: statistics.median(t) for name, t in times.items()}
    base = median["no rule (baseline)"]
    rows = "\n".join(f"| {name} | {ms:,.0f} | {ms / base:.2f}x |" for name, ms in median.items())
    what = "Server execution time (EXPLAIN ANALYZE, serial)" if postgres else "Wall time of reading the rows"
    report = f"""## The labels that count: cost of the withdrawn-annotator rule

`pytest -m perf tests/perf/test_labels_rule_bench.py -s` on {connection.vendor}: a study's labels read in
id order through `annotations_for_analysis` ({n_total:,} labels, {CLIPS:,} clips x {PER_CLIP} of
{ANNOTATORS} annotators, {WITHDRAWN} of them withdrawn: {withdrawn_labels:,} labels out).
{what}, median of {reps} interleaved runs.

| read | ms | vs. no rule |
|---|---:|---:|
{rows}

The selector uses NOT IN for one study and keeps the correlated NOT EXISTS only where it must correlate (a
count per study, the admin's every-study list).
"""
    print(report)
    write_section("labels-rule", report)
