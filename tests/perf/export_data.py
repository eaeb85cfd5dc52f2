"""A large study generated in PostgreSQL by set-based SQL, for the export benchmark (test_export_bench.py).

`generate_study(n_ratings=...)` writes a study into the real tables with INSERT ... SELECT generate_series
(no ORM row by row, no Python per row), so that 10 million ratings take minutes, not hours. Every database
constraint holds (checks, uniques and foreign keys are all on), and what the services keep consistent is
made consistent: each annotation has its own submitted assignment of the same clip and annotator, each clip's
n_assigned = n_submitted = target_k = K (the number of its annotations), every annotator is a consented member.

The values follow the study's default scheme (9-point SAM, 5-point confidences, 26 context tags in 4 groups):
a rating is round((clip's truth + annotator's bias + noise) * 1.5) + 5 clipped to 1..9, so that ratings of a
clip agree to a degree; ~3% say "cannot judge" (no values, no confidences, a reason); 0-3 context tags; a few
free-text notes. 70% of clips show a filmed participant (n_clips / 500 of them, some with many clips, most with
few), the others none; 4 in 5 participants consent to their self-reports being exported, and a fifth of the
clips with a participant carry one whole-clip self-report of that person (9-point SAM, with confidences). Rating ids follow submission time, and submission is breadth-first as the queue hands
clips out (every clip's first rating before any clip's second), so a clip's ratings lie far apart in the table,
as in a real study: reading them in clip order is not a sequential scan.

All randomness is a hash of the row number (hashint8extended with a fixed seed per quantity), so the data are
the same on every run. PostgreSQL only.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

K = 5
NOTES = ("noisy background", "the face is small", "two people talk at once", "lighting changes")
REASONS = ("face not visible", "too dark", "clip too short")


def _u(x: str, seed: int) -> str:
    """SQL for a uniform number in [0, 1) hashed from the bigint expression `x`."""
    return f"((hashint8extended(({x})::bigint, {seed}) & 4503599627370495)::float8 / 4503599627370496.0)"


def _n(x: str, seed: int) -> str:
    """SQL for a standard normal number hashed from `x` (Box-Muller)."""
    return f"(sqrt(-2 * ln(1 - {_u(x, seed)})) * cos(2 * pi() * {_u(x, seed + 1)}))"


def _coprime_step(n: int) -> int:
    """A multiplier coprime to n near 0.618 n: clip_index * step mod n shuffles the clips (a bijection)."""
    from math import gcd

    step = max(1, int(n * 0.6180339887))
    while gcd(step, n) != 1:
        step += 1
    return step


class _Timed:
    """A cursor that adds each statement's time to steps[first words of the statement]."""

    def __init__(self, cursor, steps: dict[str, float]):
        self.cursor, self.steps = cursor, steps

    def execute(self, sql: str, params=None):
        start = time.perf_counter()
        self.cursor.execute(sql, params)
        key = " ".join(sql.split()[:3])
        self.steps[key] = self.steps.get(key, 0.0) + time.perf_counter() - start

    def fetchone(self):
        return self.cursor.fetchone()

    def fetchall(self):
        return self.cursor.fetchall()


