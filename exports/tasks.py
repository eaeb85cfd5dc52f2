"""Celery tasks of the exports app: thin, idempotent, time-limited; each calls one service."""

from celery import shared_task

from . import services

TIME_LIMIT_S = 30 * 60  # a 10-million-rating export takes minutes; the soft limit is 60 s earlier


@shared_task(
    name="exports.tasks.build_export",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=TIME_LIMIT_S - 60,
    time_limit=TIME_LIMIT_S,
    max_retries=3,
)
def build_export(self, export_id: int) -> str | None:
    """Build one export (idempotent: only a pending one, or a running one a killed worker left behind)."""
    final = self.request.retries >= self.max_retries
    export = services.export_build(export_id=export_id, final_attempt=final)
    return export.status if export is not None else None
