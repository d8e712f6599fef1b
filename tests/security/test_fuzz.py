"""Hostile input never answers 5xx and never leaves anything half-written.

Walks every URL of the isolation sweep's POLICY table (so a new URL is fuzzed the moment it
is declared there): every page a role may GET, with every query parameter its own forms
name plus the list cursors, set to hostile values (Infinity, NaN, -1, 10**30, huge ids,
NUL, CR/LF, very long strings, bytes that are not UTF-8, repeated keys where one value is
expected); every form a role may POST with those values; the public endpoints (`/in/…`
with broken and deeply nested JSON, the account pages). GETs must write nothing; a POST
answered 4xx must write nothing either (the tenant middleware rolls its transaction back).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from channels.models import InboundEvent
from crm.tenancy import tenant_context
from deals.models import Pipeline
from tests.security.test_isolation_sweep import POLICY, Public, TenantUrl, _snapshot, _url, _world

# Query values as they appear, already URL-encoded (so NUL and broken UTF-8 stay bytes).
HOSTILE = [
    "Infinity",
    "-Infinity",
    "NaN",
    "-1",
    "1e309",
    str(10**30),
    "9" * 400,
    "²",  # a digit to str.isdigit(), not to int()
    "%00",
    "%FF%FE%FD",
    "a%0D%0Ab",
    quote("x" * 5000),
    quote("2026-13-45T25:61"),
]
# List cursors and parameters that lists read outside their filter forms.
ALWAYS = ("after", "since", "page", "q", "sort", "format", "fragment", "pipeline", "status")


def _cursor(raw: str) -> str:
    """A list cursor as the lists encode one (base64 of JSON), around `raw`."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Cursors that decode to hostile positions.
CURSORS = [
    _cursor('["Infinity", 1]'),
    _cursor('["2026-01-01T00:00:00+00:00", 1e309]'),
    _cursor(f'["2026-01-01T00:00:00+00:00", {10**30}]'),
    _cursor('["2026-01-01T00:00:00+00:00", NaN]'),
    _cursor('["2026-01-01T00:00:00", 1]'),  # naive
    _cursor("[" * 5000 + "]" * 5000),
]
FIELD = re.compile(r'name="([a-zA-Z_][\w.-]*)"')
GET_FORM = re.compile(r'<form method="get".*?</form>', re.DOTALL)
SKIP_FIELDS = {"csrfmiddlewaretoken"}
# Parameters some pages read from the query string besides their forms.
READ_BY_HAND = {"contact", "company", "with", "repeat", "current"}


def _fields(html: str) -> set[str]:
    return set(FIELD.findall(html)) - SKIP_FIELDS


def _filter_fields(html: str) -> set[str]:
    """The names inside the page's GET forms (a list's filters)."""
    return set().union(*(_fields(form) for form in GET_FORM.findall(html)))


def _admin_gets() -> Iterator[tuple[str, TenantUrl]]:
    for name, spec in sorted(POLICY.items()):
        if isinstance(spec, TenantUrl) and spec.methods.get("GET", {}).get("admin", 0) == 200:
            yield name, spec


def _admin_posts() -> Iterator[tuple[str, TenantUrl]]:
    for name, spec in sorted(POLICY.items()):
        if isinstance(spec, TenantUrl) and "POST" in spec.methods:
            yield name, spec


def _get(client: Client, url: str, query: str, failures: list) -> int:
    try:
        status = client.generic("GET", f"{url}?{query}").status_code
    except Exception as error:
        failures.append((url, query[:80], repr(error)[:200]))
        return 500
    if status >= 500:
        failures.append((url, query[:80], status))
    return status


def test_every_page_takes_hostile_query_values(tenant):
    world = _world(tenant)
    client = Client()
    client.force_login(world["members"]["admin"].user)
    failures: list = []
    pages = []
    for name, spec in _admin_gets():
        url = _url(name, world, spec)
        response = client.get(url)
        # A download (a kept file) has no page to read fields from; its query still counts.
        html = "" if response.streaming else response.content.decode()
        pages.append(
            (url, sorted(_fields(html) | set(ALWAYS) | READ_BY_HAND), _filter_fields(html))
        )
    assert len(pages) > 30
    assert sum(1 for _url_, _all, filters in pages if filters) >= 5, "no list filters found"
    before = _snapshot()
    for url, params, filters in pages:
        for value in HOSTILE:
            _get(client, url, "&".join(f"{p}={value}" for p in params), failures)
        for cursor in CURSORS:
            _get(client, url, f"after={cursor}&since={cursor}", failures)
        # Arrays where one value is expected: every parameter twice, differently.
        _get(client, url, "&".join(f"{p}=1&{p}=Infinity" for p in params), failures)
        # A list applies its filters only when all are valid: one filter at a time, so
        # another's refusal cannot hide a crash.
        for param in sorted(filters):
            for value in (str(10**30), "%C2%B2", "-1"):
                _get(client, url, f"{param}={value}", failures)
    assert failures == [], "\n".join(map(repr, failures))
    assert _snapshot() == before, "a GET changed the database"


def _post_body(fields: set[str], value: str) -> dict[str, Any]:
    return dict.fromkeys(fields, value)


POST_VALUES = ["Infinity", "NaN", "-1", str(10**30), "²", "\x00", "a\r\nb", "x" * 5000]


