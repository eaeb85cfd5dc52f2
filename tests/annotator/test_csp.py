"""Issue 6, finding 9: a Content-Security-Policy on every response, and templates that need no exception to it.

The browser tests (tests/browser/conftest.py) fail on any violation Chromium reports; these tests keep the
templates honest without a browser.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_no_template_has_an_inline_script_style_element_or_event_handler():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern in (
            INLINE_SCRIPT,
            EVENT_HANDLER,
            re.compile(r"<style\b", re.I),
            re.compile(r"javascript:"),
        ):
            if pattern.search(text):
                offenders.append(f"{path.relative_to(TEMPLATES)}: {pattern.pattern}")
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/api/schema/", "/crowd/nope/?key=x", "/admin/login/"])
def test_every_response_carries_the_content_security_policy(client, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in directives["style-src"]


def test_no_python_module_renders_an_inline_event_handler_or_script():
    """format_html in the admin counts too (an invite link once had onclick="this.select()")."""
    offenders = []
    for app in ("annotator", "labeling", "exports"):
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text()
            if EVENT_HANDLER.search(text) or INLINE_SCRIPT.search(text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
