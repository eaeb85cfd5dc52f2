"""Gunicorn settings shared by docker-compose (web service), `make run` and the benchmarks (tests/perf), from the
environment.

Threads per worker suit this I/O-bound app (each request is a few short database queries); Django keeps one
database connection per thread (CONN_MAX_AGE). Scale out with more workers, or more web containers.

The embedded default (no DATABASE_URL: SQLite, which takes one writer at a time) gets one worker process with
a bounded number of threads: at most that many requests are in the database at once, so a writer waits behind
at most threads - 1 short transactions, far inside SQLite's busy timeout (20 s); further requests wait in
gunicorn's accept queue instead of failing with "database is locked". (`manage.py runserver` started a thread
per connection: 64 annotators at once meant 64 writers queued on the lock.)
"""

import os

EMBEDDED = not os.environ.get("DATABASE_URL")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", 1 if EMBEDDED else 4))
threads = int(os.environ.get("WEB_THREADS", 8 if EMBEDDED else 4))
timeout = int(os.environ.get("WEB_TIMEOUT", 60))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", 30))
keepalive = 5
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", 0))  # recycle workers after N requests (0 = never)
max_requests_jitter = max_requests // 10
reload = os.environ.get("WEB_RELOAD", "").lower() in ("1", "true", "yes", "on")  # `make run RELOAD=1`
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
# Only the TLS proxy may set X-Forwarded-* (a proxy on this host by default; in docker-compose the address
# its connections arrive from). Never '*': any client could then claim to be anyone.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The access log with crowd keys, participant ids and invite tokens redacted (annotator/redaction.py).
logger_class = "annotator.gunicorn_logging.RedactingLogger"
