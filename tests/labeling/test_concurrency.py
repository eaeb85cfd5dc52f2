"""Many annotators claiming and submitting at once, through the real services, until a study is full.

PostgreSQL (the row-lock path: SELECT ... FOR NO KEY UPDATE SKIP LOCKED): 32 threads, 40 annotators, a
200-clip study with K=3, once with the one-statement fast path (labeling/services/_pg.py) and once with the ORM
path (LABELING_PG_FAST_PATH off). SQLite (the conditional-update path under IMMEDIATE transactions): the same
scenario with 8 threads, run in a subprocess on a file database in WAL mode, because pytest-django's
in-memory SQLite test database is shared-cache and cannot be written from several connections.

Invariants checked: every clip ends with exactly K distinct annotators, nobody rates a clip twice, the
clip counters equal the rows, no thread raised, and every submit that returned is in the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
N_CLIPS = 200
K = 3
N_ANNOTATORS = 40


def make_study(n_clips: int = N_CLIPS, k: int = K, n_annotators: int = N_ANNOTATORS) -> tuple[int, list[int]]:
    """A study with `n_clips` clips (bulk-inserted) and consented annotators; returns (study id, membership ids)."""
    from labeling.models import Clip
    from tests.factories import ClipFactory, MembershipFactory, StudyFactory

    study = StudyFactory(overlap_k=k)
    Clip.objects.bulk_create([ClipFactory.build(study=study) for _ in range(n_clips)])
    members = [
        MembershipFactory(study=study, user__password=None) for _ in range(n_annotators)
    ]  # no slow hashing
    return study.pk, [m.pk for m in members]


def run_claimers(membership_ids: list[int], n_threads: int) -> dict:
    """Thread t drives the annotators t, t + n_threads, ... in turn: claim, submit, until none gets a clip."""
    from django.db import connection

    from labeling import services
    from labeling.models import Membership
    from tests.factories import rating_data

    barrier = threading.Barrier(n_threads)
    lock = threading.Lock()
    submitted: list[tuple[int, int, int, str]] = []  # (annotation id, clip id, annotator id, submission id)
    errors: list[str] = []

    def work(t: int) -> None:
        try:
            mine = list(
                Membership.objects.select_related("study")
                .filter(pk__in=membership_ids[t::n_threads])
                .order_by("pk")
            )
            barrier.wait(timeout=60)
            while mine:
                for m in list(mine):
                    assignment = services.assignment_claim_next(membership=m)
                    if assignment is None:
                        mine.remove(m)
                        continue
                    data = rating_data()
                    annotation, created = services.annotation_submit(assignment=assignment, data=data)
                    assert created, "a fresh submission id was treated as a retry"
                    with lock:
                        submitted.append(
                            (
                                annotation.pk,
                                annotation.clip_id,
                                annotation.annotator_id,
                                data["submission_id"],
                            )
                        )
        except BaseException as exc:  # noqa: BLE001 -- every failure is reported by the test
            barrier.abort()
            with lock:
                errors.append(f"thread {t}: {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(t,), name=f"claimer-{t}") for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    alive = [th.name for th in threads if th.is_alive()]
    return {
        "submitted": submitted,
        "errors": errors + [f"{name} still running after 300 s" for name in alive],
    }


def check_invariants(study_id: int, result: dict, n_clips: int = N_CLIPS, k: int = K) -> dict:
    """Assert what must hold after the run; returns a summary (used by the SQLite subprocess too)."""
    from labeling.models import Annotation, Assignment, Clip

    assert result["errors"] == [], result["errors"]
    submitted = result["submitted"]
    assert len(submitted) == n_clips * k

    # Nothing lost: every submit that returned is in the database, unchanged.
    rows = {
        a.pk: (a.pk, a.clip_id, a.annotator_id, str(a.submission_id))
        for a in Annotation.objects.filter(study_id=study_id)
    }
    assert len(rows) == len(submitted)
    assert {s[0]: tuple(s) for s in submitted} == rows

    # Every clip: exactly K distinct annotators; nobody twice on a clip.
    per_clip = Counter(clip_id for _, clip_id, _, _ in rows.values())
    assert len(per_clip) == n_clips and set(per_clip.values()) == {k}
    pairs = Counter((clip_id, annotator_id) for _, clip_id, annotator_id, _ in rows.values())
    assert max(pairs.values()) == 1
    live = Assignment.objects.filter(study_id=study_id, status__in=Assignment.LIVE)
    live_pairs = Counter(live.values_list("clip_id", "annotator_id"))
    assert max(live_pairs.values()) == 1
    assert not Assignment.objects.filter(study_id=study_id, status=Assignment.Status.ACTIVE).exists()

    # Counters equal the rows they count.
    submitted_per_clip = Counter(
        Assignment.objects.filter(study_id=study_id, status=Assignment.Status.SUBMITTED).values_list(
            "clip_id", flat=True
        )
    )
    live_per_clip = Counter(live.values_list("clip_id", flat=True))
    for clip in Clip.objects.filter(study_id=study_id):
        assert (clip.n_assigned, clip.n_submitted, clip.target_k) == (
            live_per_clip[clip.pk],
            submitted_per_clip[clip.pk],
            k,
        ), f"clip {clip.pk}: counters do not match the rows"
    per_annotator = Counter(annotator_id for _, _, annotator_id, _ in rows.values())
    return {
        "annotations": len(rows),
        "annotators_used": len(per_annotator),
        "max_per_annotator": max(per_annotator.values()),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_32_threads_fill_a_200_clip_study_on_postgresql(write_path):
    from django.db import connection

    assert connection.vendor == "postgresql"
    study_id, membership_ids = make_study()
    result = run_claimers(membership_ids, n_threads=32)
    summary = check_invariants(study_id, result)
    assert summary["annotations"] == N_CLIPS * K
    assert summary["annotators_used"] > 32  # the work really spread over the threads' annotators


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_nobody_is_sent_away_while_a_clip_is_only_locked(write_path):
    """K = number of annotators, so everyone must rate every clip. A claimer that finds its last candidate
    row locked by another claimer (SKIP LOCKED) must wait for it, not answer "nothing left" (regression)."""
    study_id, membership_ids = make_study(n_clips=20, k=16, n_annotators=16)
    result = run_claimers(membership_ids, n_threads=16)
    summary = check_invariants(study_id, result, n_clips=20, k=16)
    assert summary["annotators_used"] == 16 and summary["max_per_annotator"] == 20


def test_8_threads_fill_a_200_clip_study_on_sqlite(tmp_path):
    """The SQLite path (no row locks: IMMEDIATE transactions and conditional updates), on a real file in WAL mode."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}}
    env.update(
        VAR_DIR=str(tmp_path),
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        DJANGO_SETTINGS_MODULE="annotator.settings",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tests.labeling.test_concurrency", "--threads", "8"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["vendor"] == "sqlite"
    assert summary["annotations"] == N_CLIPS * K


def _main() -> None:
    """Entry for the SQLite subprocess: migrate a fresh file database, run the scenario, print a JSON summary."""
    import argparse

    import django
    from django.core.management import call_command

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    study_id, membership_ids = make_study()
    connection.close()
    result = run_claimers(membership_ids, n_threads=args.threads)
    summary = check_invariants(study_id, result)
    print(json.dumps({"vendor": connection.vendor, **summary}))


if __name__ == "__main__":
    _main()
