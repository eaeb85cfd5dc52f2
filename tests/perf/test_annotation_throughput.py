"""Annotation throughput over HTTP: 16 clients running claim -> submit loops against gunicorn on PostgreSQL.

Set-up as docker-compose runs it: gunicorn with gunicorn.conf.py (gthread workers), DJANGO_ENV=production,
token auth, a study of 100,000 clips (K=3) loaded with COPY into a database of its own (the name in
DATABASE_URL must start with "bench"; it is dropped and recreated). The floor, measured in the same run by the
same clients against the same server, is GET /api/ping/ (token auth + one indexed SELECT). Rounds alternate
floor and annotation phases so that machine noise hits both alike.

Per-endpoint throughput is the rate the endpoint sustains at this concurrency, clients / mean latency (Little's
law); for the floor that equals its measured request rate. End-to-end annotations/s is reported beside it.

The PostgreSQL fast path (labeling/services/_pg.py, settings.LABELING_PG_FAST_PATH) is measured on and off in
the same run: a second gunicorn with LABELING_PG_FAST_PATH=0 serves the same database on BENCH_ORM_PORT, and each
round runs the annotation phase against both servers (in alternating order) beside the one floor phase.
Run with `make bench` (or `DATABASE_URL=postgresql://.../bench_affect pytest -m perf tests/perf -s`).
The run fails on any error response or any duplicate; a missed target is reported (docs/benchmarks.md and the
output) and fails the run only with BENCH_ENFORCE_TARGETS=1. Knobs: BENCH_SECONDS, BENCH_ROUNDS, BENCH_CLIPS,
BENCH_CLIENTS, BENCH_WEB_WORKERS, BENCH_WEB_THREADS, BENCH_PORT (default 8510), BENCH_ORM_PORT (BENCH_PORT + 1).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.perf.report import SMOKE, smoke_or, write_section

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("BENCH_PORT", 8510))
ORM_PORT = int(os.environ.get("BENCH_ORM_PORT", PORT + 1))  # the same server with the fast path off
N_CLIPS = int(os.environ.get("BENCH_CLIPS", smoke_or(100_000, 3_000)))
N_CLIENTS = int(os.environ.get("BENCH_CLIENTS", 16))
PHASE_SECONDS = float(os.environ.get("BENCH_SECONDS", smoke_or(10, 2)))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", smoke_or(3, 1)))
WEB_WORKERS = os.environ.get("BENCH_WEB_WORKERS", "4")  # docker-compose's defaults
WEB_THREADS = os.environ.get("BENCH_WEB_THREADS", "4")
K = 3
TARGET_THROUGHPUT_RATIO = 0.5  # each endpoint at least half the floor's throughput
TARGET_P95_RATIO = 2.0  # and a p95 at most twice the floor's
# The clip columns the set-up's COPY fills; every NOT NULL column of labeling_clip must be here (a test in the
# normal suite, tests/perf/test_bench_setup.py, checks it against the model, so a new column cannot rot this).
CLIP_COPY_COLUMNS = (
    "study_id", "file", "poster", "original_name", "sha256", "size_bytes", "container", "video_codec",
    "duration_s", "fps", "width", "height", "has_audio", "is_active", "target_k", "extra_k", "n_assigned",
    "n_submitted", "shuffle_key", "created_at",
)  # fmt: skip


# --------------------------------------------------------------------------- database set-up (subprocess)


def api_token(user) -> str:
    """A new API token for `user` (keys are stored hashed, so each call makes one): the one place the
    benchmarks touch the token model."""
    from labeling.services import api_token_create

    return api_token_create(user=user)[1]


def _setup_database() -> dict:
    """Migrate, then load the study, 100,000 clips (COPY), annotators and tokens. Runs in a subprocess."""
    import random

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from annotator.models import User
    from labeling import services
    from labeling.models import Membership

    call_command("migrate", verbosity=0)
    researcher = User.objects.create_user("bench-researcher", password=None)
    study = services.study_create(title="Benchmark", slug="bench", created_by=researcher, overlap_k=K)
    now = timezone.now()
    rng = random.Random(7)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY labeling_clip ({', '.join(CLIP_COPY_COLUMNS)}) FROM STDIN") as copy:
            media = (
                250_000,
                "mp4",
                "h264",
                3.0,
                25.0,
                320,
                240,
                False,
            )  # size, container, codec, s, fps, w, h, audio
            for i in range(N_CLIPS):
                names = (
                    f"clips/bench/{i}.mp4",
                    "",
                    f"clip{i}.mp4",
                    f"{i:064x}",
                )  # file, poster, name, sha256
                copy.write_row((study.pk, *names, *media, True, K, 0, 0, 0, rng.randrange(2**31), now))
        cursor.execute("ANALYZE")
    tokens = []
    for i in range(N_CLIENTS):
        user = User.objects.create_user(f"bench-annotator-{i}", password=None)
        Membership.objects.create(study=study, user=user, role="annotator", consented_at=now)
        tokens.append(api_token(user))
    return {"study_id": study.pk, "tokens": tokens, "clips": study.clips.count()}


def _verify_database(study_id: int) -> dict:
    """What the database says after the run (subprocess): duplicates, counters, totals."""
    from django.db import connection

    def one(sql: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, [study_id])
            return cursor.fetchone()[0]

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM labeling_annotation WHERE study_id = %s", [study_id])
        ids = [row[0] for row in cursor.fetchall()]
    result = {
        "annotations": one("SELECT count(*) FROM labeling_annotation WHERE study_id = %s"),
        "duplicate_pairs": one(
            "SELECT count(*) FROM (SELECT clip_id, annotator_id FROM labeling_annotation WHERE study_id = %s "
            "GROUP BY clip_id, annotator_id HAVING count(*) > 1) d"
        ),
        "duplicate_live_assignments": one(
            "SELECT count(*) FROM (SELECT clip_id, annotator_id FROM labeling_assignment WHERE study_id = %s "
            "AND status IN ('active', 'submitted') GROUP BY clip_id, annotator_id HAVING count(*) > 1) d"
        ),
        "clips_over_k": one(
            "SELECT count(*) FROM (SELECT clip_id FROM labeling_annotation WHERE study_id = %s "
            "GROUP BY clip_id HAVING count(*) > 3) d"
        ),
        "bad_counters": one(
            "SELECT count(*) FROM labeling_clip c WHERE c.study_id = %s AND (c.n_submitted <> "
            "(SELECT count(*) FROM labeling_annotation a WHERE a.clip_id = c.id) OR c.n_assigned <> "
            "(SELECT count(*) FROM labeling_assignment s WHERE s.clip_id = c.id AND s.status IN ('active', 'submitted')))"
        ),
        "annotation_ids": ids,
    }
    from django.test import override_settings

    result["statements"] = _statements_per_request(study_id)
    with override_settings(LABELING_PG_FAST_PATH=False):
        result["statements_orm"] = _statements_per_request(study_id)
    return result


def _statements_per_request(study_id: int) -> dict:
    """SQL statements (BEGIN/COMMIT included) that one ping, one claim and one submit cost, through the API."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotator.models import User

    token = api_token(User.objects.get(username="bench-annotator-0"))
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    counts = {}
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/api/ping/?study={study_id}").status_code == 200
    counts["floor"] = len(ctx)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            f"/api/studies/{study_id}/assignments/next/", {}, content_type="application/json"
        )
    assert response.status_code == 201, response.content
    counts["claim"] = len(ctx)
    data = {**RATING, "submission_id": str(uuid.uuid4())}
    with CaptureQueriesContext(connection) as ctx:
        url = f"/api/assignments/{response.json()['id']}/annotation/"
        assert client.post(url, data, content_type="application/json").status_code == 201
    counts["submit"] = len(ctx)
    return counts


