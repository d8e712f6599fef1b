"""Fixtures for every test: tenants with one member per role, clients, the DB roles.

On PostgreSQL the suite runs as the application's role (neither superuser nor table
owner), so row-level security binds every query the tests make; the test database is
created and migrated by the owner role from DATABASE_OWNER_URL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import environ
import psycopg
import pytest
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.test import Client
from django.utils import translation

from crm.models import Membership, Role, Tenant
from crm.tenancy import tenant_context
from tests.factories import PASSWORD, add_member, make_tenant

CHROMIUM = "/usr/bin/chromium"


def _owner_credentials() -> dict[str, str] | None:
    url = os.environ.get("DATABASE_OWNER_URL")
    if not url or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return None
    owner = environ.Env.db_url_config(url)
    return {"USER": owner["USER"], "PASSWORD": owner.get("PASSWORD", "")}


OWNER = _owner_credentials()
APP = {k: settings.DATABASES["default"].get(k, "") for k in ("USER", "PASSWORD")}


def _use_credentials(creds: dict[str, str]) -> None:
    connection = connections["default"]
    connection.close()
    connection.settings_dict.update(creds)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Create and migrate the test database as the owner role."""
    if OWNER:
        _use_credentials(OWNER)


def _flush_as_owner(sql_list: list[str]) -> None:
    """Transactional tests' flush (TRUNCATE), run by the owner on its own connection: the
    app role has no TRUNCATE right, in tests as in production (row-level security does not
    filter TRUNCATE)."""
    target = connections["default"].settings_dict
    with (
        psycopg.connect(
            dbname=target["NAME"],
            host=target["HOST"] or None,
            port=target["PORT"] or None,
            user=OWNER["USER"],
            password=OWNER["PASSWORD"],
        ) as owner,
        owner.cursor() as cursor,
    ):
        cursor.execute("SET lock_timeout = '30s'")  # a test left a transaction open: fail
        for statement in sql_list:
            cursor.execute(statement)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker):
    """Then run every test as the application role, and drop the database as the owner."""
    if OWNER:
        with django_db_blocker.unblock():
            _use_credentials(APP)
        # On the class: a test running in an event loop (the browser tests) gets a
        # connection object of its own.
        flush = PostgresOperations.execute_sql_flush
        PostgresOperations.execute_sql_flush = lambda _ops, sql_list: _flush_as_owner(sql_list)
    yield
    if OWNER:
        PostgresOperations.execute_sql_flush = flush
        with django_db_blocker.unblock():
            _use_credentials(OWNER)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """PostgreSQL-only and browser tests skip locally but fail in CI (REQUIRE_*=1)."""
    if item.get_closest_marker("postgres") and connections["default"].vendor != "postgresql":
        reason = "needs PostgreSQL (set DATABASE_URL)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("acme", name="Acme")


@pytest.fixture
def english_workspace(tenant: Tenant) -> Tenant:
    """The workspace speaks English: what the worker writes (activity subjects, notes,
    refusals) and its pages read as the tests' English texts (the default workspace is
    Russian-speaking, and Russian is tested apart)."""
    tenant.language = "en"
    tenant.save(update_fields=["language"])
    return tenant


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant("globex", name="Globex")


def _member(tenant: Tenant, kind: str) -> Membership:
    with tenant_context(tenant):
        return (
            Membership.objects.select_related("user", "role")
            .filter(role__kind=kind)
            .order_by("pk")
            .first()
        )


@pytest.fixture
def admin(tenant: Tenant) -> Membership:
    return _member(tenant, Role.Kind.ADMIN)


@pytest.fixture
def director(tenant: Tenant) -> Membership:
    return add_member(tenant, Role.Kind.DIRECTOR)


@pytest.fixture
def manager(tenant: Tenant) -> Membership:
    return add_member(tenant, Role.Kind.MANAGER)


@pytest.fixture
def marketer(tenant: Tenant) -> Membership:
    return add_member(tenant, Role.Kind.MARKETER)


@pytest.fixture
def other_admin(other_tenant: Tenant) -> Membership:
    return _member(other_tenant, Role.Kind.ADMIN)


@pytest.fixture
def client_for() -> Callable[[Membership], Client]:
    """A logged-in test client for a member; with `language`, pages in that language (else
    the workspace's)."""

    def make(member: Membership, language: str | None = None) -> Client:
        client = Client()
        client.force_login(member.user)
        if language:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        return client

    return make


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Services speak the active language; each test starts in English, as a fresh thread."""
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: rate-limit counters and wake-up keys are state."""
    from django.core.cache import cache

    cache.clear()
