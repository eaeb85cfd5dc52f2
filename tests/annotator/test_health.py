"""/healthz/ for container healthchecks, and /api/ping/, the benchmark's floor endpoint."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import MembershipFactory, StudyFactory, UserFactory, api_key_for


@pytest.mark.django_db
def test_healthz_answers_whatever_the_host(client, settings):
    settings.ALLOWED_HOSTS = ["labels.example.org"]
    response = client.get("/healthz/", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert (
        client.get("/api/me/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    )  # other paths still check hosts


@pytest.mark.django_db
def test_ping_is_one_indexed_select_after_token_auth(client):
    membership = MembershipFactory()
    auth = {"HTTP_AUTHORIZATION": f"Token {api_key_for(membership.user)}"}
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/api/ping/?study={membership.study_id}", **auth)
    assert response.status_code == 200
    assert response.json() == {"study": membership.study_id, "user": membership.user_id, "role": "annotator"}
    assert len(ctx.captured_queries) == 2  # the token (with its user), then the membership
    assert "labeling_membership" in ctx.captured_queries[1]["sql"]


@pytest.mark.django_db
def test_ping_is_scoped_to_the_requester(client):
    other_study = StudyFactory()
    auth = {"HTTP_AUTHORIZATION": f"Token {api_key_for(UserFactory())}"}
    assert client.get(f"/api/ping/?study={other_study.pk}", **auth).status_code == 404
    assert client.get("/api/ping/?study=x", **auth).status_code == 404
    assert client.get(f"/api/ping/?study={other_study.pk}").status_code == 401


@pytest.mark.django_db
def test_worker_and_beat_down_are_reported_by_healthz_without_failing_web_liveness(client, settings):
    """Issue 6, item 16: with the worker or beat down nothing noticed. /healthz/ (the web container's
    liveness) stays 200 and says so; /healthz/?full=1 (monitoring) is 503 until both are alive."""
    from datetime import timedelta

    from django.utils import timezone

    from labeling import services

    settings.BACKGROUND_STALE_SECONDS = 150
    assert client.get("/healthz/").json() == {"status": "ok", "worker": "never", "beat": "never"}
    full = client.get("/healthz/?full=1")
    assert full.status_code == 503 and full.json()["status"] == "background processes not running"
    old = timezone.now() - timedelta(seconds=600)
    services.heartbeat_record(kind="worker", name="celery@a", now=old)
    services.heartbeat_record(kind="beat", name="beat-host")
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "worker": "stale", "beat": "ok"}
    assert client.get("/healthz/?full=1").status_code == 503
    services.heartbeat_record(kind="worker", name="celery@a")
    full = client.get("/healthz/?full=1")
    assert full.status_code == 200 and full.json() == {"status": "ok", "worker": "ok", "beat": "ok"}
