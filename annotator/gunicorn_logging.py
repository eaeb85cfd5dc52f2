"""gunicorn's logger with secrets redacted from the access log (``logger_class`` in gunicorn.conf.py).

Every string atom that the access-log format uses (request line %(r)s, path %(U)s, query %(q)s, referer
%(f)s, any {header}i / {variable}e) goes through :func:`annotator.redaction.redact`; credential headers
(Authorization, Cookie, X-CSRFToken) are replaced whole.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

from annotator.redaction import REDACTED, redact, redact_query_string

CREDENTIAL_ATOMS = {
    "{authorization}i",
    "{cookie}i",
    "{x-csrftoken}i",
    "{http_authorization}e",
    "{http_cookie}e",
}
_FORMAT_NAME = re.compile(r"%\(([^)]+)\)")


class RedactingLogger(Logger):
    def _used_atoms(self) -> set[str]:
        fmt = self.cfg.access_log_format
        if getattr(self, "_used_for", None) != fmt:  # the format can change on reload
            names = _FORMAT_NAME.findall(fmt)  # {header}i lookups are case-insensitive, letters are not
            self._used = {n.lower() if n.startswith("{") else n for n in names}
            self._used_for = fmt
        return self._used

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in self._used_atoms() & atoms.keys():
            value = atoms[name]
            if not isinstance(value, str):
                continue
            if name in CREDENTIAL_ATOMS:
                atoms[name] = REDACTED
            else:
                atoms[name] = redact_query_string(value) if name == "q" else redact(value)
        return atoms
