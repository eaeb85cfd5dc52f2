"""Crowd accounts belong to one study: (crowd_study, crowd_pid) is unique instead of crowd_pid site-wide.

Existing data: a crowd account keeps the study it joined through a crowd link (the earliest such
membership, else its earliest membership). If it was a member of further studies, each of those
memberships moves to a new pseudonymous account of its own with the same participant id for that study,
together with that study's leases and labels (annotator ids in those studies change; the labels and their
counts do not). A non-pseudonymous account that carried a crowd id (never usable for crowd entry) and a
crowd account with no membership lose the id.
"""

import secrets

import django.db.models.deletion
from django.contrib.auth.hashers import make_password
from django.db import migrations, models
from django.db.models import Case, IntegerField, Q, Value, When


def split_crowd_accounts(apps, schema_editor):
    User = apps.get_model("annotator", "User")
    Membership = apps.get_model("labeling", "Membership")
    Assignment = apps.get_model("labeling", "Assignment")
    Annotation = apps.get_model("labeling", "Annotation")
    crowd_first = Case(When(joined_via="crowd", then=Value(0)), default=Value(1), output_field=IntegerField())
    for user in User.objects.exclude(crowd_pid="").order_by("pk"):
        memberships = list(
            Membership.objects.filter(user=user).order_by(crowd_first, "created_at", "pk")
        )
        if not user.is_pseudonymous or not memberships:
            User.objects.filter(pk=user.pk).update(crowd_pid="")
            continue
        keep, *others = memberships
        User.objects.filter(pk=user.pk).update(crowd_study_id=keep.study_id)
        for membership in others:
            while True:
                username = f"crowd-{secrets.token_hex(5)}"
                if not User.objects.filter(username=username).exists():
                    break
            clone = User.objects.create(
                username=username,
                password=make_password(None),
                is_pseudonymous=True,
                is_active=user.is_active,
                date_joined=membership.created_at,
                crowd_study_id=membership.study_id,
                crowd_pid=user.crowd_pid,
            )
            Membership.objects.filter(pk=membership.pk).update(user=clone)
            Assignment.objects.filter(annotator=user, study_id=membership.study_id).update(annotator=clone)
            Annotation.objects.filter(annotator=user, study_id=membership.study_id).update(annotator=clone)


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0001_initial"),
        ("labeling", "0006_clip_extra_k"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="user", name="user_crowd_pid_unique"),
        migrations.AddField(
            model_name="user",
            name="crowd_study",
            field=models.ForeignKey(
                blank=True,
                help_text="The one study this crowd account belongs to (it can join no other).",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="crowd_accounts",
                to="labeling.study",
            ),
        ),
        migrations.RunPython(split_crowd_accounts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                condition=~Q(crowd_pid=""),
                fields=("crowd_study", "crowd_pid"),
                name="user_crowd_study_pid_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=Q(crowd_pid="") | Q(crowd_study__isnull=False), name="user_crowd_pid_has_study"
            ),
        ),
    ]
