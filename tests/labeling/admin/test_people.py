"""The membership and invite admins: full invite links; removing a member ends their leases (issue 6); a crowd
account stays in its own study; an annotator's labels are withdrawn and reinstated by actions that ask why
(issue 8), and such a member is kept."""

import pytest
from django.urls import reverse

from labeling import services
from labeling.models import AnnotatorEvent, Clip, Invite, Membership, Participant
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory
from tests.factories import rating_data as rating

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


# ---- an annotator's labels withdrawn and reinstated (actions that ask why) -----------------------------------


@pytest.fixture
def spammer():
    """A member who rated one clip of a K=3 study."""
    study = StudyFactory()
    ClipFactory(study=study)
    member = MembershipFactory(study=study)
    services.annotation_submit(assignment=services.assignment_claim_next(membership=member), data=rating())
    return member


def test_withdrawing_labels_in_the_admin_asks_why_first(admin_client_, spammer):
    changelist = reverse("admin:labeling_membership_changelist")
    form = {"action": "withdraw_labels", "_selected_action": [spammer.pk]}
    asked = admin_client_.post(changelist, form)
    assert asked.status_code == 200 and "Why are these labels withdrawn?" in asked.content.decode()
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is None  # nothing changed before the reason is given
    refused = admin_client_.post(changelist, {**form, "confirm": "1", "note": "  "})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    done = admin_client_.post(changelist, {**form, "confirm": "1", "note": "straight-lined"}, follow=True)
    assert "labels withdrawn" in done.content.decode()
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is not None
    event = AnnotatorEvent.objects.get(annotator=spammer.user)
    assert (event.action, event.by.username, event.note, event.labels) == (
        "withdrawn",
        "root",
        "straight-lined",
        1,
    )
    page = admin_client_.get(reverse("admin:labeling_membership_change", args=[spammer.pk])).content.decode()
    assert "withdrawn: 1 label(s), by root. straight-lined" in page
    assert reverse("admin:labeling_membership_delete", args=[spammer.pk]) not in page  # kept: it records it
    listed = admin_client_.get(changelist, {"labels_withdrawn_at__isnull": "False"}).content.decode()
    assert spammer.user.username in listed


def test_reinstating_labels_in_the_admin_asks_why_first(admin_client_, spammer):
    services.annotator_labels_withdraw(membership=spammer, by=None, note="spam")
    changelist = reverse("admin:labeling_membership_changelist")
    form = {"action": "reinstate_labels", "_selected_action": [spammer.pk]}
    asked = admin_client_.post(changelist, form)
    assert asked.status_code == 200 and "Why is the withdrawal undone?" in asked.content.decode()
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is not None
    admin_client_.post(changelist, {**form, "confirm": "1", "note": "mistake"})
    spammer.refresh_from_db()
    assert spammer.labels_withdrawn_at is None
    assert list(AnnotatorEvent.objects.values_list("action", flat=True)) == ["reinstated", "withdrawn"]
    nothing = admin_client_.post(changelist, form)  # not withdrawn: nothing to undo
    assert "nothing to undo" in nothing.content.decode()


def test_a_member_whose_labels_are_withdrawn_cannot_be_deleted_in_the_admin(admin_client_, spammer):
    services.annotator_labels_withdraw(membership=spammer, by=None, note="spam")
    other = MembershipFactory(study=spammer.study)
    changelist = reverse("admin:labeling_membership_changelist")
    form = {"action": "delete_selected", "_selected_action": [spammer.pk, other.pk]}
    asked = admin_client_.post(changelist, form)
    assert "permission to delete" in asked.content.decode()
    assert admin_client_.post(changelist, {**form, "post": "yes"}).status_code == 403
    url = reverse("admin:labeling_membership_delete", args=[spammer.pk])
    assert admin_client_.post(url, {"post": "yes"}).status_code == 403
    assert Membership.objects.filter(pk__in=[spammer.pk, other.pk]).count() == 2


def test_a_participants_consent_to_share_their_videos_is_set_in_the_admin(admin_client_):
    participant = Participant.objects.create(study=StudyFactory(), code="P-1")
    assert participant.consent_media_sharing is False  # off unless given
    url = reverse("admin:labeling_participant_change", args=[participant.pk])
    form = {"study": participant.study_id, "code": "P-1", "consent_scope": "", "consent_media_sharing": "on"}
    form.update({"events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"})
    form.update({"links-TOTAL_FORMS": "0", "links-INITIAL_FORMS": "0"})
    assert admin_client_.post(url, form).status_code == 302
    participant.refresh_from_db()
    assert participant.consent_media_sharing is True
    listed = admin_client_.get(
        reverse("admin:labeling_participant_changelist"), {"consent_media_sharing__exact": "1"}
    )
    assert "P-1" in listed.content.decode()
