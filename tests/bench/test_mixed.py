"""The ingestion benchmark's mixed run posts what the providers post: each kind's request
(bench/ingest/mixed.py) to channels set up as the benchmark's setup does, through the real
endpoint and the pipeline, makes exactly one lead per person — so the payloads cannot drift
from the adapters unnoticed."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from bench.ingest import mixed
from bench.ingest import setup as bench_setup
from channels.models import ChannelKind, InboundEvent
from channels.services import channel_create
from crm.models import Membership, Tenant
from crm.tenancy import tenant_context
from leads.models import Lead

Status, Outcome = InboundEvent.Status, InboundEvent.Outcome
RUN = "mixed-test"


def _channels(tenant: Tenant, admin: Membership, settings: Any) -> dict[str, dict[str, Any]]:
    """The mixed run's channels of `tenant`, as setup.py makes them and prints them: set up
    by one run, then found by the next, whose sealing key is another (run.py gives each
    run its own FIELD_ENCRYPTION_KEYS)."""
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with tenant_context(tenant):
        api = channel_create(
            actor=admin, kind="api", name=bench_setup.CHANNEL, config={"rate_limit": 100_000}
        )
        kinds = [kind for kind in bench_setup.MIXED if kind in ChannelKind.values]
        first = {kind: bench_setup._mixed_channel(tenant, admin, kind) for kind in kinds}
        # Idempotent: the next run's setup finds them by name (sealing their secrets anew).
        settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        made = {kind: bench_setup._mixed_channel(tenant, admin, kind) for kind in kinds}
        assert {k: c.pk for k, c in made.items()} == {k: c.pk for k, c in first.items()}
        return {
            "api": bench_setup._mixed_entry(api),
            **{kind: bench_setup._mixed_entry(c) for kind, c in made.items()},
        }


@pytest.fixture
def channels(tenant, admin, settings) -> dict[str, dict[str, Any]]:
    return _channels(tenant, admin, settings)


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST a mixed request as the benchmark's client does (processing what is queued)."""

    def send(request: mixed.Request):
        headers = dict(request.headers)
        content_type = headers.pop("Content-Type")
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(
                request.path, data=request.body, content_type=content_type, headers=headers
            )

    return send


def _events(tenant: Tenant) -> list[InboundEvent]:
    with tenant_context(tenant):
        return list(InboundEvent.objects.select_related("channel").order_by("pk"))


def _leads(tenant: Tenant) -> int:
    with tenant_context(tenant):
        return Lead.objects.count()


def test_every_kind_of_the_rotation_makes_one_lead_per_person(tenant, channels, post):
    kinds = mixed.rotation(channels)
    assert kinds == ("api", "web_form", "telegram", "whatsapp", "vk", "pbx", "email")
    sent = [
        mixed.request(kinds[i % len(kinds)], channels[kinds[i % len(kinds)]], 500 + i, RUN)
        for i in range(2 * len(kinds))  # two people of each kind
    ]

    for request in sent:
        response = post(request)
        assert response.status_code == mixed.ACCEPTED[request.kind], (request.kind, response)

    events = _events(tenant)
    assert len(events) == len(sent)
    assert sorted(e.channel.kind for e in events) == sorted(r.kind for r in sent)
    for event in events:
        assert (event.status, event.outcome) == (Status.DONE, Outcome.CREATED), (
            event.channel.kind,
            event.detail,
        )
    assert len({e.lead_id for e in events}) == len(sent) == _leads(tenant)
    with tenant_context(tenant):
        phones = set(Lead.objects.exclude(phone_e164="").values_list("phone_e164", flat=True))
    # People with a phone have their own: API, form, WhatsApp and the missed call.
    with_phone = [r for r in sent if r.kind in ("api", "web_form", "whatsapp", "pbx")]
    assert len(phones) == len(with_phone)

    # The same requests again (a provider's retry): stored once, no lead more.
    for request in sent:
        assert post(request).status_code in (200, 202)
    assert len(_events(tenant)) == len(sent)
    assert _leads(tenant) == len(sent)


def test_the_requests_carry_what_the_adapters_check(tenant, channels, other_admin, post, settings):
    # Another tenant's channels of the same kinds: this run's secrets and signatures open
    # none of them, and nothing is stored on either side.
    theirs = _channels(other_admin.tenant, other_admin, settings)
    for i, kind in enumerate(mixed.rotation(channels)):
        if kind == "web_form":  # a site builder's webhook carries no secret
            continue
        wrong = {**channels[kind], "token": theirs[kind]["token"]}
        response = post(mixed.request(kind, wrong, 900 + i, RUN))
        assert response.status_code == 403, kind

    assert _events(tenant) == [] == _events(other_admin.tenant)
    assert _leads(tenant) == 0 == _leads(other_admin.tenant)


def test_people_never_share_an_identity_across_kinds():
    channel = {
        "token": "t",
        "secret": "s",
        "app_secret": "a" * 32,
        "secret_key": "k",
        "group_id": mixed.VK_GROUP_ID,
    }
    bodies = [mixed.request(kind, channel, 1234, RUN).body for kind in mixed.KINDS]

    assert all(b"1234" in body for body in bodies)  # person n's number, in each shape
    assert len(set(bodies)) == len(mixed.KINDS)
    assert mixed.request("pbx", channel, 1, RUN).body != mixed.request("pbx", channel, 2, RUN).body
