"""membership_add_by_username: adding an existing user to a study by name, with the project's errors."""

import pytest

from labeling import services
from labeling.errors import Conflict, ValidationFailed
from labeling.models import Membership, Role
from tests.factories import MembershipFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_adds_a_new_member_once(study):
    newcomer = UserFactory()
    membership, created = services.membership_add_by_username(
        study=study, username=newcomer.username, role=Role.ANNOTATOR
    )
    assert created and (membership.user, membership.role, membership.joined_via) == (
        newcomer,
        "annotator",
        "account",
    )
    again, created = services.membership_add_by_username(
        study=study, username=newcomer.username, role="annotator"
    )
    assert again == membership and not created
    assert Membership.objects.filter(study=study, user=newcomer).count() == 1


def test_refuses_another_role_an_unknown_name_and_a_crowd_account_of_another_study(study):
    member = MembershipFactory(study=study)
    crowd = UserFactory(is_pseudonymous=True, crowd_study=StudyFactory(), crowd_pid="5f1a2b3c4d")
    before = set(Membership.objects.values_list("pk", "role"))
    with pytest.raises(Conflict, match="already a member of this study as annotator"):
        services.membership_add_by_username(study=study, username=member.user.username, role=Role.RESEARCHER)
    with pytest.raises(ValidationFailed) as unknown:
        services.membership_add_by_username(study=study, username="nobody-here", role=Role.ANNOTATOR)
    assert unknown.value.errors == {"username": "no user named 'nobody-here'"}
    for role in (Role.ANNOTATOR, Role.RESEARCHER):
        with pytest.raises(ValidationFailed) as refused:
            services.membership_add_by_username(study=study, username=crowd.username, role=role)
        assert "crowd participant" in refused.value.errors["username"]
    assert set(Membership.objects.values_list("pk", "role")) == before
