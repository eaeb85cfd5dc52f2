"""Labels: one annotator's rating of one clip."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .clips import Assignment, Clip
from .studies import SchemeVersion, Study


class Annotation(models.Model):
    """One annotator's rating of one clip. Immutable once submitted."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="annotation")
    # Indexed by annotation_study_time_idx (study, created_at), whose left prefix it is.
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="annotations", db_index=False)
    clip = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    scheme_version = models.ForeignKey(SchemeVersion, on_delete=models.PROTECT, related_name="annotations")
    submission_id = models.UUIDField(
        unique=True, help_text="Client-generated; a retry with the same id creates nothing."
    )
    # Canonical scale [-1, 1] beside the raw value on the instrument's own scale.
    valence = models.FloatField(null=True, blank=True)
    arousal = models.FloatField(null=True, blank=True)
    valence_raw = models.FloatField(null=True, blank=True)
    arousal_raw = models.FloatField(null=True, blank=True)
    valence_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    arousal_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    context_tags = models.JSONField(default=list, blank=True)
    context_note = models.TextField(blank=True)
    cannot_judge = models.BooleanField(default=False)
    cannot_judge_reason = models.CharField(max_length=500, blank=True)
    time_on_task_ms = models.PositiveIntegerField()
    watched_fraction = models.FloatField()
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valence__isnull=True) | Q(valence__gte=-1, valence__lte=1),
                name="annotation_valence_range",
            ),
            models.CheckConstraint(
                condition=Q(arousal__isnull=True) | Q(arousal__gte=-1, arousal__lte=1),
                name="annotation_arousal_range",
            ),
            models.CheckConstraint(
                condition=Q(cannot_judge=True, valence__isnull=True, arousal__isnull=True)
                | Q(cannot_judge=False, valence__isnull=False, arousal__isnull=False),
                name="annotation_rated_or_cannot_judge",
            ),
            models.CheckConstraint(
                condition=Q(watched_fraction__gte=0, watched_fraction__lte=1),
                name="annotation_watched_fraction_range",
            ),
            models.CheckConstraint(
                condition=Q(valence_confidence__isnull=True)
                | Q(valence_confidence__gte=1, valence_confidence__lte=10),
                name="annotation_valence_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(arousal_confidence__isnull=True)
                | Q(arousal_confidence__gte=1, arousal_confidence__lte=10),
                name="annotation_arousal_confidence_range",
            ),
        ]
        indexes = [models.Index(fields=["study", "created_at"], name="annotation_study_time_idx")]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.clip}"
