"""Celery tasks: thin, idempotent, with time limits; each calls one service."""

from celery import shared_task
from django.db import DatabaseError

from labeling.services import leases_expire

# leases_expire handles at most this many leases per call (one short transaction each).
_MAX_BATCHES = 100


@shared_task(
    name="labeling.tasks.expire_leases",
    ignore_result=True,
    soft_time_limit=50,
    time_limit=60,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def expire_leases(study_id: int | None = None) -> int:
    """Return expired leases to the pool (beat runs it every minute; claims also expire leases on the way).

    Safe to run twice or concurrently: a lease is expired once, by whichever run gets it first.
    """
    total = 0
    for _ in range(_MAX_BATCHES):
        n = leases_expire(study_id=study_id)
        total += n
        if n == 0:
            break
    return total
