"""Test settings: the production settings plus a test-only app and fast, local services."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghij")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SITE_URL", "http://testserver")
os.environ["DEBUG"] = "0"
os.environ["ENV_FILE"] = "/nonexistent"  # a developer's .env must not change the tests

from crm.settings import *  # noqa: F403
from crm.settings import CACHES, CELERY_BROKER_TRANSPORT_OPTIONS, INSTALLED_APPS

# A small owned model to exercise the access API on every scope (tests/accessapp).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.accessapp"]

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if os.environ.get("TEST_LIVE_STACK") == "1":
    # The web server and the Celery worker that tests/channels/test_worker.py runs as
    # subprocesses: tasks go through Redis (REDIS_URL) on that test's own queue, and the
    # cache is Redis, as in production.
    CELERY_TASK_ALWAYS_EAGER = False
    CELERY_TASK_DEFAULT_QUEUE = os.environ["TEST_CELERY_QUEUE"]
    if os.environ.get("TEST_VISIBILITY_TIMEOUT"):
        # A short visibility timeout (tests/channels/test_worker_lifecycle.py), below the
        # time limits on purpose: the broker hands an unacknowledged message out again
        # after these seconds, looked for every second.
        CELERY_BROKER_TRANSPORT_OPTIONS = {
            **CELERY_BROKER_TRANSPORT_OPTIONS,
            "visibility_timeout": int(os.environ["TEST_VISIBILITY_TIMEOUT"]),
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
else:
    CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Tasks run in-process; long jobs too, at once rather than in a thread (crm/background.py).
    CELERY_TASK_ALWAYS_EAGER = True
    BACKGROUND_INLINE = True
# No per-process tenant rows between requests (tests/crm/test_tenant_cache.py turns it on).
TENANT_CACHE_SECONDS = 0
LOGGING = {"version": 1, "disable_existing_loggers": False}
