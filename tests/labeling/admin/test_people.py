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


# ---- participants and their consent (labeling.services.participants) ----------------------------------------


def consent_form(study=None, code=None, **over) -> dict:
    """The participant change form as the browser posts it: ticked boxes are "on", unticked are absent."""
    form = {
        "consent_version": "v1",
        "consent_date": "2026-01-10",
        "consent_annotation": "on",
        "consent_labels_export": "on",
        "consent_scope": "",
        "age_band": "",
        "gender": "",
        "change_note": "",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "links-TOTAL_FORMS": "0",
        "links-INITIAL_FORMS": "0",
    }
    if study is not None:
        form.update({"study": study.pk, "code": code})
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_the_participant_page_shows_the_consent_fieldsets_with_their_help(admin_client_):
    p = services.participant_create(study=StudyFactory(), code="P-1")
    page = admin_client_.get(reverse("admin:labeling_participant_change", args=[p.pk])).content.decode()
    for words in (
        "Consent scopes",
        "Given with consent",
        "Other consent terms",
        "Without it no clip of theirs is served",
        "never the media",
        "withdrawal and consent log",
    ):
        assert words.lower() in page.lower()


def test_adding_a_participant_in_the_admin_goes_through_the_service(admin_client_):
    study = StudyFactory()
    url = reverse("admin:labeling_participant_add")
    bad = admin_client_.post(url, consent_form(study, "P-1", consent_date="2999-01-01", gender="a\u0007b"))
    page = bad.content.decode()
    assert bad.status_code == 200 and "cannot be in the future" in page and "plain text" in page
    assert not Participant.objects.exists()
    response = admin_client_.post(url, consent_form(study, "P-1", consent_annotation=None, age_band="25-34"))
    assert response.status_code == 302
    p = Participant.objects.get(code="P-1")
    assert not p.consent_annotation and p.consent_labels_export and p.age_band == "25-34"
    assert not p.events.exists()


def test_changing_consent_in_the_admin_logs_each_scope_and_takes_clips_out_of_the_queue(admin_client_):
    study = StudyFactory()
    p = services.participant_create(study=study, code="P-1", consent_version="v1")
    clip = ClipFactory(study=study, participant=p)
    url = reverse("admin:labeling_participant_change", args=[p.pk])
    response = admin_client_.post(
        url,
        consent_form(consent_annotation=None, consent_media_sharing="on", change_note="re-signed"),
        follow=True,
    )
    assert "left the queue" in response.content.decode()
    assert list(p.events.order_by("id").values_list("action", "scope", "note")) == [
        ("withdrawn", "annotation", "re-signed"),
        ("reinstated", "media_sharing", "re-signed"),
    ]
    assert not Clip.objects.get(pk=clip.pk).is_active
    # The log is shown with its scopes, read-only.
    page = admin_client_.get(url).content.decode()
    assert "media_sharing" in page and "re-signed" in page
    # Activating the clip in the admin is refused while consent is absent.
    clip_url = reverse("admin:labeling_clip_change", args=[clip.pk])
    refused = admin_client_.post(clip_url, {"participant": p.pk, "is_active": "on"})
    assert refused.status_code == 200 and "does not consent to annotation" in refused.content.decode()
    assert not Clip.objects.get(pk=clip.pk).is_active
    # Given back: the page says the clips stay inactive.
    response = admin_client_.post(url, consent_form(consent_media_sharing="on"), follow=True)
    assert "stay inactive" in response.content.decode()
    assert not Clip.objects.get(pk=clip.pk).is_active
    assert p.events.count() == 3


def test_the_admin_refuses_bad_consent_values_and_changes_nothing(admin_client_):
    p = services.participant_create(study=StudyFactory(), code="P-1", gender="man")
    url = reverse("admin:labeling_participant_change", args=[p.pk])
    response = admin_client_.post(url, consent_form(consent_annotation=None, gender="x" * 65, age_band="old"))
    assert response.status_code == 200
    p.refresh_from_db()
    assert p.consent_annotation and p.gender == "man" and not p.events.exists()
