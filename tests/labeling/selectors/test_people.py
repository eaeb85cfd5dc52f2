"""Reads of a study's people: annotator counts and the annotator list (one query each); the requester's
memberships, a study's members with their counts, and lookups that are NotFound (never Http404: commands
and tasks use them too)."""

import pytest
from django.utils import timezone

from labeling import selectors
from labeling.errors import NotFound
from labeling.models import Invite, Participant
from tests.factories import ClipFactory, MembershipFactory, StudyFactory

pytestmark = pytest.mark.django_db


def test_memberships_for_user_newest_membership_or_newest_study_first(user):
    old_study, new_study = StudyFactory(), StudyFactory()
    joined_first = MembershipFactory(study=new_study, user=user)
    joined_last = MembershipFactory(study=old_study, user=user)
    type(old_study).objects.filter(pk=old_study.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=9)
    )
    MembershipFactory(study=old_study)  # someone else's
    assert list(selectors.memberships_for_user(user=user)) == [joined_last, joined_first]
    by_study = list(selectors.memberships_for_user(user=user, newest_study_first=True))
    assert by_study == [joined_first, joined_last]


def test_membership_get_and_find(study, user):
    assert selectors.membership_find(user=user, study_id=study.pk) is None
    with pytest.raises(NotFound, match="No such study"):
        selectors.membership_get(user=user, study_id=study.pk)
    m = MembershipFactory(study=study, user=user)
    assert selectors.membership_find(user=user, study_id=study.pk) == m
    assert selectors.membership_get(user=user, study_id=study.pk) == m


def test_study_member_is_one_row_of_study_members(study, researcher, django_assert_num_queries):
    m = MembershipFactory(study=study)
    with django_assert_num_queries(1):
        row = selectors.study_member(study=study, membership_id=m.pk)
        assert (row.user.username, row.annotation_count) == (m.user.username, 0)
    elsewhere = MembershipFactory(study=StudyFactory())
    for bad in (elsewhere.pk, 2**63, "x"):
        with pytest.raises(NotFound, match="No such member"):
            selectors.study_member(study=study, membership_id=bad)


def test_invite_get_is_not_found_for_an_unknown_token(study):
    invite = Invite.objects.create(study=study)
    assert selectors.invite_get(token=invite.token) == invite
    with pytest.raises(NotFound):
        selectors.invite_get(token="no-such-token")


def test_participants_with_counts_count_every_clip_of_theirs(study):
    p = Participant.objects.create(study=study, code="P-1")
    Participant.objects.create(study=study, code="P-2")
    ClipFactory.create_batch(2, study=study, participant=p)
    ClipFactory(study=study, participant=p, is_active=False)
    rows = selectors.participants_with_counts(participants=Participant.objects.filter(study=study))
    assert {r.code: r.clip_count for r in rows} == {"P-1": 3, "P-2": 0}


def test_annotator_counts_and_list(dashboard_setup, django_assert_num_queries):
    study = dashboard_setup["study"]
    m1, m2, m3, m4 = dashboard_setup["members"]
    with django_assert_num_queries(1):
        counts = selectors.study_annotator_counts(study=study)
    assert counts == {
        "annotators": 4, "consented": 4, "completed": 0, "crowd": 0, "working_now": 1, "researchers": 1,
    }  # fmt: skip
    with django_assert_num_queries(1):
        rows = {m.user_id: m for m in selectors.study_annotators(study=study)}
    assert {uid: (m.submitted, m.leases) for uid, m in rows.items()} == {
        m1.user_id: (3, 0), m2.user_id: (2, 0), m3.user_id: (1, 0), m4.user_id: (0, 1),
    }  # fmt: skip
    assert list(rows)[0] == m4.user_id  # most recently active first: m4 claimed last
    assert all(m.last_active_at is not None for m in rows.values())
