"""Clip media through a permission check, with HTTP range requests so the browser can seek.

Permission: labeling.selectors.clip_for_member (researchers of the study; annotators only for clips they
hold or held a lease on); everyone else gets 404. Range handling follows RFC 9110 §14: one byte range per
request (a multi-range request gets the whole file, which the RFC allows; with `strict_range` — the dataset
export downloads — it is a 416 instead, as is any other Range header that is not one satisfiable byte range),
416 with `Content-Range: */size` for an unsatisfiable range, If-Range against the strong ETag,
If-None-Match -> 304. `serve_file` serves a stored file (FieldFile) or a path on the server's disk.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.http import require_http_methods

from labeling.media.probe import content_type_for
from labeling.selectors import clip_for_member

BLOCK = 64 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
UNSATISFIABLE = "unsatisfiable"
_HUGE = 10**18  # any byte position past this is past every file; longer digit strings are not parsed


def _position(digits: str) -> int:
    """A byte position, without int() on thousands of digits (Python refuses those with a ValueError)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else _HUGE


def parse_range(header: str | None, size: int, *, strict: bool = False):
    """(start, end) inclusive for a single satisfiable byte range; None to serve the whole file (no header,
    a header we may ignore: other units, several ranges, bad syntax); UNSATISFIABLE for a 416. `strict`:
    a header that is not one satisfiable byte range is UNSATISFIABLE rather than ignored."""
    if not header:
        return None
    ignored = UNSATISFIABLE if strict else None
    match = _RANGE.match(header)
    if not match:
        return ignored  # several ranges, other units, or garbage: ignoring Range is always allowed
    first, last = match.groups()
    if first == "" and last == "":
        return ignored
    if first == "":  # suffix range: the last N bytes
        length = _position(last)
        if length == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - length), size - 1
    start = _position(first)
    end = _position(last) if last != "" else size - 1
    if last != "" and end < start:
        return ignored  # invalid range-spec: ignore the header
    if start >= size:
        return UNSATISFIABLE
    return start, min(end, size - 1)


class _RangeReader:
    """Reads at most `length` bytes from `start`; no fileno(), so servers stream it instead of sendfile()."""

    def __init__(self, f, start: int, length: int):
        self._f = f
        self._left = length
        f.seek(start)

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def _size_and_opener(source):
    """(size, open for reading) of a stored file (FieldFile) or a path on disk; Http404 when it is missing."""
    try:
        if isinstance(source, Path):
            return source.stat().st_size, source.open
        if not source or not source.name:
            raise Http404("No such file.")
        return source.storage.size(source.name), lambda mode: source.storage.open(source.name, mode)
    except OSError:
        raise Http404("The file is missing.") from None


def serve_file(
    request,
    source,
    *,
    content_type: str,
    etag: str,
    last_modified: float | None = None,
    attachment: str | None = None,
    strict_range: bool = False,
):
    """A ranged, cacheable-only-by-the-browser response for a stored file (FieldFile) or a file on disk
    (Path). `attachment`: the file name to save it as (else it is shown inline); `strict_range`: see
    parse_range."""
    size, open_file = _size_and_opener(source)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": content_disposition_header(True, attachment) if attachment else "inline",
    }
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and _etag_matches(if_none_match, etag):
        response = HttpResponseNotModified()
        for key, value in headers.items():
            response[key] = value
        return response

    byte_range = parse_range(request.headers.get("Range"), size, strict=strict_range)
    if_range = request.headers.get("If-Range")
    if byte_range is not None and if_range and if_range.strip() != etag:
        if not (last_modified is not None and if_range.strip() == headers.get("Last-Modified")):
            byte_range = None  # the client's copy is stale: send the whole new file
    if byte_range == UNSATISFIABLE:
        response = HttpResponse(status=416, content_type="text/plain")
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if byte_range is None:
        status, start, length = 200, 0, size
    else:
        status, start, length = 206, byte_range[0], byte_range[1] - byte_range[0] + 1
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"

    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        try:
            f = open_file("rb")
        except OSError:
            raise Http404("The file is missing.") from None
        body = f if status == 200 else _RangeReader(f, start, length)
        response = FileResponse(body, status=status, content_type=content_type)
        response.block_size = BLOCK
    for key, value in headers.items():
        response[key] = value
    response["Content-Length"] = str(length)
    return response


def _authenticated_user(request):
    """The session user, or a DRF token user (annotation clients fetch media with their token)."""
    if request.user.is_authenticated:
        return request.user
    if request.headers.get("Authorization", "").startswith("Token "):
        from rest_framework.exceptions import AuthenticationFailed

        from labeling.api.auth import ApiTokenAuthentication

        try:
            result = ApiTokenAuthentication().authenticate(request)
        except AuthenticationFailed:
            return None
        return result[0] if result else None
    return None


def _clip(request, clip_id: int):
    user = _authenticated_user(request)
    if user is None:
        raise Http404("No such clip.")
    return clip_for_member(user=user, clip_id=clip_id)


def clip_media_response(request, clip):
    """The clip's video, ranged: for any view that has already decided the requester may watch `clip` (the
    members' view below; a participant's own clip through their self-report link)."""
    return serve_file(
        request,
        clip.file,
        content_type=content_type_for(clip.container),
        etag=f'"{clip.sha256}"',
        last_modified=clip.created_at.timestamp(),
    )


def clip_poster_response(request, clip):
    """The clip's poster frame, ranged (see clip_media_response); Http404 when it has none."""
    if not clip.poster:
        raise Http404("This clip has no poster.")
    tag = hashlib.sha256(f"{clip.poster.name}:{clip.sha256}".encode()).hexdigest()[:32]
    return serve_file(
        request,
        clip.poster,
        content_type="image/jpeg",
        etag=f'"{tag}"',
        last_modified=clip.created_at.timestamp(),
    )


@require_http_methods(["GET", "HEAD"])
def clip_media(request, clip_id: int):
    return clip_media_response(request, _clip(request, clip_id))


@require_http_methods(["GET", "HEAD"])
def clip_poster(request, clip_id: int):
    return clip_poster_response(request, _clip(request, clip_id))
