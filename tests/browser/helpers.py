"""Steps the browser tests share."""


def crowd_link(live_server, study, pid, **extra):
    """The study's crowd link, with its secret key, as the platform would open it."""
    query = "&".join(f"{k}={v}" for k, v in {"key": study.crowd_key, "PROLIFIC_PID": pid, **extra}.items())
    return f"{live_server.url}/crowd/{study.slug}/?{query}"


def wait_for_rating_page(page):
    page.wait_for_url("**/a/*/")
    page.wait_for_function("() => window.ratingPage !== undefined")


def play_to_the_end(page, *, keyboard: bool):
    if keyboard:
        page.locator("body").focus()
        page.keyboard.press("Space")
    else:
        page.click("#big-play")
    page.wait_for_function("() => document.body.classList.contains('has-ended')", timeout=20_000)
    # The preload has been answered: a next clip, nothing left, or (before the first rating) a refusal.
    page.wait_for_function("() => window.ratingPage.preloadSettled")


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")


def choose_points(page, *, tap: bool = False, **values) -> None:
    """Pick scale points on a SAM rating page by clicking (or tapping) their labels: valence=7,
    valence_confidence=4, …"""
    for name, value in values.items():
        kind = "conf-point" if "confidence" in name else "sam-point"
        label = page.locator(f"label.{kind}:has(input[name={name}][value='{value}'])")
        label.tap() if tap else label.click()
