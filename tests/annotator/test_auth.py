"""Brute-force protection of every password log-in: the site's, the admin's and the API token endpoint."""

from __future__ import annotations

import secrets

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory

PASSWORD = "the-right-password-123"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_CLIENT = 6
    settings.LOGIN_LOCKOUT_SECONDS = 600
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    cache.clear()


def address() -> str:
    return "198.51.{}.{}".format(*secrets.token_bytes(2))


def post_login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_login_page_locks_account_after_failures_and_refuses_the_right_password(client, db):
    user = UserFactory(password=PASSWORD)
    for _ in range(3):
        resp = post_login(client, user.username, "wrong", REMOTE_ADDR=address())
        assert resp.status_code == 200
    # Locked: from a new address too, and the right password is refused with a clear message and 429.
    resp = post_login(client, user.username, PASSWORD, REMOTE_ADDR=address())
    assert resp.status_code == 429 and int(resp["Retry-After"]) > 0
    assert "Too many failed log-in attempts" in resp.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_page_locks_a_client_guessing_many_accounts(client, db):
    users = UserFactory.create_batch(7, password=PASSWORD)
    me = address()
    for u in users[:6]:
        assert post_login(client, u.username, "wrong", REMOTE_ADDR=me).status_code == 200
    resp = post_login(client, users[6].username, PASSWORD, REMOTE_ADDR=me)
    assert resp.status_code == 429 and "_auth_user_id" not in client.session
    # Another client logs in to that account normally.
    assert post_login(client, users[6].username, PASSWORD, REMOTE_ADDR=address()).status_code == 302


def test_login_throttle_is_not_bypassed_by_a_forged_x_forwarded_for(client, db):
    users = UserFactory.create_batch(7, password=PASSWORD)
    me = address()
    for i, u in enumerate(users[:6]):
        post_login(client, u.username, "wrong", REMOTE_ADDR=me, HTTP_X_FORWARDED_FOR=f"10.9.9.{i}")
    resp = post_login(client, users[6].username, PASSWORD, REMOTE_ADDR=me, HTTP_X_FORWARDED_FOR="10.9.9.99")
    assert resp.status_code == 429


def test_login_behind_the_trusted_proxy_counts_per_forwarded_client(client, db):
    users = UserFactory.create_batch(7, password=PASSWORD)
    for u in users[:6]:
        post_login(client, u.username, "wrong", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    locked = post_login(
        client, users[6].username, PASSWORD, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5"
    )
    assert locked.status_code == 429
    other = post_login(
        client, users[6].username, PASSWORD, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.6"
    )
    assert other.status_code == 302


def test_successful_login_resets_the_account_count(client, db):
    user = UserFactory(password=PASSWORD)
    for _ in range(2):
        post_login(client, user.username, "wrong", REMOTE_ADDR=address())
    assert post_login(client, user.username, PASSWORD, REMOTE_ADDR=address()).status_code == 302
    client.logout()
    for _ in range(2):
        post_login(client, user.username, "wrong", REMOTE_ADDR=address())
    assert post_login(client, user.username, PASSWORD, REMOTE_ADDR=address()).status_code == 302


def test_admin_login_is_throttled_too(client, db):
    admin = UserFactory(password=PASSWORD, is_staff=True, is_superuser=True)
    for _ in range(3):
        client.post("/admin/login/", {"username": admin.username, "password": "wrong"}, REMOTE_ADDR=address())
    resp = client.post(
        "/admin/login/?next=/admin/",
        {"username": admin.username, "password": PASSWORD},
        REMOTE_ADDR=address(),
    )
    assert resp.status_code == 200 and "Too many failed log-in attempts" in resp.content.decode()
    assert "_auth_user_id" not in client.session


def test_token_endpoint_locks_account_and_refuses_the_right_password(db):
    user = UserFactory(password=PASSWORD)
    for _ in range(3):
        resp = APIClient(REMOTE_ADDR=address()).post(
            "/api/auth/token/", {"username": user.username, "password": "wrong"}, format="json"
        )
        assert resp.status_code == 400
    resp = APIClient(REMOTE_ADDR=address()).post(
        "/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert resp.status_code == 429 and int(resp["Retry-After"]) > 0
    assert "Too many failed log-in attempts" in resp.json()["detail"]
    assert "token" not in resp.json()


def test_lockout_ends_after_the_lockout_period(client, db, monkeypatch):
    import time

    user = UserFactory(password=PASSWORD)
    for _ in range(3):
        post_login(client, user.username, "wrong", REMOTE_ADDR=address())
    assert post_login(client, user.username, PASSWORD, REMOTE_ADDR=address()).status_code == 429
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    assert post_login(client, user.username, PASSWORD, REMOTE_ADDR=address()).status_code == 302
