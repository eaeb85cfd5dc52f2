"""Django admin: pages render with a fixed number of queries, rules go through services, labels are read-only."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling import services
from labeling.demo import render_demo_clip
from labeling.models import Annotation, Clip, Invite, Membership, Participant, Role, SchemeVersion, Study
from labeling.scheme import DEFAULT_SPEC
from tests.factories import ClipFactory, MembershipFactory, StudyFactory, UserFactory
from tests.factories import rating_data as rating

pytestmark = pytest.mark.django_db

MODELS = ["study", "schemeversion", "clip", "membership", "invite", "participant", "assignment", "annotation"]


@pytest.fixture
def admin_client_(client):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client


def populate(n_clips: int, n_annotators: int) -> Study:
    """A study with clips, participants, invites, leases and submitted labels made through the services."""
    study = StudyFactory()
    MembershipFactory(study=study, role=Role.RESEARCHER)
    participants = [Participant.objects.create(study=study, code=f"P{study.pk}-{i}") for i in range(n_clips)]
    for participant in participants:
        ClipFactory(study=study, participant=participant)
        Invite.objects.create(study=study, note=participant.code)
    for _ in range(n_annotators):
        membership = MembershipFactory(study=study)
        services.annotation_submit(
            assignment=services.assignment_claim_next(membership=membership), data=rating()
        )
        services.assignment_claim_next(membership=membership)  # an open lease too
    return study


def changelist_queries(client, model: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(f"admin:labeling_{model}_changelist"))
    assert response.status_code == 200, model
    return len(ctx.captured_queries)


def test_changelists_render_with_a_fixed_number_of_queries(admin_client_):
    populate(n_clips=2, n_annotators=2)
    small = {model: changelist_queries(admin_client_, model) for model in MODELS}
    populate(n_clips=12, n_annotators=10)
    large = {model: changelist_queries(admin_client_, model) for model in MODELS}
    assert small == large
    assert max(large.values()) <= 10, large
    with CaptureQueriesContext(connection) as ctx:
        assert admin_client_.get(reverse("admin:annotator_user_changelist")).status_code == 200
    assert len(ctx.captured_queries) <= 10


def test_change_pages_and_tools_render_for_a_superuser(admin_client_):
    study = populate(n_clips=2, n_annotators=2)
    objects = {
        "study": study,
        "schemeversion": study.schemes.first(),
        "clip": study.clips.first(),
        "membership": study.memberships.first(),
        "invite": study.invites.first(),
        "participant": study.participants.first(),
        "assignment": study.assignments.first(),
        "annotation": study.annotations.first(),
    }
    for model, obj in objects.items():
        response = admin_client_.get(reverse(f"admin:labeling_{model}_change", args=[obj.pk]))
        assert response.status_code == 200, model
    for url in ("admin:labeling_study_add", "admin:labeling_clip_upload", "admin:labeling_invite_add"):
        assert admin_client_.get(reverse(url)).status_code == 200, url
    add_clip = admin_client_.get(reverse("admin:labeling_clip_add") + f"?study={study.pk}")
    assert add_clip.status_code == 302 and add_clip["Location"].endswith(
        f"/admin/labeling/clip/upload/?study={study.pk}"
    )
    filtered = admin_client_.get(
        reverse("admin:labeling_annotation_changelist"), {"study": study.pk, "cannot_judge__exact": 0}
    )
    assert filtered.status_code == 200 and filtered.context["cl"].result_count == 2
    searched = admin_client_.get(reverse("admin:labeling_clip_changelist"), {"q": study.clips.first().sha256})
    assert searched.context["cl"].result_count == 1


def test_invite_admin_shows_the_full_link(admin_client_):
    Invite.objects.create(study=StudyFactory(), token="abc-token")
    response = admin_client_.get(reverse("admin:labeling_invite_changelist"))
    assert 'value="http://testserver/invite/abc-token/"' in response.content.decode()


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


def test_annotation_admin_is_read_only(admin_client_):
    study = populate(n_clips=1, n_annotators=1)
    annotation = Annotation.objects.get(study=study)
    before = Annotation.objects.values().get(pk=annotation.pk)
    change = reverse("admin:labeling_annotation_change", args=[annotation.pk])
    page = admin_client_.get(change)
    assert page.status_code == 200 and 'name="valence"' not in page.content.decode()
    assert (
        admin_client_.post(change, {"valence": "-1", "arousal": "-1", "cannot_judge": "on"}).status_code
        == 403
    )
    assert (
        admin_client_.post(
            reverse("admin:labeling_annotation_delete", args=[annotation.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert admin_client_.get(reverse("admin:labeling_annotation_add")).status_code == 403
    bulk = admin_client_.post(
        reverse("admin:labeling_annotation_changelist"),
        {"action": "delete_selected", "_selected_action": [annotation.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Annotation.objects.values().get(pk=annotation.pk) == before


def test_clip_save_writes_only_edited_fields(admin_client_):
    study = populate(n_clips=1, n_annotators=0)
    clip = study.clips.get()
    url = reverse("admin:labeling_clip_change", args=[clip.pk])
    assert admin_client_.get(url).status_code == 200
    # meanwhile an annotator claims the clip: the counter moves under the open form
    services.assignment_claim_next(membership=MembershipFactory(study=study))
    response = admin_client_.post(url, {"participant": clip.participant_id or "", "is_active": ""})
    assert response.status_code == 302
    clip.refresh_from_db()
    assert clip.is_active is False and clip.n_assigned == 1


def test_staff_researcher_sees_only_their_studies(client):
    mine, theirs = populate(n_clips=2, n_annotators=1), populate(n_clips=3, n_annotators=1)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="labeling"))
    MembershipFactory(study=mine, user=staff, role=Role.RESEARCHER)
    client.force_login(staff)
    clips = client.get(reverse("admin:labeling_clip_changelist"))
    assert clips.context["cl"].result_count == 2
    assert (
        client.get(reverse("admin:labeling_clip_change", args=[theirs.clips.first().pk])).status_code == 302
    )
    studies = client.get(reverse("admin:labeling_study_changelist"))
    assert [s.pk for s in studies.context["cl"].result_list] == [mine.pk]
    upload = client.get(reverse("admin:labeling_clip_upload"))
    assert list(upload.context["form"].fields["study"].queryset) == [mine]


def test_bulk_upload_reports_each_file(admin_client_, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = StudyFactory()
    video = render_demo_clip(tmp_path / "v.mp4", seconds=1.0, fps=10, size=(160, 120)).read_bytes()
    response = admin_client_.post(
        reverse("admin:labeling_clip_upload"),
        {
            "study": study.pk,
            "files": [
                SimpleUploadedFile("real.mp4", video, content_type="video/mp4"),
                SimpleUploadedFile("fake.mp4", b"this is a text file\n" * 50, content_type="video/mp4"),
            ],
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 imported, 1 refused" in html
    results = {r.name: r for r in response.context["results"]}
    assert results["real.mp4"].ok and not results["fake.mp4"].ok
    assert "not a video" in results["fake.mp4"].error.lower() and results["fake.mp4"].error in html
    clip = Clip.objects.get(study=study)
    assert (clip.original_name, clip.width, clip.height, clip.target_k) == (
        "real.mp4",
        160,
        120,
        study.overlap_k,
    )
    assert reverse("admin:labeling_clip_change", args=[clip.pk]) in html


def test_migrated_studies_do_not_share_a_crowd_key(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from labeling.models import Study as StudyModel

    executor = MigrationExecutor(connection)
    executor.migrate([("labeling", "0002_agreement_report")])
    old_apps = executor.loader.project_state([("labeling", "0002_agreement_report")]).apps
    OldStudy = old_apps.get_model("labeling", "Study")
    for i in range(3):
        OldStudy.objects.create(title=f"old {i}", slug=f"old-{i}")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    keys = list(StudyModel.objects.filter(slug__startswith="old-").values_list("crowd_key", flat=True))
    assert len(keys) == 3 and len(set(keys)) == 3 and all(len(k) >= 20 for k in keys)


# --- issue 6: removing members and users through the admin ---------------------------------------------------


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


def test_admin_refuses_to_add_a_crowd_account_to_another_study(admin_client_):
    home, other = StudyFactory(), StudyFactory()
    crowd = UserFactory(username="crowd-1", is_pseudonymous=True, crowd_study=home, crowd_pid="5f1a2b3c4d")
    data = {"study": other.pk, "user": crowd.pk, "role": "annotator", "joined_via": "account"}
    response = admin_client_.post(reverse("admin:labeling_membership_add"), data)
    assert response.status_code == 200 and "crowd participant" in response.content.decode()
    assert not Membership.objects.filter(user=crowd).exists()
    data["study"] = home.pk
    assert admin_client_.post(reverse("admin:labeling_membership_add"), data).status_code == 302


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


def test_admin_scheme_with_a_lone_surrogate_tag_is_refused(admin_client_):
    scheme = json.dumps({"context_groups": [{"name": "setting", "tags": ["home", "street\ud800"]}]})
    response = admin_client_.post(reverse("admin:labeling_study_add"), study_post(scheme=scheme))
    assert response.status_code == 200
    assert "surrogate characters are not allowed" in response.content.decode()
    assert not Study.objects.filter(title="Faces at home").exists()


@pytest.mark.parametrize(
    "value", ["9" * 30, "²", "-1", "1\x00"], ids=["huge", "superscript", "negative", "nul"]
)
@pytest.mark.parametrize("model", ["clip", "annotation", "assignment", "schemeversion", "invite"])
def test_huge_integer_in_admin_study_filter_is_not_500(admin_client_, model, value):
    StudyFactory()
    params = {"study": value, "scheme": value} if model == "annotation" else {"study": value}
    response = admin_client_.get(reverse(f"admin:labeling_{model}_changelist"), params)
    assert response.status_code in (200, 302, 400), response.status_code
    add = admin_client_.get(reverse("admin:labeling_invite_add"), {"study": value})
    assert add.status_code in (200, 400)
