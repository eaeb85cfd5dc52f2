"""A researcher exports a dataset from the study page, in Chromium: starts it with the form, watches it queue,
build (a real Celery worker on a real broker) and finish through the section's polling, then downloads the zip
and checks it against its manifest. And the study page keeps working when the section cannot be loaded."""

import hashlib
import io
import json
import threading
import zipfile

import pytest
from celery.contrib.testing.worker import start_worker

from annotator.celery import app
from annotator.models import User
from exports import services as export_services
from exports.models import Export
from labeling.demo.simulate import simulate_annotations
from labeling.models import Role
from labeling.services import membership_add
from tests.browser.helpers import log_in
from tests.labeling.test_worker import deadline, own_broker_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def researcher_study(crowd_study, settings, tmp_path):
    settings.EXPORTS_ROOT = tmp_path / "exports"
    simulate_annotations(study=crowd_study, n_annotators=3, seed=2)
    user = User.objects.create_user("curator", password="curator-pass-123")
    membership_add(study=crowd_study, user=user, role=Role.RESEARCHER)
    return crowd_study


@pytest.fixture
def paused_build(monkeypatch):
    """The build stops at 50 % until the test lets it go, so the page can be seen showing a build in progress."""
    go_on = threading.Event()
    real = export_services.build_folder

    def build_folder(export, folder, report):
        report(0.5, "halfway (held by the test)")
        assert go_on.wait(60), "the test never let the build go on"
        return real(export, folder, report)

    monkeypatch.setattr(export_services, "build_folder", build_folder)
    yield go_on
    go_on.set()


def test_a_researcher_starts_an_export_watches_it_and_downloads_the_zip(
    live_server, browser_page, researcher_study, paused_build, tmp_path
):
    page, study = browser_page, researcher_study
    app.conf.task_always_eager = False
    log_in(page, live_server, "curator", "curator-pass-123")
    with deadline(180), own_broker_folder(tmp_path / "broker"):
        page.goto(f"{live_server.url}/studies/{study.pk}/")
        section = page.locator("section#exports")
        section.get_by_role("button", name="Start export").wait_for()  # loaded into the page by htmx
        assert section.get_by_text("No exports yet").is_visible()
        section.get_by_label("Valence bins").fill("4")
        section.get_by_label("CSV (lists flattened)").check()
        section.get_by_role("button", name="Start export").click()

        # Queued: no worker is running yet.
        row = section.locator("tr[data-status]").first
        row.locator("text=Queued").wait_for()
        assert section.get_by_text("Export v1 started").is_visible()
        assert row.get_by_role("progressbar").get_attribute("aria-valuenow") == "0"
        assert "waiting for a worker" in row.inner_text()
        assert section.locator("[data-background=no-worker]").is_visible()  # none has reported yet
        export = Export.objects.get(study=study)
        assert export.parameters["grid"] == [4, 5] and export.parameters["formats"] == ["parquet", "csv"]

        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=20, loglevel="WARNING"
        ):
            # Building: the list polls every 2 s and shows the saved progress.
            page.wait_for_selector("section#exports tr[data-status=running]", timeout=30_000)
            bar = page.locator("section#exports tr[data-status=running] [role=progressbar]")
            page.wait_for_function(
                "() => document.querySelector('section#exports tr[data-status=running] [role=progressbar]')"
                "?.getAttribute('aria-valuenow') === '50'"
            )
            assert bar.get_attribute("aria-label") == "Export v1 build progress"
            assert (
                "halfway (held by the test)"
                in page.locator("section#exports tr[data-status=running]").inner_text()
            )
            paused_build.set()
            page.wait_for_selector("section#exports tr[data-status=done]", timeout=60_000)

    export.refresh_from_db()
    assert export.status == "done", export.error
    done = page.locator("section#exports tr[data-status=done]")
    assert "done" in done.inner_text().lower() and f"{export.row_counts['ratings']:,}" in done.inner_text()
    assert page.locator("#export-list").get_attribute("data-polling") == "no"  # polling stopped

    with page.expect_download() as caught:
        done.get_by_role("link", name="Download zip").click()
    download = caught.value
    assert download.suggested_filename == f"{study.slug}-v1.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    top = f"{study.slug}-v1"
    manifest = json.loads(archive.read(f"{top}/manifest.json"))
    assert manifest["export"]["id"] == export.pk and manifest["parameters"]["grid"] == [4, 5]
    assert {f"{top}/{f['path']}" for f in manifest["files"]} | {f"{top}/manifest.json"} == set(
        archive.namelist()
    )
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(f"{top}/{entry['path']}")).hexdigest() == entry["sha256"], entry[
            "path"
        ]
    assert any(f["path"].endswith(".csv") for f in manifest["files"])
    assert not page.js_errors, page.js_errors


def test_the_study_page_says_so_when_the_exports_section_cannot_be_loaded(
    live_server, browser_page, researcher_study
):
    page, study = browser_page, researcher_study
    log_in(page, live_server, "curator", "curator-pass-123")
    page.route(f"**/studies/{study.pk}/exports/", lambda route: route.fulfill(status=500, body="boom"))
    page.goto(f"{live_server.url}/studies/{study.pk}/")
    fallback = page.locator("section#exports [data-fallback-text]")
    page.wait_for_function(
        "() => document.querySelector('section#exports [data-fallback-text]').textContent.includes('could not be loaded')"
    )
    link = fallback.get_by_role("link", name="Open it on a page of its own")
    assert link.get_attribute("href") == f"/studies/{study.pk}/exports/"
    assert page.get_by_role("heading", name="Agreement").is_visible()  # the rest of the page is there
    page.unroute(f"**/studies/{study.pk}/exports/")
    link.click()
    page.wait_for_url(f"**/studies/{study.pk}/exports/")
    assert page.get_by_role("button", name="Start export").is_visible()  # the section's own page works
    assert not page.js_errors, page.js_errors