def _run_django(
    command: str, env: dict, *args: str, module: str = "tests.perf.test_annotation_throughput", timeout=900
) -> dict:
    """`python -m module command args...` (a benchmark module's _main, Django set up): its last line, as JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", module, command, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        pytest.fail(f"{command} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- clients (child processes)

RATING = {
    "valence": 6,
    "arousal": 4,
    "valence_confidence": 4,
    "arousal_confidence": 3,
    "context_tags": ["setting:home", "social:alone"],
    "context_note": "",
    "time_on_task_ms": 6000,
    "watched_fraction": 1.0,
}


def _client(base_url: str, token: str, study_id: int, mode: str, start_at: float, seconds: float) -> dict:
    """One annotation client. mode "floor": GET /api/ping/; mode "annotate": claim -> submit loops."""
    import httpx

    headers = {"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"}  # as the TLS proxy sends it
    out = {"floor": [], "claim": [], "submit": [], "errors": [], "annotation_ids": []}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        http.get("/healthz/")  # open the keep-alive connection before the clock starts
        time.sleep(max(0.0, start_at - time.time()))
        end = start_at + seconds
        while time.time() < end:
            try:
                _one_request(http, study_id, mode, out)
            except httpx.TransportError as exc:  # a reset or refused connection counts as an error
                out["errors"].append(f"{mode} connection error: {exc!r}")
    out["elapsed"] = time.time() - start_at
    return out


def _one_request(http, study_id: int, mode: str, out: dict) -> None:
    """One ping (mode "floor") or one claim -> submit pair, with latencies and errors recorded in `out`."""
    if mode == "floor":
        t0 = time.perf_counter()
        r = http.get("/api/ping/", params={"study": study_id})
        out["floor"].append(time.perf_counter() - t0)
        if r.status_code != 200:
            out["errors"].append(f"ping {r.status_code} {r.text[:200]}")
        return
    t0 = time.perf_counter()
    r = http.post(f"/api/studies/{study_id}/assignments/next/", json={})
    out["claim"].append(time.perf_counter() - t0)
    if r.status_code != 201:
        out["errors"].append(f"claim {r.status_code} {r.text[:200]}")
        return
    assignment_id = r.json()["id"]
    t0 = time.perf_counter()
    r = http.post(
        f"/api/assignments/{assignment_id}/annotation/",
        json={**RATING, "submission_id": str(uuid.uuid4())},
    )
    out["submit"].append(time.perf_counter() - t0)
    if r.status_code != 201:
        out["errors"].append(f"submit {r.status_code} {r.text[:200]}")
        return
    out["annotation_ids"].append(r.json()["id"])


def _phase(
    pool, base_url: str, tokens: list[str], study_id: int, mode: str, seconds: float, lead: float = 1.0
) -> list[dict]:
    """All clients start together `lead` seconds from now and stop `seconds` later."""
    start_at = time.time() + lead
    futures = [pool.submit(_client, base_url, t, study_id, mode, start_at, seconds) for t in tokens]
    return [f.result(timeout=seconds + 120) for f in futures]


# --------------------------------------------------------------------------- the benchmark


def _pct(values: list[float], q: float) -> float:
    """The q-th percentile; NaN when a phase got no answer at all (a loaded machine in smoke mode's short
    phases), so a missed target says so instead of crashing the benchmark."""
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _stats(latencies: list[float], seconds: float) -> dict:
    mean = statistics.fmean(latencies) if latencies else float("nan")
    return {
        "n": len(latencies),
        "rate": len(latencies) / seconds,
        "capacity": N_CLIENTS / mean,  # Little's law: what this endpoint sustains with N_CLIENTS in flight
        "p50_ms": _pct(latencies, 50) * 1000,
        "p95_ms": _pct(latencies, 95) * 1000,
        "mean_ms": mean * 1000,
    }


def _bench_env(db_url: str, var_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REQUIRE_POSTGRES"))}
    env.update(
        DATABASE_URL=db_url,
        VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="annotator.settings",
        PYTHONPATH=str(ROOT),
    )
    return env


def _recreate_database(db_url: str) -> None:
    import psycopg

    parts = urlparse(db_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _wait_for_server(base_url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)

    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base_url}/healthz/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"gunicorn did not answer /healthz/ within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def _measure(pool, base_url: str, tokens: list, study_id: int, *, phase=None, rounds=None, seconds=None):
    """A warm-up, then rounds of the floor and of annotating, alternated: (warm-up rows, [(kind, rows)]).
    `phase` runs one timed phase of all clients (this module's _phase unless given)."""
    phase = phase or _phase
    # Warm-up: spawns the client processes, opens the server's database connections, loads code.
    warm = phase(pool, base_url, tokens, study_id, "annotate", smoke_or(2.0, 1.0), lead=smoke_or(5.0, 3.0))
    warm += phase(pool, base_url, tokens, study_id, "floor", 1.0)
    done = []
    for _ in range(ROUNDS if rounds is None else rounds):
        for kind in ("floor", "annotate"):
            done.append((kind, phase(pool, base_url, tokens, study_id, kind, seconds or PHASE_SECONDS)))
    return warm, done


def _start_gunicorn(env: dict, port: int, log: Path) -> subprocess.Popen:
    server_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}")
    with open(log, "w") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "annotator.wsgi"],
            cwd=ROOT,
            env=server_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def _measure_both_paths(pool, urls: dict[str, str], tokens: list, study_id: int):
    """A warm-up of both servers, then ROUNDS rounds of: the floor (on the default server), and the
    annotation phase against the fast-path server ("annotate") and the ORM-path server ("annotate-orm"), the
    two in alternating order so that drift over the run (a growing table, machine load) hits both alike."""
    warm = []
    for url in urls.values():
        warm += _phase(pool, url, tokens, study_id, "annotate", smoke_or(2.0, 1.0), lead=smoke_or(5.0, 3.0))
    warm += _phase(pool, urls["annotate"], tokens, study_id, "floor", 1.0)
    done = []
    for i in range(ROUNDS):
        done.append(("floor", _phase(pool, urls["annotate"], tokens, study_id, "floor", PHASE_SECONDS)))
        for kind in ("annotate", "annotate-orm") if i % 2 == 0 else ("annotate-orm", "annotate"):
            done.append((kind, _phase(pool, urls[kind], tokens, study_id, "annotate", PHASE_SECONDS)))
    return warm, done


