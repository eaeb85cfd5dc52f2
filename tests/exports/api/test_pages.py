"""The study page's "Dataset exports" section (exports/views.py, templates/exports/): loaded into the study page
by URL, the study's exports with progress (polled while a build runs), downloads, the withdrawn-data refusal
and delete buttons, and the start form with its defaults and its errors beside the fields."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from exports import services
from exports.models import Export
from tests.exports.helpers import finish_by_hand
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def section_url(study) -> str:
    return f"/studies/{study.pk}/exports/"


def start_url(study) -> str:
    return f"/studies/{study.pk}/exports/start/"


def form(**over) -> dict:
    data = {
        "grid_valence": "5",
        "grid_arousal": "5",
        "split_train": "0.8",
        "split_validation": "0.1",
        "split_test": "0.1",
        "split_seed": "0",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def page(world):
    client = Client()
    client.force_login(world["researcher"])
    return client


def test_the_study_page_loads_the_section_by_url_and_links_to_it(page, world):
    html = page.get(f"/studies/{world['study'].pk}/").content.decode()
    placeholder = re.search(r'<section id="exports"[^>]*>', html).group(0)
    assert f'hx-get="{section_url(world["study"])}"' in placeholder and 'hx-trigger="load"' in placeholder
    assert f'href="{section_url(world["study"])}"' in html  # without JavaScript, or if the load fails
    assert "css/exports.css" in html


def test_the_section_for_htmx_and_the_page_without(page, world):
    part = page.get(section_url(world["study"]), **HTMX)
    body = part.content.decode()
    assert (
        part.status_code == 200 and "<html" not in body and body.lstrip().startswith('<section id="exports"')
    )
    assert "No exports yet" in body
    full = page.get(section_url(world["study"])).content.decode()
    assert "<html" in full and 'aria-label="Breadcrumb"' in full and 'id="exports"' in full


def test_the_form_has_the_defaults_and_a_label_for_every_input(page, world):
    html = page.get(section_url(world["study"]), **HTMX).content.decode()
    values = dict(re.findall(r'<input type="number" name="(\w+)" value="([^"]*)"', html))
    assert values == {
        "grid_valence": "5",
        "grid_arousal": "5",
        "split_train": "0.8",
        "split_validation": "0.1",
        "split_test": "0.1",
        "split_seed": "0",
    }
    ids = re.findall(r'<input [^>]*id="([^"]+)"', html)
    assert ids and all(f'for="{i}"' in html for i in ids), ids
    assert not re.search(r'<input type="checkbox" name="include_\w+"[^>]* checked', html)  # opt-in only
    assert 'name="csrfmiddlewaretoken"' in html and "<script" not in html


def test_starting_an_export_from_the_form(page, world, queued, django_capture_on_commit_callbacks):
    study = world["study"]
    with django_capture_on_commit_callbacks(execute=True):
        resp = page.post(
            start_url(study), form(formats=["csv"], grid_valence="4", include_free_text="on"), **HTMX
        )
    assert resp.status_code == 200
    export = Export.objects.get()
    assert queued == [export.pk] and export.created_by == world["researcher"]
    assert export.parameters["grid"] == [4, 5] and export.parameters["formats"] == ["parquet", "csv"]
    assert export.parameters["include_free_text"] is True and export.parameters["include_media"] is False
    html = resp.content.decode()
    assert "Export v1 started" in html
    assert re.search(r'id="export-list"[^>]*hx-trigger="every 2s"', html)  # polls while it builds
    assert 'role="progressbar"' in html and "waiting for a worker" in html
    assert "No background worker is running" in html  # none has ever reported in this test


def test_a_queued_export_with_a_live_worker_has_no_alarm(page, world, queued):
    from tests.factories import beat_at

    services.export_start(study=world["study"], parameters={})
    beat_at("worker", ago_s=5)
    html = page.get(section_url(world["study"]), **HTMX).content.decode()
    assert "waiting for a worker" in html and "No background worker is running" not in html


def test_starting_without_javascript_redirects_to_the_study_page(page, world, queued):
    resp = page.post(start_url(world["study"]), form())
    assert resp.status_code == 302 and resp["Location"] == f"/studies/{world['study'].pk}/#exports"
    assert Export.objects.count() == 1


@pytest.mark.parametrize(
    ("over", "group", "words"),
    [
        ({"grid_valence": "0"}, "grid", "from 2 to 20"),
        ({"grid_valence": "100", "grid_arousal": "100"}, "grid", "at most 400 cells"),
        ({"split_test": "0.2"}, "splits", "the fractions must sum to 1 (they sum to 1.1)"),
        ({"split_seed": "-3"}, "splits", "whole number from 0"),
        ({"formats": ["xlsx"]}, None, "Select a valid choice"),
        ({"grid_arousal": "many"}, None, "Enter a whole number"),
        ({"split_train": None}, None, "This field is required"),
    ],
)
def test_bad_fields_are_shown_beside_them_and_nothing_is_started(page, world, queued, over, group, words):
    resp = page.post(start_url(world["study"]), form(**over), **HTMX)
    assert resp.status_code == 200  # htmx swaps the section with its errors
    html = resp.content.decode()
    assert words in html
    if group:
        assert re.search(rf'<p class="exp-error-text" id="exp-err-{group}">[^<]*{re.escape(words)}', html)
        assert f'aria-describedby="exp-err-{group}"' in html and 'aria-invalid="true"' in html
    assert '<details class="exp-new" open>' in html
    assert not Export.objects.exists() and queued == []
    plain = page.post(start_url(world["study"]), form(**over))
    assert plain.status_code == 400 and words in plain.content.decode()
    assert not Export.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_start_with_the_broker_down_says_so_and_leaves_nothing(page, world, broker_down):
    resp = page.post(start_url(world["study"]), form(), **HTMX)
    assert resp.status_code == 200 and "the task queue (broker) is unreachable" in resp.content.decode()
    assert not Export.objects.exists()


def test_progress_is_polled_until_the_build_finishes(page, world, queued):
    export = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=export.pk).update(
        status="running", progress=0.45, progress_message="ratings 450/1,000"
    )
    poll = page.get(section_url(world["study"]), HTTP_HX_TARGET="export-list", **HTMX)
    html = poll.content.decode()
    assert html.lstrip().startswith('<div id="export-list"') and "New export" not in html
    assert 'aria-valuenow="45"' in html and "ratings 450/1,000" in html and 'hx-trigger="every 2s"' in html
    assert "Download zip" not in html and "Delete" not in html  # no delete while it builds
    finish_by_hand(export)
    html = page.get(section_url(world["study"]), HTTP_HX_TARGET="export-list", **HTMX).content.decode()
    assert "hx-trigger" not in html and 'data-polling="no"' in html
    assert f'href="/api/exports/{export.pk}/download.zip"' in html
    assert f'href="/api/exports/{export.pk}/files/manifest.json"' in html
    assert "Delete export v1" in html


def test_a_failed_export_shows_its_error(page, world, queued):
    export = services.export_start(study=world["study"], parameters={})
    Export.objects.filter(pk=export.pk).update(
        status="failed", error="Writing the export's files failed: disk full"
    )
    html = page.get(section_url(world["study"]), **HTMX).content.decode()
    assert "Failed" in html and "disk full" in html and "Download zip" not in html


def test_an_export_with_withdrawn_data_is_marked_and_offers_no_download(page, world, done_export):
    Export.objects.filter(pk=done_export.pk).update(
        withdrawn_data_at=timezone.now(),
        withdrawn_note="1 participant withdrawn after this export was built.",
    )
    html = page.get(section_url(world["study"]), **HTMX).content.decode()
    row = re.search(rf'<tr id="export-{done_export.pk}".*?</tr>', html, re.S).group(0)
    assert "withdrawn data" in row and 'data-withdrawn="yes"' in row
    assert "holds data withdrawn on" in row and "1 participant withdrawn after this export was built." in row
    assert "download.zip" not in row and "Delete export v1" in row


def test_delete_from_the_page(page, world, done_export, exports_root):
    url = f"/studies/{world['study'].pk}/exports/{done_export.pk}/delete/"
    resp = page.post(url, **HTMX)
    assert resp.status_code == 200 and "Export v1 and its files were deleted" in resp.content.decode()
    assert not Export.objects.exists() and not (exports_root / done_export.folder).exists()


def test_an_export_being_built_is_not_deleted_from_the_page(page, world, queued):
    export = services.export_start(study=world["study"], parameters={})
    resp = page.post(f"/studies/{world['study'].pk}/exports/{export.pk}/delete/", **HTMX)
    assert resp.status_code == 200 and "still being built" in resp.content.decode()
    plain = page.post(f"/studies/{world['study'].pk}/exports/{export.pk}/delete/", follow=True)
    assert "still being built" in plain.content.decode()
    assert Export.objects.filter(pk=export.pk).exists()


@pytest.mark.parametrize("who", ["annotator", "crowd", "other_researcher"])
def test_everyone_else_gets_404_and_changes_nothing(world, done_export, queued, who):
    client = Client()
    client.force_login(world[who])
    study = world["study"]
    assert client.get(section_url(study), **HTMX).status_code == 404
    assert client.get(section_url(study)).status_code == 404
    assert client.post(start_url(study), form()).status_code == 404
    assert client.post(f"/studies/{study.pk}/exports/{done_export.pk}/delete/").status_code == 404
    assert list(Export.objects.values_list("pk", flat=True)) == [done_export.pk]


def test_an_export_of_another_study_cannot_be_deleted_through_ones_own(world, queued):
    theirs = finish_by_hand(services.export_start(study=world["other_study"], parameters={}))
    client = Client()
    client.force_login(world["other_researcher"])
    mine = world["other_study"]
    MembershipFactory(study=world["study"], user=world["other_researcher"], role="researcher")
    # a researcher of both studies, asking through the wrong study's URL
    assert client.post(f"/studies/{world['study'].pk}/exports/{theirs.pk}/delete/").status_code == 404
    assert Export.objects.filter(pk=theirs.pk, study=mine).exists()


def test_anonymous_visitors_are_sent_to_log_in(world):
    resp = Client().get(section_url(world["study"]))
    assert resp.status_code == 302 and "/login" in resp["Location"]
    assert Client().post(start_url(world["study"]), form()).status_code == 302
    assert not Export.objects.exists()


def test_posts_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["researcher"])
    assert client.post(start_url(world["study"]), form()).status_code == 403
    assert not Export.objects.exists()
