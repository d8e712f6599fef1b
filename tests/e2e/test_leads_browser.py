"""End to end in a real browser: take a lead from the inbox, drag a lead across the board."""

from __future__ import annotations

import re
from functools import partial

import pytest
from playwright.sync_api import expect

from crm.models import Membership
from crm.tenancy import tenant_context
from leads.models import Lead, LeadStatus
from leads.services import lead_create
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team():
    tenant = make_tenant("shop", name="Магазин")
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        pool = lead_create(
            actor=admin,
            data={
                "title": "Заявка с сайта",
                "name": "Ольга",
                "phone": "+7 999 100-20-30",
                "source": "web_form",
            },
            owner=None,
        )
        mine = lead_create(
            actor=admin,
            data={"title": "Звонок Петра", "phone": "+7 999 200-30-40", "amount": "15000"},
            owner=manager,
        )
    return {"tenant": tenant, "manager": manager, "pool": pool, "mine": mine}


_log_in = partial(log_in, workspace="shop")


def test_a_manager_takes_a_lead_and_drags_one_across_the_board(new_page, shots, team):
    page = new_page()
    _log_in(page, team["manager"].user.email)
    page.click("[data-nav=inbox]")
    page.wait_for_url(re.compile(r"/shop/leads/inbox/$"))
    row = page.locator(f"#lead-{team['pool'].pk}")
    assert "Заявка с сайта" in row.inner_text()
    page.screenshot(path=shots / "01-inbox.png", full_page=True)
    row.locator("[data-testid=take]").click()
    expect(page.locator(f"#lead-{team['pool'].pk} [data-testid=take]")).to_have_count(0)
    assert (
        str(team["manager"].user)
        in page.locator(f"#lead-{team['pool'].pk} [data-testid=owner]").inner_text()
    )
    page.screenshot(path=shots / "02-taken.png", full_page=True)

    page.click("[data-nav=kanban]")
    page.wait_for_url(re.compile(r"/shop/leads/board/$"))
    with tenant_context(team["tenant"]):
        new = LeadStatus.objects.get(state="new")
        clarifying = LeadStatus.objects.filter(state="in_progress").order_by("position")[1]
    card = page.locator(f"#card-{team['mine'].pk}")
    target = page.locator(f"[data-testid=column-{clarifying.pk}] .kanban-cards")
    page.screenshot(path=shots / "03-board-before.png", full_page=True)
    card.drag_to(target)
    expect(page.locator(f"[data-testid=column-{clarifying.pk}] [data-testid=count]")).to_have_text(
        "1"
    )
    expect(
        page.locator(f"[data-testid=column-{clarifying.pk}] #card-{team['mine'].pk}")
    ).to_have_count(1)
    assert page.locator(f"[data-testid=column-{new.pk}] [data-testid=count]").inner_text() == "0"
    page.screenshot(path=shots / "04-board-after.png", full_page=True)
    with tenant_context(team["tenant"]):
        moved = Lead.objects.get(pk=team["mine"].pk)
    assert moved.status_id == clarifying.pk
    assert moved.state == "in_progress"

    # A move the state machine refuses puts the card back and says why, in place.
    page.reload()
    card = page.locator(f"#card-{team['mine'].pk}")
    card.drag_to(page.locator(f"[data-testid=column-{new.pk}] .kanban-cards"))
    refusal = page.locator("#toasts [data-testid=refusal]")
    expect(refusal).to_contain_text("нельзя перевести")
    expect(refusal).to_contain_text("«Новый»")
    page.screenshot(path=shots / "05-board-refused.png", full_page=True)
    expect(page.locator(f"[data-testid=column-{new.pk}] #card-{team['mine'].pk}")).to_have_count(0)
    assert (
        page.locator(f"[data-testid=column-{clarifying.pk}] #card-{team['mine'].pk}").count() == 1
    )
    with tenant_context(team["tenant"]):
        assert Lead.objects.get(pk=team["mine"].pk).status_id == clarifying.pk


def test_filters_panel_bulk_bar_and_a_saved_filter(new_page, shots, team):
    page = new_page()
    _log_in(page, team["manager"].user.email)
    page.goto("/shop/leads/")
    # The panel loads on demand, with the member list in it.
    expect(page.locator("[data-testid=filter-panel]")).to_have_count(0)
    page.click("[data-testid=more-filters]")
    panel = page.locator("[data-testid=filter-panel]")
    expect(panel).to_be_visible()
    assert str(team["manager"].user) in panel.locator("select[name=owner]").inner_text()
    panel.locator("select[name=source]").select_option("web_form")
    page.click("[data-testid=lead-filters] button[type=submit]")
    page.wait_for_url(re.compile(r"source=web_form"))
    expect(page.locator("#lead-rows tr")).to_have_count(1)
    # Save these filters under a name; they come back in one click.
    page.fill("[data-testid=saved-filter-name]", "С сайта")
    page.click("[data-testid=saved-filter-save]")
    expect(page.locator("[data-testid=saved-filter]")).to_have_text("С сайта")
    page.goto("/shop/leads/")
    expect(page.locator("#lead-rows tr")).to_have_count(2)
    page.click("[data-testid=saved-filter]")
    page.wait_for_url(re.compile(r"source=web_form"))
    expect(page.locator("#lead-rows tr")).to_have_count(1)
    # Ticking a row brings the bulk-action bar; it returns to the same filtered list.
    expect(page.locator("#bulk-form")).to_have_count(0)
    page.locator(f"#lead-{team['pool'].pk} input[type=checkbox]").check()
    expect(page.locator("#bulk-form")).to_be_visible()
    page.screenshot(path=shots / "01-filtered-saved-bulk.png", full_page=True)
    page.select_option("#bulk-form select[name=action]", "assign")
    page.select_option("#bulk-form select[name=owner]", str(team["manager"].pk))
    page.click("#bulk-form button[type=submit]")
    page.wait_for_url(re.compile(r"source=web_form"))
    page.screenshot(path=shots / "02-bulk-report.png", full_page=True)
    # A manager may take a lead from the shared inbox but not assign it: the bar says so.
    expect(page.locator("main")).to_contain_text("Заявка с сайта»: ")
    with tenant_context(team["tenant"]):
        assert Lead.objects.get(pk=team["pool"].pk).owner_id is None
