"""Browser tests drive Debian's Chromium through Playwright's sync API; a browser is never downloaded.

If /usr/bin/chromium is missing the tests FAIL with a message saying how to install it (they never skip).
"""

import os
from pathlib import Path

import pytest
from django.core.files import File

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made from the test while
# it runs (set-up and assertions) are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
# A phone: the browser context's options (chromium_browser.new_context(**PHONE)).
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}


@pytest.fixture
def screenshot_path(settings):
    """Where a browser test saves a picture: SCREENSHOT_DIR, else VAR_DIR/screenshots (ignored by git), so a test
    run leaves the working tree clean. `make screenshots` sets SCREENSHOT_DIR=docs to refresh the README's."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or Path(settings.VAR_DIR) / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: folder / name


@pytest.fixture(scope="module")  # not session: Playwright's loop must stop before other modules start theirs
def chromium_browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's Chromium (apt-get install chromium); "
            "they never download a browser.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium_browser):
    context = chromium_browser.new_context(viewport=VIEWPORT, locale="en-GB")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    # Every page a browser test opens is also checked against the Content-Security-Policy: Chromium reports a
    # blocked inline script, style element or foreign source on the console.
    violations = []
    page.on(
        "console",
        lambda msg: (
            violations.append(f"{page.url}: {msg.text}") if "Content Security Policy" in msg.text else None
        ),
    )
    page.csp_violations = violations
    page.set_default_timeout(20_000)
    yield page
    context.close()
    assert not violations, f"Content-Security-Policy violations: {violations}"


@pytest.fixture
def crowd_study(media_root, tmp_path, render_once):
    from annotator.models import User
    from labeling.services import clip_create, study_create

    researcher = User.objects.create_user("researcher", password="x-not-used-123")
    study = study_create(
        title="Everyday moments",
        created_by=researcher,
        slug="everyday-moments",
        overlap_k=3,
        require_full_view=True,
        completion_code="EVERY-2026",
        consent_text="## Taking part\n\nYou will watch short clips and rate how the person feels.",
        instructions="Rate how the **person** in the clip seems to feel.",
    )
    for i, (tempo, hue) in enumerate([(0.6, 0.05), (2.5, 0.55)]):
        path = render_once(tmp_path / f"clip{i}.mp4", seconds=1.2, fps=25, tempo=tempo, hue=hue, seed=i)
        with path.open("rb") as fh:
            clip_create(study=study, file=File(fh, name=path.name), original_name=path.name)
    return study
