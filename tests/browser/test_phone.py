"""A new annotator on a phone (390 x 844, touch): the rating page fits the screen and works by tapping.

Found by the outside probe of issue 6: the one-column layout could not shrink below its widest row, so the
page was 459 px wide on a 390 px phone (zoomed out, and taps landed on the wrong element)."""

import pytest

from labeling.models import Annotation
from tests.browser.conftest import PHONE
from tests.browser.helpers import choose_points, crowd_link, wait_for_rating_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rating_page_fits_a_phone_and_works_by_tapping(
    live_server, chromium_browser, crowd_study, screenshot_path
):
    context = chromium_browser.new_context(**PHONE, locale="en-GB")
    page = context.new_page()
    console = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.set_default_timeout(20_000)
    try:
        page.goto(crowd_link(live_server, crowd_study, "70b1a2c3d4e5f60718293a4b"))
        page.wait_for_url("**/consent/")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        page.get_by_role("button", name="I agree").tap()
        wait_for_rating_page(page)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth,"
            " ...[...document.querySelectorAll('.rate-layout *')].map(e => Math.ceil(e.getBoundingClientRect().right))]"
        )
        wide = page.evaluate(
            "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
            ".map(e => e.tagName + '.' + e.className + ' ' + Math.ceil(e.getBoundingClientRect().width)).slice(0, 40)"
        )
        assert max(widths) <= 390, f"wider than the phone: {max(widths)} px: {wide}"
        page.locator("#big-play").tap()
        page.wait_for_function("() => document.body.classList.contains('has-ended')", timeout=20_000)
        choose_points(page, tap=True, valence=7, valence_confidence=4, arousal=3, arousal_confidence=2)
        page.locator("#submit-btn").tap()  # no force: nothing covers the button on a phone
        wait_for_rating_page(page)
        page.wait_for_function("() => document.querySelector('#progress-text').innerText.startsWith('1 of')")
        assert Annotation.objects.filter(study=crowd_study).count() == 1
        page.screenshot(path=str(screenshot_path("phone-rating.png")))
        # Before the first rating the page asks for no second clip: no refused request in the console.
        assert [m for m in console if "409" in m] == []
    finally:
        context.close()
