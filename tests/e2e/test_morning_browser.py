"""End to end in a real browser: a manager's morning (issue 14), in a Vladivostok workspace.

She opens her tasks and closes the overdue call, watches the inbox while a new inquiry
arrives without a reload, answers a caller who reads out the last digits of their number,
finds them with "/", converts their lead and wins the deal it became, giving the amount the
deal did not have yet.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from functools import partial

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Activity, Membership, Tenant
from crm.services import activity_create
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead
from leads.services import lead_create
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def morning():
    tenant = make_tenant("utro", name="Окна Востока")
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Asia/Vladivostok")
    tenant.refresh_from_db()
    manager = add_member(tenant, "manager")
    colleague = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        caller = lead_create(
            actor=admin,
            data={
                "title": "Остекление лоджии",
                "name": "Соколов Пётр Ильич",
                "phone": "8 (967) 123-45-67",
            },
            owner=manager,
        )
        lead_create(
            actor=admin,
            data={"title": "Чужой клиент", "phone": "+7 903 000-45-67"},
            owner=colleague,
        )
        overdue = activity_create(
            actor=admin,
            target=caller,
            kind="call",
            subject="Перезвонить Соколову",
            due_at=timezone.now() - dt.timedelta(hours=3),
            owner=manager,
        )
    return {
        "tenant": tenant,
        "admin": admin,
        "manager": manager,
        "caller": caller,
        "overdue": overdue,
    }


_log_in = partial(log_in, workspace="utro")


def test_a_managers_morning(new_page, shots, morning):
    tenant, manager, caller = morning["tenant"], morning["manager"], morning["caller"]
    page = new_page()
    _log_in(page, manager.user.email)

    # 1. Tasks: yesterday's call is overdue; done in place.
    page.click("[data-nav=tasks]")
    page.wait_for_url(re.compile(r"/utro/tasks/$"))
    overdue = page.locator("[data-testid=group-overdue]")
    expect(overdue).to_contain_text("Перезвонить Соколову")
    expect(overdue).to_contain_text("Остекление лоджии")
    page.screenshot(path=shots / "01-tasks.png", full_page=True)
    row = page.locator(f"#task-{morning['overdue'].pk}")
    row.locator("[data-testid=task-done]").click()
    expect(row).to_have_class(re.compile("task-row--done"))
    with tenant_context(tenant):
        assert Activity.objects.get(pk=morning["overdue"].pk).done_at is not None

    # 2. The inbox stays open; a web inquiry for the shared inbox arrives without a reload.
    page.click("[data-nav=inbox]")
    page.wait_for_url(re.compile(r"/utro/leads/inbox/$"))
    page.evaluate("window.__notReloaded = true")
    with tenant_context(tenant):
        arrived = lead_create(
            actor=morning["admin"],
            data={"title": "Заявка с сайта: окна в дом", "phone": "+7 914 700-11-22"},
            owner=None,
        )
    created = time.monotonic()
    new_row = page.locator(f"#lead-{arrived.pk}")
    expect(new_row).to_be_visible(timeout=2_000)
    assert time.monotonic() - created < 2.0
    expect(new_row).to_have_class(re.compile(r"\blive-arrival\b"))
    expect(page.locator("[data-testid=inbox-badge]")).to_have_text("1")
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=shots / "02-arrived.png", full_page=True)

    # 3. The phone rings: "…45-67". "/" and the digits find the caller, never the colleague's.
    page.locator("main").click()
    page.keyboard.press("/")
    expect(page.locator("#top-search")).to_be_focused()
    page.keyboard.type("45-67")
    dropdown = page.locator("#search-dropdown")
    expect(dropdown.locator(f"#search-lead-{caller.pk}")).to_be_visible()
    expect(dropdown).not_to_contain_text("Чужой клиент")
    page.screenshot(path=shots / "03-search.png")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/utro/leads/{caller.pk}/$"))
    page.screenshot(path=shots / "04-caller.png", full_page=True)

    # 4. Convert: the name is split, the manager lands on the new deal.
    page.click("[data-testid=convert]")
    dialog = page.locator("[data-testid=convert-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=last_name]")).to_have_value("Соколов")
    expect(dialog.locator("input[name=first_name]")).to_have_value("Пётр")
    expect(dialog.locator("input[name=middle_name]")).to_have_value("Ильич")
    page.screenshot(path=shots / "05-convert.png")
    dialog.locator("[data-testid=convert-submit]").click()
    page.wait_for_url(re.compile(r"/utro/deals/\d+/$"))
    with tenant_context(tenant):
        deal = Deal.objects.get(source_lead_id=caller.pk)
        assert Lead.objects.get(pk=caller.pk).state == "converted"
    assert page.url.endswith(f"/utro/deals/{deal.pk}/")

    # 5. Won: the deal had no amount, so the button asks for it.
    page.click("[data-testid=win]")
    win_form = page.locator("[data-testid=win-form]")
    expect(win_form).to_be_visible()
    win_form.locator("[data-testid=win-amount]").fill("186000")
    page.screenshot(path=shots / "06-win.png")
    win_form.locator("[data-testid=win-submit]").click()
    expect(page.locator("[data-testid=amount]")).to_contain_text("186")
    page.screenshot(path=shots / "07-won.png", full_page=True)
    with tenant_context(tenant):
        deal.refresh_from_db()
    assert (deal.outcome, deal.amount, deal.owner_id) == ("won", Decimal("186000"), manager.pk)
