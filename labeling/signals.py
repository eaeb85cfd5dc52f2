"""Safety net for deletes that bypass the services (membership_remove, annotator.services.user_delete).

A lease is a slot on its clip (Clip.n_assigned). Deleting a membership, or a user (whose assignments go with
it by CASCADE), while they hold a live lease would keep that slot taken for good. The services end those
leases first; these receivers do the same for every other ORM delete (queryset.delete(), cascades, the shell).

Why signals and not a database trigger: the counter rules (n_assigned and target_k, see leases_expire) live in
Python once, for PostgreSQL and SQLite alike; triggers would repeat them in two SQL dialects. Raw SQL deletes
remain uncovered; nothing in the project issues them.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from labeling.models import Membership
from labeling.services.assignments import leases_release


@receiver(pre_delete, sender=Membership, dispatch_uid="labeling.membership_leases_release")
def membership_leases_release(sender, instance: Membership, **kwargs) -> None:
    leases_release(annotator_id=instance.user_id, study_id=instance.study_id)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="labeling.user_leases_release")
def user_leases_release(sender, instance, **kwargs) -> None:
    leases_release(annotator_id=instance.pk)
