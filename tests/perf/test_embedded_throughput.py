"""The embedded default under 64 annotators: claim -> submit over HTTP against the site exactly as `make run`
serves it (SQLite in WAL mode, gunicorn with gunicorn.conf.py: one process, a bounded thread pool; the Celery
worker with beat beside it on the filesystem broker).

The run starts `make run HOST=127.0.0.1 PORT=...` itself, in a var/ folder of its own (VAR_DIR), after loading a
study of 20,000 clips (K=3) and 64 annotators with API tokens. 64 clients (8 processes × 8 threads, httpx,
keep-alive) alternate floor phases (GET /api/ping/: token auth + one indexed SELECT, the same-run baseline) and
claim -> submit phases. The run fails on any error response or reset connection, any "database is locked" in
the server's log, and any integrity fault (a duplicate (clip, annotator), a clip over K, counters that disagree
with the rows, a 201 not in the database). The target — no request anywhere near SQLite's busy timeout — is
asserted at full size; p95s are reported against the floor's.

`make bench`, or `pytest -m perf tests/perf/test_embedded_throughput.py -s` (needs no PostgreSQL).
Knobs: BENCH_EMBEDDED_CLIENTS (64), BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_EMBEDDED_CLIPS (20,000),
BENCH_EMBEDDED_PORT (8520). Smoke mode (BENCH_SMOKE=1): 2-second phases, one round, 2,000 clips, same checks.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.perf.report import SMOKE, check_target, smoke_or, write_section
from tests.perf.test_annotation_throughput import (
    K,
    _client,
    _measure,
    _pct,
    _run_django,
    _wait_for_server,
    api_token,
)

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("BENCH_EMBEDDED_PORT", 8520))
N_CLIENTS = int(os.environ.get("BENCH_EMBEDDED_CLIENTS", 64))
N_CLIPS = int(os.environ.get("BENCH_EMBEDDED_CLIPS", smoke_or(20_000, 2_000)))
PHASE_SECONDS = float(os.environ.get("BENCH_SECONDS", smoke_or(10, 2)))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", smoke_or(3, 1)))
THREADS_PER_PROCESS = 8
BUSY_TIMEOUT_S = 20.0  # settings: the SQLite busy timeout
TARGET_MAX_S = BUSY_TIMEOUT_S / 2  # no request comes anywhere near it


def _setup_database() -> dict:
    """Migrate, then a study of N_CLIPS clips and N_CLIENTS annotators with tokens (in a subprocess)."""
    from django.core.management import call_command
    from django.utils import timezone

    from annotator.models import User
    from labeling import services
    from labeling.models import Clip, Membership

    call_command("migrate", verbosity=0)
    researcher = User.objects.create_user("bench-researcher", password=None)
    study = services.study_create(title="Benchmark", slug="bench", created_by=researcher, overlap_k=K)
    now = timezone.now()
    media = dict(size_bytes=250_000, container="mp4", video_codec="h264", duration_s=3.0, fps=25.0)
    Clip.objects.bulk_create(
        (
            Clip(study=study, file=f"clips/bench/{i}.mp4", original_name=f"clip{i}.mp4", sha256=f"{i:064x}",
                 width=320, height=240, target_k=K, created_at=now, **media)
            for i in range(N_CLIPS)
        ),
        batch_size=2000,
    )  # fmt: skip
    tokens = []
    for i in range(N_CLIENTS):
        user = User.objects.create_user(f"bench-annotator-{i}", password=None)
        Membership.objects.create(study=study, user=user, role="annotator", consented_at=now)
        tokens.append(api_token(user))
    return {"study_id": study.pk, "tokens": tokens, "clips": study.clips.count()}


def _client_group(
    base_url: str, tokens: list[str], study_id: int, mode: str, start_at: float, seconds: float
):
    """THREADS_PER_PROCESS clients in one process, one thread each."""
    with ThreadPoolExecutor(max_workers=len(tokens)) as threads:
        futures = [threads.submit(_client, base_url, t, study_id, mode, start_at, seconds) for t in tokens]
        return [f.result() for f in futures]


def _phase(pool, base_url, tokens, study_id, mode, seconds, lead=1.0) -> list[dict]:
    start_at = time.time() + lead
    groups = [tokens[i : i + THREADS_PER_PROCESS] for i in range(0, len(tokens), THREADS_PER_PROCESS)]
    futures = [pool.submit(_client_group, base_url, g, study_id, mode, start_at, seconds) for g in groups]
    return [r for f in futures for r in f.result(timeout=seconds + 120)]


def _stats(latencies: list[float]) -> dict:
    return {
        "n": len(latencies),
        "p50_ms": _pct(latencies, 50) * 1000,
        "p95_ms": _pct(latencies, 95) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
        "capacity": N_CLIENTS / statistics.fmean(latencies) if latencies else float("nan"),
    }


def _env(var_dir: Path) -> dict:
    drop = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CACHE_URL", "SQLITE_PATH", "STATIC_ROOT")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("DJANGO_", "REQUIRE_POSTGRES", "WEB_", "GUNICORN_", "MAKE"))
    }
    env.update(VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="annotator.settings", PYTHONPATH=str(ROOT))
    return env


@pytest.mark.perf
def test_embedded_default_serves_64_annotators_without_errors(tmp_path):
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", PORT)) == 0:
            pytest.fail(f"Port {PORT} is in use; set BENCH_EMBEDDED_PORT to a free one.")
    env = _env(tmp_path / "var")
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.perf.test_embedded_throughput", "setup"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    seeded = json.loads(proc.stdout.strip().splitlines()[-1])
    setup_s = time.time() - t0
    assert seeded["clips"] == N_CLIPS

    log = tmp_path / "make-run.log"
    base_url = f"http://127.0.0.1:{PORT}"
    with open(log, "w") as log_file:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "run", "HOST=127.0.0.1", f"PORT={PORT}"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_server(base_url, server, log, timeout=600)  # make run first builds the demo study
        ctx = multiprocessing.get_context("spawn")
        study_id = seeded["study_id"]
        n_procs = -(-N_CLIENTS // THREADS_PER_PROCESS)
        with ProcessPoolExecutor(max_workers=n_procs, mp_context=ctx) as pool:
            warm, rounds = _measure(
                pool, base_url, seeded["tokens"], study_id, phase=_phase, rounds=ROUNDS, seconds=PHASE_SECONDS
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make, gunicorn and the worker: the session started above
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    server_log = log.read_text()

    results = warm + [r for _, rs in rounds for r in rs]
    errors = [e for r in results for e in r["errors"]]
    returned_ids = [i for r in results for i in r["annotation_ids"]]
    check = _run_django("verify", env, str(study_id))
    locked = len(re.findall(r"database is locked", server_log))
    server_errors = [line for line in server_log.splitlines() if "Traceback" in line or "[ERROR]" in line]
    assert errors == [], errors[:20]
    assert locked == 0 and server_errors == [], server_log[-4000:]
    assert check["duplicate_pairs"] == 0 and check["duplicate_live_assignments"] == 0
    assert check["clips_over_k"] == 0 and check["bad_counters"] == 0
    assert len(returned_ids) == len(set(returned_ids)) == check["annotations"]
    assert set(returned_ids) == set(check["annotation_ids"])
    assert "Crowd:" in server_log and "Site:" in server_log  # make run still tells users where to go

    floor = _stats([x for m, rs in rounds if m == "floor" for r in rs for x in r["floor"]])
    claim = _stats([x for m, rs in rounds if m == "annotate" for r in rs for x in r["claim"]])
    submit = _stats([x for m, rs in rounds if m == "annotate" for r in rs for x in r["submit"]])
    measured = PHASE_SECONDS * ROUNDS
    annotations = sum(len(r["annotation_ids"]) for m, rs in rounds if m == "annotate" for r in rs)
    slowest = max(claim["max_ms"], submit["max_ms"], floor["max_ms"]) / 1000
    markdown = _report(floor, claim, submit, annotations / measured, check, setup_s, slowest)
    write_section("embedded_throughput", markdown)
    print("\n" + markdown)
    if SMOKE:
        print(
            "SMOKE MODE: small sizes; errors and integrity asserted, the latency target not, docs untouched"
        )
    check_target(slowest < TARGET_MAX_S, f"slowest request {slowest:.1f} s (target < {TARGET_MAX_S:.0f} s)")


def _report(floor, claim, submit, annotations_per_s, check, setup_s, slowest) -> str:
    def row(name, s):
        ratio = f"{s['p95_ms'] / floor['p95_ms']:.2f}×" if s is not floor else "1"
        return (
            f"| {name} | {s['n']:,} | {s['capacity']:,.0f} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | "
            f"{s['max_ms']:.0f} | {ratio} |"
        )

    return f"""## The embedded default under 64 annotators (SQLite, served as `make run` serves it)

