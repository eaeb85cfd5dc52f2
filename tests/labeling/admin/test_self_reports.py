"""The self-report admin, through its pages: scoped to the user's studies, read-only, deletable by the study's
researchers (how a wrong import is undone: by its "imported at" filter), and the "Import self-reports" page
(study picker limited to the user's studies, dry run, every bad row in a table, nothing imported)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.models import Role, SelfReport
from labeling.services import self_reports_import
from tests.factories import MembershipFactory, UserFactory
from tests.labeling.self_report_helpers import csv_bytes, row, world

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:labeling_selfreport_import")
CHANGELIST = reverse("admin:labeling_selfreport_changelist")


def staff_researcher(*studies):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="labeling"))
    for study in studies:
        MembershipFactory(study=study, user=user, role=Role.RESEARCHER)
    return user


def imported(w, rows):
    return self_reports_import(study=w.study, content=csv_bytes(rows), filename_or_format="csv")


@pytest.fixture
def mine():
    return world()


@pytest.fixture
def theirs():
    return world()


@pytest.fixture
def researcher_client(client, mine):
    client.force_login(staff_researcher(mine.study))
    return client


def upload(client, w, rows, *, dry_run=False, name="reports.csv", content=None):
    data = {"study": w.study.pk, "file": SimpleUploadedFile(name, content or csv_bytes(rows))}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(IMPORT, data)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_changelist_links_the_import_page_and_lists_only_the_users_studies(
    researcher_client, mine, theirs
):
    imported(mine, [row(mine, id="m")])
    imported(theirs, [row(theirs, id="t1"), row(theirs, id="t2", start_s="0", end_s="1")])
    page = researcher_client.get(CHANGELIST)
    assert page.status_code == 200 and IMPORT in page.content.decode()
    assert "Import self-reports" in page.content.decode() and "undo a wrong import" in text(page)
    assert [r.external_id for r in page.context["cl"].result_list] == ["m"]
    other = SelfReport.objects.get(external_id="t1")
    assert (
        researcher_client.get(reverse("admin:labeling_selfreport_change", args=[other.pk])).status_code == 302
    )
    assert researcher_client.get(reverse("admin:labeling_selfreport_add")).url == IMPORT


def test_the_changelist_renders_with_a_fixed_number_of_queries(researcher_client, mine):
    imported(mine, [row(mine, id="a")])

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert researcher_client.get(CHANGELIST).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    imported(mine, [row(mine, id=f"b{i}", start_s=str(i / 10), end_s=str(i / 10 + 0.1)) for i in range(20)])
    assert count() == few <= 12


def test_a_self_report_cannot_be_changed_in_the_admin(researcher_client, mine):
    imported(mine, [row(mine, id="a")])
    report = SelfReport.objects.get()
    before = SelfReport.objects.values().get()
    change = reverse("admin:labeling_selfreport_change", args=[report.pk])
    page = researcher_client.get(change)
    assert page.status_code == 200 and 'name="valence_raw"' not in page.content.decode()
    assert researcher_client.post(change, {"valence_raw": "1"}).status_code == 403
    assert SelfReport.objects.values().get() == before


def test_a_wrong_import_is_undone_by_deleting_its_rows_after_a_confirmation(researcher_client, mine):
    imported(mine, [row(mine, id="first")])
    imported(
        mine, [row(mine, id="wrong1", start_s="0", end_s="1"), row(mine, id="wrong2", start_s="1", end_s="2")]
    )
    when = SelfReport.objects.get(external_id="wrong1").created_at
    filtered = researcher_client.get(CHANGELIST, {"imported_at": when.isoformat()})
    assert sorted(r.external_id for r in filtered.context["cl"].result_list) == ["wrong1", "wrong2"]
    assert "(2 rows)" in filtered.content.decode()
    assert researcher_client.get(CHANGELIST, {"imported_at": "not a time"}).context["cl"].result_count == 0
    selected = [r.pk for r in filtered.context["cl"].result_list]
    confirm = researcher_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": selected})
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    assert SelfReport.objects.count() == 3  # nothing yet
    done = researcher_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    )
    assert done.status_code == 302
    assert list(SelfReport.objects.values_list("external_id", flat=True)) == ["first"]
    # The corrected file then imports.
    assert upload(researcher_client, mine, [row(mine, id="fixed", start_s="0", end_s="1")]).status_code == 200
    assert SelfReport.objects.filter(external_id="fixed").exists()


def test_another_studys_self_report_cannot_be_deleted(researcher_client, theirs):
    imported(theirs, [row(theirs, id="t")])
    other = SelfReport.objects.get()
    delete = reverse("admin:labeling_selfreport_delete", args=[other.pk])
    assert researcher_client.post(delete, {"post": "yes"}).status_code == 302  # "no such object": redirected
    researcher_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"}
    )
    assert SelfReport.objects.filter(pk=other.pk).exists()


def test_the_import_page_offers_only_the_users_studies(researcher_client, mine, theirs):
    page = researcher_client.get(IMPORT, {"study": mine.study.pk})
    assert page.status_code == 200
    choices = [pk for pk, _ in page.context["form"].fields["study"].choices]
    assert [str(pk) for pk in choices] == [str(mine.study.pk)]
    assert 'name="dry_run"' in page.content.decode() and 'type="file"' in page.content.decode()
    refused = upload(researcher_client, theirs, [row(theirs)])
    assert refused.status_code == 200 and refused.context["form"].errors["study"]
    assert not SelfReport.objects.exists()


def test_importing_through_the_page(researcher_client, mine):
    content = [row(mine, id="a"), row(mine, id="b", start_s="0", end_s="1")]
    dry = upload(researcher_client, mine, content, dry_run=True)
    assert dry.status_code == 200 and "Dry run: nothing was written" in text(dry)
    assert "2 would be created, 0 already imported" in text(dry) and not SelfReport.objects.exists()
    done = upload(researcher_client, mine, content)
    assert "2 created, 0 already imported (unchanged)" in text(done)
    assert "2 self-report(s) imported" in text(done)
    assert SelfReport.objects.filter(study=mine.study).count() == 2
    again = upload(researcher_client, mine, content)
    assert "0 created, 2 already imported (unchanged)" in text(again)


def test_a_bad_file_shows_every_bad_row_in_a_table_and_imports_nothing(researcher_client, mine):
    content = [
        row(mine, id="ok"),
        row(mine, participant="P-99"),
        row(mine, clip=str(mine.clip3.pk), start_s="0", end_s="9"),
    ]
    for dry_run in (False, True):
        page = upload(researcher_client, mine, content, dry_run=dry_run)
        assert page.status_code == 200
        shown = text(page)
        assert "Nothing was imported: 2 of 3 rows have problems" in shown
        table = re.findall(
            r"<tr><td>(line \d+)</td><td><code>(\w+)</code></td><td class=\"reason\">([^<]*)</td></tr>", shown
        )
        assert [(where, column) for where, column, _ in table] == [
            ("line 3", "participant"), ("line 4", "clip"), ("line 4", "end_s"),
        ]  # fmt: skip
        assert "no participant with the code &#x27;P-99&#x27; in this study" in table[0][2]
    unreadable = upload(researcher_client, mine, [], content="caf\xe9".encode("latin-1"))
    assert "not UTF-8" in text(unreadable)
    assert not SelfReport.objects.exists()


def test_an_annotator_without_staff_access_cannot_reach_the_admin_pages(client, mine):
    annotator = MembershipFactory(study=mine.study).user
    client.force_login(annotator)
    for address in (IMPORT, CHANGELIST):
        response = client.get(address)
        assert response.status_code == 302 and "/login/" in response.url
    upload(client, mine, [row(mine)])
    assert not SelfReport.objects.exists()
