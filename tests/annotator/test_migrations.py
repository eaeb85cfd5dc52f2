"""annotator/migrations/0002_crowd_study_accounts: existing crowd accounts are bound to one study each."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("annotator", "0001_initial"), ("labeling", "0006_clip_extra_k")]
PID = "5f1a2b3c4d5e6f7a8b9c0d1e"


def test_migration_splits_a_crowd_account_of_several_studies(transactional_db):
    from annotator.models import User
    from labeling.models import Annotation, Assignment, Membership

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldUser, Study, Scheme, Clip = (
        old.get_model("annotator", "User"),
        old.get_model("labeling", "Study"),
        old.get_model("labeling", "SchemeVersion"),
        old.get_model("labeling", "Clip"),
    )
    OldMembership, OldAssignment = (
        old.get_model("labeling", "Membership"),
        old.get_model("labeling", "Assignment"),
    )
    OldAnnotation = old.get_model("labeling", "Annotation")
    now = timezone.now()
    crowd = OldUser.objects.create(username="crowd-old", is_pseudonymous=True, crowd_pid=PID, password="!")
    staff = OldUser.objects.create(username="staff-pid", is_staff=True, crowd_pid="9f9f9f9f", password="!")
    lonely = OldUser.objects.create(
        username="crowd-none", is_pseudonymous=True, crowd_pid="8e8e8e8e", password="!"
    )
    studies = []
    for i in range(2):
        study = Study.objects.create(title=f"s{i}", slug=f"mig-s{i}", crowd_key=f"key{i}")
        scheme = Scheme.objects.create(study=study, version=1, spec={})
        clip = Clip.objects.create(
            study=study,
            file=f"c{i}.mp4",
            original_name="c.mp4",
            sha256=f"{i:064x}",
            size_bytes=1,
            duration_s=1,
            fps=25,
            width=2,
            height=2,
            target_k=3,
            n_assigned=1,
            n_submitted=1,
        )
        OldMembership.objects.create(
            study=study, user=crowd, role="annotator", joined_via="crowd", created_at=now
        )
        a = OldAssignment.objects.create(
            study=study,
            clip=clip,
            annotator=crowd,
            scheme_version=scheme,
            status="submitted",
            lease_expires_at=now,
            submitted_at=now,
        )
        OldAnnotation.objects.create(
            assignment=a,
            study=study,
            clip=clip,
            annotator=crowd,
            scheme_version=scheme,
            submission_id=f"00000000-0000-0000-0000-00000000000{i}",
            valence=0.5,
            arousal=0.5,
            valence_raw=7,
            arousal_raw=7,
            time_on_task_ms=1000,
            watched_fraction=1.0,
        )
        studies.append(study)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    first = User.objects.get(pk=crowd.pk)
    assert first.crowd_study_id == studies[0].pk and first.crowd_pid == PID
    second = User.objects.get(crowd_study_id=studies[1].pk, crowd_pid=PID)
    assert second.pk != first.pk and second.is_pseudonymous and not second.has_usable_password()
    for user, study in ((first, studies[0]), (second, studies[1])):
        assert list(Membership.objects.filter(user=user).values_list("study_id", flat=True)) == [study.pk]
        assert list(Assignment.objects.filter(annotator=user).values_list("study_id", flat=True)) == [
            study.pk
        ]
        assert list(Annotation.objects.filter(annotator=user).values_list("study_id", flat=True)) == [
            study.pk
        ]
    assert Annotation.objects.count() == 2  # nothing lost
    assert User.objects.get(pk=staff.pk).crowd_pid == "" and User.objects.get(pk=lonely.pk).crowd_pid == ""
