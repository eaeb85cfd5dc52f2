"""Who is asking, as far as the network says."""

from __future__ import annotations

from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address for rate limits: the connection's peer (REMOTE_ADDR). The one place to make
    aware of a trusted reverse proxy; nothing else reads REMOTE_ADDR or X-Forwarded-For."""
    return request.META.get("REMOTE_ADDR") or ""
