"""The rating page never loses a rating and agrees with the server, in Chromium: "watched" is the server's
fraction of the clip, a refused (409) rating stays in the browser, time on task is capped below the server's
24 h limit, and pending ratings on a shared computer belong to their own user."""

import json

import pytest

from annotator.models import User
from labeling.models import Annotation, Assignment
from tests.browser.helpers import crowd_link, wait_for_rating_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PENDING = "affect-labels:pending:"
ANNOTATION_URLS = "**/api/assignments/*/annotation/"


def enter(page, live_server, study, pid):
    page.goto(crowd_link(live_server, study, pid))
    page.get_by_role("button", name="I agree").click()
    wait_for_rating_page(page)


def switch_to(page, live_server, study, pid):
    """Another participant's link on a browser where someone is logged in: the page asks first."""
    page.goto(crowd_link(live_server, study, pid))
    page.get_by_role("button", name="Continue as the participant of this link").click()


def cannot_judge(page):
    page.get_by_label("I cannot judge this clip").check()
    page.locator("label.chip:has(input[value='Too short to tell'])").click()


def pending_records(page):
    return page.evaluate(
        f"""() => Object.fromEntries(Object.keys(localStorage).filter(k => k.startsWith('{PENDING}'))
              .map(k => [k, JSON.parse(localStorage.getItem(k))]))"""
    )


def rate_with_the_mouse(page):
    for name, value in [("valence", 6), ("valence_confidence", 3), ("arousal", 4), ("arousal_confidence", 3)]:
        kind = "conf-point" if name.endswith("confidence") else "sam-point"
        page.locator(f"label.{kind}:has(input[name={name}][value='{value}'])").click()


def test_reaching_the_end_after_skipping_is_not_watching(live_server, browser_page, crowd_study):
    """Submit opens at the server's FULL_VIEW_FRACTION of the clip actually played, not at 'ended'."""
    page = browser_page
    enter(page, live_server, crowd_study, "90c0ffee90c0ffee90c0ffee")
    rate_with_the_mouse(page)
    page.wait_for_function("() => document.getElementById('clip-video').readyState >= 1")
    page.evaluate("document.getElementById('clip-video').currentTime = 0.8")  # skip two thirds of 1.2 s
    page.wait_for_function("() => !document.getElementById('clip-video').seeking")
    page.click("#big-play")
    page.wait_for_function("() => document.body.classList.contains('has-ended')")
    assert page.locator("#submit-btn").get_attribute("aria-disabled") == "true"
    assert page.evaluate("window.ratingPage.watch.threshold") == 0.95  # the server's, from the page
    assert page.evaluate("window.ratingPage.watch.fraction()") < 0.5
    hint = page.locator("#view-hint-text").inner_text()
    assert (
        "skipped parts do not count" in hint and "Still to watch: about" in hint and "% of the clip" in hint
    )
    page.locator("#submit-btn").click(force=True)
    assert (
        "Watch the clip to the end before rating it (still to watch: about"
        in page.locator("#form-status").inner_text()
    )
    assert not Annotation.objects.exists()

    page.click("#replay-btn")  # play it again from the start
    page.wait_for_function("() => window.ratingPage.watch.enough()", timeout=20_000)
    assert page.locator("#submit-btn").get_attribute("aria-disabled") == "false"
    assert page.locator("#view-hint-text").inner_text() == "Watched to the end — you can submit."
    first = page.url
    page.get_by_role("button", name="Submit rating").click()
    page.wait_for_url(lambda url: url != first)
    assert Annotation.objects.get().watched_fraction >= 0.95
    assert not page.js_errors, page.js_errors


def test_a_refused_rating_stays_in_the_browser_and_is_not_resent_by_itself(
    live_server, browser_page, crowd_study
):
    crowd_study.require_full_view = False
    crowd_study.save()
    page = browser_page
    sent = []

    def refuse(route):
        sent.append(route.request.post_data_json)
        route.fulfill(
            status=409,
            content_type="application/json",
            body=json.dumps(
                {"detail": "This clip has already been rated; a rating cannot be submitted twice."}
            ),
        )

    page.route(ANNOTATION_URLS, refuse)
    pid = "91c0ffee91c0ffee91c0ffee"
    enter(page, live_server, crowd_study, pid)
    user = User.objects.get(crowd_pid=pid)
    assignment = Assignment.objects.filter(annotator=user).order_by("leased_at").first()
    cannot_judge(page)
    page.get_by_role("button", name="Submit rating").click()
    page.wait_for_function(
        "() => document.getElementById('form-status').textContent.includes('already been rated')"
    )
    assert "kept in this browser" in page.locator("#form-status").inner_text()
    key = f"{PENDING}u{user.pk}:s{crowd_study.pk}:a{assignment.pk}"
    records = pending_records(page)
    assert list(records) == [key]
    assert records[key]["rejected"]["status"] == 409
    assert records[key]["body"]["submission_id"] == sent[0]["submission_id"]

    # The user goes on; the kept record is not sent again by itself (the queue hands back the same clip here,
    # since the server never saw the rating).
    page.get_by_role("link", name="Go to the next clip").click()
    wait_for_rating_page(page)
    page.wait_for_function(
        "() => document.getElementById('form-status').textContent.includes('not accepted')"
    )
    page.wait_for_timeout(500)
    assert len(sent) == 1 and list(pending_records(page)) == [key]

    # Rated again and accepted: only now is the record gone.
    page.unroute(ANNOTATION_URLS)
    cannot_judge(page)
    here = page.url
    page.get_by_role("button", name="Submit rating").click()
    page.wait_for_url(lambda url: url != here)
    assert pending_records(page) == {}
    assert str(Annotation.objects.get(annotator=user).submission_id) == sent[0]["submission_id"]


