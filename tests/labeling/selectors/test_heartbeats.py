"""Operational reads: background_status (worker and beat heartbeats: never, ok, stale)."""

import pytest

from labeling import selectors
from labeling.models import Heartbeat
from tests.factories import beat_at


@pytest.mark.django_db
def test_background_status_is_never_then_ok_then_stale(settings):
    settings.BACKGROUND_STALE_SECONDS = 150
    assert selectors.background_status() | {"worker_seen_at": None, "beat_seen_at": None} == {
        "worker": "never",
        "beat": "never",
        "workers": 0,
        "worker_seen_at": None,
        "beat_seen_at": None,
    }
    beat_at("worker", 10)
    beat_at("worker", 10, name="celery@host-b")
    beat_at("beat", 200, name="beat-host")
    status = selectors.background_status()
    assert (status["worker"], status["beat"], status["workers"]) == ("ok", "stale", 2)
    beat_at("worker", 400)  # the same worker, later heartbeat written with an older time: upserted
    beat_at("worker", 400, name="celery@host-b")
    assert Heartbeat.objects.filter(kind="worker").count() == 2
    assert selectors.background_status()["worker"] == "stale"
