"""Single-statement fast paths for the two hot writes on PostgreSQL (claim and submit).

Each is one data-modifying CTE run in autocommit: lock-free candidate choice (FOR NO KEY UPDATE SKIP LOCKED),
the counter's conditional UPDATE and the INSERT happen in one round trip, all or nothing. They return None
whenever the simple case does not hold (nothing unlocked to claim, a lease no longer active, a unique
violation); the callers then take the general ORM path, which handles every case and is what SQLite runs.
The same database constraints guard both paths; the status literals written here are checked by the database
(assignment_status_valid). settings.LABELING_PG_FAST_PATH = False turns both off (docs/benchmarks.md has the
measurement that keeps them).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from labeling.models import Annotation, Assignment, Clip, SchemeVersion

CLIP, ASSIGNMENT, ANNOTATION, SCHEME = (
    m._meta.db_table for m in (Clip, Assignment, Annotation, SchemeVersion)
)
_CLIP_FIELDS = Clip._meta.concrete_fields
_FROM_ASSIGNMENT = ("assignment_id", "study_id", "clip_id", "annotator_id", "scheme_version_id")

_CLAIM_SQL = f"""
WITH rated AS (
    SELECT EXISTS (SELECT 1 FROM {ASSIGNMENT} a WHERE a.study_id = %(study)s AND a.annotator_id = %(user)s
                   AND a.status = 'submitted') AS yes
), own_pick AS (
    SELECT a.id FROM {ASSIGNMENT} a JOIN {CLIP} c ON c.id = a.clip_id
    WHERE a.study_id = %(study)s AND a.annotator_id = %(user)s AND a.status = 'active'
      AND a.lease_expires_at > %(now)s AND c.is_active AND NOT (a.id = ANY(%(exclude)s::bigint[]))
    ORDER BY a.leased_at, a.id
    LIMIT 1
), own AS (
    UPDATE {ASSIGNMENT} a SET lease_expires_at = %(end)s
    FROM own_pick WHERE a.id = own_pick.id AND a.status = 'active'
    RETURNING a.id, a.clip_id, a.scheme_version_id, a.leased_at, a.lease_expires_at
), cand AS (
    SELECT c.id FROM {CLIP} c
    WHERE %(allow_new)s AND NOT EXISTS (SELECT 1 FROM own_pick)
      AND c.study_id = %(study)s AND c.is_active AND c.n_assigned < c.target_k
      AND NOT EXISTS (SELECT 1 FROM {ASSIGNMENT} a WHERE a.clip_id = c.id AND a.annotator_id = %(user)s)
    ORDER BY c.n_assigned, c.shuffle_key
    LIMIT 1
    FOR NO KEY UPDATE OF c SKIP LOCKED
), bump AS (
    UPDATE {CLIP} c SET n_assigned = c.n_assigned + 1
    FROM cand WHERE c.id = cand.id AND c.n_assigned < c.target_k
    RETURNING c.*
), ins AS (
    INSERT INTO {ASSIGNMENT} (study_id, clip_id, annotator_id, scheme_version_id, status, leased_at, lease_expires_at)
    SELECT %(study)s, bump.id, %(user)s,
           (SELECT id FROM {SCHEME} WHERE study_id = %(study)s ORDER BY version DESC LIMIT 1),
           'active', %(now)s, CASE WHEN (SELECT yes FROM rated) THEN %(end)s ELSE %(first_end)s END
    FROM bump
    RETURNING id, scheme_version_id, leased_at, lease_expires_at
), got AS (
    SELECT ins.id AS a_id, ins.scheme_version_id AS a_scheme, ins.leased_at AS a_leased_at,
           ins.lease_expires_at AS a_end,
           {", ".join(f"bump.{f.column} AS c_{f.column}" for f in _CLIP_FIELDS)}
    FROM ins JOIN bump ON true
    UNION ALL
    SELECT own.id, own.scheme_version_id, own.leased_at, own.lease_expires_at,
           {", ".join(f"c.{f.column}" for f in _CLIP_FIELDS)}
    FROM own JOIN {CLIP} c ON c.id = own.clip_id
)
SELECT got.a_id, got.a_leased_at, got.a_end, sv.id, sv.version, sv.spec::text, sv.created_at,
       {", ".join(f"got.c_{f.column}" for f in _CLIP_FIELDS)}
