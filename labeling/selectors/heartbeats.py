"""Are the background processes alive? Read from the heartbeats labeling.services.heartbeat_record writes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone

from labeling.models import Heartbeat


def background_status(*, now: datetime | None = None) -> dict[str, Any]:
    """Are the Celery worker(s) and beat alive? Site-wide (no study data), one query.

    "worker" / "beat": "ok" (a heartbeat within BACKGROUND_STALE_SECONDS), "stale" (older) or "never";
    "workers": how many workers are ok; "worker_seen_at" / "beat_seen_at": the latest heartbeat or None.
    """
    now = now or timezone.now()
    fresh_since = now - timedelta(seconds=settings.BACKGROUND_STALE_SECONDS)
    rows: dict[str, Mapping[str, Any]] = {
        row["kind"]: row
        for row in Heartbeat.objects.order_by()
        .values("kind")
        .annotate(last=Max("seen_at"), alive=Count("id", filter=Q(seen_at__gte=fresh_since)))
    }
    status: dict[str, Any] = {}
    for kind in Heartbeat.Kind.values:
        last = rows.get(kind, {}).get("last")
        status[kind] = "never" if last is None else ("ok" if last >= fresh_since else "stale")
        status[f"{kind}_seen_at"] = last
    status["workers"] = rows.get(Heartbeat.Kind.WORKER, {}).get("alive", 0)
    return status
