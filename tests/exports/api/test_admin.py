"""Exports in the Django admin (exports/admin.py): read-only list and detail scoped to the user's studies,
deletion through export_delete (never of a build in progress), and the study list's "Build a dataset export"
action."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exports import services
from exports.models import Export
from tests.exports.helpers import finish_by_hand
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:exports_export_changelist")


def staff_researcher_of(study):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["labeling", "exports"]))
    MembershipFactory(study=study, role="researcher", user=staff)
    return staff


def test_the_list_shows_each_export_with_its_state(admin_client_, done_export, world, queued):
    running = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=running.pk).update(status="running", progress=0.25)
    Export.objects.filter(pk=done_export.pk).update(
        withdrawn_data_at=timezone.now(), row_counts={"ratings": 1234}
    )
    resp = admin_client_.get(CHANGELIST)
    assert resp.status_code == 200
    assert [e.pk for e in resp.context["cl"].result_list] == [running.pk, done_export.pk]
    html = resp.content.decode()
    assert "25%" in html and "1,234" in html and "11.0\xa0KB" in html
    assert 'alt="True"' in html  # the withdrawn-data marker
    assert "Add dataset export" not in html
    withdrawn = admin_client_.get(CHANGELIST, {"withdrawn": "yes"}).context["cl"].result_list
    assert [e.pk for e in withdrawn] == [done_export.pk]


def test_the_list_takes_a_fixed_number_of_queries(admin_client_, world, queued):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_.get(CHANGELIST).status_code == 200
        return len(ctx.captured_queries)

    finish_by_hand(services.export_start(study=world["study"], parameters={}, created_by=world["researcher"]))
    few = count()
    for _ in range(5):
        finish_by_hand(
            services.export_start(study=world["study"], parameters={}, created_by=world["researcher"])
        )
    assert count() == few <= 10


def test_the_detail_is_read_only_with_its_downloads(admin_client_, done_export):
    resp = admin_client_.get(reverse("admin:exports_export_change", args=[done_export.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'name="_save"' not in html
    assert f'href="/api/exports/{done_export.pk}/download.zip"' in html
    assert "data/ratings/train.parquet · 10.0\xa0KB<br>" in html
    Export.objects.filter(pk=done_export.pk).update(withdrawn_data_at=timezone.now())
    html = admin_client_.get(reverse("admin:exports_export_change", args=[done_export.pk])).content.decode()
    assert "holds data withdrawn on" in html and "download.zip" not in html


def test_a_staff_researcher_sees_only_their_studies_exports(client, world, queued):
    mine = finish_by_hand(services.export_start(study=world["study"], parameters={}))
    theirs = finish_by_hand(services.export_start(study=world["other_study"], parameters={}))
    client.force_login(staff_researcher_of(world["study"]))
    listed = client.get(CHANGELIST).context["cl"].result_list
    assert [e.pk for e in listed] == [mine.pk]
    other = client.get(reverse("admin:exports_export_change", args=[theirs.pk]))
    assert other.status_code == 302  # "does not exist", as for every object of another study
    assert (
        client.post(reverse("admin:exports_export_delete", args=[theirs.pk]), {"post": "yes"}).status_code
        == 302
    )
    assert Export.objects.filter(pk=theirs.pk).exists()


def test_delete_goes_through_the_service(admin_client_, done_export, exports_root):
    url = reverse("admin:exports_export_delete", args=[done_export.pk])
    assert admin_client_.get(url).status_code == 200  # the confirmation page
    resp = admin_client_.post(url, {"post": "yes"})
    assert resp.status_code == 302
    assert not Export.objects.exists() and not (exports_root / done_export.folder).exists()


def test_an_export_being_built_cannot_be_deleted(admin_client_, world, queued):
    export = services.export_start(study=world["study"], parameters={})
    assert (
        admin_client_.post(
            reverse("admin:exports_export_delete", args=[export.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Export.objects.filter(pk=export.pk).exists()


def test_the_bulk_delete_leaves_builds_in_progress_alone(
    admin_client_, done_export, world, queued, exports_root
):
    running = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=running.pk).update(status="running")
    chosen = {"action": "delete_selected", "_selected_action": [done_export.pk, running.pk]}
    confirm = admin_client_.post(CHANGELIST, chosen)
    assert confirm.status_code == 200 and "Still being built, so left alone" in confirm.content.decode()
    done = admin_client_.post(CHANGELIST, {**chosen, "post": "yes"}, follow=True)
    assert done.status_code == 200
    assert list(Export.objects.values_list("pk", flat=True)) == [running.pk]
    assert not (exports_root / done_export.folder).exists()


def test_the_study_list_action_builds_an_export_with_the_defaults(
    admin_client_, world, queued, django_capture_on_commit_callbacks
):
    study = world["study"]
    with django_capture_on_commit_callbacks(execute=True):
        resp = admin_client_.post(
            reverse("admin:labeling_study_changelist"),
            {"action": "build_dataset_export", "_selected_action": [study.pk]},
            follow=True,
        )
    assert resp.status_code == 200
    export = Export.objects.get()
    assert export.study == study and export.parameters == services.parse_parameters({})
    assert export.created_by.username == "root" and queued == [export.pk]
    assert f"Export started: {study} v1" in resp.content.decode()


def test_a_staff_researcher_builds_only_their_own_studies(client, world, queued):
    client.force_login(staff_researcher_of(world["study"]))
    client.post(
        reverse("admin:labeling_study_changelist"),
        {"action": "build_dataset_export", "_selected_action": [world["study"].pk, world["other_study"].pk]},
    )
    assert list(Export.objects.values_list("study_id", flat=True)) == [world["study"].pk]


@pytest.mark.django_db(transaction=True)
def test_the_action_with_the_broker_down_says_so_and_leaves_nothing(admin_client_, world, broker_down):
    resp = admin_client_.post(
        reverse("admin:labeling_study_changelist"),
        {"action": "build_dataset_export", "_selected_action": [world["study"].pk]},
        follow=True,
    )
    assert "the task queue (broker) is unreachable" in resp.content.decode()
    assert not Export.objects.exists()
