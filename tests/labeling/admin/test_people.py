"""The membership and invite admins: full invite links; removing a member ends their leases (issue 6); a crowd
account stays in its own study."""

import pytest
from django.urls import reverse

from labeling import services
from labeling.models import Clip, Invite, Membership
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_invite_admin_shows_the_full_link(admin_client_):
    Invite.objects.create(study=StudyFactory(), token="abc-token")
    response = admin_client_.get(reverse("admin:labeling_invite_changelist"))
    assert 'value="http://testserver/invite/abc-token/"' in response.content.decode()


def test_admin_membership_delete_ends_leases_and_returns_the_slot(admin_client_):
    study = StudyFactory()
    clip = ClipFactory(study=study, target_k=1)
    member = MembershipFactory(study=study)
    services.assignment_claim_next(membership=member)
    url = reverse("admin:labeling_membership_delete", args=[member.pk])
    assert admin_client_.post(url, {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert Clip.objects.get(pk=clip.pk).n_assigned == 0
    other = MembershipFactory(study=study)  # bulk action too
    services.assignment_claim_next(membership=other)
    changelist = reverse("admin:labeling_membership_changelist")
    admin_client_.post(
        changelist, {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"}
    )
    assert not Membership.objects.filter(pk=other.pk).exists()
    assert Clip.objects.get(pk=clip.pk).n_assigned == 0


def test_admin_refuses_to_add_a_crowd_account_to_another_study(admin_client_):
    home, other = StudyFactory(), StudyFactory()
    crowd = UserFactory(username="crowd-1", is_pseudonymous=True, crowd_study=home, crowd_pid="5f1a2b3c4d")
    data = {"study": other.pk, "user": crowd.pk, "role": "annotator", "joined_via": "account"}
    response = admin_client_.post(reverse("admin:labeling_membership_add"), data)
    assert response.status_code == 200 and "crowd participant" in response.content.decode()
    assert not Membership.objects.filter(user=crowd).exists()
    data["study"] = home.pk
    assert admin_client_.post(reverse("admin:labeling_membership_add"), data).status_code == 302
