"""The production shape, checked without Docker: docker-compose.yml, the Dockerfile and the gunicorn config."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("web", "worker", "beat", "postgres", "redis")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_with_a_healthcheck(compose):
    services = compose["services"]
    assert set(LONG_RUNNING) <= set(services)
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check["test"], f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}
        assert "interval" in check and "retries" in check
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "/healthz/" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert "background_status --require beat" in " ".join(services["beat"]["healthcheck"]["test"])


def test_compose_runs_gunicorn_celery_and_beat_after_migrate(compose):
    services = compose["services"]
    assert services["web"]["command"][0] == "gunicorn" and "annotator.wsgi" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "annotator", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "annotator", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy"


def test_compose_volumes_and_production_environment(compose):
    assert {"pgdata", "media"} <= set(compose["volumes"])
    services = compose["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["DJANGO_ENV"] == "production"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), (
            "the secret must come from .env, never the file"
        )
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert env["MEDIA_ROOT"] == "/data/media" and "media:/data/media" in services[name]["volumes"]
    assert not re.search(r"SECRET_KEY=\S", (ROOT / ".env.example").read_text())  # a template, no secret in it


def test_dockerfile_is_slim_non_root_and_keeps_secrets_out():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.12-slim\b", text, re.M)
    assert re.search(r"^RUN pip install -r requirements/lock\.txt$", text, re.M)  # the runtime lock
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "var"} <= set(ignored)
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_gunicorn_config_is_the_one_compose_and_the_benchmark_use(monkeypatch):
    monkeypatch.setenv("WEB_WORKERS", "3")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["worker_class"] == "gthread" and conf["workers"] == 3 and conf["threads"] >= 1
    assert conf["bind"] == "0.0.0.0:8000"


def test_compose_does_not_publish_gunicorn_past_the_proxy(compose):
    """Only the TLS proxy on the host reaches gunicorn; forwarding headers are believed only from it."""
    web = compose["services"]["web"]
    for mapping in web.get("ports", []):
        assert str(mapping).startswith(("127.0.0.1:", "[::1]:")), f"web publishes {mapping} beyond loopback"
    env = web["environment"]
    for name in ("FORWARDED_ALLOW_IPS", "TRUSTED_PROXIES"):
        assert "*" not in env[name] and "172.31.240.1" in env[name], env[name]
    gateway = compose["networks"]["default"]["ipam"]["config"][0]["gateway"]
    assert "172.31.240.1" in gateway


def test_gunicorn_trusts_forwarding_headers_only_from_the_proxy(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"


def test_celery_redis_transport_dependencies_are_declared():
    """Issue 6, item 15: `pip install .` gave a Celery whose Redis transport cannot import (kombu needs
    `packaging`, which only the redis extra declares); the test extras hid it. .ci/production-smoke proves
    the runtime install in a fresh venv; this pins the declaration."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    celery = [d for d in deps if re.match(r"celery\b", d)]
    assert celery and re.match(r"celery\[([a-z,\s]*,\s*)?redis\b", celery[0]), celery
    assert (ROOT / ".ci" / "production-smoke").stat().st_mode & 0o111  # executable, run by .ci/run
    assert "production-smoke" in (ROOT / ".ci" / "run").read_text()


def test_every_install_takes_the_locked_versions():
    """Issue 7: the builds were not reproducible (`>=` ranges only). requirements/lock.txt (runtime) and
    lock-test.txt (the test extras on top) pin every package; the Makefile, the image and the production
    smoke install from them, and the lock covers pyproject.toml (`make lint` checks it too)."""
    lock = runpy.run_path(str(ROOT / "requirements" / "lock.py"))
    lock["check"](installed=False)  # every declared dependency pinned at a version it allows; raises if not
    for path in (lock["LOCK"], lock["LOCK_TEST"]):
        pins = [line for line in path.read_text().splitlines() if line and not line.startswith(("#", "-r "))]
        assert pins and all(re.fullmatch(r"[a-z0-9][a-z0-9.-]*==[A-Za-z0-9.!]+", pin) for pin in pins), path
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q -r $(LOCK)" in makefile and "pip install -q -r $(LOCK_TEST)" in makefile
    assert "pip install -r requirements/lock.txt" in (ROOT / "Dockerfile").read_text()
    smoke = (ROOT / ".ci" / "production-smoke").read_text()
    assert "-r requirements/lock.txt" in smoke and "lock.py --check --installed" in smoke


def test_embedded_default_is_served_by_gunicorn_with_a_bounded_thread_pool(monkeypatch):
    """`make run` used `manage.py runserver` (a thread per connection): 64 annotators meant 64 SQLite writers
    queued on the lock, 500 "database is locked" and reset connections. It now runs gunicorn with the shared
    config, which on SQLite (no DATABASE_URL) is one process with a bounded thread pool."""
    for key in ("DATABASE_URL", "WEB_WORKERS", "WEB_THREADS", "WEB_RELOAD"):
        monkeypatch.delenv(key, raising=False)
    embedded = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert embedded["workers"] == 1 and 1 <= embedded["threads"] <= 8 and embedded["reload"] is False
    assert embedded["threads"] * 2 < 20  # each waiting writer holds ~ms; the busy timeout is 20 s
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/affect")
    production = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (production["workers"], production["threads"]) == (4, 4)  # docker-compose's defaults
    monkeypatch.setenv("WEB_RELOAD", "1")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["reload"] is True  # `make run RELOAD=1`
    run = re.search(r"^run:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.S | re.M).group(0)
    assert "gunicorn --config gunicorn.conf.py annotator.wsgi" in run and "runserver" not in run
    assert "celery -A annotator worker -B" in run and "Crowd:" in run  # worker + beat, and the links


def test_make_run_serves_with_debug_off_by_default():
    """Found by the outside probe: `make run` answered a bad Host header with Django's debug page (settings,
    URL patterns). It now serves with DEBUG off unless asked (`make run DEBUG=1`); static files still come from
    the apps' folders (WHITENOISE_USE_FINDERS outside production)."""
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^DEBUG \?= 0$", makefile, re.M)
    run = re.search(r"^run:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert run.count("DEBUG='$(DEBUG)'") == 2  # the site and the worker


def test_static_files_are_served_with_debug_off_outside_production(client, settings):
    from annotator import settings as module

    assert module.WHITENOISE_USE_FINDERS is True and settings.DEBUG is False  # tests run as make run does
    response = client.get("/static/css/site.css")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
