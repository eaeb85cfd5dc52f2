"""Crowd keys, participant ids, invite tokens and self-report link keys never reach the access logs (gunicorn's
and Django's)."""

from __future__ import annotations

import datetime
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from annotator.gunicorn_logging import RedactingLogger
from annotator.redaction import REDACTED, redact

ROOT = Path(__file__).resolve().parents[2]
CROWD = "/crowd/my-study/?key=S3cretKey&PROLIFIC_PID=5f8a9e0c1b2d&STUDY_ID=st-77&SESSION_ID=se-99&lang=en"
LINK_KEY = "Pk3y_s3lf-R3p0rtL1nkK3yThatIs43Characters01"
SECRETS = ("S3cretKey", "5f8a9e0c1b2d", "st-77", "se-99", "inv1t3T0ken", LINK_KEY)


def assert_clean(text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{leaked} in {text!r}"


def test_redact_removes_crowd_link_values_and_invite_tokens():
    assert redact(CROWD) == (
        f"/crowd/my-study/?key={REDACTED}&PROLIFIC_PID={REDACTED}&STUDY_ID={REDACTED}"
        f"&SESSION_ID={REDACTED}&lang=en"
    )
    assert redact("GET /invite/inv1t3T0ken/ HTTP/1.1") == f"GET /invite/{REDACTED}/ HTTP/1.1"
    assert redact("/x/?invite_token=abc&page=2&api_key=k&prolific_pid=p") == (
        f"/x/?invite_token={REDACTED}&page=2&api_key={REDACTED}&prolific_pid={REDACTED}"
    )
    assert (
        redact("/api/studies/3/clips/?cursor=cD0x&page_size=5")
        == "/api/studies/3/clips/?cursor=cD0x&page_size=5"
    )
    assert redact(redact(CROWD)) == redact(CROWD)


def test_redact_removes_self_report_link_keys_from_every_address_below_the_link():
    for tail in (
        "",
        "declined/",
        "next/",
        "clips/12/",
        "clips/12/report/",
        "clips/12/media/",
        "clips/12/poster/",
    ):
        line = f"GET /p/{LINK_KEY}/{tail} HTTP/1.1"
        assert redact(line) == f"GET /p/{REDACTED}/{tail} HTTP/1.1"
    assert redact(f"https://site.example/p/{LINK_KEY}") == f"https://site.example/p/{REDACTED}"
    assert redact("/api/studies/3/participants/4/links/") == "/api/studies/3/participants/4/links/"


def gunicorn_access_line(environ_extra: dict, fmt: str | None = None) -> str:
    cfg = Config()
    cfg.set("accesslog", "-")
    if fmt:
        cfg.set("access_log_format", fmt)
    logger = RedactingLogger(cfg)
    path, _, query = environ_extra.pop("RAW_URI").partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}" if query else path,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.4",
        **environ_extra,
    }
    resp = SimpleNamespace(status="302 Found", sent=0, headers=[("Location", "/s/1/consent/")])
    req = SimpleNamespace(
        headers=[("REFERER", environ.get("HTTP_REFERER", "-")), ("AUTHORIZATION", "Token abc")]
    )
    atoms = logger.atoms(resp, req, environ, datetime.timedelta(milliseconds=12))
    return logger.cfg.access_log_format % logger.atoms_wrapper_class(atoms)


def test_gunicorn_access_log_redacts_crowd_link_and_invite_tokens():
    line = gunicorn_access_line({"RAW_URI": CROWD, "HTTP_REFERER": "https://app.prolific.com" + CROWD})
    assert "GET /crowd/my-study/?key=" in line and REDACTED in line and "lang=en" in line
    assert_clean(line)
    fmt = '%(h)s "%(r)s" %(U)s %(q)s %(f)s %({Authorization}i)s %({referer}i)s'
    line = gunicorn_access_line({"RAW_URI": "/invite/inv1t3T0ken/?key=S3cretKey", "HTTP_REFERER": CROWD}, fmt)
    assert_clean(line)
    assert "Token abc" not in line and f"/invite/{REDACTED}/" in line
    media = f"/p/{LINK_KEY}/clips/3/media/"
    line = gunicorn_access_line(
        {"RAW_URI": media, "HTTP_REFERER": f"https://site.example/p/{LINK_KEY}/clips/3/"}, fmt
    )
    assert_clean(line)
    assert f"/p/{REDACTED}/clips/3/media/" in line


