"""Django admin, every labeling model (labeling/admin/base.py: scoped admins and filters): pages render with a
fixed number of queries, a staff researcher sees only their studies, odd filter values are not a 500. Each
admin module's own rules are tested in the module beside this one."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.models import Role
from tests.factories import MembershipFactory, StudyFactory, UserFactory
from tests.labeling.admin.helpers import populate

pytestmark = pytest.mark.django_db

MODELS = ["study", "schemeversion", "clip", "membership", "invite", "participant", "assignment", "annotation"]


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
