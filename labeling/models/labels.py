"""Labels: one annotator's rating of one clip (perceived affect), and the filmed person's own self-report
(experienced affect)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .clips import Assignment, Clip
from .people import Participant, ParticipantLink
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


class SelfReport(models.Model):
    """The filmed participant's own valence and arousal for a whole clip (start_s and end_s empty) or for a
    window of it (media seconds), on a named instrument: raw on the instrument's scale and canonical on
    [-1, 1], like annotations (labeling.scheme.to_canonical). Imported from a file or given in the platform
    through a ParticipantLink. Immutable. Never shown to annotators. Read through
    selectors.self_reports_for_analysis (withdrawn participants out) — the one rule, like the labels'."""

    class Source(models.TextChoices):
        IMPORTED = "imported", "Imported from a file"
        PLATFORM = "platform", "Given in the platform"

    class Instrument(models.TextChoices):
        SAM = "sam", "SAM-style scales"
        GRID = "grid", "Affect grid"
        SLIDER = "slider", "Continuous slider"

    # Indexed by self_report_study_clip_idx (study, clip), whose left prefix it is.
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="self_reports", db_index=False)
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="self_reports")
    clip = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="self_reports")
    start_s = models.FloatField(
        null=True, blank=True, help_text="Window start, media seconds; empty = whole clip."
    )
    end_s = models.FloatField(
        null=True, blank=True, help_text="Window end, media seconds; empty = whole clip."
    )
    instrument = models.CharField(max_length=16, choices=Instrument.choices)
    scale_points = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Points of a sam or grid scale (raw 1..points); empty for a slider."
    )
    valence = models.FloatField(null=True, blank=True)
    arousal = models.FloatField(null=True, blank=True)
    valence_raw = models.FloatField(null=True, blank=True)
    arousal_raw = models.FloatField(null=True, blank=True)
    valence_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    arousal_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence_points = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The confidence scale's points (confidence is 1..points)."
    )
    context_tags = models.JSONField(
        default=list, blank=True, help_text="'group:tag' from the study's vocabulary."
    )
    context_note = models.TextField(blank=True)
    reported_at = models.DateTimeField(help_text="When the participant gave the report.")
    source = models.CharField(max_length=16, choices=Source.choices)
    external_id = models.CharField(
        max_length=128,
        blank=True,
        help_text="The id column of an imported file, if it had one (unique per study).",
    )
    link = models.ForeignKey(
        ParticipantLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="self_reports"
    )
    scheme_version = models.ForeignKey(
        SchemeVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The scheme shown, for a report given in the platform.",
    )
    submission_id = models.UUIDField(
        null=True, blank=True, unique=True, help_text="Client-generated (platform); a retry creates nothing."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["clip_id", "start_s", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valence__isnull=True) | Q(valence__gte=-1, valence__lte=1),
                name="self_report_valence_range",
            ),
            models.CheckConstraint(
                condition=Q(arousal__isnull=True) | Q(arousal__gte=-1, arousal__lte=1),
                name="self_report_arousal_range",
            ),
            models.CheckConstraint(
                condition=Q(valence__isnull=False) | Q(arousal__isnull=False), name="self_report_has_a_value"
            ),
            models.CheckConstraint(
                condition=Q(valence__isnull=True, valence_raw__isnull=True)
                | Q(valence__isnull=False, valence_raw__isnull=False),
                name="self_report_valence_raw_and_canonical",
            ),
            models.CheckConstraint(
                condition=Q(arousal__isnull=True, arousal_raw__isnull=True)
                | Q(arousal__isnull=False, arousal_raw__isnull=False),
                name="self_report_arousal_raw_and_canonical",
            ),
            models.CheckConstraint(
                condition=Q(start_s__isnull=True, end_s__isnull=True)
                | Q(start_s__isnull=False, end_s__isnull=False, start_s__gte=0, end_s__gt=F("start_s")),
                name="self_report_window_valid",
            ),
            models.CheckConstraint(
                condition=Q(instrument__in=["sam", "grid", "slider"]), name="self_report_instrument_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=["imported", "platform"]), name="self_report_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(valence_confidence__isnull=True)
                | Q(valence_confidence__gte=1, valence_confidence__lte=10),
                name="self_report_valence_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(arousal_confidence__isnull=True)
                | Q(arousal_confidence__gte=1, arousal_confidence__lte=10),
                name="self_report_arousal_confidence_range",
            ),
            # The natural key: one report per participant, clip, instrument and window (or whole clip), so a
            # re-imported file adds nothing. Two partial constraints, because NULL windows never collide.
            models.UniqueConstraint(
                fields=["participant", "clip", "instrument"],
                condition=Q(start_s__isnull=True),
                name="self_report_whole_clip_unique",
            ),
            models.UniqueConstraint(
                fields=["participant", "clip", "instrument", "start_s", "end_s"],
                condition=Q(start_s__isnull=False),
                name="self_report_window_unique",
            ),
            models.UniqueConstraint(
                fields=["study", "external_id"],
                condition=~Q(external_id=""),
                name="self_report_external_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["study", "clip"], name="self_report_study_clip_idx")]

    def __str__(self) -> str:
        window = "whole clip" if self.start_s is None else f"{self.start_s:g}–{self.end_s:g} s"
        return f"self-report of {self.participant} on {self.clip} ({window})"
