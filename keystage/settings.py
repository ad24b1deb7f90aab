"""Django settings, read from the environment so one build runs as the demo, in CI and in production.

Environment variables (all optional for the demo):
  DATABASE_URL        postgres://user:pass@host:5432/db; default: SQLite (WAL) under KEYSTAGE_VAR_DIR
  SECRET_KEY          required when DEBUG is off and not running the demo
  DEBUG               1/0, default 0
  ALLOWED_HOSTS       comma-separated, default localhost,127.0.0.1
  KEYSTAGE_HTTPS      1 behind TLS: secure cookies, HSTS, HTTPS redirect
  KEYSTAGE_TRUSTED_PROXIES  proxy addresses whose X-Forwarded-For gives the client's address
  KEYSTAGE_VAR_DIR    where the embedded database, uploads and collected static files live (default ./var)
  KEYSTAGE_STORAGE_ROOT  uploaded and generated files (default $KEYSTAGE_VAR_DIR/storage)
  KEYSTAGE_MAX_UPLOAD_MB the largest results file accepted (default 20)
  KEYSTAGE_STORAGE_BACKEND, KEYSTAGE_STORAGE_OPTIONS  where uploaded files live (default: on disk)
  KEYSTAGE_KS4_ESTIMATES  P8 estimates per year, e.g. 2024=dfe-2024-provisional,2026=platform
  KEYSTAGE_RETAIN_UPLOADS_YEARS, KEYSTAGE_RETAIN_PUPIL_DATA_YEARS  academic years uploads (default 2) and
                      pupil-level data (default 6) are kept after their year; KEYSTAGE_RETAIN_AUDIT_YEARS
                      the audit log's years (default: kept)
  KEYSTAGE_TWO_FACTOR  required (default): people who see pupils and platform staff sign in with a code
                      from an authenticator app; off: passwords alone (the demo)
  KEYSTAGE_TWO_FACTOR_MAX_FAILURES  wrong codes before a person waits KEYSTAGE_LOGIN_LOCKOUT_MINUTES (5)
  EMAIL_BACKEND, EMAIL_FILE_PATH, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
  EMAIL_USE_TLS, DEFAULT_FROM_EMAIL
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("DEBUG")
HTTPS = _flag("KEYSTAGE_HTTPS")
VAR_DIR = Path(os.environ.get("KEYSTAGE_VAR_DIR", BASE_DIR / "var")).resolve()
# The embedded database, collected static files and uploads live here; make it on first use.
for _directory in (VAR_DIR, VAR_DIR / "static"):
    _directory.mkdir(parents=True, exist_ok=True)

_secret = os.environ.get("SECRET_KEY", "")
if not _secret:
    if HTTPS:
        raise ImproperlyConfigured("SECRET_KEY must be set when KEYSTAGE_HTTPS is on (a production server).")
    # Local demo and tests only: a key kept beside the embedded database, never committed.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        _secret = key_file.read_text().strip()
    else:
        import secrets

        _secret = secrets.token_urlsafe(50)
        key_file.write_text(_secret)
        key_file.chmod(0o600)
SECRET_KEY = _secret

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h]

INSTALLED_APPS = [
    "keystage.web",
    "keystage.accounts",
    "keystage.organisations",
    "keystage.audit",
    "keystage.reference_data",
    "keystage.pupils",
    "keystage.results",
    "keystage.returns",
    "keystage.api",
    "keystage.measures",
    "keystage.reports",
    "keystage.estimates",
    "keystage.privacy",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the two above: it reads the verified device and may leave a message for the next page.
    "keystage.accounts.two_factor.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "keystage.web.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "keystage.urls"
WSGI_APPLICATION = "keystage.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "keystage" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "keystage.web.context_processors.navigation",
            ],
        },
    }
]

WEB_SQLITE_TIMEOUT_SECONDS = "5"
# Database: SQLite in WAL mode by default, so the web server and the worker can share it.
_default_sqlite = f"sqlite:///{VAR_DIR / 'keystage.sqlite3'}"
# Connections are kept between requests (KEYSTAGE_DB_CONN_MAX_AGE seconds; 0 opens one per request):
# a new PostgreSQL connection costs more server time than a report page's queries (bench/reports_load).
_conn_max_age = int(os.environ.get("KEYSTAGE_DB_CONN_MAX_AGE", "60"))
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or _default_sqlite, conn_max_age=_conn_max_age
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE: writers queue for the lock instead of failing mid-transaction.
        "transaction_mode": "IMMEDIATE",
        # How long a write waits for another writer before the page answers 503 ("try again"): short
        # for the web (a person is waiting), longer for the worker and commands (KEYSTAGE_SQLITE_TIMEOUT,
        # set by keystage.cli; `keystage serve` sets the web's).
        "timeout": float(os.environ.get("KEYSTAGE_SQLITE_TIMEOUT", WEB_SQLITE_TIMEOUT_SECONDS)),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # A file, not memory, so a worker process in a test can see the test database; one per test
    # run, so two runs at once (two terminals, a reviewer) never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # A kept connection is checked before a request uses it, so a restarted server costs no request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Per process: what is kept (report dashboards) is keyed by the measure runs it was read from, so no
# process ever needs another's to be cleared.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["keystage.accounts.backends.EmailBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"

# Sign-in throttling (keystage/accounts/throttle.py): slowed from half a limit, locked at it.
KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT = int(os.environ.get("KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))
KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS", "20"))
KEYSTAGE_LOGIN_LOCKOUT_MINUTES = int(os.environ.get("KEYSTAGE_LOGIN_LOCKOUT_MINUTES", "15"))
# "Forgotten your password?": a link works once, for this long; links asked for per account and per
# address in KEYSTAGE_LOGIN_LOCKOUT_MINUTES.
PASSWORD_RESET_TIMEOUT = 60 * 60
KEYSTAGE_PASSWORD_RESETS_PER_ACCOUNT = int(os.environ.get("KEYSTAGE_PASSWORD_RESETS_PER_ACCOUNT", "3"))
KEYSTAGE_PASSWORD_RESETS_PER_ADDRESS = int(os.environ.get("KEYSTAGE_PASSWORD_RESETS_PER_ADDRESS", "20"))
# Reverse proxies whose X-Forwarded-For is believed (their own addresses, comma-separated).
KEYSTAGE_TRUSTED_PROXIES = frozenset(
    a.strip() for a in os.environ.get("KEYSTAGE_TRUSTED_PROXIES", "").split(",") if a.strip()
)
# Two-factor sign-in (keystage/accounts/two_factor.py): "required" for everyone who sees pupils and for
# platform staff, or "off" (the demo, which prints its passwords for anyone to use).
KEYSTAGE_TWO_FACTOR = os.environ.get("KEYSTAGE_TWO_FACTOR", "required").strip().lower() or "required"
if KEYSTAGE_TWO_FACTOR not in {"required", "off"}:
    raise ImproperlyConfigured(f"KEYSTAGE_TWO_FACTOR is “{KEYSTAGE_TWO_FACTOR}”: use required or off.")
# Wrong codes (authenticator or recovery) before a person must wait KEYSTAGE_LOGIN_LOCKOUT_MINUTES.
KEYSTAGE_TWO_FACTOR_MAX_FAILURES = int(os.environ.get("KEYSTAGE_TWO_FACTOR_MAX_FAILURES", "5"))
# How much lower than the web server a background worker runs (Unix nice; 0 for the same).
KEYSTAGE_WORKER_NICENESS = int(os.environ.get("KEYSTAGE_WORKER_NICENESS", "10"))
KEYSTAGE_INVITATION_DAYS = int(os.environ.get("KEYSTAGE_INVITATION_DAYS", "7"))
# The largest results file accepted; a 2,000-pupil template with every subject is under 5 MB.
KEYSTAGE_MAX_UPLOAD_BYTES = int(os.environ.get("KEYSTAGE_MAX_UPLOAD_MB", "20")) * 1024 * 1024
# POST /api/v1/validate checks a file in the web request only up to this (about a second of a web
# worker per MB); a larger file is checked by the background worker while the caller polls.
KEYSTAGE_API_VALIDATE_MAX_BYTES = int(float(os.environ.get("KEYSTAGE_API_VALIDATE_MAX_MB", "1")) * 1024**2)
# Per person (all their tokens together): checks running at once, and checks started in a minute.
KEYSTAGE_API_CHECKS_AT_ONCE = int(os.environ.get("KEYSTAGE_API_CHECKS_AT_ONCE", "2"))
KEYSTAGE_API_CHECKS_PER_MINUTE = int(os.environ.get("KEYSTAGE_API_CHECKS_PER_MINUTE", "20"))


def _estimates_by_year(text: str) -> dict[int, str]:
    """KEYSTAGE_KS4_ESTIMATES: "2024=dfe-2024-provisional,2026=platform" -> {2024: ..., 2026: ...}."""
    chosen: dict[int, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        year, _, name = part.partition("=")
        if not year.strip().isdigit() or not name.strip():
            raise ImproperlyConfigured(f"KEYSTAGE_KS4_ESTIMATES: “{part}” is not YEAR=NAME.")
        chosen[int(year)] = name.strip()
    return chosen


# The Progress 8 estimates of each year's KS4 figures (default: DfE's where published, else the platform's).
KEYSTAGE_KS4_ESTIMATES = _estimates_by_year(os.environ.get("KEYSTAGE_KS4_ESTIMATES", ""))
# Seconds since a worker's last heartbeat before /healthz calls it stale.
KEYSTAGE_WORKER_STALE_SECONDS = int(os.environ.get("KEYSTAGE_WORKER_STALE_SECONDS", "60"))


def _years(name: str, default: int | None) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ImproperlyConfigured(f"{name} is a whole number of academic years, 1 or more, not “{text}”.")
    return int(text)


# Data protection (keystage/privacy/retention.py; the worker purges once a day): how many academic
# years after the one it belongs to keystage keeps what it holds about pupils. keystage is not the
# pupil's record: that stays in the school's MIS, which many schools' retention schedules keep until the
# pupil is 25. An analysis service needs far less. Uploads that did not become the school's submission
# (files with errors, files never confirmed or overwritten) are working copies, needed while the
# collection and its checking run and for a year of questions after: 2. Pupil-level data (submissions,
# rosters of pupils who have left, pupils' figures, files sent to the LA) serves three-year trends and a
# cohort followed across a key stage (KS2 to KS4 is five years): 6. School, trust, LA and national figures
# are not about any one pupil and are kept.
KEYSTAGE_RETAIN_UPLOADS_YEARS = _years("KEYSTAGE_RETAIN_UPLOADS_YEARS", 2)
KEYSTAGE_RETAIN_PUPIL_DATA_YEARS = _years("KEYSTAGE_RETAIN_PUPIL_DATA_YEARS", 6)
# The audit log is the school's evidence of who saw what: kept unless a number of years is set.
KEYSTAGE_RETAIN_AUDIT_YEARS = _years("KEYSTAGE_RETAIN_AUDIT_YEARS", None)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "keystage" / "static"]
MEDIA_ROOT = Path(os.environ.get("KEYSTAGE_STORAGE_ROOT", VAR_DIR / "storage")).resolve()
# Uploaded files live on disk by default; any Django storage (e.g. django-storages' S3 backend,
# installed alongside) takes over with its dotted path and its options as JSON.
try:
    _storage_options = json.loads(os.environ.get("KEYSTAGE_STORAGE_OPTIONS") or "{}")
except ValueError as _error:
    raise ImproperlyConfigured(f"KEYSTAGE_STORAGE_OPTIONS is not JSON: {_error}") from None
STORAGES = {
    "default": {
        "BACKEND": os.environ.get("KEYSTAGE_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": _storage_options,
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Tests and a fresh checkout run before collectstatic: fall back to unhashed names.
WHITENOISE_MANIFEST_STRICT = False
WHITENOISE_USE_FINDERS = DEBUG

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _flag("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "keystage <no-reply@keystage.localhost>")
# DfE's published reference files ship with keystage (keystage/core/reference/data/dfe/). A folder of
# the same layout named here (ks4/dfe-2019/, ks4/progress8/) is read instead where it has a folder.
KEYSTAGE_REFERENCE_DIR = (
    Path(os.environ["KEYSTAGE_REFERENCE_DIR"]) if os.environ.get("KEYSTAGE_REFERENCE_DIR") else None
)
# Report PDFs with more table rows than this are drawn by a worker rather than within the request.
KEYSTAGE_PDF_ROWS_IN_REQUEST = int(os.environ.get("KEYSTAGE_PDF_ROWS_IN_REQUEST", "100"))
KEYSTAGE_BASE_URL = os.environ.get("KEYSTAGE_BASE_URL", "" if HTTPS else "http://127.0.0.1:8000")
if not KEYSTAGE_BASE_URL:
    raise ImproperlyConfigured("KEYSTAGE_BASE_URL must be set in production: emailed links use it.")
# The name an authenticator app shows beside the code: the server's host tells two keystages apart.
_host = urlsplit(KEYSTAGE_BASE_URL).hostname or ""
OTP_TOTP_ISSUER = "keystage" if _host in {"", "localhost", "127.0.0.1"} else f"keystage {_host}"
# Platform admin never shows an authenticator's secret or a person's recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Security: cookies, headers and the Content Security Policy.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "keystage.web.views.csrf_failure"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Files are counted as they stream in and refused past KEYSTAGE_MAX_UPLOAD_BYTES (keystage/web/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "keystage.web.uploads.SizeLimitedUploadHandler",
    "keystage.web.uploads.InMemoryUploadHandler",
    "keystage.web.uploads.OnDiskUploadHandler",
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"refusals": {"()": "keystage.web.log_filters.RefusalsWithoutTracebacks"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["refusals"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("KEYSTAGE_LOG_LEVEL", "INFO")},
    # WeasyPrint reports each step of every PDF at INFO: too chatty for a log.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
