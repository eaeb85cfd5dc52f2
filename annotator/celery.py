"""The Celery app. Broker: CELERY_BROKER_URL / REDIS_URL, else kombu's filesystem transport under var/.

Heartbeats (read by /healthz/ and the study page through labeling.selectors.background_status):
- every worker records one when its consumer has connected to the broker and then every
  BACKGROUND_HEARTBEAT_SECONDS from the consumer's timer (WorkerHeartbeat below): a worker that lost the
  broker, or whose event loop is stuck, stops beating;
- beat records one as its scheduler loop ticks (HeartbeatScheduler, settings.CELERY_BEAT_SCHEDULER), at
  most every BACKGROUND_HEARTBEAT_SECONDS.
Both are written to the database (labeling.Heartbeat), which every process shares; a failed write is logged
and never stops the worker or beat.
"""

import logging
import os
import socket
import time

from celery import Celery, bootsteps
from celery.beat import PersistentScheduler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")

logger = logging.getLogger(__name__)

app = Celery("annotator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _beat_interval() -> float:
    from django.conf import settings

    return float(settings.BACKGROUND_HEARTBEAT_SECONDS)


def record_heartbeat(kind: str, name: str) -> bool:
    """Write one heartbeat from a long-running process (its own connection, closed if broken or old)."""
    from django.db import close_old_connections, connection

    from labeling.services import heartbeat_record

    try:
        if not connection.in_atomic_block:  # (a test's transaction; never so in a worker or beat)
            close_old_connections()
        heartbeat_record(kind=kind, name=name)
        return True
    except Exception:  # the database may be down: say so, keep the process running
        logger.exception("could not record the %s heartbeat", kind)
        return False


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A consumer bootstep: starts once the broker connection is up, stops when it is lost."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        self.tref = None
        super().__init__(c, **kwargs)

    def start(self, c):
        name = c.hostname
        record_heartbeat("worker", name)
        self.tref = c.timer.call_repeatedly(_beat_interval(), record_heartbeat, ("worker", name), priority=10)

    def stop(self, c):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop


app.steps["consumer"].add(WorkerHeartbeat)


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler, recording beat's heartbeat as it ticks (the loop wakes at least every
    30 s with this project's schedule)."""

    _last_heartbeat = 0.0

    def tick(self, *args, **kwargs):
        delay = super().tick(*args, **kwargs)
        if time.monotonic() - self._last_heartbeat >= _beat_interval():
            if record_heartbeat("beat", socket.gethostname()):
                self._last_heartbeat = time.monotonic()
        return delay