def test_time_on_task_is_capped_below_the_servers_24_hours(live_server, browser_page, crowd_study):
    crowd_study.require_full_view = False
    crowd_study.save()
    page = browser_page
    enter(page, live_server, crowd_study, "92c0ffee92c0ffee92c0ffee")
    page.evaluate("performance.now = () => 3 * 24 * 3600 * 1000")  # the page was left open for 3 days
    cannot_judge(page)
    sent = []
    page.on("request", lambda req: sent.append(req.post_data_json) if "/annotation/" in req.url else None)
    here = page.url
    page.get_by_role("button", name="Submit rating").click()
    page.wait_for_url(lambda url: url != here)
    assert [body["time_on_task_ms"] for body in sent] == [24 * 3600 * 1000 - 1]
    assert Annotation.objects.get().time_on_task_ms == 24 * 3600 * 1000 - 1


def test_pending_ratings_on_a_shared_computer_belong_to_their_user(live_server, browser_page, crowd_study):
    """A's unsent rating is neither sent nor dropped by B's pages; A's next visit sends it."""
    crowd_study.require_full_view = False
    crowd_study.save()
    page = browser_page
    enter(page, live_server, crowd_study, "93aaaaaa93aaaaaa93aaaaaa")
    a_user = User.objects.get(crowd_pid="93aaaaaa93aaaaaa93aaaaaa")
    planted = page.evaluate(
        """() => {
          const config = JSON.parse(document.getElementById('rating-config').textContent);
          const key = window.ratingPage.pendingKey ?? `affect-labels:pending:${config.assignmentId}`;
          const body = { submission_id: crypto.randomUUID(), cannot_judge: true, cannot_judge_reason: 'Too short',
                         valence: null, arousal: null, context_tags: [], context_note: '',
                         time_on_task_ms: 5000, watched_fraction: 1 };
          const record = { url: config.urls.annotation, body, savedAt: Date.now() };
          localStorage.setItem(key, JSON.stringify(record));   // as if the network had failed
          return { key, record };
        }"""
    )

    posted = []
    page.on("request", lambda req: posted.append(req.url) if "/annotation/" in req.url else None)
    switch_to(page, live_server, crowd_study, "93bbbbbb93bbbbbb93bbbbbb")  # B, on the same browser
    page.get_by_role("button", name="I agree").click()
    wait_for_rating_page(page)
    b_user = User.objects.get(crowd_pid="93bbbbbb93bbbbbb93bbbbbb")
    page.wait_for_timeout(800)  # give B's page time to flush whatever it (wrongly) might
    assert posted == [] and planted["key"] in pending_records(page)
    assert planted["key"].startswith(f"{PENDING}u{a_user.pk}:s{crowd_study.pk}:a")
    assert page.evaluate("window.ratingPage.pendingKey").startswith(f"{PENDING}u{b_user.pk}:")
    assert not Annotation.objects.exists()

    switch_to(page, live_server, crowd_study, "93aaaaaa93aaaaaa93aaaaaa")  # A comes back
    page.wait_for_function(f"() => localStorage.getItem('{planted['key']}') === null", timeout=20_000)
    annotation = Annotation.objects.get()
    assert annotation.annotator_id == a_user.pk
    assert str(annotation.submission_id) == planted["record"]["body"]["submission_id"]


def test_flush_sends_only_its_users_records_and_keeps_refused_ones(live_server, browser_page, db):
    """rating_submit.flushPending with a stubbed fetch: 201 removes, 409/400 keep (marked, not resent),
    401/403/404 keep for later; other users' records are not touched."""
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    result = page.evaluate(
        """async () => {
          const m = await import('/static/js/rating_submit.js');
          localStorage.clear();
          const statuses = { '/ok/': 201, '/conflict/': 409, '/bad/': 400, '/gone/': 404, '/other/': 201 };
          const calls = [];
          window.fetch = async (url) => { calls.push(url);
            return new Response(JSON.stringify({ detail: 'no' }), { status: statuses[url] }); };
          const put = (user, a, url) => localStorage.setItem(m.pendingKey({ userId: user, studyId: 1, assignmentId: a }),
            JSON.stringify({ url, body: { submission_id: 'id-' + a } }));
          put(5, 1, '/ok/'); put(5, 2, '/conflict/'); put(5, 3, '/bad/'); put(5, 4, '/gone/'); put(55, 5, '/other/');
          await m.flushPending({ userId: 5, exceptKey: null });
          const first = [...calls].sort();
          calls.length = 0;
          await m.flushPending({ userId: 5, exceptKey: null });
          const keys = Object.keys(localStorage).filter(k => k.startsWith(m.PENDING_PREFIX)).sort();
          const rejected = keys.map(k => JSON.parse(localStorage.getItem(k)).rejected?.status ?? null);
          return { first, second: calls, keys, rejected, cap: m.capTimeOnTask(1e12) };
        }"""
    )
    assert result["first"] == ["/bad/", "/conflict/", "/gone/", "/ok/"]  # never user 55's record
    assert result["second"] == ["/gone/"]  # refused ones are kept but not sent again by themselves
    assert result["keys"] == [
        f"{PENDING}u55:s1:a5",
        f"{PENDING}u5:s1:a2",
        f"{PENDING}u5:s1:a3",
        f"{PENDING}u5:s1:a4",
    ]
    assert result["rejected"] == [None, 409, 400, None]
    assert result["cap"] == 24 * 3600 * 1000 - 1
