"""A filmed participant's self-report link, end to end in Chromium, on a phone (390 x 844, touch) and a desktop:
the link opens what the self-report is for and the consent step; they agree, see their own clips, and rate
one of them on the annotators' rating page; then the researcher sees that self-report beside the observers'
ratings, on the clip's page and the study page."""

import pytest
from django.core.files import File
from django.test import Client

from labeling import services
from labeling.models import ParticipantLink, SelfReport
from tests.browser.conftest import PHONE, VIEWPORT
from tests.browser.helpers import choose_points
from tests.factories import MembershipFactory, rating_data, self_report_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"viewport": VIEWPORT}


@pytest.fixture
def filmed(media_root, tmp_path, render_once):
    """A study with two clips of participant P-07 and one of P-08, each rated by two observers; P-07's link
    (not yet consented)."""
    from annotator.models import User

    researcher = User.objects.create_user("researcher", password="x-not-used-123")
    study = services.study_create(
        title="Dinner conversations",
        created_by=researcher,
        slug="dinner-conversations",
        overlap_k=2,
        require_full_view=True,
        consent_text="## Your consent\n\nYour ratings are kept under your study code.",
    )
    clips = []
    for i, code in enumerate(("P-07", "P-07", "P-08")):
        path = render_once(
            tmp_path / f"clip{i}.mp4", seconds=1.2, fps=25, tempo=0.8 + i, hue=0.3 * i, seed=10 + i
        )
        with path.open("rb") as fh:
            clips.append(
                services.clip_create(
                    study=study, file=File(fh, name=path.name), original_name=path.name, participant_code=code
                )
            )
    for valence in (6, 8):  # two observers rate every clip
        member = MembershipFactory(study=study)
        while (assignment := services.assignment_claim_next(membership=member)) is not None:
            services.annotation_submit(assignment=assignment, data=rating_data(valence=valence, arousal=4))
    link, key = self_report_link(clips[0].participant, consent=False)
    return study, clips, link, key, researcher


