"""End to end in a real browser: convert a lead into a contact, a company and a deal from
its card's dialog (reusing the known contact), then win the deal on the board."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial

import pytest
from playwright.sync_api import expect

from contacts.services import contact_create
from crm.lineitems import ProductLine
from crm.models import Membership, Tenant
from crm.services import activity_create
from crm.tenancy import tenant_context
from deals.models import Deal, Pipeline
from leads.models import Lead
from leads.services import lead_create
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    tenant = make_tenant("shop", name="Магазин")
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        known = contact_create(
            actor=admin,
            data={"last_name": "Кузнецов", "first_name": "Алексей", "phones": ["+7 999 100-20-30"]},
            owner=manager,
        )
        lead = lead_create(
            actor=manager,
            data={
                "title": "Кресла в переговорную",
                "name": "Алексей",
                "company_name": "ООО Вектор",
                "phone": "8 (999) 100 20 30",
            },
            products=[ProductLine(name="Кресло", quantity=Decimal("6"), price=Decimal("8000"))],
        )
        activity_create(actor=manager, target=lead, kind="call", subject="Перезвонить в пятницу")
        pipeline = Pipeline.objects.get(is_default=True)
        won = pipeline.stages.get(kind="won")
    return {"tenant": tenant, "manager": manager, "known": known, "lead": lead, "won": won}


_log_in = partial(log_in, workspace="shop")


def test_a_manager_converts_a_lead_and_wins_its_deal(new_page, shots, world):
    lead, known, won = world["lead"], world["known"], world["won"]
    page = new_page()
    _log_in(page, world["manager"].user.email)
    page.goto(f"/shop/leads/{lead.pk}/")
    page.screenshot(path=shots / "01-lead.png", full_page=True)

    page.click("[data-testid=convert]")
    dialog = page.locator("[data-testid=convert-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-testid=contact-match]")).to_contain_text("Кузнецов")
    expect(dialog.locator("input[name=contact_mode][value=match]")).to_be_checked()
    expect(dialog.locator("input[name=company_mode][value=new]")).to_be_checked()
    expect(dialog.locator("input[name=company_name]")).to_have_value("ООО Вектор")
    dialog.locator("input[name=tax_id]").fill("7707083893")
    dialog.locator("input[name=deal_title]").fill("Кресла для Вектора")
    page.screenshot(path=shots / "02-dialog.png")
    dialog.locator("[data-testid=convert-submit]").click()

    # The manager lands on the new deal.
    page.wait_for_url(re.compile(r"/shop/deals/\d+/$"))
    with tenant_context(world["tenant"]):
        lead_now = Lead.objects.get(pk=lead.pk)
        deal = Deal.objects.select_related("company").get(source_lead=lead_now)
    assert page.url.endswith(f"/shop/deals/{deal.pk}/")
    expect(page.locator("body")).to_contain_text("Перезвонить в пятницу")
    page.screenshot(path=shots / "03-deal.png", full_page=True)
    assert lead_now.state == "converted"
    assert lead_now.contact_id == known.pk
    assert deal.contact_id == known.pk
    assert deal.company.tax_id == "7707083893"
    assert deal.amount == Decimal("48000")

    page.goto(f"/shop/leads/{lead.pk}/")
    converted = page.locator("[data-testid=converted-into]")
    expect(converted).to_contain_text("Кузнецов")
    expect(converted).to_contain_text("ООО Вектор")
    expect(converted).to_contain_text("Кресла для Вектора")
    expect(page.locator("[data-testid=convert]")).to_have_count(0)
    page.screenshot(path=shots / "04-converted.png", full_page=True)

    page.set_viewport_size({"width": 1600, "height": 860})
    page.goto("/shop/deals/board/")
    won_column = f"[data-testid=column-{won.pk}]"
    page.locator(f"#card-{deal.pk}").drag_to(page.locator(f"{won_column} .kanban-cards"))
    # Won is a compact drop zone: the deal is counted there and leaves the board.
    expect(page.locator(f"{won_column} [data-testid=count]")).to_have_text("1")
    expect(page.locator(f"#card-{deal.pk}")).to_have_count(0)
    page.screenshot(path=shots / "05-board-won.png", full_page=True)
    with tenant_context(world["tenant"]):
        assert Deal.objects.get(pk=deal.pk).outcome == "won"


def test_in_simple_mode_a_quick_deal_finds_the_known_contact(new_page, shots, world):
    tenant = world["tenant"]
    Tenant.objects.filter(pk=tenant.pk).update(mode=Tenant.Mode.SIMPLE)
    page = new_page()
    _log_in(page, world["manager"].user.email)
    expect(page.locator("[data-nav=inbox]")).to_have_count(0)
    page.click("[data-nav=deals]")
    form = page.locator("[data-testid=quick-deal]")
    form.locator("input[name=name]").fill("Алексей")
    form.locator("input[name=contact]").fill("+7 999 1002030")
    page.screenshot(path=shots / "01-quick-deal.png", full_page=True)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/shop/deals/\d+/$"))
    expect(page.locator("body")).to_contain_text("Кузнецов Алексей")
    page.screenshot(path=shots / "02-deal.png", full_page=True)
    with tenant_context(tenant):
        deal = Deal.objects.exclude(source_lead__isnull=False).get()
    assert deal.contact_id == world["known"].pk
