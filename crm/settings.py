"""Voronka settings: one file, configured only from the environment (12-factor).

Zero-setup defaults (SQLite, an eager task queue, mail to the console) make `make run`
work on a fresh machine; `DATABASE_URL`, `REDIS_URL` and `EMAIL_URL` switch to the
production stack. With DEBUG off (the default) the process refuses to start without
SECRET_KEY and ALLOWED_HOSTS, and the secure-cookie/HSTS/SSL settings are on.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (made by `make run` from .env.example) fills in what the environment lacks;
# ENV_FILE points elsewhere (or at nothing).
ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)


def secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from NAME or from the file named by NAME_FILE (Docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# An htmx request with a stale token gets a message in place, not a page swapped in.
CSRF_FAILURE_VIEW = "crm.views.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # naturaltime ("4 минуты назад") and its translations.
    "django.contrib.humanize",
    # Django's own form widget templates, for the TemplatesSetting renderer.
    "django.forms",
    "django_htmx",
    "django_filters",
    "import_export",
    "template_partials",
    "csp",
    "axes",
    "crm",
    "contacts",
    "leads",
    "deals",
    "intake",
    "channels",
    "transfer",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the channels' public endpoints (/in/…) without the browser-facing middleware.
    "channels.middleware.InboundEndpointMiddleware",
    # Answers the open pages' unchanged polls (…/leads/live/) before sessions and users.
    "crm.live.LivePollMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    # A domain rule refused outside a view's own handling: a message, in place or back.
    "crm.middleware.RefusalMiddleware",
    # Last: resolves /<tenant-slug>/…, checks membership, enters the tenant scope.
    "crm.middleware.TenantMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

# Form widgets through TEMPLATES, so templates/django/forms/widgets/select.html (one loop,
# no include per <option>) replaces Django's: member lists made list pages slow.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

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
                "crm.context_processors.workspace",
            ],
        },
    },
]

# Functions that fill a new tenant with its defaults (roles come from crm itself).
TENANT_SEEDERS = [
    "leads.services.lead_statuses_seed",
    "deals.services.pipelines_seed",
    "deals.services.loss_reasons_seed",
]

# --- Database -----------------------------------------------------------------------------
# DATABASE_URL is what the application connects with: on PostgreSQL a role that is neither
# superuser nor the tables' owner, so row-level security binds it. Migrations run as the
# owner (DATABASE_URL set to the owner's URL for `migrate`); DATABASE_APP_ROLE names the
# role the owner grants table privileges to.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails a connection in seconds, not after the system's TCP
    # timeout (minutes, or never for a host that does not answer): the endpoint answers 503
    # at once (its sender delivers again) and a web thread or worker is not held meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has several writers at once (the dev server's request threads,
    # the in-process scheduler): a writer waits up to SQLITE_BUSY_TIMEOUT seconds for
    # another instead of failing with "database is locked"; BEGIN IMMEDIATE takes the write
    # lock when a transaction starts, so one that read first never fails to upgrade (SQLite
    # does not wait then). Every tenant request is one transaction (tenant_context), so
    # pages queue behind writers too — milliseconds each; WAL keeps reads outside
    # transactions (sessions, the tenant's row) and commits cheap. docs/decisions/010.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=20.0),
        "init_command": "PRAGMA journal_mode=WAL",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="") or DATABASES["default"].get("USER", "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, queue -------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "crm.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Rendered template fragments that depend only on the code, the translations and the values
# in their key (`{% cache None name key… using="fragments" %}`, e.g. an unbound form's fields
# per language): kept in each process, so a deploy (a restart) renews them.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
}
# With a shared cache, sessions are read from Redis (written through to the database); a
# per-process cache would keep a logged-out session alive in the other workers.
SESSION_ENGINE = "django.contrib.sessions.backends." + ("cached_db" if REDIS_URL else "db")

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Without a broker the queue is embedded: tasks run in-process right after commit.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# The largest file an import takes (a 1,048,576-row Bitrix24 export is about 300 MB).
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=512 << 20)
# An ended import's file is kept this long (its report and undo stay for good).
IMPORT_KEEP_DAYS = env.int("IMPORT_KEEP_DAYS", default=30)
# Long jobs without a broker run in a thread of the server (crm/background.py); tests: inline.
BACKGROUND_INLINE = False
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection around every task (NOTES: ≈107
# one-row tasks/s instead of ≈355). With this set it closes only every 1,000 tasks, and
# crm.celery applies Django's own rules before and after each task, as for a request:
# CONN_MAX_AGE, CONN_HEALTH_CHECKS, a connection left unusable by an error.
CELERY_DB_REUSE_MAX = 1000
# Unacked tasks come back after the visibility timeout; every task and ETA stays below it.
# max_retries 0: a publish tries to connect once. Kombu's default retries for ≈6 s, which
# held every inbound request that long while Redis was down (the delivery is stored; the
# sweeper queues it later). The worker's own reconnection has its own retry settings.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "max_retries": 0,
}
# Every task ends before the broker would hand its message out again: a task past its soft
# limit gets SoftTimeLimitExceeded (an error like any other: recorded, retried), past the
# hard one its pool process is killed. Long jobs (imports, exports, rescoring, rollups) have
# the LONG limits (crm.celery.LONG_TASK); an import hands over to a new task before its soft
# limit (transfer.tasks). Without a broker (`make run`) no limit applies.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=330)
CELERY_LONG_TASK_SOFT_TIME_LIMIT = env.int("CELERY_LONG_TASK_SOFT_TIME_LIMIT", default=3000)
CELERY_LONG_TASK_TIME_LIMIT = env.int("CELERY_LONG_TASK_TIME_LIMIT", default=3300)
for _soft, _hard in (
    (CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT),
    (CELERY_LONG_TASK_SOFT_TIME_LIMIT, CELERY_LONG_TASK_TIME_LIMIT),
):
    if not 0 < _soft < _hard < CELERY_VISIBILITY_TIMEOUT:
        raise ImproperlyConfigured(
            "Celery time limits: soft < hard < CELERY_VISIBILITY_TIMEOUT, or a long task "
            "would be run again while it still runs."
        )
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Imports a stopped worker or server left mid-file go on from their last batch.
    "imports-resume": {"task": "transfer.tasks.imports_resume_task", "schedule": 60},
    "leads-purge-trash": {
        "task": "leads.tasks.leads_purge_trash_all_task",
        "schedule": 60 * 60 * 6,
    },
    "activities-reminders": {
        "task": "leads.tasks.activities_send_reminders_all_task",
        "schedule": 60,
    },
    "contacts-purge-trash": {
        "task": "contacts.tasks.parties_purge_trash_all_task",
        "schedule": 60 * 60 * 6,
    },
    # Inbound deliveries left pending (lost publish, broker restarted, worker killed) are
    # queued again long before the broker's visibility timeout would return them.
    "channels-sweep": {"task": "channels.tasks.events_sweep_all_task", "schedule": 30},
    "messages-sweep": {"task": "channels.tasks.messages_sweep_all_task", "schedule": 30},
    "channels-purge": {"task": "channels.tasks.events_purge_all_task", "schedule": 60 * 60 * 24},
    # Admins hear when a channel's deliveries keep failing (channels/health.py).
    "channels-failing": {
        "task": "channels.tasks.channels_check_failing_all_task",
        "schedule": 60 * 5,
    },
    # E-mail channels' mailboxes: new messages read over IMAP (channels/mailbox.py).
    "channels-mailboxes": {
        "task": "channels.tasks.mailboxes_poll_all_task",
        "schedule": env.int("CHANNELS_EMAIL_POLL_SECONDS", default=60),
    },
    "leads-escalate-overdue": {
        "task": "leads.tasks.leads_escalate_overdue_all_task",
        "schedule": 60,
    },
    # Postponed leads whose date has come go back to their owners' inboxes.
    "leads-return-postponed": {
        "task": "leads.tasks.leads_return_postponed_all_task",
        "schedule": 60,
    },
    # Lead scores: engagement fades; each workspace's pass runs once a night after 03:00
    # in its own time zone (the hourly check finds its hour).
    "leads-scores-decay": {"task": "leads.tasks.scores_decay_all_task", "schedule": 60 * 60},
    # Analytics: recompute the rolled-up days that changed, roll up the finished ones.
    "analytics-rollups": {"task": "analytics.tasks.rollups_refresh_all_task", "schedule": 60 * 10},
    # Exports: start again those a stopped server left queued; delete files past their days.
    "transfer-exports": {
        "task": "transfer.tasks.export_jobs_maintain_all_task",
        "schedule": 60 * 15,
    },
}
# Exports of up to this many rows are written in the request; larger ones in the background.
EXPORT_INLINE_MAX_ROWS = env.int("EXPORT_INLINE_MAX_ROWS", default=5000)
# Days a background export's file is kept for download.
EXPORT_KEEP_DAYS = env.int("EXPORT_KEEP_DAYS", default=7)
# How long a process may reuse a tenant's row (its settings) before reading it again.
TENANT_CACHE_SECONDS = env.int("TENANT_CACHE_SECONDS", default=10)
# Base delay of a failed delivery's retries (doubling, capped at a minute).
CHANNELS_RETRY_DELAY = env.float("CHANNELS_RETRY_DELAY", default=2.0)
# How long inbound deliveries (raw bodies) are kept once nothing more is to be done with
# them; 0 keeps them forever. Pending and failed deliveries stay until handled.
CHANNELS_EVENTS_KEEP_DAYS = env.int("CHANNELS_EVENTS_KEEP_DAYS", default=90)
# The Telegram Bot API (tests point it at a local fake).
TELEGRAM_API_BASE = env.str("TELEGRAM_API_BASE", default="https://api.telegram.org")
# Outbound replies (channels/outbound.py): the providers' API bases (tests point them at
# local fakes), how long one send waits for its answer, and how the worker retries.
WHATSAPP_API_BASE = env.str("WHATSAPP_API_BASE", default="https://graph.facebook.com/v21.0")
VK_API_BASE = env.str("VK_API_BASE", default="https://api.vk.com/method")
CHANNELS_SEND_TIMEOUT = env.float("CHANNELS_SEND_TIMEOUT", default=15.0)
# Attempts before a message a provider keeps refusing with 429/5xx fails (≈ 2 hours).
CHANNELS_SEND_ATTEMPTS = env.int("CHANNELS_SEND_ATTEMPTS", default=10)
# A message still "sending" this long after its attempt began lost its worker: the sweeper
# settles it (again for a provider that deduplicates, else "may not have been sent"). Above
# the longest attempt: a large file's upload and its send, each bounded by the timeout.
CHANNELS_SEND_LEASE = env.int("CHANNELS_SEND_LEASE", default=300)
# The largest file a manager may send from a card.
CHANNELS_SEND_MAX_FILE_BYTES = env.int("CHANNELS_SEND_MAX_FILE_BYTES", default=20 << 20)
# E-mail channels: IMAP socket timeout (s), messages read per poll, the largest message
# downloaded (larger ones: headers only), attachments kept per file and per message.
CHANNELS_EMAIL_IMAP_TIMEOUT = env.int("CHANNELS_EMAIL_IMAP_TIMEOUT", default=30)
CHANNELS_EMAIL_MAX_PER_POLL = env.int("CHANNELS_EMAIL_MAX_PER_POLL", default=50)
CHANNELS_EMAIL_MAX_MESSAGE_BYTES = env.int("CHANNELS_EMAIL_MAX_MESSAGE_BYTES", default=25 << 20)
CHANNELS_EMAIL_MAX_ATTACHMENT_BYTES = env.int(
    "CHANNELS_EMAIL_MAX_ATTACHMENT_BYTES", default=10 << 20
)
CHANNELS_EMAIL_MAX_ATTACHMENTS_BYTES = env.int(
    "CHANNELS_EMAIL_MAX_ATTACHMENTS_BYTES", default=20 << 20
)
CHANNELS_EMAIL_MAX_ATTACHMENTS = env.int("CHANNELS_EMAIL_MAX_ATTACHMENTS", default=20)
# Keys sealing secrets stored in the database (mailbox passwords, providers' tokens):
# comma-separated Fernet keys, the first seals, all open; empty: derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "crm.auth.ThrottledBackend",  # axes' lockout, plus a limit per address (crm/auth.py)
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)
# Sign-up is confirmed from an e-mailed link (it says nothing about which addresses have
# an account); the link works this many hours.
SIGNUP_LINK_MAX_AGE_HOURS = env.int("SIGNUP_LINK_MAX_AGE_HOURS", default=24)

# Login throttling: after AXES_FAILURE_LIMIT failures for one user name from one IP,
# that pair is locked out for AXES_COOLOFF_MINUTES; after LOGIN_IP_FAILURE_LIMIT failures
# from one IP in that time, whatever the accounts (password spraying), the IP is (0: no limit).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=20)
# Invitations one member may send per hour (0: no limit).
INVITATIONS_PER_HOUR = env.int("INVITATIONS_PER_HOUR", default=20)
# Sign-up sends an e-mail to an address anyone may type: at most SIGNUP_PER_HOUR sign-ups
# from one client address, and SIGNUP_MAILS_PER_ADDRESS messages to one address, an hour.
SIGNUP_PER_HOUR = env.int("SIGNUP_PER_HOUR", default=10)

# Sort memory of a report's queries on PostgreSQL (SET LOCAL in its transaction): the
# percentiles of a period's leads sort in memory instead of on disk (analytics.sql).
ANALYTICS_WORK_MEM = env.str("ANALYTICS_WORK_MEM", default="64MB")
# Reports read the daily rollups where they hold (decision 011); off: every figure raw.
ANALYTICS_ROLLUPS = env.bool("ANALYTICS_ROLLUPS", default=True)
SIGNUP_MAILS_PER_ADDRESS = env.int("SIGNUP_MAILS_PER_ADDRESS", default=3)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "crm.auth.axes_username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# Behind PROXY_COUNT reverse proxies the client address comes from X-Forwarded-For (ipware),
# so one attacker cannot lock everyone out through the proxy's address.
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)
AXES_VERBOSE = False

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# The preload directive only matters once the domain is submitted to the browsers' list.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded and received files (e-mail attachments): Django's default storage.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"  # never served as is: files go out through views that check rights
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email --------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Voronka <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # In-process tasks (no broker) would log a line for every delivery and every run of
        # every periodic job; failures are still logged.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

# Public base URL: links e-mailed from background tasks, the channels' public endpoints
# (shown to admins, registered with Telegram). Unset (DEBUG only), pages show the address
# they were opened at and e-mails use LOCAL_SITE_URL (crm.urlnames.site_url).
SITE_URL = env.str("SITE_URL", default="")
LOCAL_SITE_URL = "http://127.0.0.1:8000"
if not SITE_URL and not DEBUG:
    raise ImproperlyConfigured("SITE_URL must be set when DEBUG is off (links in e-mails use it).")
# The base URL providers call the channels' endpoints at, when it differs from SITE_URL (a
# proxy or tunnel in front of the app with another host or path prefix): Twilio signs the
# exact URL it called, so its signatures are checked against this base; telephony channel
# pages show their webhook URLs under it. Unset: SITE_URL (crm.urlnames.public_url).
PUBLIC_URL = env.str("PUBLIC_URL", default="")
