"""A new crowd worker, end to end in Chromium: crowd link, consent, two clips (mouse, then keyboard), code."""

import pytest

from annotator.models import User
from labeling.models import Annotation, Membership
from tests.browser.helpers import crowd_link, play_to_the_end, wait_for_rating_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PID = "60c0ffee60c0ffee60c0ffee"


def test_crowd_worker_rates_two_clips_and_gets_the_code(
    live_server, browser_page, crowd_study, screenshot_path
):
    page = browser_page
    screenshot = screenshot_path("rating-page.png")  # the README's (make screenshots)
    page.goto(crowd_link(live_server, crowd_study, PID, STUDY_ID="prolific-st", SESSION_ID="sess-1"))

    # Consent first: no clip is shown before it is accepted.
    page.wait_for_url("**/consent/")
    assert page.get_by_role("heading", name="Taking part").is_visible()
    page.get_by_role("button", name="I agree").click()

    # Clip 1, with the mouse. The submit is refused until the clip has played to the end.
    wait_for_rating_page(page)
    first_url = page.url
    assert page.locator("#progress-text").inner_text().startswith("0 of 2")
    assert page.locator("#view-hint").is_visible()
    page.locator("label.sam-point:has(input[name=valence][value='7'])").click()
    assert page.locator("#submit-btn").get_attribute("aria-disabled") == "true"
    page.locator("#submit-btn").click(force=True)  # clickable, but says what is missing
    assert "Watch the clip to the end" in page.locator("#form-status").inner_text()
    assert page.url == first_url
    play_to_the_end(page, keyboard=False)
    page.locator("label.conf-point:has(input[name=valence_confidence][value='4'])").click()
    page.locator("label.sam-point:has(input[name=arousal][value='3'])").click()
    page.locator("label.conf-point:has(input[name=arousal_confidence][value='2'])").click()
    page.locator("label.chip:has(input[value='setting:home'])").click()
    page.locator("label.chip:has(input[value='social:alone'])").click()
    page.fill("#context-note", "kitchen, evening")
    page.wait_for_timeout(300)  # let the chip transition finish before the screenshot
    page.screenshot(path=str(screenshot))
    page.get_by_role("button", name="Submit rating").click()

    # Clip 2, with the keyboard only: Space plays, V/A pick the scale, C its confidence, digits, Enter.
    page.wait_for_url(lambda url: url != first_url and "/a/" in url)
    wait_for_rating_page(page)
    assert page.locator("#progress-text").inner_text().startswith("1 of 2")
    play_to_the_end(page, keyboard=True)
    for key in ["v", "2", "c", "5", "a", "8", "c", "3"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")

    # The end: the completion code.
    page.wait_for_url("**/done/")
    assert page.locator("#completion-code").inner_text().startswith("EVERY-2026")
    assert not page.js_errors, page.js_errors

    user = User.objects.get(crowd_pid=PID)
    membership = Membership.objects.get(study=crowd_study, user=user)
    assert membership.joined_via == "crowd" and membership.crowd_study_id == "prolific-st"
    assert membership.consented_at is not None and membership.completed_at is not None
    mouse, keys = Annotation.objects.filter(annotator=user).order_by("created_at")
    assert (mouse.valence_raw, mouse.arousal_raw, mouse.valence_confidence, mouse.arousal_confidence) == (
        7,
        3,
        4,
        2,
    )
    assert mouse.valence == pytest.approx(0.5) and mouse.arousal == pytest.approx(-0.5)
    assert mouse.context_tags == ["setting:home", "social:alone"] and mouse.context_note == "kitchen, evening"
    assert (keys.valence_raw, keys.arousal_raw, keys.valence_confidence, keys.arousal_confidence) == (
        2,
        8,
        5,
        3,
    )
    assert keys.valence == pytest.approx(-0.75) and keys.arousal == pytest.approx(0.75)
    for a in (mouse, keys):
        assert a.watched_fraction >= 0.95 and a.time_on_task_ms > 1000 and not a.cannot_judge
    assert mouse.clip_id != keys.clip_id
    assert screenshot.stat().st_size > 10_000


def test_submission_survives_errors_and_network_failures(live_server, browser_page, crowd_study):
    """A 400 shows its field errors; a dropped connection is retried with the SAME submission id."""
    page = browser_page
    crowd_study.require_full_view = False
    crowd_study.save()
    bodies, attempts = [], {"n": 0}

    def annotation_route(route):
        attempts["n"] += 1
        bodies.append(route.request.post_data_json)
        if attempts["n"] == 1:
            route.fulfill(
                status=400,
                content_type="application/json",
                body='{"detail": "The rating was not saved.", "errors": {"context_note": "at most 2000 characters"}}',
            )
        elif attempts["n"] == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/assignments/*/annotation/", annotation_route)
    page.goto(crowd_link(live_server, crowd_study, "70c0ffee70c0ffee70c0ffee"))
    page.get_by_role("button", name="I agree").click()
    wait_for_rating_page(page)
    rating_url = page.url
    page.get_by_label("I cannot judge this clip").check()
    page.locator("label.chip:has(input[value='Too short to tell'])").click()
    page.get_by_role("button", name="Submit rating").click()
    error = page.locator('[data-error-for="context_note"]')
    error.wait_for(state="visible")
    assert error.inner_text() == "at most 2000 characters"
    page.get_by_role("button", name="Submit rating").click()
    page.wait_for_function("() => document.getElementById('form-status').textContent.includes('retrying')")
    held = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('affect-labels:pending:'))")
    assert len(held) == 1  # kept in the browser until the server acknowledges it
    page.wait_for_url(lambda url: url != rating_url, timeout=20_000)  # saved: on to the next clip

    assert attempts["n"] == 3
    assert len({b["submission_id"] for b in bodies}) == 1  # one id for every attempt
    annotation = Annotation.objects.get(annotator__crowd_pid="70c0ffee70c0ffee70c0ffee")
    assert str(annotation.submission_id) == bodies[0]["submission_id"]
    assert annotation.cannot_judge and annotation.cannot_judge_reason == "Too short to tell"
    assert annotation.valence is None and annotation.arousal is None
    assert (
        page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('affect-labels:pending:'))") == []
    )


def test_watched_fraction_is_the_union_of_played_intervals(live_server, browser_page):
    """player.js counts overlapping replays once and skipped parts not at all."""
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    result = page.evaluate(
        """async () => {
          const { WatchTracker } = await import('/static/js/player.js');
          const t = new WatchTracker(10);
          t.add(0, 4); t.add(2, 5);   // overlap counts once: [0, 5]
          t.add(8, 10);               // a part after a skip
          const partial = t.fraction();
          t.add(4.5, 8.5);            // fills the gap
          return [partial, t.fraction(), t.intervals.length];
        }"""
    )
    assert result == [0.7, 1, 1]
