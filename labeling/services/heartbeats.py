"""Heartbeats of the background processes (Celery workers and beat); read by selectors.background_status."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from labeling.models import Heartbeat

FORGET_AFTER = timedelta(days=7)  # rows of processes gone this long (old container host names) are dropped


def heartbeat_record(*, kind: str, name: str, now: datetime | None = None) -> None:
    """Say that the process `name` of `kind` (Heartbeat.Kind) is alive now: one upsert, safe from any number
    of processes at once. Beat's heartbeat also forgets processes not seen for FORGET_AFTER."""
    now = now or timezone.now()
    Heartbeat.objects.bulk_create(
        [Heartbeat(kind=kind, name=name[:200], seen_at=now)],
        update_conflicts=True,
        unique_fields=["kind", "name"],
        update_fields=["seen_at"],
    )
    if kind == Heartbeat.Kind.BEAT:
        Heartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()
