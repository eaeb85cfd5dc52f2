"""Computed results: agreement reports, and the background processes' heartbeats."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .studies import Study


class AgreementReport(models.Model):
    """One computation of a study's inter-rater agreement (issue 3). The result is the JSON described in
    labeling/reports/builder.py; the watermark says which annotations and which self-reports it was computed
    from (count and highest id of each: both are immutable, so the pair changes exactly when the data does)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    OPEN = (Status.PENDING, Status.RUNNING)

    # Indexed by agreement_report_idx (study, status, -finished_at), whose left prefix it is.
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="agreement_reports", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(default=0.0)
    progress_message = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    not_before = models.DateTimeField(default=timezone.now, help_text="Debounce: do not start before this.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    watermark_count = models.PositiveIntegerField(null=True, blank=True)
    watermark_last_id = models.BigIntegerField(null=True, blank=True)
    # The self-reports that counted (selectors.self_reports_for_analysis); null on reports made before
    # self-reports were part of the report, read as 0.
    watermark_self_report_count = models.PositiveIntegerField(null=True, blank=True)
    watermark_last_self_report_id = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0,
        help_text="Runs that claimed this report and did not hand it back (killed or still running).",
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study"],
                condition=Q(status__in=["pending", "running"]),
                name="agreement_report_one_open_per_study",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=1), name="agreement_report_progress_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done", "failed"]),
                name="agreement_report_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["study", "status", "-finished_at"], name="agreement_report_idx")]

    def __str__(self) -> str:
        return f"agreement of {self.study} ({self.status})"


class Heartbeat(models.Model):
    """When a background process last said it is alive: each Celery worker every
    BACKGROUND_HEARTBEAT_SECONDS while it is connected to the broker, and beat as its scheduler loop ticks.

    In the database, not the cache: the embedded default's cache is per-process memory, and the web
    process must read what the worker and beat processes wrote. One row per (kind, process host name).
    """

    class Kind(models.TextChoices):
        WORKER = "worker", "Celery worker"
        BEAT = "beat", "Celery beat"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="The worker's node name, or beat's host name.")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="heartbeat_one_row_per_process")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
