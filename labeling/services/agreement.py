"""Agreement reports: requesting a run (debounced, one at a time per study), running it, the K+1 policy.

A report goes pending -> running -> done | failed. The database allows one pending-or-running report per
study (constraint agreement_report_one_open_per_study); that, not the check before it, prevents two runs.
A run claims its report with a conditional UPDATE (pending, or running but started longer ago than the
task's hard time limit: a killed worker), so running the task twice, or concurrently, computes once, and a
done report is never touched again. The watermark (count and highest id of the annotations, and of the
self-reports, that count) is taken from the data the run loads at its start; a report whose watermark
differs from the study's current one is stale.

Nothing here runs on the annotation submit path (nor on a self-report's import): new labels and new
self-reports are noticed by `agreement_schedule_due`, which Celery beat runs every 30 s.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from labeling.models import AgreementReport, Clip, Study
from labeling.selectors import annotations_for_analysis, self_reports_for_analysis

from .jobs import TRANSIENT_DB_ERRORS, Jobs

logger = logging.getLogger(__name__)

DEBOUNCE = timedelta(seconds=30)  # at most one run per study every 30 s
TIME_LIMIT_S = 300  # the compute task's hard time limit (the soft one is 30 s earlier)
SOFT_TIME_LIMIT_S = TIME_LIMIT_S - 30
MAX_ATTEMPTS = 3  # runs stopped without finishing (hard time limit, lost worker) before the report fails
KILLED_ERROR = (
    f"The run was stopped {MAX_ATTEMPTS} times (time limit or worker loss) before it could finish, so it was "
    "given up. Request a new run, or run `manage.py compute_agreement` for a large study."
)
JOBS = Jobs(AgreementReport, TIME_LIMIT_S, SOFT_TIME_LIMIT_S, MAX_ATTEMPTS, KILLED_ERROR)
STALE_RUNNING = JOBS.stale_running  # a run older than this was killed: it may be redone
REKICK_AFTER = timedelta(minutes=5)  # an open report queued this long ago and not finished is queued again
KEEP_FINISHED = 10  # finished reports kept per study (results can be megabytes)

Status = AgreementReport.Status
FINISHED = (Status.DONE, Status.FAILED)


def _open(study_id: int) -> QuerySet[AgreementReport]:
    return AgreementReport.objects.filter(study_id=study_id, status__in=AgreementReport.OPEN)


BROKER_DOWN = (
    "The agreement run could not be queued: the task queue (broker) is unreachable. Nothing was started; "
    "try again in a moment, and tell the platform operator if it persists."
)


def _enqueue(report_id: int, countdown: float = 0.0, *, on_failure_delete: bool = False) -> None:
    """Queue the compute task once the surrounding transaction commits (Jobs.enqueue). Beat's enqueues
    (on_failure_delete=False) leave the report pending: `agreement_schedule_due` queues it again REKICK_AFTER
    later. A request's enqueue deletes the report it just created and raises Unavailable (503)."""
    from labeling.tasks import compute_agreement  # the tasks module imports this one

    JOBS.enqueue(
        compute_agreement, report_id, BROKER_DOWN, countdown=countdown, on_failure_delete=on_failure_delete
    )