`make bench` (tests/perf/test_embedded_throughput.py): `make run` itself — SQLite (WAL, IMMEDIATE
transactions, busy timeout {BUSY_TIMEOUT_S:.0f} s), gunicorn with `gunicorn.conf.py` (embedded: 1 gthread worker ×
8 threads), the Celery worker with beat on the filesystem broker — with a study of {N_CLIPS:,} clips (K={K}) and
{N_CLIENTS} concurrent clients (8 processes × 8 threads, httpx, keep-alive, token auth) on loopback. {ROUNDS}
rounds of {PHASE_SECONDS:.0f} s floor (`GET /api/ping/`, the same-run baseline) + {PHASE_SECONDS:.0f} s claim →
submit loops, after a warm-up. (`manage.py runserver`, which `make run` used before, returned 500 "database is
locked" and reset connections at this load.)

| endpoint | requests | throughput (req/s) | p50 (ms) | p95 (ms) | max (ms) | p95 ÷ floor p95 |
|---|---:|---:|---:|---:|---:|---:|
{row("floor: GET /api/ping/", floor)}
{row("claim: POST …/assignments/next/", claim)}
{row("submit: POST …/annotation/", submit)}

- **0 errors** (no 5xx, no reset connection, no "database is locked" in the server log); slowest request
  {slowest:.1f} s (target: under {TARGET_MAX_S:.0f} s, half the busy timeout).
- End to end: **{annotations_per_s:,.0f} annotations/s** with {N_CLIENTS} clients. Requests beyond the 8 threads
  wait in gunicorn's queue, so latency grows with clients while throughput holds and nothing fails.
- Integrity after the run: {check["annotations"]:,} annotations, every 201 response in the database and nothing
  else; duplicate (clip, annotator) pairs: {check["duplicate_pairs"]}; clips over K: {check["clips_over_k"]};
  clip counters that disagree with the rows: {check["bad_counters"]}.
- Set-up (migrate, {N_CLIPS:,} clips, {N_CLIENTS} annotators): {setup_s:.1f} s.
"""


def _main() -> None:
    import django

    django.setup()
    if sys.argv[1] == "setup":
        print(json.dumps(_setup_database()))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")


if __name__ == "__main__":
    _main()
