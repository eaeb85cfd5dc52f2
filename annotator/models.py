from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """An account. Crowd annotators are pseudonymous: one account per crowd-platform id, no e-mail."""

    is_pseudonymous = models.BooleanField(default=False)
    crowd_pid = models.CharField(
        max_length=128, blank=True, default="", help_text="Crowd-platform participant id (e.g. PROLIFIC_PID)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crowd_pid"], condition=~models.Q(crowd_pid=""), name="user_crowd_pid_unique"
            ),
        ]
