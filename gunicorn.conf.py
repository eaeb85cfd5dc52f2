"""Gunicorn settings shared by docker-compose (web service) and the benchmark (tests/perf), from the environment.

Threads per worker suit this I/O-bound app (each request is a few short database queries); Django keeps one
database connection per thread (CONN_MAX_AGE). Scale out with more workers, or more web containers.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", 4))
threads = int(os.environ.get("WEB_THREADS", 4))
timeout = int(os.environ.get("WEB_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", 0))  # recycle workers after N requests (0 = never)
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
# Only the TLS proxy may set X-Forwarded-* (a proxy on this host by default; in docker-compose the address
# its connections arrive from). Never '*': any client could then claim to be anyone.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The access log with crowd keys, participant ids and invite tokens redacted (annotator/redaction.py).
logger_class = "annotator.gunicorn_logging.RedactingLogger"
