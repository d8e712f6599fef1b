"""The bad inputs found by the fuzz test (test_fuzz.py), each pinned by name.

Every one used to answer 500: a tampered list cursor (OverflowError), an id past the
bigint range or a non-ASCII digit in a list filter, deeply nested JSON on `/in/…`
(RecursionError), a position past the column's range. Each now answers 4xx or is ignored,
and nothing half-written is left.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from channels.models import InboundEvent
from channels.services import channel_create
from crm import keyset
from crm.ids import parse_id
from crm.tenancy import tenant_context
from deals.models import Pipeline
from leads.models import Lead
from tests.leads.factories import make_lead


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        '["2026-01-01T00:00:00+00:00", 1e309]',
        f'["2026-01-01T00:00:00+00:00", {10**30}]',
        '["2026-01-01T00:00:00+00:00", NaN]',
        '["Infinity", 1]',
        '["2026-01-01T00:00:00", 1]',
        '["2026-01-01T00:00:00+00:00", true]',
        "[" * 5000 + "]" * 5000,
    ],
)
def test_a_tampered_cursor_opens_the_first_page(client_for, tenant, admin, raw):
    with tenant_context(tenant):
        lead = make_lead(admin)
    client = client_for(admin)
    for url in (f"/{tenant.slug}/leads/", f"/{tenant.slug}/deals/", f"/{tenant.slug}/contacts/"):
        assert client.get(url, {"after": _cursor(raw)}).status_code == 200
    page = client.get(f"/{tenant.slug}/leads/", {"after": _cursor(raw)}).content.decode()
    assert f"/{tenant.slug}/leads/{lead.pk}/" in page
    # The live poll's versions and token (crm.live) taken as hostile: the usual answer.
    live = client.get(f"/{tenant.slug}/leads/live/", {"v": raw, "rows": "1"}, HTTP_X_LIVE_TOKEN=raw)
    assert live.status_code == 200
    assert live.json()["arrivals"] == []
    assert keyset.decode(_cursor(raw)) is None


def test_a_good_cursor_still_pages(tenant, admin):
    from django.utils import timezone

    moment = timezone.now()
    assert keyset.decode(keyset.encode(moment, 42)) == (moment, 42)


@pytest.mark.parametrize("value", [str(10**30), "²", "١٢", "-1", "0", " 7 ", "1e3"])
def test_out_of_range_and_odd_ids_in_list_filters_find_nothing(client_for, tenant, admin, value):
    with tenant_context(tenant):
        make_lead(admin, name="Видимый")
    client = client_for(admin)
    for url, param in (
        (f"/{tenant.slug}/leads/", "owner"),
        (f"/{tenant.slug}/leads/", "status"),
        (f"/{tenant.slug}/leads/", "team"),
        (f"/{tenant.slug}/deals/", "contact"),
        (f"/{tenant.slug}/deals/", "stage"),
        (f"/{tenant.slug}/contacts/", "owner"),
        (f"/{tenant.slug}/contacts/", "company"),
        (f"/{tenant.slug}/deals/new/", "contact"),
        (f"/{tenant.slug}/contacts/new/", "company"),
    ):
        assert client.get(url, {param: value}).status_code in (200, 400), (url, param)


def test_parse_id_is_strict():
    assert parse_id("42") == 42
    assert parse_id(" 42 ") == 42
    assert parse_id(7) == 7
    for bad in ("²", "١٢", "-1", "0", "1e3", str(2**63), 2**63, True, 1.0, None, "", [1]):
        assert parse_id(bad) is None, bad


def test_an_id_past_the_bigint_range_matches_nothing_in_any_lookup(tenant, admin):
    with tenant_context(tenant):
        make_lead(admin)
        assert not Lead.objects.filter(pk__in=[10**30]).exists()
        assert Lead.objects.filter(pk__in=[10**30, Lead.objects.get().pk]).count() == 1
        assert not Lead.objects.filter(owner_id=10**30).exists()
        assert not Lead.objects.filter(owner__in=[10**30]).exists()
        assert not Lead.objects.filter(status_id__in=[-(10**30)]).exists()


def test_a_position_past_the_column_is_a_form_error(client_for, tenant, admin):
    with tenant_context(tenant):
        before = Pipeline.objects.count()
    response = client_for(admin).post(
        f"/{tenant.slug}/deals/settings/pipelines/", {"name": "Огромный", "position": 10**30}
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert Pipeline.objects.count() == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "The body is not valid JSON."),
        (
            '{"phone": "+79990001122", "x": ' + "[" * 100 + "]" * 100 + "}",
            "The body is nested too deeply.",
        ),
        ('{"phone": "+79990001122", "name": NaN}', "The body is not valid JSON."),
        ('{"phone": "+79990001122", "name": 1e309}', "The body is not valid JSON."),
    ],
)
@pytest.mark.parametrize("kind", ["api", "web_form"])
def test_hostile_json_on_the_endpoint_is_rejected_and_kept(tenant, admin, kind, body, reason):
    with tenant_context(tenant):
        channel = channel_create(actor=admin, kind=kind, name="Канал")
    response = Client().post(
        f"/in/{channel.token}/",
        data=body.encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {channel.secret}",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    # The web form answers in the workspace's language, the API in the request's.
    with translation.override(tenant.language):
        localized = gettext(reason)
    assert json.loads(response.content)["error"] in (reason, localized)
    with tenant_context(tenant):
        (event,) = InboundEvent.objects.all()
        assert event.status == InboundEvent.Status.REJECTED
        assert not Lead.objects.exists()


@pytest.mark.parametrize("kind", ["api", "web_form"])
def test_a_nul_character_in_a_delivery_is_dropped_not_a_503(tenant, admin, kind):
    """PostgreSQL text and jsonb cannot hold U+0000: storing it failed as "database down"."""
    with tenant_context(tenant):
        channel = channel_create(actor=admin, kind=kind, name="Канал")
    response = Client().post(
        f"/in/{channel.token}/",
        data='{"phone": "+7 999 000\\u0000-11-22", "name": "Ан\\u0000на", "x\\u0000": "y"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {channel.secret}",
    )
    assert response.status_code in (200, 202)
    with tenant_context(tenant):
        (event,) = InboundEvent.objects.all()
        assert event.message["name"] == "Анна"
        assert "\x00" not in json.dumps(event.message)
