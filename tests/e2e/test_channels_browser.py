"""End to end in a real browser: an admin sets up an API channel, a system delivers to it,
the delivery log shows the new lead and a rejected delivery with its reason; a failed
delivery is processed again with one click from the channel's page."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from channels import pipeline
from channels.services import channel_create
from crm.models import Membership
from crm.tenancy import tenant_context
from tests.factories import PASSWORD, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _post(url: str, body: bytes, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the live server on loopback
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_admin_sets_up_an_api_channel_and_watches_its_deliveries(new_page, shots, live_server):
    tenant = make_tenant("shop", name="Магазин")
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
    page = new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", admin.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/shop/$"))

    page.goto("/shop/settings/")
    page.click("[data-testid=settings-channels]")
    page.click("[data-testid=channel-new-api]")
    page.fill("input[name=name]", "Интернет-магазин")
    page.screenshot(path=shots / "01-new-channel.png", full_page=True)
    page.click("[data-testid=channel-form] button[type=submit]")
    endpoint = page.inner_text("[data-testid=channel-endpoint]").strip()
    token = page.inner_text("[data-testid=channel-secret]").strip()
    assert re.fullmatch(
        r"http://testserver/in/[\w-]+/|http://127\.0\.0\.1:\d+/in/[\w-]+/", endpoint
    )
    url = live_server.url + endpoint[endpoint.index("/in/") :]

    lead = {"name": "Вера Павлова", "phone": "8 916 555-44-33", "message": "Хочу заказ"}
    assert _post(url, json.dumps(lead).encode(), token) == 202
    assert _post(url, b"{broken", token) == 400
    assert _post(url, json.dumps(lead).encode(), "wrong-token") == 403

    page.reload()
    rows = page.locator("[data-testid=event-row]")
    expect(rows).to_have_count(2)
    expect(page.locator("[data-testid=event-lead]")).to_have_text("Вера Павлова")
    page.screenshot(path=shots / "02-deliveries.png", full_page=True)

    page.locator("[data-testid=event-row][data-status=rejected] a").click()
    expect(page.locator("[data-testid=event-body]")).to_have_text("{broken")
    expect(page.locator("[data-testid=event-detail]")).to_contain_text("JSON")
    page.screenshot(path=shots / "03-rejected-delivery.png", full_page=True)

    page.go_back()
    page.click("[data-testid=event-lead]")
    expect(page.locator("[data-testid=inquiry-details]").first).to_contain_text("Хочу заказ")
    expect(page.locator("[data-testid=inquiry-inbound]").first).to_contain_text("Интернет-магазин")
    page.screenshot(path=shots / "04-lead-from-api.png", full_page=True)


def test_admin_processes_a_failed_delivery_again_from_the_channel_page(
    new_page, shots, live_server, monkeypatch
):
    tenant = make_tenant("shop", name="Магазин")
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
        channel = channel_create(actor=admin, kind="api", name="Интернет-магазин")
    url = f"{live_server.url}/in/{channel.token}/"

    def boom(event):
        raise RuntimeError("the CRM is broken today")

    monkeypatch.setattr(pipeline, "process", boom)
    lead = {"name": "Вера Павлова", "phone": "8 916 555-44-33"}
    assert _post(url, json.dumps(lead).encode(), channel.secret) == 202
    monkeypatch.undo()

    page = new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", admin.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/shop/$"))
    page.goto(f"/shop/settings/channels/{channel.pk}/")
    row = page.locator("[data-testid=attention-row]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "failed")
    expect(row).to_contain_text("the CRM is broken today")
    page.screenshot(path=shots / "01-failed-delivery.png", full_page=True)

    row.locator("[data-testid=attention-replay]").click()
    expect(page.locator("[data-testid=replay-queued]")).to_be_visible()
    expect(page.locator("[data-testid=attention-replay]")).to_have_count(0)
    page.screenshot(path=shots / "02-queued-again.png", full_page=True)

    page.reload()
    expect(page.locator("[data-testid=attention-row]")).to_have_count(0)
    expect(page.locator("[data-testid=event-lead]")).to_have_text("Вера Павлова")
