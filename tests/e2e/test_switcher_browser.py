"""End to end in a real browser: the tenant switcher loads its workspaces when it opens."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.models import Membership, Role
from crm.tenancy import tenant_context
from tests.factories import PASSWORD, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_switcher_lists_my_workspaces_when_opened(new_page, shots):
    shop = make_tenant("shop", name="Магазин")
    other = make_tenant("cafe", name="Кафе")
    with tenant_context(shop):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
    with tenant_context(other):
        Membership.objects.create(user=admin.user, role=Role.objects.get(kind="manager"))
    page = new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", admin.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/workspaces/$"))
    page.goto("/shop/leads/inbox/")
    items = page.locator("[data-testid=switcher-workspace]")
    expect(items).to_have_count(0)  # not on the page until the menu opens
    page.click("[data-testid=tenant-switcher]")
    expect(items).to_have_count(2)
    expect(page.locator("[data-testid=switcher-workspace].active")).to_have_text("Магазин")
    page.screenshot(path=shots / "01-switcher.png")
    page.click("[data-testid=switcher-workspace]:has-text('Кафе')")
    page.wait_for_url(re.compile(r"/cafe/$"))
    page.click("[data-testid=tenant-switcher]")
    expect(page.locator("[data-testid=switcher-workspace].active")).to_have_text("Кафе")
