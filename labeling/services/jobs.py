"""Background jobs kept as rows (agreement reports, dataset exports): one claim/release/fail discipline.

A row goes pending -> running -> done | failed. A run claims it with a conditional UPDATE (pending, or
running but started longer ago than the task's hard time limit: a killed worker), counting the attempt, so
running the task twice, or concurrently, does the work once; a row that `max_attempts` runs claimed and never
handed back is marked failed instead. A transient error hands the row back (pending, the attempt uncounted)
for the task's retry; any other error is stored as a plain-language failure. The model needs the fields
status, started_at, finished_at, duration_s, progress, progress_message, error and attempts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Model, Q, QuerySet
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from labeling.errors import Unavailable

logger = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class Jobs:
    model: type[Model]
    time_limit_s: int  # the task's hard time limit
    soft_time_limit_s: int
    max_attempts: int
    killed_error: str  # the failure stored when max_attempts runs were stopped
    noun: str = "run"  # how messages name one attempt ("run", "build")

    @property
    def stale_running(self) -> timedelta:
        """A running row started longer ago than this was killed: it may be claimed again."""
        return timedelta(seconds=self.time_limit_s + 30)

    def claimable(self, now: datetime) -> Q:
        return Q(status="pending") | Q(status="running", started_at__lt=now - self.stale_running)

    def fail_given_up(self, now: datetime, pk: int | None = None) -> int:
        """Mark failed the claimable rows that max_attempts runs claimed and never handed back."""
        qs = self.model._default_manager.filter(self.claimable(now), attempts__gte=self.max_attempts)
        if pk is not None:
            qs = qs.filter(pk=pk)
        return qs.update(status="failed", error=self.killed_error, progress_message="failed", finished_at=now)

    def claim(self, pk: int, now: datetime) -> QuerySet | None:
        """Take the row for this run (counting the attempt): the queryset of it while this run holds it, or
        None (done, failed, unknown, held by a live run, or given up: then marked failed)."""
        if self.fail_given_up(now, pk):
            return None
        rows = self.model._default_manager
        taken = rows.filter(self.claimable(now), pk=pk, attempts__lt=self.max_attempts).update(
            status="running",
            started_at=now,
            progress=0.0,
            progress_message="starting",
            error="",
            attempts=F("attempts") + 1,
        )
        return rows.filter(pk=pk, status="running", started_at=now) if taken else None

    def enqueue(
        self, task, pk: int, broker_down: str, *, countdown: float = 0.0, on_failure_delete: bool = True
    ) -> None:
        """Queue `task(pk)` once the surrounding transaction commits (outside one, at once).

        A request's enqueue (on_failure_delete) must not be answered as accepted when the broker refuses: the
        pending row it just created is deleted and Unavailable (503, `broker_down`) is raised. A scheduler's
        enqueue (on_failure_delete=False) logs the error and goes on: the row stays pending for a later requeue.
        """
        name = self.model._meta.verbose_name

        def send():
            try:
                task.apply_async((pk,), countdown=max(0.0, countdown) or None)
            except Exception as exc:  # kombu's OperationalError, a missing transport dependency, ...
                if not on_failure_delete:
                    logger.exception("could not queue %s %s; it stays pending to be queued again", name, pk)
                    return
                logger.error("could not queue %s %s: %r; it was withdrawn", name, pk, exc)
                self.model._default_manager.filter(pk=pk, status="pending", attempts=0).delete()
                raise Unavailable(broker_down) from exc

        transaction.on_commit(send, robust=not on_failure_delete)

    def release(self, mine: QuerySet) -> None:
        """Hand the row back for a retry (a transient error): this attempt does not count."""
        try:
            mine.update(
                status="pending",
                started_at=None,
                progress=0.0,
                progress_message="retrying",
                attempts=F("attempts") - 1,
            )
        except TRANSIENT_DB_ERRORS:  # the database is away: the row stays running until it is stale
            logger.warning("could not put a %s back to pending", self.model.__name__, exc_info=True)

    def error_text(self, exc: BaseException) -> str:
        if isinstance(exc, SoftTimeLimitExceeded):
            return f"The {self.noun} took longer than {self.soft_time_limit_s} s and was stopped."
        if isinstance(exc, KeyboardInterrupt):
            return f"The {self.noun} was interrupted."
        return f"{type(exc).__name__}: {exc}"

    def fail(self, mine: QuerySet, exc: BaseException, clock: float, text: str | None = None) -> None:
        mine.update(
            status="failed",
            error=(text or self.error_text(exc))[:5000],
            progress_message="failed",
            finished_at=timezone.now(),
            duration_s=time.monotonic() - clock,
        )

    @staticmethod
    def progress_saver(
        mine: QuerySet, min_interval_s: float = 0.0, via: BaseDatabaseWrapper | None = None
    ) -> Callable[[float, str], None]:
        """progress(fraction, message) saving to the row, at most once per min_interval_s. `via`: another
        connection to write through (autocommit), for a run that reads inside a long transaction of its own:
        its progress must be visible before that transaction ends."""
        last = [float("-inf")]

        def progress(fraction: float, message: str) -> None:
            now = time.monotonic()
            if now - last[0] < min_interval_s:
                return
            last[0] = now
            values = {"progress": round(min(max(fraction, 0.0), 1.0), 3), "progress_message": message[:200]}
            if via is None:
                mine.update(**values)
                return
            query = cast(UpdateQuery, mine.query.chain(UpdateQuery))
            query.add_update_values(values)
            sql, params = query.get_compiler(connection=via).as_sql()
            with via.cursor() as cursor:
                cursor.execute(sql, params)

        return progress
