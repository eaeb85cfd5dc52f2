"""Celery tasks of the exports app: thin, idempotent, time-limited; each calls one service."""

from celery import shared_task

from . import services


@shared_task(
    name="exports.tasks.build_export",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=services.SOFT_TIME_LIMIT_S,
    time_limit=services.TIME_LIMIT_S,
    autoretry_for=services.RETRYABLE,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
)
def build_export(self, export_id: int) -> str | None:
    """Build one export (idempotent: only a pending one, or a running one a killed worker left behind)."""
    final = self.request.retries >= self.max_retries
    export = services.export_build(export_id=export_id, final_attempt=final)
    return export.status if export is not None else None
