"""annotator.client.client_address: forwarding headers count only when a trusted proxy sent them."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from annotator.client import ClientAddressMiddleware, client_address


def request(remote: str, xff: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


@pytest.fixture(autouse=True)
def proxies(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]


def test_client_supplied_x_forwarded_for_is_ignored_without_a_trusted_proxy():
    assert client_address(request("203.0.113.7", "1.2.3.4")) == "203.0.113.7"
    assert client_address(request("203.0.113.7", "10.0.0.1")) == "203.0.113.7"


def test_behind_the_proxy_the_right_most_untrusted_entry_is_the_client():
    # The client wrote "1.2.3.4" itself; the proxy appended the address it saw.
    assert client_address(request("127.0.0.1", "1.2.3.4, 198.51.100.9")) == "198.51.100.9"
    # Two hops of trusted proxies are skipped.
    assert client_address(request("127.0.0.1", "1.2.3.4, 198.51.100.9, 10.1.2.3")) == "198.51.100.9"
    assert client_address(request("::ffff:127.0.0.1", "198.51.100.9")) == "198.51.100.9"


def test_missing_or_garbage_forwarding_header_falls_back_to_the_proxy():
    assert client_address(request("127.0.0.1")) == "127.0.0.1"
    assert client_address(request("127.0.0.1", "")) == "127.0.0.1"
    assert client_address(request("127.0.0.1", "not-an-ip")) == "127.0.0.1"
    assert client_address(request("127.0.0.1", "1.2.3.4, junk, 10.0.0.5")) == "10.0.0.5"


def test_no_trusted_proxies_means_remote_addr(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(request("127.0.0.1", "1.2.3.4")) == "127.0.0.1"


def test_middleware_sets_remote_addr_once_and_client_address_stays_the_same():
    req = request("127.0.0.1", "1.2.3.4, 198.51.100.9")
    seen = []
    ClientAddressMiddleware(lambda r: seen.append(r.META["REMOTE_ADDR"]))(req)
    assert seen == ["198.51.100.9"]
    assert client_address(req) == "198.51.100.9"  # idempotent after the rewrite


def test_a_direct_clients_x_forwarded_for_is_never_believed_by_default(settings, monkeypatch):
    """Found by the outside probe: the default trusted loopback as a proxy, so anyone reaching gunicorn on the
    machine itself (the embedded default) chose their own address and escaped every per-client limit."""
    import importlib

    import annotator.settings as module

    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    settings.TRUSTED_PROXIES = importlib.reload(module).TRUSTED_PROXIES
    assert settings.TRUSTED_PROXIES == []
    assert client_address(request("127.0.0.1", "10.9.9.1")) == "127.0.0.1"