def _bench_database_url() -> str:
    """DATABASE_URL, which must name a PostgreSQL database called bench_* (it is dropped and recreated)."""
    db_url = os.environ.get("DATABASE_URL", "")
    if not db_url.startswith(("postgres://", "postgresql://")):
        pytest.fail(
            "This benchmark needs PostgreSQL: set DATABASE_URL=postgresql://user@host:5432/bench_affect "
            "(`make bench` does). The database is dropped and recreated."
        )
    if not urlparse(db_url).path.lstrip("/").startswith("bench"):
        pytest.fail(
            f"Refusing to recreate {urlparse(db_url).path.lstrip('/')!r}: use a database named bench_*."
        )
    return db_url


@pytest.mark.perf
def test_annotation_throughput_against_the_floor(tmp_path):
    db_url = _bench_database_url()
    for port, knob in ((PORT, "BENCH_PORT"), (ORM_PORT, "BENCH_ORM_PORT")):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"Port {port} is in use; set {knob} to a free one.")

    t_setup = time.time()
    _recreate_database(db_url)
    env = _bench_env(db_url, tmp_path / "var")
    seeded = _run_django("setup", env)
    setup_seconds = time.time() - t_setup
    assert seeded["clips"] == N_CLIPS

    server_env = dict(
        env,
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        WEB_WORKERS=WEB_WORKERS,
        WEB_THREADS=WEB_THREADS,
        LOG_LEVEL="WARNING",
    )
    server_env.pop("LABELING_PG_FAST_PATH", None)  # the default server runs the default
    urls = {"annotate": f"http://127.0.0.1:{PORT}", "annotate-orm": f"http://127.0.0.1:{ORM_PORT}"}
    logs = {"annotate": tmp_path / "gunicorn.log", "annotate-orm": tmp_path / "gunicorn-orm.log"}
    servers = {
        "annotate": _start_gunicorn(server_env, PORT, logs["annotate"]),
        "annotate-orm": _start_gunicorn(
            dict(server_env, LABELING_PG_FAST_PATH="0"), ORM_PORT, logs["annotate-orm"]
        ),
    }
    try:
        for kind, server in servers.items():
            _wait_for_server(urls[kind], server, logs[kind])
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=N_CLIENTS, mp_context=ctx) as pool:
            warm, rounds = _measure_both_paths(pool, urls, seeded["tokens"], seeded["study_id"])
    finally:
        for server in servers.values():
            _stop(server)

    results = warm + [r for _, rs in rounds for r in rs]
    errors = [e for r in results for e in r["errors"]]
    returned_ids = [i for r in results for i in r["annotation_ids"]]
    check = _run_django("verify", env, str(seeded["study_id"]))
    assert errors == [], errors[:20]
    assert check["duplicate_pairs"] == 0 and check["duplicate_live_assignments"] == 0
    assert check["clips_over_k"] == 0 and check["bad_counters"] == 0
    assert len(returned_ids) == len(set(returned_ids)) == check["annotations"]
    assert set(returned_ids) == set(check["annotation_ids"])  # every 201 is in the database, nothing else is

    measured = PHASE_SECONDS * ROUNDS

    def stats(kind: str, key: str) -> dict:
        return _stats([x for m, rs in rounds if m == kind for r in rs for x in r[key]], measured)

    floor = stats("floor", "floor")
    claim, submit = stats("annotate", "claim"), stats("annotate", "submit")
    orm = {"claim": stats("annotate-orm", "claim"), "submit": stats("annotate-orm", "submit")}
    annotations = sum(len(r["annotation_ids"]) for m, rs in rounds if m == "annotate" for r in rs)
    per_round = [
        (m, sum(len(r["floor"] if m == "floor" else r["annotation_ids"]) for r in rs) / PHASE_SECONDS)
        for m, rs in rounds
    ]
    verdicts = {}
    for name, s in (("claim", claim), ("submit", submit)):
        tput, p95 = s["capacity"] / floor["capacity"], s["p95_ms"] / floor["p95_ms"]
        verdicts[name] = (tput, p95, tput >= TARGET_THROUGHPUT_RATIO and p95 <= TARGET_P95_RATIO)

    markdown = _report(
        floor, claim, submit, annotations / measured, per_round, verdicts, check, setup_seconds
    ) + _report_fast_path(floor, {"claim": claim, "submit": submit}, orm, check)
    write_section("annotation_throughput", markdown)
    print("\n" + markdown)
    missed = [name for name, (_, _, ok) in verdicts.items() if not ok]
    if SMOKE:
        print(
            "SMOKE MODE: small sizes; errors and integrity asserted, targets not, docs/benchmarks.md untouched"
        )
    elif missed:
        print(f"TARGETS MISSED for {', '.join(missed)} (see docs/benchmarks.md)")
    if os.environ.get("BENCH_ENFORCE_TARGETS") == "1" and not SMOKE:
        assert not missed, f"targets missed for {missed}: see docs/benchmarks.md"