FROM got JOIN {SCHEME} sv ON sv.id = got.a_scheme
"""


def enabled() -> bool:
    """Whether the fast paths run: on PostgreSQL, unless settings.LABELING_PG_FAST_PATH is off (read per call)."""
    return connection.vendor == "postgresql" and getattr(settings, "LABELING_PG_FAST_PATH", True)


def _statement():
    """Inside an outer transaction (tests, callers' atomic blocks) a failed statement needs a savepoint."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def claim(
    *,
    study_id: int,
    user_id: int,
    exclude_ids: list[int],
    now: datetime,
    lease_end: datetime,
    first_lease_end: datetime,
    allow_new: bool = True,
) -> Assignment | None:
    """The annotator's own unexpired lease (not in `exclude_ids`), extended; else (when `allow_new`) a new
    lease on the least-covered clip they have never had, ending at `first_lease_end` until the annotator's
    first rating in the study. None when neither can be had without waiting."""
    params: dict[str, Any] = {
        "study": study_id,
        "user": user_id,
        "exclude": list(exclude_ids),
        "now": now,
        "end": lease_end,
        "first_end": first_lease_end,
        "allow_new": allow_new,
    }
    try:
        with _statement(), connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, params)
            row = cursor.fetchone()
    except IntegrityError:
        return None  # the same annotator claimed this clip from another tab at this moment
    if row is None:
        return None
    assignment_id, leased_at, lease_expires_at, scheme_id, version, spec, scheme_created_at, *clip_values = (
        row
    )
    clip = Clip.from_db(connection.alias, [f.attname for f in _CLIP_FIELDS], clip_values)
    assignment = Assignment(
        id=assignment_id,
        study_id=study_id,
        clip=clip,
        scheme_version_id=scheme_id,
        annotator_id=user_id,
        status=Assignment.Status.ACTIVE,
        leased_at=leased_at,
        lease_expires_at=lease_expires_at,
    )
    scheme = SchemeVersion(
        id=scheme_id, study_id=study_id, version=version, spec=json.loads(spec), created_at=scheme_created_at
    )
    for obj in (assignment, scheme):
        obj._state.adding, obj._state.db = False, connection.alias
    assignment.scheme_version = scheme
    return assignment


def _submit_sql(columns: list[str]) -> str:
    return f"""
WITH a AS (
    UPDATE {ASSIGNMENT} SET status = 'submitted', submitted_at = %(now)s
    WHERE id = %(assignment)s AND status = 'active'
      AND EXISTS (SELECT 1 FROM {CLIP} c WHERE c.id = {ASSIGNMENT}.clip_id AND c.is_active)
    RETURNING id, study_id, clip_id, annotator_id, scheme_version_id
), ins AS (
    INSERT INTO {ANNOTATION} ({", ".join(_FROM_ASSIGNMENT + tuple(columns))})
    SELECT a.id, a.study_id, a.clip_id, a.annotator_id, a.scheme_version_id, {", ".join(f"%({c})s" for c in columns)}
    FROM a
    RETURNING id
), bump AS (
    UPDATE {CLIP} c SET n_submitted = c.n_submitted + 1 FROM a WHERE c.id = a.clip_id
    RETURNING c.id
)
SELECT ins.id FROM ins, bump
"""


def submit(*, annotation: Annotation, now: datetime) -> Annotation | None:
    """Insert `annotation` (unsaved, fields set) if its assignment is still an active lease; else None."""
    skip = {"id", *_FROM_ASSIGNMENT}
    fields = [f for f in Annotation._meta.concrete_fields if f.attname not in skip]
    columns = [cast(str, f.column) for f in fields]  # (a concrete field always has a column)
    params: dict[str, Any] = {
        c: f.get_db_prep_save(getattr(annotation, f.attname), connection)
        for c, f in zip(columns, fields, strict=True)
    }
    params["now"], params["assignment"] = now, annotation.assignment_id
    try:
        with _statement(), connection.cursor() as cursor:
            cursor.execute(_submit_sql(columns), params)
            row = cursor.fetchone()
    except IntegrityError:
        return None  # a concurrent retry with the same submission id won; the general path replays it
    if row is None:
        return None
    annotation.pk = row[0]
    annotation._state.adding = False
    annotation._state.db = connection.alias
    return annotation
