"""End to end in a real browser: leads arrive in the open inbox live (crm/live.py)."""

from __future__ import annotations

import re
import time
from functools import partial

import pytest
from playwright.sync_api import expect

from crm.models import Membership
from crm.tenancy import tenant_context
from leads.models import Lead
from leads.services import lead_assign, lead_create
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk():
    tenant = make_tenant("desk", name="Отдел продаж")
    manager = add_member(tenant, "manager")
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        lead_create(
            actor=admin,
            data={"title": "Вчерашняя заявка", "phone": "+7 999 100-00-01", "source": "call"},
            owner=None,
        )
    return {"tenant": tenant, "manager": manager, "other": other, "admin": admin}


_log_in = partial(log_in, workspace="desk")


def test_a_new_lead_appears_in_the_open_inbox_within_two_seconds(new_page, shots, desk):
    page = new_page()
    _log_in(page, desk["manager"].user.email)
    page.click("[data-nav=inbox]")
    page.wait_for_url(re.compile(r"/desk/leads/inbox/$"))
    counts = page.locator("[data-testid=source-counts]")
    expect(counts.locator("a[href='?source=call']")).to_have_count(1)
    expect(counts.locator("a[href='?source=manual']")).to_have_count(0)
    page.evaluate("window.__notReloaded = true")
    page.screenshot(path=shots / "01-inbox-before.png", full_page=True)

    # A lead for another manager: not mine, never shown.
    with tenant_context(desk["tenant"]):
        theirs = lead_create(
            actor=desk["admin"],
            data={"title": "Чужая заявка", "phone": "+7 999 100-00-02"},
            owner=desk["other"],
        )
    # A new lead for the shared inbox, created in the background (as a web form would).
    with tenant_context(desk["tenant"]):
        lead = lead_create(
            actor=desk["admin"],
            data={"title": "Заявка с сайта", "name": "Марина", "phone": "+7 916 555-44-33"},
            owner=None,
        )
    created = time.monotonic()
    row = page.locator(f"#lead-{lead.pk}")
    expect(row).to_be_visible(timeout=2_000)
    waited = time.monotonic() - created
    assert waited < 2.0, waited
    expect(row).to_have_class(re.compile(r"\blive-arrival\b"))
    expect(row).to_contain_text("Марина")
    expect(page.locator("#lead-rows tr").first).to_have_id(f"lead-{lead.pk}")
    expect(page.locator("[data-testid=inbox-badge]")).to_have_text("1")
    expect(counts.locator("a[href='?source=manual']")).to_have_count(1)
    expect(page.locator(f"#lead-{theirs.pk}")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True
    # The top bar, with the search box, the badge and the names, keeps to a laptop's width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=shots / "02-arrived.png", full_page=True)

    # Given to me by the administrator: it arrives too, and the bell says so.
    with tenant_context(desk["tenant"]):
        lead_assign(actor=desk["admin"], lead=Lead.objects.get(pk=theirs.pk), owner=desk["manager"])
    expect(page.locator(f"#lead-{theirs.pk}")).to_have_class(
        re.compile(r"\blive-arrival\b"), timeout=2_000
    )
    expect(page.locator("[data-testid=unread]")).to_have_text("1")
    expect(page.locator("[data-testid=inbox-badge]")).to_have_text("2")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=shots / "03-assigned.png", full_page=True)

    # Opened: no longer new, here and after a reload.
    row.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/desk/leads/{lead.pk}/$"))
    expect(page.locator("[data-testid=inbox-badge]")).to_have_text("1")
    page.go_back()
    page.wait_for_url(re.compile(r"/desk/leads/inbox/$"))
    page.reload()
    expect(page.locator(f"#lead-{lead.pk}")).not_to_have_class(re.compile(r"live-arrival"))
    expect(page.locator(f"#lead-{theirs.pk}")).to_have_class(re.compile(r"\blive-arrival\b"))
    page.screenshot(path=shots / "04-opened.png", full_page=True)


def test_the_alerts_are_chosen_on_their_page(new_page, shots, desk):
    page = new_page()
    page.context.grant_permissions(["notifications"])
    _log_in(page, desk["manager"].user.email)
    page.get_by_role("button", name=str(desk["manager"].user)).click()
    page.click("[data-testid=alerts-link]")
    page.wait_for_url(re.compile(r"/desk/me/alerts/$"))
    page.check("input[name=sound]")
    page.check("input[name=desktop]")
    expect(page.locator("[data-live-permission]")).to_be_hidden()
    page.screenshot(path=shots / "01-alerts.png", full_page=True)
    page.click("[data-testid=alerts-form] button[type=submit]")
    expect(page.locator("input[name=sound]")).to_be_checked()
    expect(page.locator("#live")).to_have_attribute("data-sound", "1")
    expect(page.locator("#live")).to_have_attribute("data-desktop", "1")
    page.screenshot(path=shots / "02-saved.png", full_page=True)