def _report_fast_path(floor: dict, fast: dict, orm: dict, check: dict) -> str:
    """The fast path on and off, each as a ratio against the floor of the same run, and on ÷ off."""
    statements = {"on": check["statements"], "off": check["statements_orm"]}

    def row(label: str, paths: dict, key: str) -> str:
        c, s = paths["claim"], paths["submit"]
        return (
            f"| {label} | {c['capacity'] / floor['capacity']:.2f}× | {s['capacity'] / floor['capacity']:.2f}× | "
            f"{c['p95_ms'] / floor['p95_ms']:.2f}× | {s['p95_ms'] / floor['p95_ms']:.2f}× | "
            f"{c['p95_ms']:.1f} / {s['p95_ms']:.1f} | {statements[key]['claim']} / {statements[key]['submit']} |"
        )

    def gain(name: str) -> str:
        on, off = fast[name], orm[name]
        return (
            f"{name} throughput {on['capacity'] / off['capacity']:.2f}×, "
            f"p95 {off['p95_ms'] / on['p95_ms']:.2f}× lower"
        )

    return f"""
### The PostgreSQL fast path on and off (same run)

The annotation phase of every round ran against two servers on the same database: one as deployed
(`LABELING_PG_FAST_PATH` on: claim and submit each one SQL statement, labeling/services/_pg.py) and one with
`LABELING_PG_FAST_PATH=0` (the ORM path, what SQLite runs), in alternating order; both against the one floor.

| path | claim ÷ floor | submit ÷ floor | claim p95 ÷ floor | submit p95 ÷ floor | p95 claim / submit (ms) | SQL statements claim / submit |
|---|---:|---:|---:|---:|---:|---:|
{row("fast path on", fast, "on")}
{row("fast path off (ORM)", orm, "off")}

- On ÷ off: {gain("claim")}; {gain("submit")}.
"""


