"""API tokens: hashed at rest, expiring, revoked by a password change, listed and revoked by their owner."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.models import User
from labeling.models import ApiToken
from tests.factories import UserFactory, api_key_for

PASSWORD = "a-long-test-password"


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def obtain(user, **extra) -> dict:
    resp = APIClient(REMOTE_ADDR="10.{}.{}.{}".format(*secrets.token_bytes(3))).post(
        "/api/auth/token/", {"username": user.username, "password": PASSWORD, **extra}, format="json"
    )
    assert resp.status_code == 201, resp.content
    return resp.json()


@pytest.fixture
def owner(db):
    return UserFactory(password=PASSWORD)


def test_api_token_is_stored_hashed_with_only_a_prefix_in_clear(owner):
    body = obtain(owner)
    key = body["token"]
    row = ApiToken.objects.get(pk=body["id"])
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.prefix == key[:8] and len(key) >= 40
    stored = [str(v) for v in ApiToken.objects.values_list(*[f.attname for f in ApiToken._meta.fields]).get()]
    assert not any(key in value for value in stored)  # the key itself is nowhere in the row
    assert token_client(key).get("/api/me/").status_code == 200


def test_api_token_expires_with_a_clear_401(owner, settings):
    body = obtain(owner)
    expires = timezone.datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires - timezone.now() <= timedelta(seconds=settings.API_TOKEN_TTL_SECONDS)
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    resp = token_client(body["token"]).get("/api/me/")
    assert resp.status_code == 401 and resp["WWW-Authenticate"] == "Token"
    assert "expired" in resp.json()["detail"].lower()


@pytest.mark.parametrize("how", ["set_password", "admin", "raw_update"])
def test_password_change_revokes_api_tokens(owner, how, client):
    keys = [obtain(owner)["token"], api_key_for(owner)]
    if how == "set_password":
        owner.set_password("another-long-password")
        owner.save()
    elif how == "admin":
        admin = UserFactory(is_staff=True, is_superuser=True)
        client.force_login(admin)
        resp = client.post(
            f"/admin/annotator/user/{owner.pk}/password/",
            {
                "password1": "another-long-password",
                "password2": "another-long-password",
                "usable_password": "true",
            },
        )
        assert resp.status_code == 302, resp.content
    else:
        User.objects.filter(pk=owner.pk).update(password="!unusable")
    for key in keys:
        resp = token_client(key).get("/api/me/")
        assert resp.status_code == 401
        # Deleted on a change through the model (set_password + save, the admin); refused by the password
        # fingerprint when the column was updated behind the model's back.
        expected = "password was changed" if how == "raw_update" else "Invalid token"
        assert expected in resp.json()["detail"]
    owner.refresh_from_db()
    session = APIClient()
    session.force_login(owner)
    assert session.get("/api/auth/tokens/").json() == []  # dead tokens are not listed


def test_user_lists_own_api_tokens_without_keys(owner):
    first = obtain(owner, name="laptop")
    second = obtain(owner, name="cluster")
    api_key_for(UserFactory())  # someone else's
    listed = token_client(second["token"]).get("/api/auth/tokens/").json()
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    assert [t["name"] for t in listed] == ["cluster", "laptop"]
    assert [t["current"] for t in listed] == [True, False]
    assert all("token" not in t and "key_hash" not in t for t in listed)
    assert listed[1]["prefix"] == first["token"][:8]


def test_user_revokes_own_api_token(owner):
    first = obtain(owner)
    second = obtain(owner)
    client = token_client(second["token"])
    assert client.delete(f"/api/auth/tokens/{first['id']}/").status_code == 204
    assert token_client(first["token"]).get("/api/me/").status_code == 401
    assert client.delete(f"/api/auth/tokens/{first['id']}/").status_code == 404
    assert client.get("/api/me/").status_code == 200


def test_another_users_api_token_id_is_404(owner):
    theirs = obtain(owner)
    intruder = token_client(api_key_for(UserFactory()))
    resp = intruder.delete(f"/api/auth/tokens/{theirs['id']}/")
    assert resp.status_code == 404 and resp.json() == {"detail": "No such token."}
    assert intruder.delete(f"/api/auth/tokens/{2**70}/").status_code == 404  # never a 500
    assert token_client(theirs["token"]).get("/api/me/").status_code == 200


def test_revoking_the_token_in_use_logs_the_script_out(owner):
    key = obtain(owner)["token"]
    client = token_client(key)
    assert client.delete("/api/auth/token/").status_code == 204
    assert client.get("/api/me/").status_code == 401
    assert not ApiToken.objects.filter(user=owner).exists()


def test_revoking_the_current_token_over_a_session_is_a_clear_400(owner):
    api_key_for(owner)
    session = APIClient()
    session.force_login(owner)
    resp = session.delete("/api/auth/token/")
    assert resp.status_code == 400 and "not made with a token" in str(resp.json())
    assert ApiToken.objects.filter(user=owner).count() == 1
    assert APIClient().delete("/api/auth/token/").status_code == 401


def test_session_logout_leaves_api_tokens_alive(owner, client):
    """A deliberate choice: tokens belong to scripts, not to the browser session; revoke them explicitly."""
    key = api_key_for(owner)
    client.force_login(owner)
    client.post("/logout/")
    assert token_client(key).get("/api/me/").status_code == 200


def test_token_auth_is_one_indexed_lookup_and_last_use_is_written_rarely(owner, settings):
    key = api_key_for(owner, last_used_at=timezone.now() - timedelta(hours=1))
    client = token_client(key)
    with CaptureQueriesContext(connection) as first:
        assert client.get("/api/auth/tokens/").status_code == 200
    token_sql = [q["sql"] for q in first.captured_queries if "labeling_apitoken" in q["sql"]]
    assert len(token_sql) == 3  # the lookup (with the user), last_used_at, and the list itself
    assert "key_hash" in token_sql[0] and "UPDATE" in token_sql[1]
    with CaptureQueriesContext(connection) as second:
        assert client.get("/api/auth/tokens/").status_code == 200
    assert len(second.captured_queries) == 2  # lookup + list: last use is fresh, no write
    assert ApiToken.objects.get().last_used_at > timezone.now() - timedelta(minutes=1)


def test_live_tokens_per_user_are_capped(owner, settings):
    settings.API_TOKEN_MAX_PER_USER = 3
    keys = [obtain(owner)["token"] for _ in range(4)]
    assert ApiToken.objects.filter(user=owner).count() == 3
    assert token_client(keys[0]).get("/api/me/").status_code == 401  # the oldest went
    assert token_client(keys[-1]).get("/api/me/").status_code == 200


def test_token_endpoint_input_errors_use_the_error_shape(db):
    resp = APIClient().post("/api/auth/token/", {"username": "x"}, format="json")
    assert resp.status_code == 400 and set(resp.json()) == {"detail", "errors"}
    assert "password" in resp.json()["errors"]


class FastPBKDF2(PBKDF2PasswordHasher):
    iterations = 1000


def test_password_hash_upgrade_on_login_keeps_api_tokens(owner, client, settings):
    """Django re-hashes a password on log-in when its hasher settings change: same password, tokens stay."""
    key = api_key_for(owner)
    settings.PASSWORD_HASHERS = [
        "tests.labeling.api.test_account.FastPBKDF2",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = User.objects.get(pk=owner.pk).password
    assert client.post("/login/", {"username": owner.username, "password": PASSWORD}).status_code == 302
    after = User.objects.get(pk=owner.pk).password
    assert after != before and after.startswith("pbkdf2_sha256$")  # it was upgraded
    assert token_client(key).get("/api/me/").status_code == 200


def test_password_change_deletes_the_users_api_tokens(owner):
    api_key_for(owner)
    api_key_for(owner)
    other = api_key_for(UserFactory())
    owner.set_password("another-long-password")
    owner.save()
    assert not ApiToken.objects.filter(user=owner).exists()
    assert token_client(other).get("/api/me/").status_code == 200


def test_token_endpoint_throttle_is_not_bypassed_by_a_forged_x_forwarded_for(db, monkeypatch):
    """DRF keyed its throttle on the client's own X-Forwarded-For: a new value per request meant no limit."""
    from labeling.api.account import TokenThrottle

    monkeypatch.setattr(TokenThrottle, "rate", "2/min")
    anon = APIClient(REMOTE_ADDR="203.0.113.50")
    codes = [
        anon.post(
            "/api/auth/token/", {"username": "x", "password": str(i)}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"
        ).status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 429]


def test_token_endpoint_throttle_counts_per_client_behind_the_trusted_proxy(db, monkeypatch, settings):
    from labeling.api.account import TokenThrottle

    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    monkeypatch.setattr(TokenThrottle, "rate", "2/min")
    proxy = APIClient(REMOTE_ADDR="127.0.0.1")

    def attempt(client_ip: str) -> int:
        return proxy.post(
            "/api/auth/token/",
            {"username": "x", "password": "y"},
            HTTP_X_FORWARDED_FOR=f"1.1.1.1, {client_ip}",
        ).status_code

    assert [attempt("198.51.100.1") for _ in range(3)] == [400, 400, 429]
    assert attempt("198.51.100.2") == 400  # another client behind the same proxy is not blocked