def page_width(page) -> int:
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth,"
        " ...[...document.querySelectorAll('body *')].map(e => Math.ceil(e.getBoundingClientRect().right)))"
    )


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_participant_consents_and_rates_one_of_their_own_clips(
    live_server, chromium_browser, filmed, device, screenshot_path
):
    study, clips, link, key, _ = filmed
    phone = device is PHONE
    context = chromium_browser.new_context(**device, locale="en-GB")
    page = context.new_page()
    errors, violations, requests = [], [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("request", lambda r: requests.append(r))
    page.set_default_timeout(20_000)
    press = (lambda loc: loc.tap()) if phone else (lambda loc: loc.click())
    try:
        page.goto(f"{live_server.url}/p/{key}/")
        assert page.get_by_role("heading", name="What this is for").is_visible()
        assert page.get_by_role("heading", name="Your consent").is_visible()  # the study's consent text
        assert study.title in page.content()
        if phone:
            assert page_width(page) <= 390
        press(page.get_by_role("button", name="I agree — continue"))

        # Their own clips: two, neither rated; P-08's clip is not there.
        page.wait_for_selector("#participant-clips")
        assert page.locator("#participant-clips li").count() == 2
        assert f"/clips/{clips[2].pk}/" not in page.content()
        if phone:
            assert page_width(page) <= 390
        page.screenshot(path=str(screenshot_path(f"self-report-clips-{'phone' if phone else 'desktop'}.png")))
        press(page.locator("#rate-next"))

        # The annotators' rating page, asking about their own feeling.
        page.wait_for_url(f"**/p/{key}/clips/{clips[0].pk}/")
        page.wait_for_function("() => window.ratingPage !== undefined")
        assert "How pleasant or unpleasant did you feel" in page.locator("#dim-valence").inner_text()
        assert page.locator("#cannot-judge").count() == 0
        if phone:
            assert page_width(page) <= 390, "the rating page is wider than the phone"
        press(page.locator("#big-play"))
        page.wait_for_function("() => document.body.classList.contains('has-ended')", timeout=20_000)
        choose_points(page, tap=phone, valence=2, valence_confidence=5, arousal=8, arousal_confidence=4)
        press(page.locator("label.chip:has(input[value='social:with one other'])"))
        page.fill("#context-note", "we had just argued")
        page.screenshot(path=str(screenshot_path(f"self-report-{'phone' if phone else 'desktop'}.png")))
        press(page.locator("#submit-btn"))

        # Saved: on to their next clip.
        page.wait_for_url(f"**/p/{key}/clips/{clips[1].pk}/")
        page.wait_for_function("() => window.ratingPage !== undefined")
        assert page.locator("#progress-text").inner_text().startswith("1 of 2")
        assert not errors, errors
        assert not violations, violations
        # The page asked for nothing of the annotators' side: no heartbeat, no claim, no API call at all.
        assert not [r.url for r in requests if "/api/" in r.url or "/media/clips/" in r.url]
        # No request carried the key to anyone in a Referer.
        assert not [r.url for r in requests if key in (r.headers.get("referer") or "")]
    finally:
        context.close()

    report = SelfReport.objects.get()
    assert (report.participant_id, report.clip_id, report.link_id) == (
        clips[0].participant_id,
        clips[0].pk,
        link.pk,
    )
    assert (report.valence_raw, report.arousal_raw, report.valence_confidence, report.arousal_confidence) == (
        2,
        8,
        5,
        4,
    )
    assert report.valence == pytest.approx(-0.75) and report.arousal == pytest.approx(0.75)
    assert report.context_tags == ["social:with one other"] and report.context_note == "we had just argued"
    assert report.source == "platform" and report.instrument == "sam" and report.scale_points == 9
    assert ParticipantLink.objects.get(pk=link.pk).consented_at is not None


def test_the_researcher_sees_the_self_report_beside_the_observers(live_server, browser_page, filmed):
    """After the participant's report (given through the link, as above): the clip's page shows it beside the
    observers' ratings, and the study page's perceived-vs-experienced section compares them."""
    study, clips, link, key, _ = filmed
    client = Client()
    assert client.post(f"/p/{key}/", {"decision": "accept"}).status_code == 302
    body = rating_data(valence=2, arousal=8, context_note="we had just argued")
    response = client.post(f"/p/{key}/clips/{clips[0].pk}/report/", body, content_type="application/json")
    assert response.status_code == 200
    services.agreement_run_now(study=study, n_resamples=100)  # the study page's figures come from the report

    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "researcher")
    page.fill("input[name=password]", "x-not-used-123")
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")

    # The clip's page: the observers' ratings and, beside them, the participant's own report.
    page.goto(f"{live_server.url}/studies/{study.pk}/clips/{clips[0].pk}/")
    own = page.locator("#self-report")
    assert own.is_visible()
    row = own.locator(".self-report-row")
    assert row.count() == 1
    text = row.inner_text()
    assert "P-07" in text and "2 → -0.75" in text and "8 → 0.75" in text and "we had just argued" in text
    assert "Given in the platform" in text
    assert page.locator("#clip-ratings tbody tr").count() == 2  # the two observers
    gap = page.locator("#clip-gap tr[data-dimension=valence]").inner_text()
    assert "-0.75" in gap and "0.50" in gap  # own report beside the observers' mean (6 and 8 → 0.25, 0.75)

    # The study page: perceived beside experienced, with the figures.
    page.goto(f"{live_server.url}/studies/{study.pk}/")
    section = page.locator("#perceived-experienced")
    assert section.is_visible()
    assert "1 self-report from 1 participant on 1 clip" in section.inner_text()
    assert section.locator(f'a[href="/studies/{study.pk}/clips/{clips[0].pk}/"]').count() >= 1
    assert not page.js_errors, page.js_errors
