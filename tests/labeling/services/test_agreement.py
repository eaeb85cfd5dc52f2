"""Running agreement reports (labeling/services/agreement.py): watermark and staleness, debounce and one run
at a time, idempotency (twice, a killed worker, a done report), failures, the K+1 policy. The tasks are in
tests/labeling/test_tasks.py, a run through a real broker and worker in tests/labeling/test_worker.py."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from labeling import reports, selectors, services
from labeling.models import AgreementReport, Clip
from labeling.services import agreement as svc
from labeling.tasks import compute_agreement
from tests.factories import ClipFactory, MembershipFactory, StudyFactory
from tests.labeling.perceived_helpers import participant, self_report
from tests.labeling.report_helpers import rate_many


def add_rating(study, value=0.1):
    clip = ClipFactory(study=study, target_k=3)
    users = [MembershipFactory(study=study).user for _ in range(2)]
    rate_many(study, [(clip, u, value, value, []) for u in users])
    return clip


def finish(report, *, ago: float):
    AgreementReport.objects.filter(pk=report.pk).update(finished_at=timezone.now() - timedelta(seconds=ago))


# ---- watermark and staleness -----------------------------------------------------------------------------


def test_watermark_is_the_data_at_the_start_and_new_labels_make_it_stale(rated):
    report = services.agreement_run_now(study=rated)
    n = rated.annotations.count()
    assert (report.watermark_count, report.watermark_last_id) == (n, rated.annotations.order_by("-id")[0].pk)
    latest = selectors.agreement_latest(study=rated)
    assert latest["report"] == report and latest["running"] is None and latest["stale"] is False
    assert latest["current_count"] == n
    add_rating(rated)
    latest = selectors.agreement_latest(study=rated)
    assert latest["stale"] is True and latest["current_count"] == n + 2
    assert latest["report"].result["watermark"]["annotation_count"] == n


def test_watermark_is_taken_before_the_statistics(rated, monkeypatch):
    """Labels arriving while the statistics run are not in the report, and the report is then stale."""
    real = reports.build_result

    def slow(ratings, **kwargs):
        add_rating(rated)  # arrives mid-run
        return real(ratings, **kwargs)

    monkeypatch.setattr(reports, "build_result", slow)
    report = services.agreement_run_now(study=rated)
    assert report.watermark_count == rated.annotations.count() - 2
    assert selectors.agreement_latest(study=rated)["stale"] is True


# ---- debounce, one at a time -------------------------------------------------------------------------------


def test_two_requests_make_one_pending_report_and_one_message(
    rated, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first, created = services.agreement_request(study=rated)
        second, created_again = services.agreement_request(study=rated)
    assert created and not created_again and first == second
    assert AgreementReport.objects.filter(study=rated).count() == 1 and first.status == "pending"
    assert sent == [first.pk]


def test_the_database_allows_one_open_report_per_study(rated):
    AgreementReport.objects.create(study=rated)
    with pytest.raises(IntegrityError), transaction.atomic():
        AgreementReport.objects.create(study=rated, status="running")
    AgreementReport.objects.create(study=rated, status="done")  # finished ones are not limited


def test_beat_starts_one_run_for_new_labels_and_none_twice(rated, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        started = services.agreement_schedule_due()
        again = services.agreement_schedule_due()
    assert len(started) == 1 and again == [] and sent == [started[0].pk]
    assert AgreementReport.objects.get(study=rated).status == "pending"


def test_beat_waits_30_s_after_the_last_run_and_skips_unchanged_data(rated, sent):
    report = services.agreement_run_now(study=rated)
    assert services.agreement_schedule_due() == []  # nothing new
    add_rating(rated)
    finish(report, ago=10)
    assert services.agreement_schedule_due() == []  # new data, but the last run finished 10 s ago
    finish(report, ago=31)
    started = services.agreement_schedule_due()
    assert [r.study_id for r in started] == [rated.pk]


def test_beat_does_not_retry_a_failed_run_on_the_same_data(rated, sent, monkeypatch):
    monkeypatch.setattr(reports, "build_result", lambda *a, **k: 1 / 0)
    failed = services.agreement_run_now(study=rated)
    finish(failed, ago=60)
    assert failed.status == "failed" and services.agreement_schedule_due() == []
    add_rating(rated)
    assert len(services.agreement_schedule_due()) == 1


def test_a_manual_request_soon_after_a_run_is_queued_for_later(
    rated, sent, django_capture_on_commit_callbacks
):
    report = services.agreement_run_now(study=rated)
    finish(report, ago=10)
    with django_capture_on_commit_callbacks(execute=True):
        pending, created = services.agreement_request(study=rated)
    assert created and 19 <= (pending.not_before - timezone.now()).total_seconds() <= 21


def test_lost_messages_and_killed_runs_are_queued_again(rated, sent, django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(minutes=10)
    report = AgreementReport.objects.create(study=rated, not_before=old)
    with django_capture_on_commit_callbacks(execute=True):
        services.agreement_schedule_due()
    assert sent == [report.pk]
    report.refresh_from_db()
    assert report.not_before > old  # not again at the next tick
    with django_capture_on_commit_callbacks(execute=True):
        services.agreement_schedule_due()
    assert sent == [report.pk]


# ---- idempotency ---------------------------------------------------------------------------------------------


def test_running_the_task_twice_computes_once(rated):
    report, _ = services.agreement_request(study=rated, enqueue=False)
    assert compute_agreement.apply(args=(report.pk,)).get() == "done"
    done = AgreementReport.objects.get(pk=report.pk)
    assert compute_agreement.apply(args=(report.pk,)).get() is None
    again = AgreementReport.objects.get(pk=report.pk)
    assert (again.finished_at, again.result, again.duration_s) == (
        done.finished_at,
        done.result,
        done.duration_s,
    )
    assert done.progress == 1.0 and done.progress_message == "done" and done.duration_s > 0


def test_a_killed_worker_leaves_a_running_report_that_a_rerun_completes(rated):
    report, _ = services.agreement_request(study=rated, enqueue=False)
    killed_at = timezone.now() - svc.STALE_RUNNING - timedelta(seconds=1)
    AgreementReport.objects.filter(pk=report.pk).update(status="running", started_at=killed_at, progress=0.4)
    assert compute_agreement.apply(args=(report.pk,)).get() == "done"
    report.refresh_from_db()
    assert report.status == "done" and report.started_at > killed_at and report.result["n_annotations"] == 14


def test_a_run_in_progress_elsewhere_is_left_alone(rated):
    report, _ = services.agreement_request(study=rated, enqueue=False)
    started = timezone.now() - timedelta(seconds=20)
    AgreementReport.objects.filter(pk=report.pk).update(status="running", started_at=started)
    assert services.agreement_compute(report_id=report.pk) is None
    report.refresh_from_db()
    assert report.status == "running" and report.started_at == started and report.result is None


def test_a_done_report_is_never_recomputed(rated):
    report = services.agreement_run_now(study=rated)
    AgreementReport.objects.filter(pk=report.pk).update(result={"kept": True})
    add_rating(rated)
    assert services.agreement_compute(report_id=report.pk) is None
    assert AgreementReport.objects.get(pk=report.pk).result == {"kept": True}
    assert services.agreement_compute(report_id=123456) is None  # unknown id: nothing to do


def test_progress_is_saved_as_the_run_goes(rated, monkeypatch):
    seen = []
    real = reports.build_result

    def watching(ratings, progress, **kwargs):
        def spy(fraction, message):
            progress(fraction, message)
            seen.append(AgreementReport.objects.values_list("progress", "progress_message").get(study=rated))

        return real(ratings, progress=spy, **kwargs)

    monkeypatch.setattr(reports, "build_result", watching)
    services.agreement_run_now(study=rated)
    fractions = [f for f, _ in seen]
    assert len(seen) >= 5 and fractions == sorted(fractions) and 0.1 <= fractions[0] < fractions[-1] < 1
    assert any("bootstrap" in m for _, m in seen) and any("tags" in m for _, m in seen)


# ---- failures -------------------------------------------------------------------------------------------------


def test_a_failure_is_stored_with_its_error_text(rated, monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("no pairable values")

    monkeypatch.setattr(reports, "build_result", boom)
    report, _ = services.agreement_request(study=rated, enqueue=False)
    assert compute_agreement.apply(args=(report.pk,)).get() == "failed"
    report.refresh_from_db()
    assert report.status == "failed" and report.error == "ValueError: no pairable values"
    assert report.finished_at and report.duration_s is not None and report.result is None
    assert report.watermark_count == rated.annotations.count()
    latest = selectors.agreement_latest(study=rated)
    assert latest["failed"] == report and latest["report"] is None and latest["running"] is None


def test_a_transient_database_error_puts_the_report_back_for_a_retry(rated, monkeypatch):
    def flaky(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(reports, "build_result", flaky)
    report, _ = services.agreement_request(study=rated, enqueue=False)
    with pytest.raises(OperationalError):
        services.agreement_compute(report_id=report.pk, final_attempt=False)
    report.refresh_from_db()
    assert report.status == "pending" and report.started_at is None
    assert services.agreement_compute(report_id=report.pk, final_attempt=True).status == "failed"


def test_soft_time_limit_is_reported_plainly(rated, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(reports, "build_result", slow)
    report = services.agreement_run_now(study=rated)
    assert report.status == "failed" and "took longer than" in report.error


def test_old_finished_reports_are_pruned(rated):
    for _ in range(svc.KEEP_FINISHED + 3):
        services.agreement_run_now(study=rated)
    assert AgreementReport.objects.filter(study=rated).count() == svc.KEEP_FINISHED


# ---- K+1 policy ------------------------------------------------------------------------------------------------


def test_k_plus_one_policy_extends_disputed_clips_once_and_up_to_the_cap(db):
    study = StudyFactory(overlap_k=2, extra_annotator_sd_threshold=0.3, extra_annotator_cap_k=3)
    users = [MembershipFactory(study=study).user for _ in range(4)]
    calm, disputed, single = ClipFactory.create_batch(3, study=study, target_k=2)
    rate_many(
        study,
        [
            (calm, users[0], 0.5, 0.5, []),
            (calm, users[1], 0.5, 0.25, []),
            (disputed, users[0], -1.0, 0.0, []),
            (disputed, users[1], 1.0, 0.0, []),
            (single, users[0], 1.0, 1.0, []),
        ],
    )
    first = services.agreement_run_now(study=study).result["policy"]
    assert first["clips_extended"] == first["clips_extended_now"] == [disputed.pk]
    assert (first["threshold_sd"], first["cap_k"]) == (0.3, 3)
    targets = dict(Clip.objects.values_list("pk", "target_k"))
    assert targets == {calm.pk: 2, disputed.pk: 3, single.pk: 2}

    again = services.agreement_run_now(study=study).result["policy"]  # same data: nothing twice
    assert again["clips_extended_now"] == [] and Clip.objects.get(pk=disputed.pk).target_k == 3
    assert again["clips_extended"] == [disputed.pk]  # still waiting for its extra annotator

    rate_many(study, [(disputed, users[2], 0.0, 0.0, [])])  # the extra annotator came; still disputed
    third = services.agreement_run_now(study=study).result["policy"]
    assert third["clips_extended"] == [] and Clip.objects.get(pk=disputed.pk).target_k == 3  # the cap


def test_k_plus_one_cap_defaults_to_k_plus_one_and_policy_off_changes_nothing(db):
    study = StudyFactory(overlap_k=2)
    users = [MembershipFactory(study=study).user for _ in range(2)]
    clip = ClipFactory(study=study, target_k=2)
    rate_many(study, [(clip, users[0], -1.0, -1.0, []), (clip, users[1], 1.0, 1.0, [])])
    off = services.agreement_run_now(study=study).result["policy"]
    assert off == {"threshold_sd": None, "cap_k": None, "clips_extended": []}
    study.extra_annotator_sd_threshold = 0.5
    study.save()
    on = services.agreement_run_now(study=study).result["policy"]
    assert on["cap_k"] == 3 and on["clips_extended"] == [clip.pk]


# ---- review 3: withdrawals, retried policy, killed runs ----------------------------------------------------------


def test_withdrawing_every_rated_participant_replaces_the_report_with_an_empty_one(rated, sent):
    from labeling.models import Participant

    participant = Participant.objects.create(study=rated, code="P1")
    Clip.objects.filter(study=rated).update(participant=participant)
    report = services.agreement_run_now(study=rated)
    assert report.result["n_annotations"] == 14
    services.participant_withdraw(participant=participant)
    finish(report, ago=60)
    started = services.agreement_schedule_due()
    assert [r.study_id for r in started] == [rated.pk]
    empty = services.agreement_compute(report_id=started[0].pk)
    assert empty.status == "done" and empty.result["n_annotations"] == 0 and empty.watermark_count == 0
    latest = selectors.agreement_latest(study=rated)
    assert latest["report"].pk == empty.pk and not latest["stale"]
    finish(empty, ago=60)
    assert services.agreement_schedule_due() == []  # nothing left and nothing changed: no run again


def test_a_run_killed_three_times_fails_plainly_and_unblocks_the_study(rated, sent):
    report, _ = services.agreement_request(study=rated, enqueue=False)
    for attempt in range(
        1, svc.MAX_ATTEMPTS + 1
    ):  # each run claims it, then the worker dies at the hard limit
        assert svc.JOBS.claim(report.pk, timezone.now()) is not None
        assert AgreementReport.objects.get(pk=report.pk).attempts == attempt
        killed_at = timezone.now() - svc.STALE_RUNNING - timedelta(seconds=1)
        AgreementReport.objects.filter(pk=report.pk).update(started_at=killed_at)
    assert services.agreement_compute(report_id=report.pk) is None
    report.refresh_from_db()
    assert report.status == "failed" and "stopped 3 times (time limit or worker loss)" in report.error
    assert report.finished_at is not None and report.result is None
    assert services.agreement_request(study=rated, enqueue=False)[1]  # the study is not blocked


def test_beat_gives_up_on_a_report_killed_three_times(rated, sent):
    old = timezone.now() - timedelta(minutes=20)
    report = AgreementReport.objects.create(
        study=rated, status="running", started_at=old, not_before=old, attempts=svc.MAX_ATTEMPTS
    )
    services.agreement_schedule_due()
    report.refresh_from_db()
    assert report.status == "failed" and "time limit or worker loss" in report.error and sent == []


def test_a_transient_error_hands_the_attempt_back(rated, monkeypatch):
    def flaky(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(reports, "build_result", flaky)
    report, _ = services.agreement_request(study=rated, enqueue=False)
    with pytest.raises(OperationalError):
        services.agreement_compute(report_id=report.pk, final_attempt=False)
    assert AgreementReport.objects.get(pk=report.pk).attempts == 0
    monkeypatch.undo()
    done = services.agreement_compute(report_id=report.pk)
    assert done.status == "done" and done.attempts == 1


def test_a_retried_run_still_reports_the_clip_its_failed_attempt_extended(db, monkeypatch):
    study = StudyFactory(overlap_k=2, extra_annotator_sd_threshold=0.3, extra_annotator_cap_k=3)
    users = [MembershipFactory(study=study).user for _ in range(2)]
    clip = ClipFactory(study=study, target_k=2)
    rate_many(study, [(clip, users[0], -1.0, 0.0, []), (clip, users[1], 1.0, 0.0, [])])
    report, _ = services.agreement_request(study=study, enqueue=False)
    real_apply, calls = svc._apply_policy, []

    def apply_then_blip(study, ratings):  # the policy commits, then the final save hits a database blip
        out = real_apply(study, ratings)
        if not calls:
            calls.append(out)
            raise OperationalError("connection reset")
        return out

    monkeypatch.setattr(svc, "_apply_policy", apply_then_blip)
    with pytest.raises(OperationalError):
        svc.agreement_compute(report_id=report.pk, final_attempt=False)
    done = svc.agreement_compute(report_id=report.pk, final_attempt=True)
    assert Clip.objects.get(pk=clip.pk).target_k == 3
    assert done.status == "done" and done.result["policy"]["clips_extended"] == [clip.pk]
    assert done.result["policy"]["clips_extended_now"] == []


# ---- self-reports in the watermark -------------------------------------------------------------------------


def test_a_new_self_report_alone_makes_the_report_stale_and_beat_starts_a_run(rated, sent):
    report = services.agreement_run_now(study=rated)
    assert (report.watermark_self_report_count, report.watermark_last_self_report_id) == (0, 0)
    finish(report, ago=60)
    assert services.agreement_schedule_due() == []  # nothing new
    clip = rated.clips.order_by("pk")[0]
    own = self_report(clip, participant(rated, "P-9"), 0.5, -0.5)  # imported; no new label
    latest = selectors.agreement_latest(study=rated)
    assert latest["stale"] is True and latest["new_self_reports"] == 1
    assert latest["current_count"] == report.watermark_count  # the labels did not change
    started = services.agreement_schedule_due()
    assert [r.study_id for r in started] == [rated.pk]
    done = svc.agreement_compute(report_id=started[0].pk, n_resamples=20)
    assert (done.watermark_self_report_count, done.watermark_last_self_report_id) == (1, own.pk)
    assert done.result["perceived_vs_experienced"]["n_self_reports"] == 1
    finish(done, ago=60)
    assert services.agreement_schedule_due() == [] and not selectors.agreement_latest(study=rated)["stale"]


def test_a_withdrawn_self_report_changes_the_watermark_too(rated, sent):
    clip = rated.clips.order_by("pk")[0]
    who = participant(rated, "P-9")
    self_report(clip, who, 0.5, -0.5)
    report = services.agreement_run_now(study=rated, n_resamples=20)
    finish(report, ago=60)
    assert services.agreement_schedule_due() == []
    type(who).objects.filter(pk=who.pk).update(withdrawn_at=timezone.now())  # their reports stop counting
    assert selectors.agreement_latest(study=rated)["stale"] is True
    assert len(services.agreement_schedule_due()) == 1


def test_a_report_from_before_self_reports_were_watermarked_reads_as_none_used(rated, sent):
    report = services.agreement_run_now(study=rated, n_resamples=20)
    AgreementReport.objects.filter(pk=report.pk).update(
        watermark_self_report_count=None, watermark_last_self_report_id=None
    )
    finish(report, ago=60)
    assert services.agreement_schedule_due() == [] and not selectors.agreement_latest(study=rated)["stale"]


def test_a_study_with_self_reports_and_no_labels_gets_a_report(db, sent):
    study = StudyFactory()
    self_report(ClipFactory(study=study), participant(study, "P-1"), 0.25, 0.25)
    started = services.agreement_schedule_due()
    assert [r.study_id for r in started] == [study.pk]
