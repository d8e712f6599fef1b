"""End to end in a real browser: drag deals into the won and lost columns of the board,
and start a repeat deal from a contact's card."""

from __future__ import annotations

import re
from functools import partial

import pytest
from playwright.sync_api import expect

from contacts.services import contact_create
from crm.models import Membership
from crm.tenancy import tenant_context
from deals.models import Deal, Pipeline
from deals.services import deal_create
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sales_team():
    tenant = make_tenant("shop", name="Магазин")
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        contact = contact_create(
            actor=admin,
            data={"last_name": "Кузнецов", "first_name": "Алексей", "phones": ["+79991002030"]},
            owner=manager,
        )
        pipeline = Pipeline.objects.get(is_default=True)
        stages = {s.kind: s for s in pipeline.stages.order_by("-position")}  # first of each kind
        deals = [
            deal_create(
                actor=admin,
                data={"title": title, "contact": contact, "amount": amount},
                owner=manager,
            )
            for title, amount in (("Поставка кресел", 48000), ("Обслуживание на год", 120000))
        ]
    return {"tenant": tenant, "manager": manager, "contact": contact, "deals": deals, **stages}


_log_in = partial(log_in, workspace="shop")


def _column(stage) -> str:
    return f"[data-testid=column-{stage.pk}]"


def test_a_manager_wins_and_loses_deals_on_the_board(new_page, shots, sales_team):
    won, lost, first = sales_team["won"], sales_team["lost"], sales_team["open"]
    chairs, service = sales_team["deals"]
    page = new_page()
    _log_in(page, sales_team["manager"].user.email)
    page.click("[data-nav=deals]")
    page.wait_for_url(re.compile(r"/shop/deals/$"))
    expect(page.locator("[data-testid=deal-table]")).to_contain_text("Поставка кресел")
    page.screenshot(path=shots / "01-list.png", full_page=True)

    page.set_viewport_size({"width": 1600, "height": 860})  # all six columns on screen
    page.goto("/shop/deals/board/")
    expect(page.locator(f"{_column(first)} [data-testid=count]")).to_have_text("2")
    page.screenshot(path=shots / "02-board-before.png", full_page=True)
    page.locator(f"#card-{chairs.pk}").drag_to(page.locator(f"{_column(won)} .kanban-cards"))
    expect(page.locator(f"{_column(won)} [data-testid=count]")).to_have_text("1")
    # Won is a compact drop zone: the card is counted there, no longer shown.
    expect(page.locator(f"#card-{chairs.pk}")).to_have_count(0)
    assert page.locator(f"{_column(first)} [data-testid=count]").inner_text() == "1"
    assert page.locator(f"{_column(won)} [data-testid=sum]").inner_text().replace(
        "\u00a0", " "
    ) in ("48 000", "48,000")
    page.screenshot(path=shots / "03-board-won.png", full_page=True)

    # Dropping on "lost" asks for the reason first.
    page.locator(f"#card-{service.pk}").drag_to(page.locator(f"{_column(lost)} .kanban-cards"))
    dialog = page.locator("[data-testid=reason-dialog]")
    expect(dialog).to_be_visible()
    dialog.locator("select[name=reason]").select_option(label="Выбрали конкурента")
    page.screenshot(path=shots / "04-lost-reason.png", full_page=True)
    dialog.locator("[data-testid=reason-ok]").click()
    expect(page.locator(f"{_column(lost)} [data-testid=count]")).to_have_text("1")
    expect(page.locator(f"#card-{service.pk}")).to_have_count(0)
    page.screenshot(path=shots / "05-board-after.png", full_page=True)

    with tenant_context(sales_team["tenant"]):
        chairs_now = Deal.objects.get(pk=chairs.pk)
        service_now = Deal.objects.select_related("loss_reason").get(pk=service.pk)
    assert chairs_now.outcome == "won"
    assert chairs_now.stage_id == won.pk
    assert service_now.outcome == "lost"
    assert service_now.loss_reason.name == "Выбрали конкурента"

    # (Won → lost directly is refused: tests/deals/test_views.py; closed deals are counted
    # in their zones, not shown as cards.)
    page.goto(f"/shop/deals/{chairs.pk}/")
    expect(page.locator("[data-testid=outcome] .text-bg-success")).to_have_count(1)
    page.screenshot(path=shots / "07-card-won.png", full_page=True)


