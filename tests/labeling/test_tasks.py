"""Celery tasks, run directly and eagerly."""

from datetime import timedelta

from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from annotator.celery import app
from labeling import services
from labeling.models import Assignment, Clip
from labeling.services import agreement as svc
from labeling.tasks import compute_agreement, expire_leases, schedule_agreement
from tests.factories import ClipFactory


def test_expire_leases_task_returns_expired_leases_to_the_pool(study, make_annotator):
    clip = ClipFactory(study=study, target_k=1)
    lease = services.assignment_claim_next(membership=make_annotator(study))
    fresh = services.assignment_claim_next(membership=make_annotator(study))
    assert fresh is None  # K=1: the clip is taken
    Assignment.objects.filter(pk=lease.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert expire_leases() == 1
    lease.refresh_from_db()
    clip.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED and clip.n_assigned == 0
    assert expire_leases() == 0  # idempotent
    assert services.assignment_claim_next(membership=make_annotator(study)).clip_id == clip.pk


def test_expire_leases_runs_eagerly_and_leaves_live_leases_alone(study, clips, make_annotator):
    live = services.assignment_claim_next(membership=make_annotator(study))
    old = services.assignment_claim_next(membership=make_annotator(study))
    Assignment.objects.filter(pk=old.pk).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_leases.apply().get() == 1
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses == {live.pk: "active", old.pk: "expired"}
    assert sum(Clip.objects.values_list("n_assigned", flat=True)) == 1


def test_expire_leases_is_registered_and_scheduled():
    assert "labeling.tasks.expire_leases" in app.tasks
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "labeling.tasks.expire_leases" in scheduled
    assert expire_leases.time_limit and expire_leases.soft_time_limit


# ---- agreement: registered, scheduled, limited; the beat task ----


def test_tasks_are_registered_scheduled_and_limited():
    assert {"labeling.tasks.compute_agreement", "labeling.tasks.schedule_agreement"} <= set(app.tasks)
    beat = {e["task"]: e for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert beat["labeling.tasks.schedule_agreement"]["schedule"] == timedelta(seconds=30)
    assert compute_agreement.soft_time_limit < compute_agreement.time_limit == svc.TIME_LIMIT_S
    assert compute_agreement.acks_late and compute_agreement.reject_on_worker_lost
    assert OperationalError in compute_agreement.autoretry_for and compute_agreement.max_retries == 3
    assert svc.STALE_RUNNING.total_seconds() > compute_agreement.time_limit
    assert schedule_agreement.time_limit


def test_schedule_task_runs_the_beat_service(rated, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert schedule_agreement.apply().get() == 1
    assert len(sent) == 1
