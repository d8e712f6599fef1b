"""End to end in a real browser: a manager types the phone of an existing lead into the new
lead form, sees the match and adds the inquiry to it; then converts that lead (the name split,
another pipeline's stage chosen) and lands on the new deal, and wins it at 0 by giving its
amount."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial

import pytest
from playwright.sync_api import expect

from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from deals.models import Deal, Pipeline
from leads.models import Lead
from leads.services import lead_create
from tests.e2e.pages import log_in, wait_for_htmx
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    tenant = make_tenant("shop", name="Магазин")
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        lead = lead_create(
            actor=manager,
            data={
                "title": "Шкаф-купе",
                "name": "Иванов Иван Иванович",
                "phone": "+7 999 200-30-40",
            },
        )
        repeat = Pipeline.objects.get(is_repeat=True)
        proposal = repeat.stages.filter(kind="open").order_by("position")[1]
    return {"tenant": tenant, "manager": manager, "lead": lead, "repeat": repeat, "stage": proposal}


_log_in = partial(log_in, workspace="shop")


def test_a_typed_phone_finds_the_lead_then_conversion_lands_on_the_deal(new_page, shots, world):
    lead, tenant = world["lead"], world["tenant"]
    page = new_page()
    _log_in(page, world["manager"].user.email)

    page.goto("/shop/leads/new/")
    form = page.locator("[data-testid=lead-form]")
    expect(form.locator("[data-testid=create-lead]")).to_be_visible()
    form.locator("input[name=name]").fill("Иван")
    form.locator("input[name=phone]").press_sequentially("8 (999) 200 30 40", delay=20)
    match = form.locator("[data-testid=match-lead]")
    expect(match).to_contain_text("Шкаф-купе")
    # The choice is explicit: add to that lead, or create a new lead anyway.
    expect(form.locator("[data-testid=create-anyway]")).to_be_visible()
    expect(form.locator("[data-testid=create-lead]")).to_have_count(0)
    form.locator("textarea[name=message]").fill("Перезвонил, спрашивает про сроки")
    page.screenshot(path=shots / "01-match.png", full_page=True)

    match.locator("[data-testid=attach-to-lead]").click()
    page.wait_for_url(re.compile(rf"/shop/leads/{lead.pk}/$"))
    expect(page.locator("body")).to_contain_text("Перезвонил, спрашивает про сроки")
    page.screenshot(path=shots / "02-attached.png", full_page=True)
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
        assert TimelineEvent.objects.filter(target_id=lead.pk, kind="lead.inquiry").count() == 1

    page.click("[data-testid=convert]")
    dialog = page.locator("[data-testid=convert-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=last_name]")).to_have_value("Иванов")
    expect(dialog.locator("input[name=first_name]")).to_have_value("Иван")
    expect(dialog.locator("input[name=middle_name]")).to_have_value("Иванович")
    pipeline = dialog.locator("select[name=pipeline]")
    wait_for_htmx(pipeline)
    pipeline.select_option(str(world["repeat"].pk))
    stage_option = dialog.locator(f"select[name=stage] option[value='{world['stage'].pk}']")
    expect(stage_option).to_have_count(1)  # the chosen pipeline's stages came (htmx)
    dialog.locator("select[name=stage]").select_option(str(world["stage"].pk))
    dialog.locator("input[name=expected_close]").fill("2099-12-31")
    page.screenshot(path=shots / "03-dialog.png")
    dialog.locator("[data-testid=convert-submit]").click()

    page.wait_for_url(re.compile(r"/shop/deals/\d+/$"))
    with tenant_context(tenant):
        deal = Deal.objects.select_related("contact").get(source_lead_id=lead.pk)
    assert page.url.endswith(f"/shop/deals/{deal.pk}/")
    assert (deal.pipeline_id, deal.stage_id) == (world["repeat"].pk, world["stage"].pk)
    assert str(deal.expected_close) == "2099-12-31"
    assert deal.contact.middle_name == "Иванович"
    page.screenshot(path=shots / "04-deal.png", full_page=True)

    # Won at 0: the button asks the amount first.
    page.click("[data-testid=win]")
    win_form = page.locator("[data-testid=win-form]")
    expect(win_form).to_be_visible()
    win_form.locator("[data-testid=win-amount]").fill("84000")
    page.screenshot(path=shots / "05-win-amount.png")
    win_form.locator("[data-testid=win-submit]").click()
    expect(page.locator("[data-testid=outcome]")).not_to_be_empty()
    expect(page.locator("[data-testid=amount]")).to_contain_text("84")
    page.screenshot(path=shots / "06-won.png", full_page=True)
    with tenant_context(tenant):
        won = Deal.objects.get(pk=deal.pk)
    assert (won.outcome, won.amount) == ("won", Decimal("84000"))


def test_the_quick_lead_shows_the_match_and_creates_anyway(new_page, shots, world):
    lead, tenant = world["lead"], world["tenant"]
    page = new_page()
    _log_in(page, world["manager"].user.email)
    page.goto("/shop/leads/inbox/")
    form = page.locator("[data-testid=quick-lead]")
    form.locator("input[name=name]").fill("Иван")
    form.locator("input[name=contact]").press_sequentially("+7 999 2003040", delay=20)
    expect(form.locator("[data-testid=match-lead]")).to_contain_text("Шкаф-купе")
    page.screenshot(path=shots / "01-quick-match.png", full_page=True)
    form.locator("[data-testid=create-anyway]").click()
    page.wait_for_url(re.compile(r"/shop/leads/\d+/$"))
    assert not page.url.endswith(f"/shop/leads/{lead.pk}/")
    with tenant_context(tenant):
        assert Lead.objects.count() == 2
