"""The study admin: adding a study and editing its scheme go through the services; the agreement action."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from labeling.models import AgreementReport, Membership, Role, SchemeVersion, Study
from labeling.scheme import DEFAULT_SPEC
from tests.factories import MembershipFactory, StudyFactory, UserFactory
from tests.labeling.admin.helpers import populate

pytestmark = pytest.mark.django_db


def study_post(**over):
    data = {
        "title": "Faces at home",
        "slug": "",
        "is_active": "on",
        "instructions": "Rate **how the person feels**.",
        "consent_text": "I agree.",
        "overlap_k": 4,
        "lease_minutes": 10,
        "require_full_view": "on",
        "completion_code": "C0DE",
        "completion_url": "",
        "scheme": json.dumps(DEFAULT_SPEC),
        "schemes-TOTAL_FORMS": 0,
        "schemes-INITIAL_FORMS": 0,
        "schemes-MIN_NUM_FORMS": 0,
        "schemes-MAX_NUM_FORMS": 1000,
    }
    data.update(over)
    return data


def test_study_add_goes_through_the_service(admin_client_):
    response = admin_client_.post(reverse("admin:labeling_study_add"), study_post())
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    study = Study.objects.get(slug="faces-at-home")
    assert (study.overlap_k, study.lease_minutes, study.completion_code) == (4, 10, "C0DE")
    assert study.created_by.username == "root"
    assert list(study.schemes.values_list("version", flat=True)) == [1]
    assert Membership.objects.filter(study=study, user__username="root", role=Role.RESEARCHER).exists()


def test_study_add_refuses_a_bad_scheme_and_a_taken_slug(admin_client_):
    StudyFactory(slug="taken")
    bad = admin_client_.post(
        reverse("admin:labeling_study_add"), study_post(scheme=json.dumps({"instrument": "dial"}))
    )
    assert bad.status_code == 200
    assert "instrument: must be one of sam, slider, grid" in bad.content.decode()
    taken = admin_client_.post(reverse("admin:labeling_study_add"), study_post(title="Taken"))
    assert taken.status_code == 200 and "is taken" in taken.content.decode()
    assert not Study.objects.filter(title__in=["Faces at home", "Taken"]).exists()


def test_scheme_edit_of_a_used_version_makes_a_new_version(admin_client_):
    study = populate(n_clips=1, n_annotators=1)  # v1 is used by a label
    url = reverse("admin:labeling_study_change", args=[study.pk])
    spec = {**DEFAULT_SPEC, "instrument": "slider"}
    form = study_post(title=study.title, slug=study.slug, scheme=json.dumps(spec), overlap_k=study.overlap_k)
    form.update(
        {"schemes-TOTAL_FORMS": 1, "schemes-INITIAL_FORMS": 1, "schemes-0-id": study.schemes.get().pk}
    )
    form["schemes-0-study"] = study.pk
    response = admin_client_.post(url, form, follow=True)
    assert response.status_code == 200
    assert "saved as v2" in response.content.decode()
    versions = dict(study.schemes.values_list("version", "spec__instrument"))
    assert versions == {1: "sam", 2: "slider"}
    # v2 is not used yet: editing it again changes it in place
    form["scheme"] = json.dumps({**spec, "ask_confidence": False})
    form["schemes-TOTAL_FORMS"] = form["schemes-INITIAL_FORMS"] = 2
    form["schemes-1-id"], form["schemes-1-study"] = study.schemes.get(version=1).pk, study.pk
    form["schemes-0-id"] = study.schemes.get(version=2).pk
    admin_client_.post(url, form)
    assert SchemeVersion.objects.filter(study=study).count() == 2
    assert SchemeVersion.objects.get(study=study, version=2).spec["ask_confidence"] is False


def test_admin_scheme_with_a_lone_surrogate_tag_is_refused(admin_client_):
    scheme = json.dumps({"context_groups": [{"name": "setting", "tags": ["home", "street\ud800"]}]})
    response = admin_client_.post(reverse("admin:labeling_study_add"), study_post(scheme=scheme))
    assert response.status_code == 200
    assert "surrogate characters are not allowed" in response.content.decode()
    assert not Study.objects.filter(title="Faces at home").exists()


def test_admin_action_queues_a_run_for_the_users_studies_only(
    rated, sent, client, django_capture_on_commit_callbacks
):
    other = StudyFactory()
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="labeling"))
    MembershipFactory(study=rated, user=staff, role="researcher")
    client.force_login(staff)
    url = reverse("admin:labeling_study_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            url, {"action": "compute_agreement", "_selected_action": [rated.pk, other.pk]}, follow=True
        )
    assert resp.status_code == 200
    assert "Agreement run queued for 1 study." in resp.content.decode()
    assert list(AgreementReport.objects.values_list("study_id", "requested_by_id")) == [(rated.pk, staff.pk)]
    assert len(sent) == 1
