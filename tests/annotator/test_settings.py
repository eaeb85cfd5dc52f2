"""Settings come from the environment; production refuses unsafe ones and passes `check --deploy` cleanly.

Each case runs `manage.py` (or a short script) in a fresh interpreter, because settings are read once at start.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV_KEYS = (
    "DJANGO_ENV",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "CACHE_URL",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DEBUG",
    "ALLOWED_HOSTS",
    "MEDIA_ROOT",
    "SQLITE_PATH",
    "CSRF_TRUSTED_ORIGINS",
)


def good_secret() -> str:
    return secrets.token_urlsafe(50)


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_KEYS and not k.startswith("DJANGO_")}
    clean.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="annotator.settings", **env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run(["manage.py", *args], tmp_path, **env)


DUMP = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'host': db.get('HOST', ''), "
    "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'broker': s.CELERY_BROKER_URL, 'media': str(s.MEDIA_ROOT), "
    "'cache': s.CACHES['default']['BACKEND'], 'cache_location': s.CACHES['default'].get('LOCATION', ''), "
    "'secret': s.SECRET_KEY, 'ssl_redirect': s.SECURE_SSL_REDIRECT}))"
)


def dump(tmp_path: Path, **env: str) -> dict:
    proc = run(["-c", DUMP], tmp_path, **env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_defaults_are_the_embedded_single_machine_setup(tmp_path):
    s = dump(tmp_path)
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == str(tmp_path / "var" / "db.sqlite3")
    assert s["broker"] == "filesystem://"
    assert s["media"] == str(tmp_path / "var" / "media")
    assert s["debug"] is True and "localhost" in s["hosts"]
    assert s["cache"].endswith("LocMemCache")


def test_environment_switches_database_broker_cache_hosts_and_media(tmp_path):
    s = dump(
        tmp_path,
        DATABASE_URL="postgresql://labels:pw@db.internal:5432/labels",
        REDIS_URL="redis://cache.internal:6379/0",
        ALLOWED_HOSTS="labels.example.org, .example.net",
        MEDIA_ROOT=str(tmp_path / "media"),
        DEBUG="0",
    )
    assert (s["engine"], s["name"], s["host"]) == ("django.db.backends.postgresql", "labels", "db.internal")
    assert s["broker"] == "redis://cache.internal:6379/0"  # REDIS_URL serves as the broker...
    assert (
        s["cache"].endswith("RedisCache") and s["cache_location"] == "redis://cache.internal:6379/0"
    )  # ...and cache
    assert s["hosts"] == ["labels.example.org", ".example.net"]
    assert s["media"] == str(tmp_path / "media")
    assert s["debug"] is False
    assert dump(tmp_path, CELERY_BROKER_URL="redis://b:6379/3", REDIS_URL="redis://r:6379/0")["broker"] == (
        "redis://b:6379/3"
    )


def test_secret_key_can_come_from_a_file(tmp_path):
    key = good_secret()
    (tmp_path / "secret").write_text(key + "\n")
    s = dump(
        tmp_path, DJANGO_ENV="production", SECRET_KEY_FILE=str(tmp_path / "secret"), ALLOWED_HOSTS="x.org"
    )
    assert s["secret"] == key and s["debug"] is False and s["ssl_redirect"] is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "short-but-set"}, "SECRET_KEY"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY"),
        ({"SECRET_KEY": "django-insecure-" + good_secret()}, "SECRET_KEY"),
        ({"SECRET_KEY": "abcde" * 12}, "SECRET_KEY"),
        ({"SECRET_KEY": "abcdefghijklmnopqrstu" * 3}, "SECRET_KEY"),
        ({"SECRET_KEY": "GOOD", "ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "GOOD", "ALLOWED_HOSTS": "labels.example.org,*"}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "GOOD", "DEBUG": "1"}, "DEBUG"),
        ({"SECRET_KEY": "GOOD", "DEBUG": "true"}, "DEBUG"),
        ({"SECRET_KEY": "GOOD", "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
    ],
    ids=[
        "default-secret",
        "short-secret",
        "one-char-secret",
        "insecure-prefix",
        "weak-secret-abcde-times-12",
        "weak-secret-repeating-pattern",
        "allowed-hosts-star",
        "allowed-hosts-with-star",
        "debug-1",
        "debug-true",
        "no-hosts",
    ],
)
def test_production_refuses_to_start_unsafely(tmp_path, env, message):
    env = {"ALLOWED_HOSTS": "labels.example.org", **env}
    if env.get("SECRET_KEY") == "GOOD":
        env["SECRET_KEY"] = good_secret()
    proc = manage(tmp_path, "check", DJANGO_ENV="production", **env)
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and message in proc.stderr
    assert "System check identified" not in proc.stdout


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    proc = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY=good_secret(),
        ALLOWED_HOSTS="labels.example.org",
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "System check identified no issues" in out
    assert not re.search(r"\b[WE]\d{3}\b", out), out


def test_development_check_deploy_does_warn(tmp_path):
    """The counter-check: the same command does find problems with the development defaults."""
    proc = manage(tmp_path, "check", "--deploy")
    assert re.search(r"security\.W0\d\d", proc.stdout + proc.stderr)


def test_production_refuses_weak_secret_key_and_allowed_hosts_star(tmp_path):
    """The finding's own examples, and the message says what is wrong."""
    weak = manage(tmp_path, "check", DJANGO_ENV="production", SECRET_KEY="abcde" * 12, ALLOWED_HOSTS="x.org")
    assert weak.returncode != 0 and "distinct characters" in weak.stderr
    star = manage(tmp_path, "check", DJANGO_ENV="production", SECRET_KEY=good_secret(), ALLOWED_HOSTS="*")
    assert star.returncode != 0 and "ALLOWED_HOSTS='*'" in star.stderr


@pytest.mark.parametrize("key", [secrets.token_hex(32), secrets.token_urlsafe(50)], ids=["hex-64", "urlsafe"])
def test_production_accepts_random_secret_keys(tmp_path, key):
    assert dump(tmp_path, DJANGO_ENV="production", SECRET_KEY=key, ALLOWED_HOSTS="x.org")["secret"] == key


def test_demo_command_refuses_to_run_in_production(tmp_path):
    """Exit non-zero with a clear message, and nothing created (not even the database file's tables)."""
    proc = manage(
        tmp_path,
        "demo",
        "--no-simulate",
        DJANGO_ENV="production",
        SECRET_KEY=good_secret(),
        ALLOWED_HOSTS="x.org",
    )
    assert proc.returncode != 0
    assert "Refusing to run the demo under DJANGO_ENV=production" in proc.stderr
    assert "Created" not in proc.stdout and "Log in at" not in proc.stdout
    db = tmp_path / "var" / "db.sqlite3"
    if db.exists():
        import sqlite3

        tables = {
            r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "annotator_user" in tables:
            assert sqlite3.connect(db).execute("SELECT count(*) FROM annotator_user").fetchone() == (0,)