def agreement_request(
    *, study: Study, requested_by=None, enqueue: bool = True, now: datetime | None = None
) -> tuple[AgreementReport, bool]:
    """Ask for a run now: returns (the open report, False) if one is pending or running, else
    (a new pending report, True), queued to start when the last run is at least DEBOUNCE old.

    Raises Unavailable (503) if the broker refuses the message; the new report is then deleted, so nothing
    is left queued that no worker will ever see (called outside a transaction, as requests are)."""
    now = now or timezone.now()
    existing = _open(study.pk).first()
    if existing is not None:
        return existing, False
    last = (
        AgreementReport.objects.filter(study=study, status__in=FINISHED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    not_before = max(now, last + DEBOUNCE) if last else now
    try:
        with transaction.atomic():
            report = AgreementReport.objects.create(
                study=study, requested_by=requested_by, requested_at=now, not_before=not_before
            )
    except IntegrityError:  # a concurrent request won: the constraint allows one open report
        existing = _open(study.pk).first()
        if existing is None:
            raise
        return existing, False
    if enqueue:
        _enqueue(report.pk, (not_before - now).total_seconds(), on_failure_delete=True)
    return report, True


def agreement_schedule_due(*, now: datetime | None = None) -> list[AgreementReport]:
    """Beat's work (every 30 s): start a run for each study whose annotations or self-reports changed since
    its latest finished report, that has no open report, and whose last run finished at least DEBOUNCE ago;
    and queue again open reports whose message seems lost. One query to find the studies, whatever their
    number. (A report made before self-reports were watermarked reads as having used none.)"""
    now = now or timezone.now()
    _requeue_stuck(now)
    finished = AgreementReport.objects.filter(study=OuterRef("pk"), status__in=FINISHED).order_by(
        "-finished_at", "-id"
    )
    annotations = annotations_for_analysis(study=OuterRef("pk")).order_by().values("study")
    own = self_reports_for_analysis(study=OuterRef("pk")).order_by().values("study")
    studies = (
        Study.objects.annotate(
            has_open=Exists(
                AgreementReport.objects.filter(study=OuterRef("pk"), status__in=AgreementReport.OPEN)
            ),
            last_finished=Subquery(finished.values("finished_at")[:1]),
            last_count=Subquery(finished.values("watermark_count")[:1]),
            last_id=Subquery(finished.values("watermark_last_id")[:1]),
            n_now=Subquery(annotations.annotate(n=Count("id")).values("n"), output_field=IntegerField()),
            last_now=Subquery(annotations.annotate(m=Max("id")).values("m")),
            last_own_count=Subquery(finished.values("watermark_self_report_count")[:1]),
            last_own_id=Subquery(finished.values("watermark_last_self_report_id")[:1]),
            own_now=Subquery(own.annotate(n=Count("id")).values("n"), output_field=IntegerField()),
            own_last_now=Subquery(own.annotate(m=Max("id")).values("m")),
        )
        # a study whose annotations all went (withdrawals) still gets a run, so an empty report replaces
        # the last one rather than the stale one staying up
        .filter(
            Q(n_now__gt=0) | Q(last_count__gt=0) | Q(own_now__gt=0) | Q(last_own_count__gt=0),
            has_open=False,
        )
        .filter(Q(last_finished__isnull=True) | Q(last_finished__lte=now - DEBOUNCE))
        .order_by("pk")
    )
    started = []
    for study in studies:
        used = (study.last_count, study.last_id, study.last_own_count or 0, study.last_own_id or 0)
        if used == (study.n_now or 0, study.last_now or 0, study.own_now or 0, study.own_last_now or 0):
            continue
        try:
            with transaction.atomic():
                report = AgreementReport.objects.create(study=study, requested_at=now, not_before=now)
        except IntegrityError:  # a manual request got there first
            continue
        _enqueue(report.pk)
        started.append(report)
    return started


def _requeue_stuck(now: datetime) -> int:
    """Queue again open reports queued REKICK_AFTER ago that no worker finished: pending ones (a lost
    message) and running ones older than STALE_RUNNING (a killed worker). Duplicates are harmless. A report
    whose runs were stopped MAX_ATTEMPTS times is marked failed instead, so it does not block the study."""
    JOBS.fail_given_up(now)
    stuck = AgreementReport.objects.filter(not_before__lt=now - REKICK_AFTER).filter(
        Q(status=Status.PENDING) | Q(status=Status.RUNNING, started_at__lt=now - STALE_RUNNING)
    )
    ids = list(stuck.values_list("pk", flat=True)[:100])
    AgreementReport.objects.filter(pk__in=ids).update(not_before=now)
    for report_id in ids:
        _enqueue(report_id)
    return len(ids)


def agreement_compute(
    *, report_id: int, final_attempt: bool = True, n_resamples: int | None = None
) -> AgreementReport | None:
    """Run a pending report (or a running one a killed worker left behind). Returns the finished report,
    or None when there was nothing to do (done, failed, unknown, or running elsewhere).

    Progress is saved as the run goes. Failures are stored with their error text; a transient database
    error puts the report back to pending and is raised again so the task retries (unless
    `final_attempt`, when it is stored as a failure).
    """
    mine = JOBS.claim(report_id, timezone.now())
    if mine is None:
        return None
    clock = time.monotonic()
    progress = JOBS.progress_saver(mine)

    try:
        study = Study.objects.get(agreement_reports=report_id)
        progress(0.02, "loading ratings")
        from labeling import reports  # scipy and the statistics: imported by the runs that need them

        ratings = reports.load_ratings(study=study)
        own = reports.load_self_reports(study=study)
        mark, own_mark = ratings.watermark, own.watermark
        mine.update(
            watermark_count=mark["annotation_count"],
            watermark_last_id=mark["last_annotation_id"],
            watermark_self_report_count=own_mark["self_report_count"],
            watermark_last_self_report_id=own_mark["last_self_report_id"],
            progress=0.1,
            progress_message=f"loaded {mark['annotation_count']} ratings, "
            f"{own_mark['self_report_count']} self-reports",
        )
        options = {} if n_resamples is None else {"n_resamples": n_resamples}
        result = reports.build_result(
            ratings, self_reports=own, progress=lambda f, m: progress(0.1 + 0.8 * f, m), **options
        )
        progress(0.92, "K+1 policy")
        result["policy"] = _apply_policy(study, ratings)
        done = mine.update(
            status=Status.DONE,
            result=result,
            progress=1.0,
            progress_message="done",
            finished_at=timezone.now(),
            duration_s=time.monotonic() - clock,
        )
    except TRANSIENT_DB_ERRORS as exc:
        if not final_attempt:
            JOBS.release(mine)
            raise
        JOBS.fail(mine, exc, clock)
        return AgreementReport.objects.get(pk=report_id)
    except (Exception, KeyboardInterrupt) as exc:  # SoftTimeLimitExceeded included
        logger.exception("agreement report %s failed", report_id)
        JOBS.fail(mine, exc, clock)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return AgreementReport.objects.get(pk=report_id)
    if done:
        _prune(study)
    return AgreementReport.objects.get(pk=report_id)


def _prune(study: Study) -> None:
    finished = AgreementReport.objects.filter(study=study, status__in=FINISHED)
    keep = list(finished.order_by("-finished_at", "-id").values_list("pk", flat=True)[:KEEP_FINISHED])
    finished.exclude(pk__in=keep).delete()


def _apply_policy(study: Study, ratings) -> dict:
    """The study's optional K+1 policy, applied through `clip_targets_extend`. The cap defaults to K + 1."""
    study.refresh_from_db(fields=["extra_annotator_sd_threshold", "extra_annotator_cap_k", "overlap_k"])
    threshold = study.extra_annotator_sd_threshold
    if threshold is None:
        return {"threshold_sd": None, "cap_k": None, "clips_extended": []}
    cap = study.extra_annotator_cap_k or study.overlap_k + 1
    from labeling import reports

    candidates = reports.policy_candidates(ratings, threshold)
    extended = clip_targets_extend(study=study, clip_counts=candidates, cap=cap)
    return {
        "threshold_sd": threshold,
        "cap_k": cap,
        "clips_extended": sorted(set(extended) | set(_waiting(study, candidates))),
        "clips_extended_now": extended,
        "n_candidates": len(candidates),
    }


def _waiting(study: Study, candidates: dict[int, int]) -> list[int]:
    """Candidates waiting for their extra annotator: target_k == n + 1, n = their annotations at the watermark
    (extended by this run, by an earlier attempt on the same data that did not save, or by an earlier report
    whose extra annotator has not rated yet)."""
    ids = sorted(candidates)
    out: list[int] = []
    for lo in range(0, len(ids), 500):
        rows = Clip.objects.filter(study=study, pk__in=ids[lo : lo + 500]).values_list("pk", "target_k")
        out.extend(pk for pk, target in rows if target == candidates[pk] + 1)
    return out


@transaction.atomic
def clip_targets_extend(*, study: Study, clip_counts: dict[int, int], cap: int) -> list[int]:
    """Ask for one more annotator (target_k + 1, never above `cap`) for each clip in `clip_counts`
    (clip id -> its number of annotations in the data judged). Only an active clip whose target is not
    above that number is extended, so judging the same data again extends nothing twice: the extra
    annotator must have rated before the clip can grow again. Returns the ids extended."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for clip_id, n in clip_counts.items():
        by_count[n].append(clip_id)
    extended: list[int] = []
    for n, ids in sorted(by_count.items()):
        ids.sort()
        for lo in range(0, len(ids), 500):
            rule = Q(
                study=study, pk__in=ids[lo : lo + 500], is_active=True, target_k__lte=n, target_k__lt=cap
            )
            qs = Clip.objects.filter(rule).order_by("pk")
            if connection.features.has_select_for_update:
                qs = qs.select_for_update(no_key=True)
            got = list(qs.values_list("pk", flat=True))
            if got:
                Clip.objects.filter(rule, pk__in=got).update(
                    target_k=F("target_k") + 1, extra_k=F("extra_k") + 1
                )
                extended.extend(got)
    return sorted(extended)


def agreement_run_now(
    *, study: Study, requested_by=None, wait_s: float | None = None, n_resamples: int | None = None
) -> AgreementReport:
    """Compute a report here and now (the management command): take the open report or make one, and run
    it in this process. If a worker is running it, wait for it (up to `wait_s`, default the hard limit)."""
    report, _ = agreement_request(study=study, requested_by=requested_by, enqueue=False)
    finished = agreement_compute(report_id=report.pk, n_resamples=n_resamples)
    if finished is not None:
        return finished
    deadline = time.monotonic() + (TIME_LIMIT_S if wait_s is None else wait_s)
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.status in FINISHED:
            return report
        time.sleep(0.5)
    report.refresh_from_db()
    return report
