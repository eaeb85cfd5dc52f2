"""Dataset exports: immutable, versioned snapshots of one study (see exports/README of the build in
exports/services.py and the folder layout in docs/exports.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from labeling.models import Study


class Export(models.Model):
    """One build of a study's dataset. Version numbers count up per study; a finished export's files never
    change (a new build is a new row and a new folder). The folder lives under settings.EXPORTS_ROOT, never
    under MEDIA_ROOT: files are served only to the study's researchers (exports.api)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    OPEN = (Status.PENDING, Status.RUNNING)

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="exports", db_index=False)
    version = models.PositiveIntegerField(help_text="1, 2, 3 ... per study.")
    parameters = models.JSONField(help_text="Validated parameters (exports.params); what the build used.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(default=0.0)
    progress_message = models.CharField(max_length=200, blank=True)
    # The data watermark: the build reads the labels that count with id <= watermark_last_id, taken when the
    # export was requested, so a retried or repeated build of this row reads the same labels.
    watermark_last_id = models.BigIntegerField(null=True, blank=True)
    watermark_at = models.DateTimeField(null=True, blank=True)
    # The self-reports' watermark, taken at the same time: the build reads the self-reports that may be
    # exported with id <= watermark_self_report_id, so one given after the request is not in the export.
    # Null for an export requested before self-reports were exported (it holds none).
    watermark_self_report_id = models.BigIntegerField(null=True, blank=True)
    row_counts = models.JSONField(default=dict, blank=True, help_text="Rows per table.")
    files = models.JSONField(
        default=list, blank=True, help_text="[{path, bytes, sha256, rows?}] for every file of the folder."
    )
    total_bytes = models.BigIntegerField(default=0)
    folder = models.CharField(
        max_length=255, blank=True, help_text="Relative to EXPORTS_ROOT; set when done."
    )
    code_version = models.CharField(max_length=64, blank=True)
    # Secret: never written into the export. Salts the annotator and participant ids of this export.
    salt = models.CharField(max_length=64, editable=False)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="superseded_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # Set when a participant or an annotator whose data this export holds is withdrawn after it was built:
    # downloads are then refused with withdrawn_note, and the researcher can delete the export.
    withdrawn_data_at = models.DateTimeField(null=True, blank=True)
    withdrawn_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["study", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="export_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="export_version_positive"),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=1), name="export_progress_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done", "failed"]), name="export_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | (Q(finished_at__isnull=False) & ~Q(folder="")),
                name="export_done_has_folder",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study} export v{self.version}"
