"""People: members and invites of a study, the filmed participants (pseudonymous codes), the withdrawal logs
of participants and of annotators' labels, and API tokens."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ._base import _random_token
from .studies import Role, Study


class Membership(models.Model):
    class Via(models.TextChoices):
        ACCOUNT = "account", "Account"
        INVITE = "invite", "Invite link"
        CROWD = "crowd", "Crowd link"

    # Indexed by the left prefixes of membership_unique (study, user) and the (user, role) index.
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    joined_via = models.CharField(max_length=16, choices=Via.choices, default=Via.ACCOUNT)
    consented_at = models.DateTimeField(null=True, blank=True)
    crowd_study_id = models.CharField(max_length=128, blank=True)
    crowd_session_id = models.CharField(max_length=128, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    labels_withdrawn_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when the study's researchers withdrew this annotator's labels (a spammer, or at the "
        "annotator's request): the labels stay in the database but count nowhere, and the annotator can no "
        "longer take clips here. Only labeling.services.annotator_labels_reinstate undoes it, until an export "
        "has been built since. Each change is an AnnotatorEvent.",
    )
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


# The consent scopes the code acts on: the Participant field of each, and what it allows. A scope given back
# or taken away is a ParticipantEvent with that scope (labeling.services.participant_consent_update).
CONSENT_SCOPES = {
    "annotation": "consent_annotation",
    "labels_export": "consent_labels_export",
    "media_sharing": "consent_media_sharing",
    "self_reports_export": "consent_self_reports_export",
}


class AgeBand(models.TextChoices):
    """Coarse age bands a participant may give with consent."""

    UNDER_18 = "under 18", "Under 18"
    A18_24 = "18-24", "18–24"
    A25_34 = "25-34", "25–34"
    A35_44 = "35-44", "35–44"
    A45_54 = "45-54", "45–54"
    A55_64 = "55-64", "55–64"
    A65_PLUS = "65+", "65 or over"


class Participant(models.Model):
    """The filmed person, pseudonymous, with the consent they gave as machine-readable scopes that the queue,
    the media view and the exporter obey. Withdrawal takes their clips, every label of them and their
    self-reports out of the queue and out of every read path (API, pages, media, reports, exports); only an
    explicit, logged reinstatement (labeling.services.participant_reinstate) undoes it. Each change of
    withdrawal or of a consent scope is a ParticipantEvent (time and scope, never personal data)."""

    AgeBand = AgeBand

    # Indexed by participant_code_unique (study, code), whose left prefix it is.
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants", db_index=False)
    code = models.CharField(max_length=64, help_text="Pseudonymous code; never a name.")
    consent_version = models.CharField(
        max_length=64, blank=True, help_text="Which version of the consent form the person signed."
    )
    consent_date = models.DateField(null=True, blank=True, help_text="When they gave that consent.")
    # db_default on every scope: rows inserted in bulk outside the ORM (benchmark set-ups) get it as well.
    consent_annotation = models.BooleanField(
        default=True,
        db_default=True,
        help_text="The person's clips may be shown to annotators. Without it no clip of theirs is served.",
    )
    consent_labels_export = models.BooleanField(
        default=True,
        db_default=True,
        help_text="Observers' labels of their clips may leave the platform in dataset exports. Without it an "
        "export carries nothing of their clips.",
    )
    consent_media_sharing = models.BooleanField(
        default=False,
        db_default=False,
        help_text="The person agreed that the video of their clips may be shared in dataset exports. Without "
        "it an export carries their clips' labels and facts but never the media.",
    )
    consent_self_reports_export = models.BooleanField(
        default=False,
        db_default=False,
        help_text="The person's own self-reports may leave the platform in dataset exports. Without it an "
        "export carries none of their self-reports.",
    )
    consent_scope = models.TextField(
        blank=True, verbose_name="other consent terms", help_text="Anything else the consent said, in words."
    )
    age_band = models.CharField(
        max_length=16, blank=True, choices=AgeBand.choices, help_text="Optional, given with consent."
    )
    gender = models.CharField(
        max_length=64, blank=True, help_text="Optional, in the person's own words, given with consent."
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="participant_code_unique"),
            models.CheckConstraint(
                condition=Q(age_band__in=["", *AgeBand.values]), name="participant_age_band_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def consents_to(self, scope: str) -> bool:
        return bool(getattr(self, CONSENT_SCOPES[scope]))


class ParticipantLink(models.Model):
    """A private, expiring, revocable link that lets one filmed participant give self-reports on their own
    clips in the platform (and nothing else). Only the SHA-256 of the key is stored (api_token_hash), with
    its first characters in clear so researchers can tell links apart; the whole link is shown once, when
    issued."""

    PREFIX_LENGTH = 8

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="links")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=PREFIX_LENGTH)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(
        null=True, blank=True, help_text="When the participant agreed, on the link's consent step."
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"link {self.prefix}… for {self.participant}"


class WithdrawalLog(models.Model):
    """What a withdrawal log records of each change: withdrawn or reinstated, when, by whom, and a note.
    Never personal data."""

    class Action(models.TextChoices):
        WITHDRAWN = "withdrawn", "Withdrawn"
        REINSTATED = "reinstated", "Reinstated"

    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True
        ordering = ["-at", "-id"]

    @staticmethod
    def action_valid(name: str) -> models.CheckConstraint:
        return models.CheckConstraint(condition=Q(action__in=["withdrawn", "reinstated"]), name=name)


class ParticipantEvent(WithdrawalLog):
    """The log of a participant's withdrawals and reinstatements."""

    ALL = "all"  # the scope of a whole withdrawal or reinstatement

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="events")
    scope = models.CharField(
        max_length=32,
        default=ALL,
        db_default=ALL,
        help_text="'all' for a withdrawal or reinstatement of the participant, else the consent scope taken "
        "away (withdrawn) or given back (reinstated).",
    )
    clips = models.PositiveIntegerField(default=0, help_text="Clips the change applied to.")

    class Meta(WithdrawalLog.Meta):
        constraints = [
            WithdrawalLog.action_valid("participant_event_action_valid"),
            models.CheckConstraint(
                condition=Q(scope__in=["all", *CONSENT_SCOPES]), name="participant_event_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        what = "" if self.scope == self.ALL else f" ({self.scope})"
        return f"{self.participant} {self.action}{what} at {self.at:%Y-%m-%d %H:%M}"


class AnnotatorEvent(WithdrawalLog):
    """The log of an annotator's labels being withdrawn from a study and reinstated, with how many labels.
    Keyed by study and annotator, not by the membership, so it outlives a membership removed after a
    reinstatement."""

    # Indexed by annotator_event_idx (study, annotator, at), whose left prefix it is.
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+", db_index=False)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    labels = models.PositiveIntegerField(default=0, help_text="Labels the change applied to.")

    class Meta(WithdrawalLog.Meta):
        constraints = [WithdrawalLog.action_valid("annotator_event_action_valid")]
        indexes = [models.Index(fields=["study", "annotator", "at"], name="annotator_event_idx")]

    def __str__(self) -> str:
        return f"annotator {self.annotator_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


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

    # Indexed by apitoken_user_expires (user, expires_at), whose left prefix it is.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", db_index=False
    )
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
