"""heartbeat_record: a process not heard from for a week is forgotten (reading the status: selectors/test_ops.py)."""

import pytest

from labeling import services
from labeling.models import Heartbeat
from tests.factories import beat_at


@pytest.mark.django_db
def test_beat_forgets_processes_gone_for_a_week():
    beat_at("worker", 8 * 24 * 3600, name="celery@old-container")
    beat_at("worker", 5)
    services.heartbeat_record(kind="beat", name="beat-host")
    assert set(Heartbeat.objects.values_list("name", flat=True)) == {"celery@host-a", "beat-host"}
