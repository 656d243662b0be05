"""Settings for smartapp. Everything a deployment changes comes from the environment."""

import base64
import hashlib
import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from smartapp.lib.env import env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules

DEBUG = env_bool("DJANGO_DEBUG", False)
# Development and tests may run on throwaway secrets; a deployment must provide its own.
INSECURE_DEFAULTS_ALLOWED = DEBUG or TESTING

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not INSECURE_DEFAULTS_ALLOWED:
        raise ImproperlyConfigured("SECRET_KEY is required (or set DJANGO_DEBUG=1 for development)")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"


def _derived_fernet_key(secret: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()).decode()


# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not INSECURE_DEFAULTS_ALLOWED:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is required to encrypt tokens at rest")
    FIELD_ENCRYPTION_KEYS = [_derived_fernet_key(SECRET_KEY)]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", TESTING)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "smartapp.audit",
    "smartapp.tenants",
    "smartapp.launch",
    "smartapp.fhir",
    "smartapp.clinical",
    "smartapp.payments",
    "smartapp.demo",
    "smartapp.monitoring",
]
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("smartapp.sandbox")

MIDDLEWARE = [
    "smartapp.monitoring.middleware.RequestMetricsMiddleware",  # counts and times every answer
    "smartapp.lib.middleware.ContentSecurityPolicyMiddleware",  # every response
    "smartapp.monitoring.middleware.HealthProbeMiddleware",  # probes by IP: before the Host check
    "smartapp.lib.middleware.FormCharsetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "smartapp.lib.middleware.PartitionedCookiesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language switch's cookie, else Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "smartapp.urls"
WSGI_APPLICATION = "smartapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_url("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so live-server threads and the test each get their own connection.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / env_str("TEST_DB_FILE", ".test-db.sqlite3"))
    }
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss"))
CACHE_URL = env_url(
    "CACHE_URL", schemes=("redis", "rediss")
)  # e.g. redis://…; empty keeps a per-process memory cache
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # A Redis that stops answering costs a request 2 s, not a worker thread forever.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A web request that queues work (a payment to post now) must not stall while the broker is
# down: one quick retry, then it gives up; the beat finds the row in the database anyway.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
# Celery closes Django's database connection around every task unless this is set (then it keeps
# one per worker process for about twice this many tasks). Unset by default (as shipped).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 0) or None
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Millennium tokens live 570 s; the cache reuses one until 60 s before expiry.
    "refresh-system-tokens": {
        "task": "smartapp.tenants.tasks.refresh_system_tokens",
        "schedule": 240.0,
    },
}

# Payments outbox (see smartapp/payments). The beat task finds due payments every few seconds.
PAYMENT_BEAT_SECONDS = env_float("PAYMENT_BEAT_SECONDS", 5)
# A worker's claim on a payment (and its visit's lock) lasts this long. It must outlast the task's
# hard time limit, so a slow but living worker is never taken for a dead one mid-POST.
PAYMENT_CLAIM_SECONDS = env_int("PAYMENT_CLAIM_SECONDS", CELERY_TASK_TIME_LIMIT + 30)
if PAYMENT_CLAIM_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("PAYMENT_CLAIM_SECONDS must exceed CELERY_TASK_TIME_LIMIT")
# Waiting for an Account: first pause, doubling up to the tenant's cap.
PAYMENT_BACKOFF_BASE_SECONDS = env_float("PAYMENT_BACKOFF_BASE_SECONDS", 5)
# After an unclear answer to a POST, wait this long before reading the balance for evidence,
# so a write the EHR is still processing has landed by then.
PAYMENT_UNKNOWN_SETTLE_SECONDS = env_float("PAYMENT_UNKNOWN_SETTLE_SECONDS", 30)
# A payment enqueued this recently is not enqueued again (a lost task is re-sent after it).
PAYMENT_ENQUEUE_GRACE_SECONDS = env_int("PAYMENT_ENQUEUE_GRACE_SECONDS", 30)
# Checkouts the patient never came back from are reconciled with the processor after this.
PAYMENT_CHECKOUT_RECONCILE_SECONDS = env_int("PAYMENT_CHECKOUT_RECONCILE_SECONDS", 600)
CELERY_BEAT_SCHEDULE["payments-enqueue-due"] = {
    "task": "smartapp.payments.tasks.payments_enqueue_due",
    "schedule": PAYMENT_BEAT_SECONDS,
}
CELERY_BEAT_SCHEDULE["payments-reconcile-checkouts"] = {
    "task": "smartapp.payments.tasks.payments_reconcile_checkouts",
    "schedule": 60.0,
}
# The billing office's daily report; 10:30 UTC is early morning across the US, when every
# tenant's yesterday is over.
CELERY_BEAT_SCHEDULE["payments-reconcile-yesterday"] = {
    "task": "smartapp.payments.tasks.payments_reconcile_yesterday",
    "schedule": crontab(hour=10, minute=30),
}

SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
# Inside an EHR iframe on another site, cookies must be SameSite=None, which requires Secure.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "None" if SECURE_COOKIES else "Lax"
SESSION_COOKIE_HTTPONLY = True
# A launch ends after this long without a page the user asked for (patients on a shared computer
# first), and in any case this long after sign-in. The cookie lives no longer than a launch.
SESSION_IDLE_SECONDS = {
    "patient": env_int("SESSION_IDLE_PATIENT_SECONDS", 15 * 60, minimum=60),
    "provider": env_int("SESSION_IDLE_PROVIDER_SECONDS", 60 * 60, minimum=60),
}
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600, minimum=300)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
# Origins allowed to frame the app besides 'self' and the tenant file's `ehr_origins` (CSP
# frame-ancestors, which replaces X-Frame-Options). Usually empty.
FRAME_ANCESTORS = env_list("FRAME_ANCESTORS", "")
# Stripe.js (Stripe Elements) for tenants whose processor is Stripe; tests point it at the
# stand-in that localstripe serves.
STRIPE_JS_URL = env_url("STRIPE_JS_URL", "https://js.stripe.com/v3/", schemes=("https", "http"))
# Receipt emails (the demo prints them to the console).
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY") else None

# Outbound HTTP to EHRs (see smartapp/lib/http.py).
HTTP_CONNECT_TIMEOUT = env_float("HTTP_CONNECT_TIMEOUT", 5)
HTTP_READ_TIMEOUT = env_float("HTTP_READ_TIMEOUT", 20)
DISCOVERY_CACHE_SECONDS = env_int("DISCOVERY_CACHE_SECONDS", 3600)
# Refresh access tokens this many seconds before they expire.
TOKEN_REFRESH_MARGIN_SECONDS = env_int("TOKEN_REFRESH_MARGIN_SECONDS", 60)
# A tenant file loaded by `manage.py register_tenants` at start-up (see README).
TENANTS_FILE = env_str("TENANTS_FILE")

LANGUAGE_CODE = "en"
# Patient pages in English and Spanish (locale/, compiled by .ci/setup); staff pages stay English.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / env_str("STATIC_ROOT", "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "admin:login"

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not DEBUG, INFO, WARNING or ERROR")
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; without a token it is not served.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# A Celery worker serves its pool's EHR-call counters on this port (0: not served), same token.
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
if WORKER_METRICS_PORT > 65535:
    raise ImproperlyConfigured(f"WORKER_METRICS_PORT={WORKER_METRICS_PORT} is not a port")
if WORKER_METRICS_PORT and not METRICS_TOKEN:
    raise ImproperlyConfigured("WORKER_METRICS_PORT is set: set METRICS_TOKEN too (the scrape's)")
LOG_FORMAT = env_str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "smartapp.lib.logs.LogContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "smartapp.lib.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own debug-only console handler would print its lines a second time, unformatted.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"level": "WARNING"},
    },
}
# Celery keeps the logging above instead of installing its own handlers (and format).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
