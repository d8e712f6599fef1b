"""End to end in a real browser: a manager postpones a lead from its card (it leaves the
inbox and waits in the "Postponed" list), brings it back; an administrator sets up the
loss reasons."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Membership
from crm.tenancy import tenant_context
from deals.models import LossReason
from leads.models import Lead
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team():
    tenant = make_tenant("shop", name="Магазин")
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        lead = make_lead(admin, owner=manager, title="Кухня на заказ", name="Ольга")
        make_lead(admin, owner=manager, title="Шкаф-купе", name="Пётр")
    return {"tenant": tenant, "manager": manager, "admin": admin, "lead": lead}


_log_in = partial(log_in, workspace="shop")


def test_a_manager_postpones_a_lead_and_brings_it_back(new_page, shots, team):
    lead = team["lead"]
    page = new_page()
    _log_in(page, team["manager"].user.email)
    page.goto(f"/shop/leads/{lead.pk}/")
    page.click("[data-testid=postpone] summary")
    form = page.locator("[data-testid=postpone-form]")
    # A past day is refused in place, the form stays open with the values.
    form.locator("input[name=day]").fill("2020-01-01")
    form.locator("input[name=reason]").fill("Клиент в отпуске до конца месяца")
    form.locator("[data-testid=postpone-submit]").click()
    expect(page.locator("[data-testid=card-error]")).to_be_visible()
    page.screenshot(path=shots / "01-refused.png", full_page=True)
    with tenant_context(team["tenant"]):
        day = timezone.localdate() + dt.timedelta(days=14)
    page.locator("[data-testid=postpone-form] input[name=day]").fill(day.isoformat())
    page.locator("[data-testid=postpone-form] [data-testid=postpone-submit]").click()
    expect(page.locator("[data-testid=postponed]")).to_contain_text("Клиент в отпуске")
    page.screenshot(path=shots / "02-postponed.png", full_page=True)

    page.goto("/shop/leads/inbox/")
    expect(page.get_by_text("Шкаф-купе")).to_be_visible()
    expect(page.get_by_text("Кухня на заказ")).to_have_count(0)
    page.goto("/shop/leads/")
    page.click("[data-testid=postponed-leads]")
    expect(page.get_by_text("Кухня на заказ")).to_be_visible()
    expect(page.get_by_text("Шкаф-купе")).to_have_count(0)
    page.screenshot(path=shots / "03-postponed-list.png", full_page=True)

    page.goto(f"/shop/leads/{lead.pk}/")
    page.click("[data-testid=unpostpone]")
    expect(page.locator("[data-testid=postponed]")).to_have_count(0)
    with tenant_context(team["tenant"]):
        assert Lead.objects.get(pk=lead.pk).postponed_until is None


def test_an_admin_sets_up_the_loss_reasons(new_page, shots, team):
    page = new_page()
    _log_in(page, team["admin"].user.email)
    page.goto("/shop/deals/settings/loss-reasons/")
    page.fill("[data-testid=loss-reason-add] input[name=name]", "Не устроили сроки")
    page.click("[data-testid=loss-reason-add] button[type=submit]")
    expect(page.locator("[data-testid=loss-reasons]")).to_contain_text("Не устроили сроки")
    with tenant_context(team["tenant"]):
        other = LossReason.objects.get(name="Другое")
    page.locator(f"[data-testid=loss-reason-{other.pk}] [data-testid=reason-toggle]").click()
    expect(
        page.locator(f"[data-testid=loss-reason-{other.pk}] [data-testid=inactive]")
    ).to_be_visible()
    page.screenshot(path=shots / "01-loss-reasons.png", full_page=True)
