"""The user admin: deleting a user returns their clip slots (issue 6), anonymising keeps their labels, crowd
ids are read-only."""

import pytest
from django.urls import reverse

from labeling import services
from labeling.models import Annotation, Clip
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory
from tests.factories import rating_data as rating

pytestmark = pytest.mark.django_db


def test_admin_user_delete_returns_the_clip_slot(admin_client_):
    study = StudyFactory()
    clip = ClipFactory(study=study, target_k=1)
    member = MembershipFactory(study=study)
    services.assignment_claim_next(membership=member)
    url = reverse("admin:annotator_user_delete", args=[member.user_id])
    assert admin_client_.post(url, {"post": "yes"}).status_code == 302
    assert Clip.objects.get(pk=clip.pk).n_assigned == 0


def test_admin_anonymise_action_keeps_labels(admin_client_):
    study = StudyFactory()
    ClipFactory.create_batch(2, study=study)
    member = MembershipFactory(study=study, user=UserFactory(email="someone@example.org", first_name="Sam"))
    services.annotation_submit(assignment=services.assignment_claim_next(membership=member), data=rating())
    changelist = reverse("admin:annotator_user_changelist")
    response = admin_client_.post(changelist, {"action": "anonymise", "_selected_action": [member.user_id]})
    assert response.status_code == 302
    member.user.refresh_from_db()
    assert member.user.username.startswith("anon-") and member.user.email == "" and not member.user.is_active
    assert Annotation.objects.filter(annotator=member.user).count() == 1


def test_admin_user_change_page_keeps_crowd_ids_read_only(admin_client_):
    crowd = UserFactory(
        username="crowd-2", is_pseudonymous=True, crowd_study=StudyFactory(), crowd_pid="5f1a2b3c4d"
    )
    url = reverse("admin:annotator_user_change", args=[crowd.pk])
    page = admin_client_.get(url)
    assert page.status_code == 200 and "5f1a2b3c4d" in page.content.decode()
    assert (
        'name="crowd_pid"' not in page.content.decode() and 'name="crowd_study"' not in page.content.decode()
    )