def test_gunicorn_config_uses_the_redacting_logger_and_trusts_only_the_proxy(monkeypatch):
    import runpy

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["logger_class"] == "annotator.gunicorn_logging.RedactingLogger"
    assert "*" not in conf["forwarded_allow_ips"] and "127.0.0.1" in conf["forwarded_allow_ips"]


def test_django_server_log_redacts_crowd_link(caplog):
    """runserver's request log (django.server) goes through the filter before any handler."""
    logger = logging.getLogger("django.server")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        logger.info('"%s" %s %s', f"GET {CROWD} HTTP/1.1", "302", "0")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1
    message = records[0].getMessage()
    assert message.startswith('"GET /crowd/my-study/?key=') and message.endswith('HTTP/1.1" 302 0')
    assert_clean(message)


@pytest.mark.django_db
def test_django_request_log_redacts_invite_tokens(client, caplog):
    """A bad invite link is logged by django.request ("Not Found: /invite/<token>/"): without the token."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        resp = client.get("/invite/inv1t3T0ken/")
    assert resp.status_code >= 400
    request_records = [r for r in caplog.records if r.name == "django.request"]
    assert request_records, "the refused invite was not logged by django.request"
    for record in request_records:
        assert_clean(record.getMessage())
        assert f"/invite/{REDACTED}/" in record.getMessage()


@pytest.mark.django_db
@pytest.mark.parametrize("gone", [False, True], ids=["unknown-key", "revoked-link"])
def test_django_request_log_redacts_self_report_link_keys(client, caplog, gone):
    """A link that opens nothing (404) or no longer works (410) is logged by django.request: without its key."""
    key = LINK_KEY
    if gone:
        from labeling import services
        from tests.factories import ParticipantFactory, self_report_link

        link, key = self_report_link(ParticipantFactory())
        services.participant_link_revoke(link=link, by=None)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        resp = client.get(f"/p/{key}/clips/1/media/")
    assert resp.status_code == (410 if gone else 404)
    request_records = [r for r in caplog.records if r.name == "django.request"]
    assert request_records, "the refused link was not logged by django.request"
    for record in request_records:
        assert key not in record.getMessage()
        assert f"/p/{REDACTED}/" in record.getMessage()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_access_log_file_has_no_crowd_key_or_participant_id(tmp_path):
    """The real server once: gunicorn with gunicorn.conf.py, a crowd link requested, its access log read."""
    port = _free_port()
    log = tmp_path / "access.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))},
        "VAR_DIR": str(tmp_path / "var"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESSLOG": str(log),
        "WEB_WORKERS": "1",
        "WEB_THREADS": "1",
        "DJANGO_SETTINGS_MODULE": "annotator.settings",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "annotator.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # answering (503: this throw-away database has no tables): the server is up
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        for path in (CROWD, "/invite/inv1t3T0ken/", f"/p/{LINK_KEY}/clips/1/media/"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
            except urllib.error.HTTPError:
                pass  # the status does not matter here (no such study or invite), the log line does
        deadline = time.monotonic() + 10
        while log.read_text().count("\n") < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert re.search(r"GET /crowd/my-study/\?key=\[redacted\]&PROLIFIC_PID=\[redacted\]", text), text
    assert "/invite/[redacted]/" in text
    assert "/p/[redacted]/clips/1/media/" in text
    assert_clean(text)
