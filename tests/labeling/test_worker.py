"""A real broker and a real Celery worker (not eager): an agreement report requested through the service is
computed by the worker, and a running worker records the heartbeat /healthz/ reports."""

import signal
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from annotator.celery import app
from labeling import selectors, services
from tests.labeling.report_helpers import SMALL_STUDY, study_from_matrix


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging: SIGALRM interrupts any wait in the main thread."""

    def expire(signum, frame):
        raise TimeoutError(f"the worker test took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def drop_pools():
    """Forget the app's broker connection and producer pools (made for the old transport options)."""
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def own_broker_folder(tmp_path):
    """With the filesystem broker, a folder of this test's own (others' workers must not take our message)."""
    conf = app.conf
    if not str(conf.broker_url).startswith("filesystem"):
        yield
        return
    saved = conf.broker_transport_options
    drop_pools()
    for sub in ("in", "processed", "control"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    folder = str(tmp_path / "in")
    conf.broker_transport_options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "processed_folder": str(tmp_path / "processed"),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    try:
        yield
    finally:
        app.pool.force_close_all()  # this test's pool
        drop_pools()
        conf.broker_transport_options = saved


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_computes_a_requested_report(tmp_path):
    study, _, _ = study_from_matrix(SMALL_STUDY)
    app.conf.task_always_eager = False
    with deadline(120), own_broker_folder(tmp_path):
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=20, loglevel="WARNING"
        ):
            report, created = services.agreement_request(study=study)  # autocommit: sent at once
            assert created
            stop = time.monotonic() + 60
            while time.monotonic() < stop:
                report.refresh_from_db()
                if report.status in ("done", "failed"):
                    break
                time.sleep(0.1)
    assert report.status == "done", (report.status, report.error, report.progress_message)
    assert report.result["n_annotations"] == 14 and report.watermark_count == 14
    assert report.result["dimensions"]["valence"]["alpha_interval"]["estimate"] is not None


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_a_heartbeat_that_healthz_reports(tmp_path, client):
    """Issue 6, item 16: nothing noticed a dead worker. A running worker now records heartbeats (a consumer
    bootstep, in the database every process reads); /healthz/ reports it."""
    from labeling.models import Heartbeat

    app.conf.task_always_eager = False
    assert client.get("/healthz/").json()["worker"] == "never"
    with deadline(120), own_broker_folder(tmp_path):
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=20, loglevel="WARNING"
        ) as worker:
            stop = time.monotonic() + 30
            while not Heartbeat.objects.filter(kind="worker").exists() and time.monotonic() < stop:
                time.sleep(0.1)
            beat = Heartbeat.objects.get(kind="worker")
            assert beat.name == worker.hostname
            assert timezone.now() - beat.seen_at < timedelta(seconds=30)
            assert client.get("/healthz/").json()["worker"] == "ok"
            assert selectors.background_status()["workers"] == 1
