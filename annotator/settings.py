"""Settings from the environment, with safe local defaults (SQLite, filesystem broker, local media).

DJANGO_ENV=production refuses to start on a default secret or DEBUG, and makes `check --deploy` clean.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = os.environ.get("DJANGO_ENV", "development").lower() == "production"
DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
if os.environ.get("SECRET_KEY_FILE"):  # e.g. a Docker secret
    SECRET_KEY = Path(os.environ["SECRET_KEY_FILE"]).read_text().strip()
else:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")


def secret_key_weakness(key: str) -> str:
    """Why ``key`` is too weak for production, or "" when it looks random enough.

    At least 50 characters, at least 12 distinct ones (a hex key from `openssl rand -hex 32` passes), and
    no repeating pattern (the key is not a shorter string repeated, like 'abcde' * 12).
    """
    if key == DEFAULT_SECRET_KEY or key.startswith("django-insecure-"):
        return "it is the development default"
    if len(key) < 50:
        return f"it has {len(key)} characters (50+ needed)"
    if len(set(key)) < 12:
        return f"it uses only {len(set(key))} distinct characters (12+ needed)"
    period = next(p for p in range(1, len(key) + 1) if all(key[i] == key[i + p] for i in range(len(key) - p)))
    if period <= len(key) // 2:
        return f"it repeats a {period}-character pattern"
    return ""


if PRODUCTION:
    if weakness := secret_key_weakness(SECRET_KEY):
        raise ImproperlyConfigured(
            f"DJANGO_ENV=production needs SECRET_KEY set to a random value of 50+ characters: {weakness}. "
            "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses to run with DEBUG on.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ENV=production needs ALLOWED_HOSTS.")
    if "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production refuses ALLOWED_HOSTS='*': list the host names the site answers to."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "annotator",
    "labeling",
    "exports",
]

MIDDLEWARE = [
    "annotator.health.HealthCheckMiddleware",  # /healthz/ for container healthchecks: before host checks
    "annotator.client.ClientAddressMiddleware",  # REMOTE_ADDR = the real client (trusted proxies only)
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Body budget (413 before reading), chunked bodies (411), NUL in URLs (400): before anything reads a body.
    "annotator.request_guard.RequestGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "labeling.pages.NotFoundMiddleware",  # a selector's NotFound is the site's 404 page, as Http404 is
]

ROOT_URLCONF = "annotator.urls"
WSGI_APPLICATION = "annotator.wsgi.application"
ASGI_APPLICATION = "annotator.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL (PostgreSQL through psycopg 3), else SQLite in WAL mode.
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"],
            conn_max_age=int(os.environ.get("CONN_MAX_AGE", 60)),
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Server-side binding lets psycopg prepare the hot statements (claim, submit) after a few runs,
        # so PostgreSQL plans them once per connection instead of on every request. Behind a pooler in
        # transaction mode (PgBouncer < 1.21), set PG_PREPARED_STATEMENTS=0.
        if env_bool("PG_PREPARED_STATEMENTS", True):
            DATABASES["default"].setdefault("OPTIONS", {}).update(
                server_side_binding=True, prepare_threshold=5
            )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", VAR_DIR / "db.sqlite3"),
            # Tests use a file, not Django's in-memory default: the browser tests' live server answers
            # requests on several threads, and an in-memory database would be one connection shared by all.
            "TEST": {
                "NAME": os.environ.get("SQLITE_TEST_PATH", str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))
            },
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
            },
        }
    }

# On PostgreSQL, claim and submit each run as one SQL statement (labeling/services/_pg.py) instead of the ORM
# path that SQLite runs; read at call time, so a test or benchmark can switch it with override_settings.
LABELING_PG_FAST_PATH = env_bool("LABELING_PG_FAST_PATH", True)

AUTH_USER_MODEL = "annotator.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The first backend checks passwords with brute-force throttling (annotator/auth.py) and never lets a
# password check fall through to the second, which is listed only so sessions begun by the entry views
# (`login(..., backend=ModelBackend)`) stay valid.
AUTHENTICATION_BACKENDS = [
    "annotator.auth.ThrottledModelBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURES_PER_ACCOUNT = int(os.environ.get("LOGIN_FAILURES_PER_ACCOUNT", 5))
LOGIN_FAILURES_PER_CLIENT = int(os.environ.get("LOGIN_FAILURES_PER_CLIENT", 20))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", 15 * 60))
# Addresses or networks of the reverse proxies whose X-Forwarded-For is believed (annotator/client.py).
# Default: a proxy on the same host. Behind docker-compose, the address the proxy's connections come from.
TRUSTED_PROXIES = env_list(
    "TRUSTED_PROXIES", ""
)  # none by default: a client's own X-Forwarded-For is never believed
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Content-Security-Policy on every response (Django's own middleware). Scripts and style sheets come only
# from this site's static files: no inline scripts, no inline event handlers, no eval, no style elements.
# Inline style *attributes* stay allowed (progress bar widths, CSS variables for scale sizes); they cannot run
# code. Pages that need another policy say so with django.views.decorators.csp.csp_override.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    # No form-action: Chrome applies it to the redirects after a form post, and a crowd worker's consent
    # can end in the redirect to the crowd platform's completion URL.
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# New accounts made through crowd links (annotator/services.py crowd_enter): at most this many per client
# address per 10 minutes, and per study per minute; more get a "try again shortly" page (429).
CROWD_SIGNUPS_PER_CLIENT = int(os.environ.get("CROWD_SIGNUPS_PER_CLIENT", "5"))
CROWD_SIGNUPS_PER_STUDY = int(os.environ.get("CROWD_SIGNUPS_PER_STUDY", "60"))
# Self-report links (/p/<key>/, annotator/views/participant.py): after this many lookups of keys that open
# nothing from one client address, its lookups are refused (429) for PARTICIPANT_LINK_LOCKOUT_SECONDS.
PARTICIPANT_LINK_FAILURES_PER_CLIENT = int(os.environ.get("PARTICIPANT_LINK_FAILURES_PER_CLIENT", "20"))
PARTICIPANT_LINK_LOCKOUT_SECONDS = int(os.environ.get("PARTICIPANT_LINK_LOCKOUT_SECONDS", 15 * 60))

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
if not PRODUCTION:  # WhiteNoise warns at start-up about a missing one (tests run with DEBUG off)
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Outside production the static files are served from the apps' folders (no collectstatic), DEBUG on or off:
# `make run` serves with DEBUG off.
WHITENOISE_USE_FINDERS = not PRODUCTION
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Dataset exports (exports app): never under MEDIA_ROOT; served to the study's researchers only.
EXPORTS_ROOT = Path(os.environ.get("EXPORTS_ROOT", VAR_DIR / "exports"))
# The code version exports record (a deployment sets it, e.g. to the image tag); empty: the pyproject version
# and the git commit of the checkout (exports.version).
CODE_VERSION = os.environ.get("CODE_VERSION", "")
MEDIA_URL = "/media/"  # never served directly: clips go through a permission-checked view
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Upload limits for clips (refused with a message that says which limit).
CLIP_MAX_BYTES = int(os.environ.get("CLIP_MAX_BYTES", 200 * 1024 * 1024))
CLIP_MAX_SECONDS = float(os.environ.get("CLIP_MAX_SECONDS", 600))
CLIP_MAX_PIXELS = int(os.environ.get("CLIP_MAX_PIXELS", 3840 * 2160))
CLIP_MAX_FPS = float(os.environ.get("CLIP_MAX_FPS", 240))
CLIP_PROBE_TIMEOUT_SECONDS = float(os.environ.get("CLIP_PROBE_TIMEOUT_SECONDS", 30))
# Self-report imports (labeling.services.self_reports_import; docs/self-reports.md): the largest file and the
# most rows one import takes. The API and the admin's import page accept bodies this large from researchers.
SELF_REPORT_IMPORT_MAX_BYTES = int(os.environ.get("SELF_REPORT_IMPORT_MAX_BYTES", 20 * 1024 * 1024))
SELF_REPORT_IMPORT_MAX_ROWS = int(os.environ.get("SELF_REPORT_IMPORT_MAX_ROWS", 100_000))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Body budget of every request except clip uploads by researchers (annotator/request_guard.py): larger
# bodies are refused with 413 before a byte is read. Clip uploads allow CLIP_MAX_BYTES per file.
REQUEST_MAX_BYTES = int(os.environ.get("REQUEST_MAX_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Celery: Redis (or any broker URL) in production, kombu's filesystem transport by default — through
# annotator/broker.py, which publishes and claims message files atomically (kombu's own races under load).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT = "annotator.broker:Transport"
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("in", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # broadcast/pidbox files (kombu >= 5.3)
        "store_processed": False,
        # kombu sleeps this long whenever the queue is empty *or* the prefetch window is full (1 s by default:
        # with acks_late and prefetch 1 that capped the worker at a few tasks/s and queued a backlog).
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A request that enqueues (an agreement run) must learn within seconds that the broker is unreachable
    # (it answers 503), not wait for the operating system's connect timeout on each publish retry.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 5}
# Cache (API throttling, shared by all web processes): Redis when configured, else per-process memory.
_CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
if _CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "expire-leases": {"task": "labeling.tasks.expire_leases", "schedule": timedelta(minutes=1)},
    # Agreement reports of studies with new labels (debounced to one run per study per 30 s).
    "agreement-reports": {
        "task": "labeling.tasks.schedule_agreement",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat's scheduler records a heartbeat as it ticks; each worker records one from a consumer bootstep
# (annotator/celery.py). /healthz/ and the study page call a process stale after BACKGROUND_STALE_SECONDS.
CELERY_BEAT_SCHEDULER = "annotator.celery:HeartbeatScheduler"
BACKGROUND_HEARTBEAT_SECONDS = int(os.environ.get("BACKGROUND_HEARTBEAT_SECONDS", 30))
BACKGROUND_STALE_SECONDS = int(os.environ.get("BACKGROUND_STALE_SECONDS", 150))

# API tokens (labeling.models.ApiToken): lifetime, live tokens kept per user, how often last use is written.
API_TOKEN_TTL_SECONDS = int(os.environ.get("API_TOKEN_TTL_DAYS", 30)) * 24 * 3600
API_TOKEN_MAX_PER_USER = int(os.environ.get("API_TOKEN_MAX_PER_USER", 20))
API_TOKEN_USAGE_RESOLUTION_SECONDS = 300

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "labeling.api.auth.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only (the schema and Swagger UI at /api/docs/ document the API); parsers that refuse text no
    # database can store (NUL, lone surrogates) and over-deep JSON with a 400 naming the field.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "labeling.api.parsers.JSONParser",
        "labeling.api.parsers.FormParser",
        "labeling.api.parsers.MultiPartParser",
    ],
    "DEFAULT_METADATA_CLASS": "labeling.api.metadata.Metadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "labeling.api.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    # Throttles key on REMOTE_ADDR, which annotator.client.ClientAddressMiddleware has set to the real
    # client; DRF's own reading of X-Forwarded-For (client-supplied, spoofable) stays off.
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Affect labels API",
    "DESCRIPTION": "Studies, clips, assignments and context-rich valence/arousal annotations.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc are served from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl: None stops Swagger UI from sending the schema's URL to an online validator for a badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
    # Two models have a "status" field: name their enums apart.
    "ENUM_NAME_OVERRIDES": {
        "AssignmentStatusEnum": "labeling.models.Assignment.Status",
        "AgreementReportStatusEnum": "labeling.models.AgreementReport.Status",
    },
}

# Crowd keys, participant ids and invite tokens never reach the logs (annotator/redaction.py): the filter
# sits on the handlers and on django.server (runserver's request log) and django.request (errors), which
# are redefined here as Django defines them, plus the filter.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "annotator.redaction.RedactingFilter"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {
            "level": "INFO",
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact"],
        },
        "django.request": {"filters": ["redact"]},
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
