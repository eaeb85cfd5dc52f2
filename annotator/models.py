from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class User(AbstractUser):
    """An account. Crowd annotators are pseudonymous: one account per (study, crowd-platform id), no e-mail.

    A crowd account belongs to its `crowd_study` only: the crowd link of another study never reaches it, and
    it is never made a member of another study (labeling.services.membership_add refuses).
    """

    is_pseudonymous = models.BooleanField(default=False)
    crowd_study = models.ForeignKey(
        "labeling.Study",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="crowd_accounts",
        help_text="The one study this crowd account belongs to (it can join no other).",
    )
    crowd_pid = models.CharField(
        max_length=128, blank=True, default="", help_text="Crowd-platform participant id (e.g. PROLIFIC_PID)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crowd_study", "crowd_pid"],
                condition=~Q(crowd_pid=""),
                name="user_crowd_study_pid_unique",
            ),
            # A participant id means nothing without the study whose link it came through.
            models.CheckConstraint(
                condition=Q(crowd_pid="") | Q(crowd_study__isnull=False), name="user_crowd_pid_has_study"
            ),
        ]
