"""gunicorn's logger with secrets redacted from the access log (``logger_class`` in gunicorn.conf.py).

Every string atom of the access-log format (request line %(r)s, path %(U)s, query %(q)s, referer %(f)s,
any {header}i / {variable}e) goes through :func:`annotator.redaction.redact`.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from annotator.redaction import REDACTED, redact, redact_query_string

CREDENTIAL_ATOMS = {
    "{authorization}i",
    "{cookie}i",
    "{http_authorization}e",
    "{http_cookie}e",
    "{x-csrftoken}i",
}


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if not isinstance(value, str):
                continue
            if name in CREDENTIAL_ATOMS:
                atoms[name] = REDACTED
            else:
                atoms[name] = redact_query_string(value) if name == "q" else redact(value)
        return atoms
