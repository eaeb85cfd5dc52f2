"""The research data: studies and their frozen rating schemes, clips, people, assignments, annotations."""

import hashlib
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


def _clip_upload_to(instance: "Clip", filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"clips/{instance.study_id}/{uuid.uuid4().hex}.{ext}"


def _poster_upload_to(instance: "Clip", filename: str) -> str:
    return f"posters/{instance.study_id}/{uuid.uuid4().hex}.jpg"


def _random_token() -> str:
    return secrets.token_urlsafe(18)


def _shuffle_key() -> int:
    return secrets.randbelow(2**31)


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

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="schemes")
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


class Membership(models.Model):
    class Via(models.TextChoices):
        ACCOUNT = "account", "Account"
        INVITE = "invite", "Invite link"
        CROWD = "crowd", "Crowd link"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    joined_via = models.CharField(max_length=16, choices=Via.choices, default=Via.ACCOUNT)
    consented_at = models.DateTimeField(null=True, blank=True)
    crowd_study_id = models.CharField(max_length=128, blank=True)
    crowd_session_id = models.CharField(max_length=128, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "user"], name="membership_unique")]
        indexes = [models.Index(fields=["user", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.study} ({self.role})"


class Invite(models.Model):
    """A link that makes whoever opens it a member of the study (a pseudonymous account if not logged in)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="invites")
    token = models.CharField(max_length=64, unique=True, default=_random_token)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    note = models.CharField(max_length=200, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses__lte=F("max_uses")), name="invite_uses_capped"
            )
        ]

    def __str__(self) -> str:
        return f"invite to {self.study} ({self.role})"


class Participant(models.Model):
    """The filmed person, pseudonymous. Withdrawal takes their clips and every label of them out of the queue
    and out of every read path (API, pages, media, reports, exports); only an explicit, logged reinstatement
    (labeling.services.participant_reinstate) undoes it. Each change is a ParticipantEvent."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    code = models.CharField(max_length=64, help_text="Pseudonymous code; never a name.")
    consent_scope = models.TextField(blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="participant_code_unique")]

    def __str__(self) -> str:
        return self.code


class Clip(models.Model):
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
        help_text="Annotators wanted beyond the study's K (the agreement policy's extensions): target_k "
        "is K + extra_k, or more while the clip holds more live assignments than that (K lowered, a late "
        "label kept).",
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


class ParticipantEvent(models.Model):
    """The log of withdrawals and reinstatements: when, by whom, and a note. Never personal data."""

    class Action(models.TextChoices):
        WITHDRAWN = "withdrawn", "Withdrawn"
        REINSTATED = "reinstated", "Reinstated"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    clips = models.PositiveIntegerField(default=0, help_text="Clips the change applied to.")

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["withdrawn", "reinstated"]), name="participant_event_action_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.action} at {self.at:%Y-%m-%d %H:%M}"


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active lease"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Lease expired"

    LIVE = (Status.ACTIVE, Status.SUBMITTED)

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="assignments")
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
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


class Annotation(models.Model):
    """One annotator's rating of one clip. Immutable once submitted."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="annotation")
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="annotations")
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
        indexes = [
            models.Index(fields=["study", "created_at"], name="annotation_study_time_idx"),
            models.Index(fields=["clip"], name="annotation_clip_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.clip}"


class AgreementReport(models.Model):
    """One computation of a study's inter-rater agreement (issue 3). The result is the JSON described in
    labeling/report.py; the watermark says which annotations it was computed from."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    OPEN = (Status.PENDING, Status.RUNNING)

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="agreement_reports")
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
        ]
        indexes = [models.Index(fields=["study", "status", "-finished_at"], name="agreement_report_idx")]

    def __str__(self) -> str:
        return f"agreement of {self.study} ({self.status})"


def api_token_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def password_fingerprint(user=None, *, encoded: str | None = None) -> str:
    """Changes whenever the user's password hash does (any path: admin, set_password + save, a raw update).
    A hash upgrade of the same password re-stamps the tokens (labeling.services.tokens)."""
    return hashlib.sha256(f"api-token:{user.password if encoded is None else encoded}".encode()).hexdigest()


class ApiToken(models.Model):
    """An API token (``Authorization: Token <key>``). Only the SHA-256 of the key is stored, with its first
    characters in clear so people can tell their tokens apart. A token expires, and dies when its user's
    password changes (``password_fingerprint`` no longer matches)."""

    PREFIX_LENGTH = 8

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="", help_text="What it is for (optional).")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=PREFIX_LENGTH)
    password_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"], name="apitoken_user_expires")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'token'})"


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