def test_a_repeat_deal_from_the_contact_card(new_page, shots, sales_team):
    page = new_page()
    _log_in(page, sales_team["manager"].user.email)
    page.goto(f"/shop/contacts/{sales_team['contact'].pk}/")
    expect(page.locator("[data-testid=record-deals]")).to_contain_text("Поставка кресел")
    page.screenshot(path=shots / "01-contact.png", full_page=True)
    page.click("[data-testid=repeat-deal]")
    page.fill("input[name=title]", "Дополнительные кресла")
    page.fill("input[name=product_name] >> nth=0", "Кресло офисное")
    page.fill("input[name=product_qty] >> nth=0", "4")
    page.fill("input[name=product_price] >> nth=0", "9500")
    page.screenshot(path=shots / "02-form.png", full_page=True)
    page.click("[data-testid=deal-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/shop/deals/\d+/$"))
    expect(page.locator("[data-testid=amount]")).to_contain_text("38")
    page.screenshot(path=shots / "03-card.png", full_page=True)
    with tenant_context(sales_team["tenant"]):
        deal = Deal.objects.get(title="Дополнительные кресла")
        assert deal.pipeline.is_repeat
        assert deal.contact_id == sales_team["contact"].pk


def test_an_admin_adds_a_stage_and_loses_a_deal_from_its_card(new_page, shots, sales_team):
    tenant = sales_team["tenant"]
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
    page = new_page()
    _log_in(page, admin.user.email)
    page.goto("/shop/settings/")
    page.click("[data-testid=settings-pipelines]")
    page.wait_for_url(re.compile(r"/shop/deals/settings/pipelines/$"))
    page.screenshot(path=shots / "01-pipelines.png", full_page=True)
    page.click("text=Продажи")
    form = page.locator("[data-testid=stage-add]")
    form.locator("input[name=stage-name]").fill("Демонстрация")
    form.locator("input[name=stage-probability]").fill("40")
    form.locator("input[name=stage-position]").fill("2")
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=stages]")).to_contain_text("Демонстрация")
    page.screenshot(path=shots / "02-pipeline.png", full_page=True)

    deal = sales_team["deals"][0]
    page.goto(f"/shop/deals/{deal.pk}/")
    expect(page.locator("[data-testid=stage-bar]")).to_contain_text("Демонстрация")
    page.click("[data-testid=lose-menu]")
    # Without a reason the browser does not send the form (the reason is required).
    page.locator("[data-testid=lose-form] button").click()
    expect(page.locator("[data-testid=reopen]")).to_have_count(0)
    page.select_option("#lose-reason", label="Нет бюджета")
    page.screenshot(path=shots / "03-lose-form.png", full_page=True)
    page.locator("[data-testid=lose-form] button").click()
    expect(page.locator("[data-testid=outcome]")).to_contain_text("Нет бюджета")
    expect(page.locator("[data-testid=reopen]")).to_be_visible()
    page.screenshot(path=shots / "04-lost.png", full_page=True)
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).outcome == "lost"


def test_the_contact_field_finds_a_contact_by_phone(new_page, shots, sales_team):
    page = new_page()
    _log_in(page, sales_team["manager"].user.email)
    page.goto("/shop/deals/new/")
    page.fill("input[name=title]", "Стол для переговорной")
    # Typing the phone the Russian way loads the matching contact into the select.
    page.fill("[data-testid=picker-contact]", "8 (999) 100-20-30")
    contact = sales_team["contact"]
    option = page.locator(f"#id_contact option[value='{contact.pk}']")
    expect(option).to_have_count(1)
    expect(page.locator("#id_contact option")).to_have_count(2)  # and the empty choice
    # No search still on its way: a late answer would replace the options after the pick.
    page.wait_for_load_state("networkidle")
    page.select_option("#id_contact", str(contact.pk))
    expect(page.locator("#id_contact")).to_have_value(str(contact.pk))
    page.screenshot(path=shots / "01-picked.png", full_page=True)
    page.click("[data-testid=deal-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/shop/deals/\d+/$"))
    with tenant_context(sales_team["tenant"]):
        assert Deal.objects.get(title="Стол для переговорной").contact_id == contact.pk
