"""Issue 6, finding 9: every page is served with a Content-Security-Policy and runs no inline script.

Chromium enforces the header; the `browser_page` fixture fails a test on any violation it reports. This test
walks the pages the other browser tests do not: the log-in page, the researcher's list and study page (with
an agreement report and its plots), the upload page, the admin, the API docs and the annotator's end page.
"""

import pytest

from annotator.models import User
from labeling.demo.simulate import simulate_annotations
from labeling.models import Membership, Role
from labeling.services import agreement_run_now, membership_add
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pages_carry_a_csp_and_run_no_inline_script(live_server, browser_page, crowd_study):
    page = browser_page
    simulate_annotations(study=crowd_study, n_annotators=3, seed=1)
    agreement_run_now(study=crowd_study, n_resamples=50)
    admin = User.objects.create_superuser("boss", password="boss-pass-123")
    membership_add(study=crowd_study, user=admin, role=Role.RESEARCHER)

    response = page.goto(f"{live_server.url}/login/")
    policy = response.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy

    log_in(page, live_server, "boss", "boss-pass-123")
    for path, marker in [
        ("/studies/", "Everyday moments"),
        (f"/studies/{crowd_study.pk}/", "Agreement"),
        (f"/studies/{crowd_study.pk}/clips/upload/", "Upload"),
        ("/admin/", "Site administration"),
        ("/admin/labeling/clip/", "clip"),
        ("/admin/labeling/clip/upload/", "Upload"),
        (f"/admin/labeling/clip/{crowd_study.clips.first().pk}/change/", "video"),
        (f"/admin/labeling/study/{crowd_study.pk}/change/", "Everyday moments"),
        ("/admin/exports/export/", "dataset export"),
        (f"/studies/{crowd_study.pk}/exports/", "New export"),
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "content-security-policy" in response.headers, path
        page.wait_for_load_state("networkidle")
        assert marker.lower() in page.content().lower(), path
    # The study page's copy buttons work without inline script (static/js/copy.js).
    page.goto(f"{live_server.url}/studies/{crowd_study.pk}/")
    assert page.locator("[data-copy]").count() >= 1

    # The API docs render (their start-up script is a separate file, not inline).
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Affect labels API" in page.locator(".swagger-ui .info .title").inner_text()

    # The annotator's end page with the completion code and its copy button.
    annotator = User.objects.create_user("finisher", password="finisher-pass-123")
    membership = membership_add(study=crowd_study, user=annotator, role=Role.ANNOTATOR)
    Membership.objects.filter(pk=membership.pk).update(consented_at=membership.created_at)
    page.context.clear_cookies()
    log_in(page, live_server, "finisher", "finisher-pass-123")
    page.goto(f"{live_server.url}/s/{crowd_study.pk}/done/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#completion-code").count() == 1
    page.locator("[data-copy]").click()
    page.wait_for_function("() => document.querySelector('[data-copy]').textContent !== 'Copy'")
    assert page.js_errors == []
