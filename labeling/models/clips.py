"""Clips and the work queue: who holds which clip (an assignment is a lease until submitted)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ._base import _clip_upload_to, _poster_upload_to, _shuffle_key
from .people import Participant
from .studies import SchemeVersion, Study


class Clip(models.Model):
    # Its own index stays although clip_sha256_unique_in_study (study, sha256) starts with it: that one is four
    # times wider, and the per-study clip scans (dashboard, agreement loader) read 18x more without this one.
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="clips")
    file = models.FileField(upload_to=_clip_upload_to, max_length=255)
    poster = models.ImageField(upload_to=_poster_upload_to, max_length=255, blank=True)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    container = models.CharField(max_length=64)
    video_codec = models.CharField(max_length=64, blank=True)
    duration_s = models.FloatField()
    fps = models.FloatField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    has_audio = models.BooleanField(default=False)
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="clips"
    )
    is_active = models.BooleanField(default=True)
    withdrawn_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when the filmed participant withdrew: the clip can then not be made active again "
        "(a database constraint), until the participant is reinstated.",
    )
    # Queue state, maintained by the assignment services under the constraints below.
    target_k = models.PositiveSmallIntegerField(help_text="Distinct annotators wanted for this clip.")
    extra_k = models.PositiveSmallIntegerField(
        default=0,
        help_text="Annotators wanted beyond the study's K: the agreement policy's extensions, and one for "
        "each label on the clip whose annotator's labels were withdrawn. target_k is K + extra_k, or more "
        "while the clip holds more live assignments than that (K lowered, a late label kept).",
    )
    n_assigned = models.PositiveIntegerField(default=0, help_text="Active leases plus submitted annotations.")
    n_submitted = models.PositiveIntegerField(default=0)
    shuffle_key = models.PositiveIntegerField(default=_shuffle_key, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "sha256"], name="clip_sha256_unique_in_study"),
            models.CheckConstraint(
                condition=Q(n_assigned__lte=F("target_k")), name="clip_assigned_at_most_k"
            ),
            models.CheckConstraint(
                condition=Q(n_submitted__lte=F("n_assigned")), name="clip_submitted_at_most_assigned"
            ),
            models.CheckConstraint(condition=Q(target_k__gte=1), name="clip_target_k_positive"),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(is_active=False), name="clip_withdrawn_is_inactive"
            ),
        ]
        indexes = [
            models.Index(
                fields=["study", "n_assigned", "shuffle_key"],
                condition=Q(is_active=True),
                name="clip_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active lease"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Lease expired"

    LIVE = (Status.ACTIVE, Status.SUBMITTED)

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="assignments")
    # clip and annotator are indexed by the left prefixes of assignment_clip_annotator_unique (clip, annotator)
    # and assignment_annotator_idx (annotator, study, status).
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    scheme_version = models.ForeignKey(
        SchemeVersion,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The scheme the annotator was shown.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    leased_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One assignment per clip and annotator, ever: a lapsed lease is taken back by its own page
            # (heartbeat or a late submit), never handed to the same annotator as a second row.
            models.UniqueConstraint(fields=["clip", "annotator"], name="assignment_clip_annotator_unique"),
            models.CheckConstraint(
                condition=Q(status="submitted", submitted_at__isnull=False) | ~Q(status="submitted"),
                name="assignment_submitted_has_time",
            ),
            # The PostgreSQL fast path (labeling/services/_pg.py) writes status literals in SQL.
            models.CheckConstraint(
                condition=Q(status__in=["active", "submitted", "expired"]), name="assignment_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["study", "lease_expires_at"],
                condition=Q(status="active"),
                name="assignment_lease_idx",
            ),
            models.Index(fields=["annotator", "study", "status"], name="assignment_annotator_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.clip} ({self.status})"