@contextmanager
def _indexes_rebuilt_after(cursor, tables: list[str]):
    """Drop the foreign keys, unique constraints and secondary indexes of `tables`, run the body, then create
    them again from their own definitions (the usual bulk load: one sort per index and one join per foreign
    key, instead of per-row upkeep and a deferred check per row). Re-creating them checks every row, so the
    data satisfy every constraint afterwards; inside the caller's transaction, a failure leaves the schema
    as it was."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(%(t)s::regclass[]) AND contype IN ('f', 'u') ORDER BY contype DESC, conname",
        {"t": tables},
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = ANY(%(t)s::regclass[]) AND NOT indisprimary "
        "AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0) ORDER BY 1",
        {"t": tables},
    )
    indexes = cursor.fetchall()
    for table, name, _, _ in constraints:  # foreign keys first ('f' sorts after 'u', DESC)
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    for _, definition in indexes:
        cursor.execute(definition)
    for table, name, _, definition in reversed(constraints):  # unique constraints, then foreign keys
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _base_ids(cursor, tables: list[str]) -> dict[str, int]:
    out = {}
    for table in tables:
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
        out[table] = cursor.fetchone()[0]
    return out


def _sync_sequences(cursor, tables: list[str]) -> None:
    for table in tables:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(max(id), 1) FROM {table}))"
        )


def generate_study(*, n_ratings: int, n_annotators: int = 2000, label: str = "") -> dict:
    """Create a study with `n_ratings` ratings (K = 5 per clip, n_ratings / 5 clips) by `n_annotators`
    annotators, in one transaction. Returns {"study_id", "seconds", "steps": {statement: seconds},
    "counts": {...}} (counts as the export must see them, and the invariants, each 0)."""
    from django.db import connection, transaction

    assert connection.vendor == "postgresql", "the generator writes PostgreSQL SQL"
    assert n_ratings % K == 0 and n_annotators >= K
    start = time.perf_counter()
    steps: dict[str, float] = {}
    with transaction.atomic():
        study_id = _generate(n_ratings=n_ratings, n_annotators=n_annotators, label=label, steps=steps)
    with connection.cursor() as cursor:
        # As a database in service would be: statistics, and hint bits and the visibility map set (the first
        # read after a bulk load rewrites every page; a benchmark measured once would pay it). Inside a
        # caller's transaction (a test) VACUUM cannot run: statistics only.
        vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        cursor.execute(f"{vacuum} annotator_user, labeling_membership, labeling_participant, labeling_clip")
        cursor.execute(f"{vacuum} labeling_assignment, labeling_annotation, labeling_selfreport")
    seconds = time.perf_counter() - start
    return {"study_id": study_id, "seconds": seconds, "steps": steps, "counts": study_counts(study_id)}


def _generate(*, n_ratings: int, n_annotators: int, label: str, steps: dict[str, float]) -> int:
    from django.db import connection
    from django.utils import timezone

    from annotator.models import User
    from labeling import services
    from labeling.scheme import DEFAULT_SPEC, allowed_tags

    n_clips = n_ratings // K
    n_participants = max(2, n_clips // 500)
    name = label or f"{n_ratings}"
    researcher = User.objects.create_user(f"bench-export-researcher-{name}", password=None)
    study = services.study_create(
        title=f"Export benchmark ({n_ratings:,} ratings)",
        slug=f"bench-export-{name}",
        created_by=researcher,
        overlap_k=K,
        instructions="Rate how the person in the clip seems to feel: pleasant or unpleasant, calm or activated.",
        consent_text="Your ratings are used for research on perceived affect.",
    )
    scheme_id = study.schemes.get().pk
    vocab = sorted(allowed_tags(DEFAULT_SPEC))
    t0 = timezone.now() - timezone.timedelta(days=90)
    span_s = 60 * 86400  # the ratings come in over 60 days
    tables = ["annotator_user", "labeling_participant", "labeling_clip", "labeling_assignment"]
    tables.append("labeling_annotation")
    params = {
        "study": study.pk,
        "scheme": scheme_id,
        "t0": t0,
        "A": n_annotators,
        "C": n_clips,
        "P": n_participants,
        "N": n_ratings,
        "vocab": vocab,
        "notes": list(NOTES),
        "reasons": list(REASONS),
        "step": _coprime_step(n_clips),
        "span": span_s,
    }
    with connection.cursor() as raw_cursor:
        cursor = _Timed(raw_cursor, steps)
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("LOCK TABLE labeling_clip, labeling_assignment, labeling_annotation IN EXCLUSIVE MODE")
        # Deferred foreign-key checks run now and per statement from here (ALTER TABLE refuses to run while
        # any are pending; the bulk tables' own are dropped and re-added below).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        base = _base_ids(cursor, tables)
        params.update({f"b_{t}": b for t, b in base.items()})
        # Annotators: 70% accounts, 20% invite links, 10% crowd (pseudonymous, the crowd account of this study).
        cursor.execute(
            """
            INSERT INTO annotator_user (id, password, is_superuser, username, first_name, last_name, email,
                is_staff, is_active, date_joined, is_pseudonymous, crowd_study_id, crowd_pid)
            SELECT %(b_annotator_user)s + i, '!', false, 'bench-' || %(study)s || '-' || i, '', '',
                CASE WHEN i %% 10 < 7 THEN 'annotator' || i || '@example.org' ELSE '' END, false, true, %(t0)s,
                i %% 10 >= 7, CASE WHEN i %% 10 = 9 THEN %(study)s END,
                CASE WHEN i %% 10 = 9 THEN 'PID' || lpad(i::text, 8, '0') ELSE '' END
            FROM generate_series(1, %(A)s) i
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_membership (study_id, user_id, role, joined_via, consented_at, crowd_study_id,
                crowd_session_id, created_at)
            SELECT %(study)s, %(b_annotator_user)s + i, 'annotator',
                CASE WHEN i %% 10 < 7 THEN 'account' WHEN i %% 10 < 9 THEN 'invite' ELSE 'crowd' END,
                %(t0)s, CASE WHEN i %% 10 = 9 THEN 'bench-crowd' ELSE '' END,
                CASE WHEN i %% 10 = 9 THEN 'session-' || i ELSE '' END, %(t0)s
            FROM generate_series(1, %(A)s) i
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_participant (id, study_id, code, consent_scope, consent_self_reports_export,
                consent_version, age_band, gender, created_at)
            SELECT %(b_labeling_participant)s + i, %(study)s, 'P' || lpad(i::text, 6, '0'),
                CASE WHEN i %% 4 = 0 THEN 'research use; media may be shared' ELSE 'research use' END,
                i %% 5 <> 0, '', '', '', %(t0)s
            FROM generate_series(1, %(P)s) i
            """,
            params,
        )
        with _indexes_rebuilt_after(cursor, ["labeling_clip", "labeling_assignment", "labeling_annotation"]):
            # Clips: the participant of 70% of them (skewed: a few people in many clips); K ratings each.
            cursor.execute(
                f"""
                INSERT INTO labeling_clip (id, study_id, file, poster, original_name, sha256, size_bytes, container,
                    video_codec, duration_s, fps, width, height, has_audio, participant_id, is_active, target_k,
                    extra_k, n_assigned, n_submitted, shuffle_key, created_at)
                SELECT %(b_labeling_clip)s + 1 + c, %(study)s, 'clips/bench/' || %(study)s || '/' || c || '.mp4', '',
                    'clip' || lpad(c::text, 8, '0') || '.mp4', lpad(to_hex(%(study)s::bigint * 100000000 + c), 64, '0'),
                    (150000 + {_u("c", 3)} * 2000000)::bigint, 'mp4', 'h264', round((2 + {_u("c", 5)} * 10)::numeric, 2),
                    CASE WHEN c %% 3 = 0 THEN 30 ELSE 25 END, 640, 360, c %% 5 <> 0,
                    CASE WHEN {_u("c", 7)} < 0.7 THEN %(b_labeling_participant)s + 1
                        + floor(%(P)s * power({_u("c", 8)}, 2))::bigint END,
                    true, {K}, 0, {K}, {K}, floor({_u("c", 9)} * 2147483647)::bigint, %(t0)s
                FROM generate_series(0, %(C)s - 1) c
                """,
                params,
            )
            # A table of context-tag sets (0-3 tags each, sorted) that ratings pick from.
            cursor.execute(
                f"""
                CREATE TEMP TABLE bench_tag_sets ON COMMIT DROP AS
                SELECT k, COALESCE((SELECT jsonb_agg(t ORDER BY t) FROM (
                        SELECT DISTINCT (%(vocab)s::text[])[1 + floor({_u("k * 8 + m", 12)}
                            * cardinality(%(vocab)s::text[]))::int] AS t
                        FROM generate_series(1, CASE WHEN {_u("k", 11)} < 0.25 THEN 0 WHEN {_u("k", 11)} < 0.6
                            THEN 1 WHEN {_u("k", 11)} < 0.85 THEN 2 ELSE 3 END) m) picked), '[]'::jsonb) AS tags
                FROM generate_series(0, 1023) k
                """,
                params,
            )
            # Rating g (in submission order): pass j = g / C over the clips in shuffled order (breadth-first).
            # Its clip is c = (g mod C) * step mod C; its annotator (offset + j * stride) mod A, distinct within the
            # clip because j * stride < A; the offset is skewed so that some annotators rate far more than others.
            rows = f"""
                SELECT g, c, j,
                    (floor(%(A)s * power({_u("c", 21)}, 2))::bigint
                        + j * (1 + floor({_u("c", 22)} * ((%(A)s - 1) / {K - 1})))::bigint) %% %(A)s AS a,
                    {_u("g", 23)} < 0.03 AS cj
                FROM (SELECT g, g / %(C)s AS j, ((g %% %(C)s) * %(step)s::bigint) %% %(C)s AS c
                      FROM generate_series(0, %(N)s - 1) g) s
            """
            cursor.execute(f"CREATE TEMP TABLE bench_rows ON COMMIT DROP AS {rows}", params)
            cursor.execute(
                """
                INSERT INTO labeling_assignment (id, study_id, clip_id, annotator_id, scheme_version_id, status,
                    leased_at, lease_expires_at, submitted_at)
                SELECT %(b_labeling_assignment)s + 1 + g, %(study)s, %(b_labeling_clip)s + 1 + c,
                    %(b_annotator_user)s + 1 + a, %(scheme)s, 'submitted',
                    %(t0)s + make_interval(secs => g * %(span)s::float8 / %(N)s - 60),
                    %(t0)s + make_interval(secs => g * %(span)s::float8 / %(N)s + 840),
                    %(t0)s + make_interval(secs => g * %(span)s::float8 / %(N)s)
                FROM bench_rows
                """,
                params,
            )
            raw = "least(9, greatest(1, round(({truth} + {bias} + {noise}) * 1.5) + 5))"
            raw_v = raw.format(truth=_n("c", 31), bias=f"0.3 * {_n('a', 41)}", noise=_n("g", 51))
            raw_a = raw.format(truth=f"0.8 * {_n('c', 33)}", bias=f"0.3 * {_n('a', 43)}", noise=_n("g", 53))
            conf = "least(5, greatest(1, round(3.6 + {})))::smallint"
            cursor.execute(
                f"""
                INSERT INTO labeling_annotation (id, assignment_id, study_id, clip_id, annotator_id, scheme_version_id,
                    submission_id, valence, arousal, valence_raw, arousal_raw, valence_confidence, arousal_confidence,
                    context_tags, context_note, cannot_judge, cannot_judge_reason, time_on_task_ms, watched_fraction,
                    user_agent, created_at)
                SELECT %(b_labeling_annotation)s + 1 + g, %(b_labeling_assignment)s + 1 + g, %(study)s,
                    %(b_labeling_clip)s + 1 + c, %(b_annotator_user)s + 1 + a, %(scheme)s,
                    (lpad(to_hex(%(study)s::bigint), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
                    CASE WHEN NOT cj THEN (vr - 5) / 4 END, CASE WHEN NOT cj THEN (ar - 5) / 4 END,
                    CASE WHEN NOT cj THEN vr END, CASE WHEN NOT cj THEN ar END,
                    CASE WHEN NOT cj THEN {conf.format(_n("g", 61))} END,
                    CASE WHEN NOT cj THEN {conf.format(_n("g", 63))} END,
                    t.tags,
                    CASE WHEN {_u("g", 65)} < 0.05 THEN (%(notes)s::text[])[1 + (g %% cardinality(%(notes)s::text[]))]
                        ELSE '' END,
                    cj, CASE WHEN cj THEN (%(reasons)s::text[])[1 + (g %% cardinality(%(reasons)s::text[]))] ELSE '' END,
                    (3000 + least(120000, -ln(1 - {_u("g", 67)}) * 9000))::int,
                    CASE WHEN cj THEN round((0.3 + 0.7 * {_u("g", 69)})::numeric, 3) ELSE 1.0 END,
                    'Mozilla/5.0 (X11; Linux x86_64) bench', %(t0)s + make_interval(secs => g * %(span)s::float8 / %(N)s)
                FROM (SELECT r.*, {raw_v}::float8 AS vr, {raw_a}::float8 AS ar FROM bench_rows r) r
                JOIN bench_tag_sets t ON t.k = floor({_u("g", 71)} * 1024)::int
                """,
                params,
            )
        # Self-reports: one whole-clip SAM report by the filmed person for a fifth of the clips that show one.
        cursor.execute(
            f"""
            INSERT INTO labeling_selfreport (study_id, participant_id, clip_id, start_s, end_s, instrument,
                scale_points, valence, arousal, valence_raw, arousal_raw, valence_confidence, arousal_confidence,
                confidence_points, context_tags, context_note, reported_at, source, external_id, created_at)
            SELECT %(study)s, c.participant_id, c.id, NULL, NULL, 'sam', 9, (r.v - 5) / 4, (r.a - 5) / 4, r.v, r.a,
                3, 4, 5, '["setting:home"]'::jsonb, '', %(t0)s, 'imported', '', %(t0)s
            FROM labeling_clip c
            CROSS JOIN LATERAL (SELECT least(9, greatest(1, round({_n("c.id", 83)} * 1.5) + 5))::float8 AS v,
                least(9, greatest(1, round({_n("c.id", 85)} * 1.5) + 5))::float8 AS a) r
            WHERE c.study_id = %(study)s AND c.participant_id IS NOT NULL AND {_u("c.id", 81)} < 0.2
            """,
            params,
        )
        _sync_sequences(cursor, tables)
    return study.pk


def study_counts(study_id: int) -> dict:
    """What the export of the study must hold, counted independently of the exporter, plus the invariants
    the generator promises (each 0)."""
    from django.db import connection

    queries = {
        "ratings": "SELECT count(*) FROM labeling_annotation WHERE study_id = %(s)s",
        "clips": "SELECT count(*) FROM labeling_clip WHERE study_id = %(s)s",
        # every clip is rated, so the self-reports of consenting participants are all exported
        "self_reports": "SELECT count(*) FROM labeling_selfreport r JOIN labeling_participant p "
        "ON p.id = r.participant_id WHERE r.study_id = %(s)s AND p.consent_self_reports_export",
        "clip_labels": "SELECT count(DISTINCT clip_id) FROM labeling_annotation WHERE study_id = %(s)s",
        "annotators": "SELECT count(DISTINCT annotator_id) FROM labeling_annotation WHERE study_id = %(s)s",
        "members": "SELECT count(*) FROM labeling_membership WHERE study_id = %(s)s AND role = 'annotator'",
        "participants": "SELECT count(*) FROM labeling_participant WHERE study_id = %(s)s",
        "clips_with_participant": "SELECT count(*) FROM labeling_clip WHERE study_id = %(s)s "
        "AND participant_id IS NOT NULL",
        "cannot_judge": "SELECT count(*) FROM labeling_annotation WHERE study_id = %(s)s AND cannot_judge",
        "bad_counters": "SELECT count(*) FROM labeling_clip c LEFT JOIN (SELECT clip_id, count(*) n "
        "FROM labeling_annotation WHERE study_id = %(s)s GROUP BY clip_id) a ON a.clip_id = c.id "
        "WHERE c.study_id = %(s)s AND (c.n_submitted <> COALESCE(a.n, 0) OR c.n_assigned <> COALESCE(a.n, 0))",
        "unmatched_assignments": "SELECT count(*) FROM labeling_annotation a JOIN labeling_assignment s "
        "ON s.id = a.assignment_id WHERE a.study_id = %(s)s AND (s.clip_id <> a.clip_id "
        "OR s.annotator_id <> a.annotator_id OR s.status <> 'submitted')",
        "non_members": "SELECT count(DISTINCT a.annotator_id) FROM labeling_annotation a LEFT JOIN "
        "labeling_membership m ON m.study_id = a.study_id AND m.user_id = a.annotator_id "
        "WHERE a.study_id = %(s)s AND m.id IS NULL",
    }
    out = {}
    with connection.cursor() as cursor:
        for key, sql in queries.items():
            cursor.execute(sql, {"s": study_id})
            out[key] = cursor.fetchone()[0]
    return out
