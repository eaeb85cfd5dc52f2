"""annotator/services.py: crowd accounts per study, deleting and anonymising accounts."""

import logging

import pytest
from django.db.models import ProtectedError

from annotator import services
from annotator.models import User
from labeling import services as labeling_services
from labeling.errors import NotAllowed, RateLimited
from labeling.models import Annotation, Assignment, Clip, Membership, Role
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory
from tests.factories import rating_data as rating

PID = "5f1a2b3c4d5e6f7a8b9c0d1e"


def consented(membership):
    return labeling_services.membership_consent(membership=membership)


def test_crowd_enter_gives_one_account_per_study_and_pid(study):
    other = StudyFactory()
    a, _ = services.crowd_enter(study=study, pid=PID)
    again, _ = services.crowd_enter(study=study, pid=PID)
    b, _ = services.crowd_enter(study=other, pid=PID)
    assert a.pk == again.pk and a.pk != b.pk
    assert (a.crowd_study_id, b.crowd_study_id) == (study.pk, other.pk)


def test_crowd_account_can_never_be_made_member_of_another_study(study):
    crowd, _ = services.crowd_enter(study=study, pid=PID)
    other = StudyFactory()
    with pytest.raises(NotAllowed):
        labeling_services.membership_add(study=other, user=crowd)
    assert labeling_services.membership_problem(
        study=study, user=crowd, role=Role.RESEARCHER
    )  # nor researcher
    assert labeling_services.membership_problem(study=study, user=crowd, role=Role.ANNOTATOR) is None
    assert list(Membership.objects.filter(user=crowd).values_list("study_id", flat=True)) == [study.pk]


def test_crowd_signup_limit_counts_only_new_accounts(study, settings):
    settings.CROWD_SIGNUPS_PER_CLIENT = 1
    services.crowd_enter(study=study, pid=PID, client="10.1.1.1")
    for _ in range(3):  # the same participant coming back is not a sign-up
        services.crowd_enter(study=study, pid=PID, client="10.1.1.1")
    with pytest.raises(RateLimited) as caught:
        services.crowd_enter(study=study, pid="another-pid", client="10.1.1.1")
    assert caught.value.status == 429 and caught.value.retry_after > 0
    assert not User.objects.filter(crowd_pid="another-pid").exists()


def test_user_delete_returns_the_clip_slots_of_their_leases(study):
    clip = ClipFactory(study=study, target_k=1)
    membership = MembershipFactory(study=study)
    labeling_services.assignment_claim_next(membership=membership)
    assert Clip.objects.get(pk=clip.pk).n_assigned == 1
    services.user_delete(user=membership.user)
    assert Clip.objects.get(pk=clip.pk).n_assigned == 0
    assert (
        labeling_services.assignment_claim_next(membership=MembershipFactory(study=study)).clip_id == clip.pk
    )


def test_user_with_labels_is_not_deleted_but_can_be_anonymised(study):
    ClipFactory.create_batch(2, study=study)
    membership = MembershipFactory(study=study)
    labeling_services.annotation_submit(
        assignment=labeling_services.assignment_claim_next(membership=membership), data=rating()
    )
    with pytest.raises(NotAllowed):
        services.user_delete(user=membership.user)
    with pytest.raises(ProtectedError):  # the database keeps labels too
        membership.user.delete()
    assert Annotation.objects.filter(annotator=membership.user).count() == 1


def test_annotator_anonymise_keeps_labels_and_removes_what_identifies(study, caplog):
    clip_a, clip_b = ClipFactory.create_batch(2, study=study, target_k=1)
    user, membership = services.crowd_enter(study=study, pid=PID, study_id="st1", session_id="se1")
    User.objects.filter(pk=user.pk).update(first_name="Ada", last_name="Lovelace", email="ada@example.org")
    user.refresh_from_db()
    consented(membership)
    labeling_services.annotation_submit(
        assignment=labeling_services.assignment_claim_next(membership=membership), data=rating()
    )
    held = labeling_services.assignment_claim_next(membership=membership)
    with caplog.at_level(logging.INFO, logger="annotator.services"):
        services.annotator_anonymise(user=user)
    user.refresh_from_db()
    assert user.username.startswith("anon-") and (user.first_name, user.last_name, user.email) == ("", "", "")
    assert not user.has_usable_password() and not user.is_active and user.crowd_pid == ""
    membership.refresh_from_db()
    assert (membership.crowd_study_id, membership.crowd_session_id) == ("", "")
    assert Annotation.objects.filter(annotator=user).count() == 1  # the label is kept...
    from labeling import selectors

    assert (
        selectors.annotations_for_analysis(study=study).filter(annotator=user).count() == 1
    )  # ...and counts
    held.refresh_from_db()
    assert held.status == Assignment.Status.EXPIRED
    assert Clip.objects.get(pk=held.clip_id).n_assigned == 0
    logged = caplog.text
    assert str(user.pk) in logged and PID not in logged and "Ada" not in logged and "ada@" not in logged
    # The same participant id can start the study again only as a new account.
    again, _ = services.crowd_enter(study=study, pid=PID)
    assert again.pk != user.pk


def test_staff_accounts_are_not_anonymised(db):
    staff = UserFactory(is_staff=True)
    with pytest.raises(NotAllowed):
        services.annotator_anonymise(user=staff)
