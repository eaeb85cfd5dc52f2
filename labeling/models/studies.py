"""Studies and their frozen rating schemes."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ._base import _random_token


class Role(models.TextChoices):
    RESEARCHER = "researcher", "Researcher"
    ANNOTATOR = "annotator", "Annotator"


class Study(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    instructions = models.TextField(blank=True, help_text="Markdown; rendered safely.")
    consent_text = models.TextField(blank=True, help_text="Markdown; must be accepted before the first clip.")
    overlap_k = models.PositiveSmallIntegerField(default=3, help_text="Distinct annotators per clip.")
    lease_minutes = models.PositiveSmallIntegerField(default=15)
    require_full_view = models.BooleanField(
        default=True, help_text="The clip must play to the end before a rating is accepted."
    )
    completion_code = models.CharField(
        max_length=64, blank=True, help_text="Shown to crowd workers at the end."
    )
    completion_url = models.URLField(blank=True, help_text="Crowd workers are redirected here at the end.")
    crowd_key = models.CharField(
        max_length=64,
        blank=True,
        default=_random_token,
        help_text="Secret part of the crowd link (?key=...). Empty: the study takes no one through a crowd link.",
    )
    is_active = models.BooleanField(default=True)
    # Optional K+1 policy (issue 3): after an agreement run, clips whose rating sd exceeds the threshold
    # get one more annotator, up to the cap. Both null = off.
    extra_annotator_sd_threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Clips whose valence or arousal sd (canonical scale -1..1) exceeds this get one more "
        "annotator after an agreement run. Empty = off.",
    )
    extra_annotator_cap_k = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Never ask more than this many annotators for one clip."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap_k__gte=1), name="study_overlap_k_positive"),
            models.CheckConstraint(condition=Q(lease_minutes__gte=1), name="study_lease_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors = {}
        if self.extra_annotator_sd_threshold is not None and not self.extra_annotator_sd_threshold > 0:
            errors["extra_annotator_sd_threshold"] = (
                "Must be above 0 (ratings are on -1..1), or empty for off."
            )
        if self.extra_annotator_cap_k is not None and self.extra_annotator_cap_k < (self.overlap_k or 1):
            errors["extra_annotator_cap_k"] = "Must be at least K (overlap_k), or empty for K + 1."
        if errors:
            raise ValidationError(errors)


class SchemeVersion(models.Model):
    """A rating scheme. Frozen once a label uses it: editing a used scheme makes the next version."""

    # Indexed by scheme_version_unique (study, version), whose left prefix it is.
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="schemes", db_index=False)
    version = models.PositiveIntegerField()
    spec = models.JSONField(help_text="See labeling/scheme.py for the format.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["study", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="scheme_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="scheme_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.study} v{self.version}"
