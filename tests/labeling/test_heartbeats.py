"""Heartbeats of the Celery worker and beat (issue 6, item 16): recorded from any process, read by the
study page, which says when reports and lease expiry are paused; and a request whose enqueue fails (broker
down) is not answered as accepted. The service is tested in tests/labeling/services/test_heartbeats.py, the
status read in tests/labeling/selectors/test_ops.py."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from annotator import celery as celery_module
from annotator.celery import HeartbeatScheduler, app, record_heartbeat
from labeling import selectors, services
from labeling.models import AgreementReport, Heartbeat
from labeling.services import agreement as agreement_svc
from labeling.tasks import compute_agreement
from tests.factories import MembershipFactory, StudyFactory, UserFactory, beat_at

PAUSED = "The background worker is not running: reports and lease expiry are paused."
BEAT_PAUSED = "The scheduler (Celery beat) is not running: lease expiry and automatic reports are paused."


@pytest.fixture
def broker_down(monkeypatch):
    """Publishing fails as kombu fails when Redis is unreachable."""

    def refuse(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(compute_agreement, "apply_async", refuse)


# ---- recording and reading --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_heartbeat_write_that_fails_never_stops_the_process(monkeypatch):
    def down(**kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(services, "heartbeat_record", down)
    assert record_heartbeat("worker", "celery@host-a") is False


@pytest.mark.django_db
def test_beat_scheduler_records_a_heartbeat_as_it_ticks(tmp_path, monkeypatch, settings):
    settings.BACKGROUND_HEARTBEAT_SECONDS = 30
    assert app.conf.beat_scheduler == "annotator.celery:HeartbeatScheduler"
    monkeypatch.setattr(celery_module.socket, "gethostname", lambda: "beat-host")
    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    monkeypatch.setattr(scheduler, "apply_async", lambda *a, **kw: None)  # nothing is sent in this test
    try:
        scheduler.tick()
        first = Heartbeat.objects.get(kind="beat", name="beat-host").seen_at
        scheduler.tick()  # within BACKGROUND_HEARTBEAT_SECONDS: not written again
        assert Heartbeat.objects.get(kind="beat").seen_at == first
        scheduler._last_heartbeat -= 31
        scheduler.tick()
        assert Heartbeat.objects.get(kind="beat").seen_at > first
    finally:
        scheduler.close()
    assert selectors.background_status()["beat"] == "ok"


def test_the_worker_heartbeat_bootstep_is_installed():
    assert celery_module.WorkerHeartbeat in app.steps["consumer"]


# ---- the study page ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_study_page_says_the_background_worker_is_not_running_when_its_heartbeat_is_stale(
    client, study, researcher, settings
):
    settings.BACKGROUND_STALE_SECONDS = 150
    client.force_login(researcher)
    url = reverse("study-detail", args=[study.pk])
    beat_at("worker", 600)
    beat_at("beat", 5)
    html = client.get(url).content.decode()
    assert PAUSED in html and 'data-background="worker-stale"' in html and "last heartbeat was" in html
    # the 10-second poll of the status strip says it too
    poll = client.get(url, headers={"HX-Request": "true", "HX-Target": "agreement-status"}).content.decode()
    assert PAUSED in poll
    beat_at("worker", 5)
    html = client.get(url).content.decode()
    assert PAUSED not in html and BEAT_PAUSED not in html and "data-background" not in html
    beat_at("beat", 600)
    html = client.get(url).content.decode()
    assert BEAT_PAUSED in html and 'data-background="beat-stale"' in html and PAUSED not in html


@pytest.mark.django_db
def test_study_page_says_so_when_no_worker_ever_ran(client, study, researcher):
    client.force_login(researcher)
    html = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert PAUSED in html and 'data-background="worker-never"' in html


# ---- an enqueue that fails is not answered as accepted -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_compute_now_button_with_the_broker_down_says_so_and_queues_nothing(client, broker_down):
    study = StudyFactory()
    researcher = MembershipFactory(study=study, role="researcher").user
    client.force_login(researcher)
    run = reverse("study-agreement-run", args=[study.pk])
    response = client.post(run, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and agreement_svc.BROKER_DOWN in html
    assert 'data-state="none"' in html and not AgreementReport.objects.exists()
    response = client.post(run, follow=True)  # without htmx: a message on the page it redirects to
    assert agreement_svc.BROKER_DOWN in response.content.decode()
    assert not AgreementReport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_admin_action_with_the_broker_down_says_so_and_queues_nothing(client, broker_down):
    study = StudyFactory()
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="labeling"))
    MembershipFactory(study=study, user=staff, role="researcher")
    client.force_login(staff)
    resp = client.post(
        reverse("admin:labeling_study_changelist"),
        {"action": "compute_agreement", "_selected_action": [study.pk]},
        follow=True,
    )
    html = resp.content.decode()
    assert resp.status_code == 200 and "the task queue (broker) is unreachable" in html
    assert "Agreement run queued" not in html and not AgreementReport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_beat_enqueue_with_the_broker_down_keeps_the_report_for_a_later_requeue(broker_down):
    """Beat's own enqueues are not answered to anyone: the pending report stays, and beat queues it again."""
    study = StudyFactory()
    report = AgreementReport.objects.create(
        study=study, requested_at=timezone.now(), not_before=timezone.now()
    )
    agreement_svc._enqueue(report.pk)  # logs, does not raise
    assert AgreementReport.objects.get(pk=report.pk).status == "pending"
