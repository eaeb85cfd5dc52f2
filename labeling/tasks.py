"""Celery tasks: thin, idempotent, with time limits; each calls one service."""

from celery import shared_task
from django.db import DatabaseError

from labeling.services import agreement, leases_expire

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


@shared_task(
    name="labeling.tasks.compute_agreement",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=agreement.SOFT_TIME_LIMIT_S,
    time_limit=agreement.TIME_LIMIT_S,
    autoretry_for=agreement.TRANSIENT_DB_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
)
def compute_agreement(self, report_id: int) -> str | None:
    """Compute one agreement report (idempotent: only a pending report, or a running one a killed worker
    left behind, is run; anything else is left alone). Returns the report's final status, if it ran."""
    final = self.request.retries >= self.max_retries
    report = agreement.agreement_compute(report_id=report_id, final_attempt=final)
    return report.status if report is not None else None


@shared_task(
    name="labeling.tasks.schedule_agreement",
    ignore_result=True,
    soft_time_limit=20,
    time_limit=25,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=2,
)
def schedule_agreement() -> int:
    """Beat, every 30 s: start agreement runs for studies with new labels (debounced); see
    labeling.services.agreement.agreement_schedule_due. Returns how many runs it started."""
    return len(agreement.agreement_schedule_due())
