"""Secrets and participant ids out of the logs: crowd keys, crowd-platform ids, invite and other tokens,
self-report link keys.

A crowd link (/crowd/<slug>/?key=…&PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…) carries a study's shared key
and a participant's id; an invite link (/invite/<token>/) and a filmed participant's self-report link
(/p/<key>/ and every address below it: clips, media, posters) are credentials. :func:`redact` replaces their
values with ``[redacted]`` wherever a URL appears in a log line (request line, path, query string, referer).
Used by gunicorn's access log (annotator/gunicorn_logging.py) and, as :class:`RedactingFilter`, by the
django.server and django.request loggers (settings.LOGGING). Imports neither Django nor gunicorn.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# Query parameters whose value is a secret or identifies a person: the crowd link's, and anything token-,
# key-, secret- or password-like (case-insensitive; also URL-encoded names are matched by their plain form).
SECRET_PARAMS = (
    r"(?:[a-z_-]*(?:key|token|secret|password|passwd|signature)[a-z_-]*"
    r"|prolific_pid|study_id|session_id|participant_id|worker_id|assignment_id|hit_id|pid|code)"
)
_QUERY = re.compile(rf"(?i)([?&;](?:amp;)?{SECRET_PARAMS}=)[^&;#\s\"']*")
# Path segments that are credentials: /invite/<token>/ and /p/<key>/ (and the same under any prefix).
_PATH = re.compile(r"(?i)(/invite/|/p/)[^/?#\s\"']+")
_PATH_MARKERS = ("/invite/", "/p/")


def redact(text: str) -> str:
    """``text`` with secret query values, invite tokens and self-report link keys replaced by [redacted]."""
    if not text or ("=" not in text and not any(m in text.lower() for m in _PATH_MARKERS)):
        return text
    return _PATH.sub(rf"\1{REDACTED}", _QUERY.sub(rf"\1{REDACTED}", text))


def redact_query_string(query: str) -> str:
    """A bare query string (no leading '?'), as gunicorn's %(q)s atom has it."""
    return redact("?" + query)[1:] if query else query


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact` (the arguments are merged into it first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
