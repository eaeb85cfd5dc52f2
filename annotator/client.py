"""Who is asking, by network address: the one place that decides which address a request came from.

Behind the TLS proxy every request arrives from the proxy, and the real client is in ``X-Forwarded-For``,
which anyone can also send. So the header is read only when the request reached us *from* a trusted
proxy (setting ``TRUSTED_PROXIES``: addresses or networks, from the env list of the same name), and then
the right-most entry that is not itself a trusted proxy is the client: entries to its left were written
by the client and prove nothing. Every throttle (log-in, token endpoint, crowd entry) keys on this.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PEER_KEY = "annotator.peer_addr"  # the TCP peer, kept in META when the middleware rewrites REMOTE_ADDR


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    address = address.strip()
    if address.startswith("[") and "]" in address:  # "[::1]:443"
        address = address[1 : address.index("]")]
    elif address.count(":") == 1:  # "203.0.113.9:443"
        address = address.split(":", 1)[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    return parsed.ipv4_mapped or parsed if isinstance(parsed, ipaddress.IPv6Address) else parsed


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in net for net in networks)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, unless that is a trusted proxy; then the right-most untrusted
    ``X-Forwarded-For`` entry (or REMOTE_ADDR when the header is missing, or names only proxies)."""
    remote = request.META.get(PEER_KEY) or request.META.get("REMOTE_ADDR", "") or ""
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not networks or not _trusted(_parse(remote), networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    nearest = remote  # the left-most address vouched for so far
    for entry in reversed(forwarded.split(",")):
        address = _parse(entry)
        if address is None:  # garbage: stop at what the proxies vouched for, never trust the client's claim
            return nearest
        if not _trusted(address, networks):
            return str(address)
        nearest = str(address)
    return nearest


class ClientAddressMiddleware:
    """Sets REMOTE_ADDR to :func:`client_address`, so code that reads REMOTE_ADDR (DRF's throttles with
    ``NUM_PROXIES = 0``, Django's logs) sees the real client and never a client-supplied header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.setdefault(PEER_KEY, request.META.get("REMOTE_ADDR", ""))
        request.META["REMOTE_ADDR"] = client_address(request)
        return self.get_response(request)


def counter_incr(key: str, *, timeout: int) -> int:
    """Add one to a counter in the shared cache (created at 0 for `timeout` seconds); returns the new count.
    The rate limits (log-in failures, crowd sign-ups) count with it, so every web process counts together."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1
