"""Fixtures for channel tests: an API channel, a way to deliver to any channel, and the fake
provider APIs (defined in tests/channels/providers.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from channels.models import Channel, InboundEvent
from channels.services import channel_create
from crm.models import Membership, Tenant
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels.providers import (  # noqa: F401 - fixtures, exposed by name
    fake_telegram,
    fake_telegram_server,
    fake_vk,
    fake_vk_server,
    fake_whatsapp,
    fake_whatsapp_server,
    media_root,
)


@pytest.fixture
def api_channel(tenant: Tenant, admin: Membership) -> Channel:
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="api", name="Сайт-партнёр")


@pytest.fixture
def deliver(django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """POST a delivery to a channel's endpoint (running what is queued after commit)."""

    def send(
        channel: Channel,
        payload: Any = None,
        *,
        path: str = "",
        body: bytes | str | None = None,
        content_type: str = "application/json",
        token: str | None = None,
        **headers: str,
    ):
        url = reverse("inbound", kwargs={"token": channel.token}) + path
        if body is None:
            body = json.dumps(payload, ensure_ascii=False)
        if token is None and channel.kind == "api":
            token = channel.secret
        if token:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(url, data=body, content_type=content_type, **headers)

    return send


def leads_of(tenant: Tenant) -> list[Lead]:
    with tenant_context(tenant):
        return list(Lead.objects.select_related("owner").order_by("pk"))


def events_of(channel: Channel) -> list[InboundEvent]:
    with tenant_context(channel.tenant):
        return list(InboundEvent.objects.filter(channel=channel).order_by("pk"))
