"""GET/POST /api/studies/<id>/agreement/: the latest report with progress and staleness for the study's
researchers; 202 with the pending or running report on POST; 404 for everyone else."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling import services
from labeling.models import AgreementReport
from labeling.tasks import compute_agreement
from tests.factories import MembershipFactory, StudyFactory, UserFactory
from tests.labeling.perceived_helpers import participant, self_report
from tests.labeling.report_helpers import rate_many, study_from_matrix

DATA = [[0.5, -0.5, 0.0, 1.0], [0.25, -0.5, 0.25, 0.75], [0.5, -0.25, 0.0, 1.0]]


@pytest.fixture
def setup(db):
    study, users, clips = study_from_matrix(DATA)
    researcher = MembershipFactory(study=study, role="researcher").user
    client = APIClient()
    client.force_authenticate(researcher)
    return study, client, users, clips


def url(study_id) -> str:
    return f"/api/studies/{study_id}/agreement/"


def test_get_before_any_run(setup):
    study, client, _, _ = setup
    resp = client.get(url(study.pk))
    assert resp.status_code == 200
    assert resp.json() == {
        "study": study.pk,
        "report": None,
        "running": None,
        "failed": None,
        "stale": False,
        "current": {
            "annotation_count": 12,
            "last_annotation_id": study.annotations.order_by("-id")[0].pk,
            "self_report_count": 0,
            "last_self_report_id": 0,
        },
    }


def test_post_starts_one_run_and_get_shows_it_with_progress(setup, sent, django_capture_on_commit_callbacks):
    study, client, _, _ = setup
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url(study.pk))
        second = client.post(url(study.pk))
    assert first.status_code == second.status_code == 202
    body = first.json()
    assert body["status"] == "pending" and body["id"] == second.json()["id"]
    assert body["watermark"] is None and body["progress"] == 0.0 and "result" not in body
    assert sent == [body["id"]]
    report = AgreementReport.objects.get(pk=body["id"])
    assert report.requested_by.memberships.get(study=study).role == "researcher"

    AgreementReport.objects.filter(pk=report.pk).update(
        status="running", started_at=timezone.now(), progress=0.4, progress_message="valence: ICC"
    )
    running = client.get(url(study.pk)).json()["running"]
    assert (running["status"], running["progress"], running["progress_message"]) == (
        "running",
        0.4,
        "valence: ICC",
    )
    assert client.post(url(study.pk)).json()["id"] == report.pk  # still the one run


def test_get_returns_the_done_report_its_watermark_and_staleness(setup):
    study, client, users, clips = setup
    report = services.agreement_run_now(study=study)
    data = client.get(url(study.pk)).json()
    assert data["running"] is None and data["stale"] is False
    got = data["report"]
    assert got["id"] == report.pk and got["status"] == "done" and got["progress"] == 1.0
    assert got["watermark"] == {
        "annotation_count": 12,
        "last_annotation_id": report.watermark_last_id,
        "self_report_count": 0,
        "last_self_report_id": 0,
    }
    assert got["duration_s"] > 0 and got["error"] == ""
    valence = got["result"]["dimensions"]["valence"]
    assert (
        valence["alpha_interval"]["estimate"]
        == report.result["dimensions"]["valence"]["alpha_interval"]["estimate"]
    )
    assert set(valence) >= {"alpha_interval", "alpha_ordinal", "icc", "clips", "low_agreement", "annotators"}

    rate_many(study, [(clips[0], MembershipFactory(study=study).user, 0.0, 0.0, [])])
    data = client.get(url(study.pk) + "?result=false").json()
    assert data["stale"] is True and data["current"]["annotation_count"] == 13
    assert "result" not in data["report"] and data["report"]["id"] == report.pk


def test_the_report_carries_perceived_vs_experienced_and_the_self_report_watermark(setup, sent):
    study, client, _, clips = setup
    people = [participant(study, code) for code in ("P1", "P2", "P3")]
    values = [0.75, -0.5, 0.25, 0.5]  # observers' means: 0.416667, -0.416667, 0.083333, 0.916667
    for clip, who, value in zip(clips, people + [people[0]], values, strict=True):
        self_report(clip, who, value, 0.0)
    before = client.get(url(study.pk)).json()["current"]
    assert before["self_report_count"] == 4 and before["last_self_report_id"] > 0
    started = services.agreement_schedule_due()
    assert compute_agreement.apply(args=[started[0].pk]).get() == "done"

    data = client.get(url(study.pk)).json()
    assert data["stale"] is False
    assert data["report"]["watermark"]["self_report_count"] == 4
    section = data["report"]["result"]["perceived_vs_experienced"]
    assert section["n_clips"] == 4 and section["n_participants"] == 3
    rows = {row["clip"]: row for row in section["clips"]}
    assert rows[clips[0].pk]["valence"]["self"] == 0.75
    assert rows[clips[0].pk]["valence"]["mean"] == pytest.approx((0.5 + 0.25 + 0.5) / 3, abs=1e-6)
    assert rows[clips[0].pk]["valence"]["gap"] == pytest.approx(0.75 - 1.25 / 3, abs=1e-6)
    valence = section["dimensions"]["valence"]
    assert valence["n_clips"] == 4 and valence["pearson_r"]["n_units"] == 3
    assert valence["mean_gap"]["estimate"] == pytest.approx(
        sum(values) / 4 - (1.25 + -1.25 + 0.25 + 2.75) / 12
    )


def test_a_failed_run_shows_its_error(setup, monkeypatch):
    study, client, _, _ = setup

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("labeling.reports.build_result", boom)
    services.agreement_run_now(study=study)
    data = client.get(url(study.pk)).json()
    assert data["report"] is None and data["failed"]["error"] == "RuntimeError: out of memory"


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("who", ["annotator", "stranger", "other_researcher"])
def test_anyone_but_the_studys_researchers_gets_404(setup, sent, method, who):
    study, _, users, _ = setup
    if who == "annotator":
        user = users[0]  # an annotator of this very study
    elif who == "stranger":
        user = UserFactory()
    else:
        user = MembershipFactory(study=StudyFactory(), role="researcher").user
    client = APIClient()
    client.force_authenticate(user)
    resp = getattr(client, method)(url(study.pk))
    assert resp.status_code == 404 and resp.json()["detail"]
    assert not AgreementReport.objects.exists() and sent == []


def test_unknown_study_is_404_and_anonymous_is_refused(setup):
    study, client, _, _ = setup
    assert client.get(url(987654)).status_code == 404
    assert APIClient().get(url(study.pk)).status_code == 401


def test_superuser_may_read_any_study(setup, sent):
    study, _, _, _ = setup
    client = APIClient()
    client.force_authenticate(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(url(study.pk)).status_code == 200
    assert client.post(url(study.pk)).status_code == 202


@pytest.mark.django_db(transaction=True)
def test_agreement_post_with_the_broker_down_is_503_and_leaves_no_queued_report(monkeypatch):
    """Issue 6, item 16: the web process logged the failed enqueue and answered 202; the report then sat
    'queued' with no message in any queue."""
    from kombu.exceptions import OperationalError as BrokerError

    def refuse(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(compute_agreement, "apply_async", refuse)
    study = StudyFactory()
    researcher = MembershipFactory(study=study, role="researcher").user
    client = APIClient()
    client.force_authenticate(researcher)
    resp = client.post(url(study.pk))
    assert resp.status_code == 503
    assert resp.json() == {"detail": services.agreement.BROKER_DOWN}
    assert not AgreementReport.objects.exists()
    monkeypatch.setattr(compute_agreement, "apply_async", lambda args, **kw: None)  # the broker is back
    assert client.post(url(study.pk)).status_code == 202
    assert AgreementReport.objects.get().status == "pending"


@pytest.mark.django_db(transaction=True)
def test_agreement_post_with_an_unreachable_broker_url_is_503(monkeypatch):
    """A real publish to a Redis nobody listens on (loopback port 9, the discard port: closed)."""
    from annotator.celery import app

    unreachable = "redis://127.0.0.1:9/0"
    monkeypatch.setenv("CELERY_BROKER_URL", unreachable)  # Celery reads it before its own setting
    monkeypatch.setitem(app.conf, "broker_url", unreachable)
    monkeypatch.setitem(app.conf, "broker_transport_options", {"socket_connect_timeout": 2})
    app._pool = app.amqp._producer_pool = None
    try:
        study = StudyFactory()
        researcher = MembershipFactory(study=study, role="researcher").user
        client = APIClient()
        client.force_authenticate(researcher)
        resp = client.post(url(study.pk))
    finally:
        app.pool.force_close_all()
        app._pool = app.amqp._producer_pool = None
    assert resp.status_code == 503 and "broker" in resp.json()["detail"]
    assert not AgreementReport.objects.exists()