def _report(floor, claim, submit, annotations_per_s, per_round, verdicts, check, setup_seconds) -> str:
    statements = check["statements"]

    def row(name: str, s: dict, ratio: tuple | None) -> str:
        ratios = (
            f"{ratio[0]:.2f}× | {ratio[1]:.2f}× | {'met' if ratio[2] else '**missed**'}"
            if ratio
            else "1 | 1 | —"
        )
        return f"| {name} | {s['n']:,} | {s['capacity']:,.0f} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {ratios} |"

    rounds = ", ".join(f"{m} {rate:,.0f}/s" for m, rate in per_round)
    return f"""## Annotation throughput (claim → submit over HTTP)

`make bench` (tests/perf/test_annotation_throughput.py): PostgreSQL, gunicorn with `gunicorn.conf.py` as
docker-compose runs it ({WEB_WORKERS} gthread workers × {WEB_THREADS} threads, DJANGO_ENV=production), token
auth, a study of {N_CLIPS:,} clips with K={K}, {N_CLIENTS} concurrent client processes (httpx, keep-alive) on
loopback. {ROUNDS} rounds of {PHASE_SECONDS:.0f} s floor + {PHASE_SECONDS:.0f} s claim → submit loops against each
of two servers (the PostgreSQL fast path on, as deployed, and off: below), after a warm-up. The table is the
fast path as deployed. Floor: `GET /api/ping/` — the same server, authentication and clients, one indexed SELECT.
Throughput per endpoint = clients ÷ mean latency (Little's law; for the floor this is its request rate).

| endpoint | requests | throughput (req/s) | p50 (ms) | p95 (ms) | throughput ÷ floor | p95 ÷ floor | target (≥ {TARGET_THROUGHPUT_RATIO}×, ≤ {TARGET_P95_RATIO}×) |
|---|---:|---:|---:|---:|---:|---:|---|
{row("floor: GET /api/ping/", floor, None)}
{row("claim: POST …/assignments/next/", claim, verdicts["claim"])}
{row("submit: POST …/annotation/", submit, verdicts["submit"])}

- End to end: **{annotations_per_s:,.0f} annotations/s** (each a claim and a submit) with {N_CLIENTS} clients.
- Per phase: {rounds}.
- Correctness after the run: {check["annotations"]:,} annotations, every 201 response in the database and
  nothing else; duplicate (clip, annotator) pairs: {check["duplicate_pairs"]}; clips over K:
  {check["clips_over_k"]}; clip counters that disagree with the rows: {check["bad_counters"]}.
- SQL statements per request (BEGIN/COMMIT included), counted through the API after the run: floor
  {statements["floor"]}, claim {statements["claim"]}, submit {statements["submit"]}. Server, PostgreSQL and clients share
  {os.cpu_count()} CPUs here, so the ratios are close to the ratios of CPU spent per request.
- Set-up (drop/create database, migrate, COPY {N_CLIPS:,} clips): {setup_seconds:.1f} s.
"""


def _main() -> None:
    import django

    django.setup()
    command = sys.argv[1]
    if command == "setup":
        print(json.dumps(_setup_database()))
    elif command == "verify":
        print(json.dumps(_verify_database(int(sys.argv[2]))))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    _main()