def test_every_form_takes_hostile_values_and_a_refusal_writes_nothing(tenant):
    world = _world(tenant)
    client = Client()
    client.force_login(world["members"]["admin"].user)
    failures: list = []
    forms = []
    for name, spec in _admin_posts():
        url = _url(name, world, spec)
        fields = set(spec.data(world))
        if "GET" in spec.methods:
            fields |= _fields(client.get(url).content.decode())
        forms.append((name, url, fields))
    for name, url, fields in forms:
        for value in POST_VALUES:
            before = _snapshot() if value == POST_VALUES[0] else None
            try:
                response = client.post(url, _post_body(fields, value))
            except Exception as error:
                failures.append((name, value[:20], repr(error)[:200]))
                continue
            if response.status_code >= 500:
                failures.append((name, value[:20], response.status_code))
            if before is not None and 400 <= response.status_code < 500:
                assert _snapshot() == before, (name, "a refused POST changed the database")
    assert failures == [], "\n".join(map(repr, failures))


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.django_db
def test_inbound_endpoints_take_hostile_bodies(tenant, admin):
    from channels.services import channel_create

    with tenant_context(tenant):
        channels = [
            channel_create(actor=admin, kind="api", name="API"),
            channel_create(actor=admin, kind="web_form", name="Форма"),
        ]
    bodies = [
        _nested(100_000),
        '{"name": ' + _nested(50_000) + "}",
        '{"phone": NaN, "name": Infinity}',
        '{"phone": "+79990001122", "name": 1e309}',
        '{"phone": "+79990001122", "custom": {"a": ' + "[" * 500 + "]" * 500 + "}}",
        '{"phone": ' + "9" * 5000 + "}",
        '{"phone": ["+79990001122"], "email": {"a": 1}, "name": [[["x"]]]}',
        '{"phone": "+7999\\u0000", "name": "a\\r\\nb"}',
        b"\xff\xfe{}".decode("latin-1"),
    ]
    failures = []
    for channel in channels:
        url = reverse("inbound", kwargs={"token": channel.token})
        headers = {"HTTP_AUTHORIZATION": f"Bearer {channel.secret}"}
        for n, body in enumerate(bodies):
            try:
                response = Client().post(
                    url,
                    data=body.encode("latin-1" if n == len(bodies) - 1 else "utf-8"),
                    content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY=f"fuzz-{n}",
                    **headers,
                )
            except Exception as error:
                failures.append((channel.kind, n, repr(error)[:200]))
                continue
            if response.status_code >= 500:
                failures.append((channel.kind, n, response.status_code))
        for query in ("?secret=%00", "?secret=%FF", "?" + "a=1&" * 2000):
            response = Client().post(url + query, data=b"name=x", content_type="text/plain")
            if response.status_code >= 500:
                failures.append((channel.kind, query[:20], response.status_code))
    assert failures == [], "\n".join(map(repr, failures))
    with tenant_context(tenant):
        statuses = set(InboundEvent.objects.values_list("status", flat=True))
    # Whatever was kept is either waiting for the worker's verdict or rejected with a reason.
    assert statuses <= {"pending", "rejected", "done", "failed"}


@pytest.mark.django_db
def test_public_pages_take_hostile_values():
    failures = []
    for name, spec in sorted(POLICY.items()):
        if not isinstance(spec, Public) or name.startswith("inbound"):
            continue
        url = reverse(name, kwargs=spec.kwargs or None)
        client = Client()
        page = client.get(url).content.decode() if "GET" in spec.methods else ""
        fields = _fields(page) | {"email", "username", "password", "next"}
        for value in POST_VALUES:
            for method in spec.methods:
                try:
                    if method == "GET":
                        response = client.get(url, _post_body(fields, value))
                    else:
                        response = client.post(url, _post_body(fields, value))
                except Exception as error:
                    failures.append((name, method, value[:20], repr(error)[:200]))
                    continue
                if response.status_code >= 500:
                    failures.append((name, method, value[:20], response.status_code))
    assert failures == [], "\n".join(map(repr, failures))


LINE_BREAKS = ["a\r\nBcc: x@example.com", "a\nb", "a\rb", "a\u2028b", "a\x85b", "a\x0bb"]


def test_line_breaks_in_names_and_titles_never_reach_a_mail_header(
    tenant, admin, manager, django_capture_on_commit_callbacks
):
    """Titles and names become notification subjects: each is sent, on one line."""
    from django.core import mail

    from crm.models import Role

    with tenant_context(tenant):
        stage = Pipeline.objects.get(is_default=True).stages.filter(kind="open").first()
        admin_role = Role.objects.get(kind="admin")
    client = Client()
    client.force_login(admin.user)
    failures = []
    for n, text in enumerate(LINE_BREAKS):
        posts = [
            (
                f"/{tenant.slug}/leads/new/",
                {"title": text, "name": text, "phone": f"+7 999 555-00-{n:02d}"}
                | {"source": "manual", "currency": "RUB", "owner": manager.pk},
            ),
            (
                f"/{tenant.slug}/deals/new/",
                {"title": text, "stage": stage.pk, "currency": "RUB", "owner": manager.pk},
            ),
            (f"/{tenant.slug}/settings/teams/", {"name": text}),
            (f"/{tenant.slug}/settings/roles/", {"name": text + str(n)}),
            (
                f"/{tenant.slug}/settings/users/invite/",
                {"email": f"crlf{n}@example.com", "role": admin_role.pk},
            ),
        ]
        for url, data in posts:
            try:
                with django_capture_on_commit_callbacks(execute=True):
                    status = client.post(url, data).status_code
            except Exception as error:
                failures.append((url, repr(text), repr(error)[:200]))
                continue
            if status >= 500:
                failures.append((url, repr(text), status))
    assert failures == [], "\n".join(map(repr, failures))
    assert len(mail.outbox) >= 2 * len(LINE_BREAKS)  # the lead's and the deal's notices
    for message in mail.outbox:
        assert not set(message.subject) & {"\r", "\n", "\u2028", "\x85", "\x0b"}
