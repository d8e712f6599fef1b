"""End to end in a real browser: a manager edits a lead's field where it stands (click,
type, Enter), cancels another with Esc, changes a deal's expected close date in place, and
reads the old → new values in the histories — the lead's history carried into the deal."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pytest
from playwright.sync_api import expect

from crm.models import Membership
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.conversion import Target, lead_convert
from leads.models import Lead
from leads.services import lead_create
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk():
    tenant = make_tenant("desk", name="Окна")
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        lead = lead_create(
            actor=admin,
            data={"title": "Окна в офис", "name": "Анна", "phone": "+7 999 100-20-30"},
            owner=manager,
        )
        converted = lead_create(
            actor=admin,
            data={"title": "Балкон", "name": "Олег", "phone": "+7 999 100-20-31"},
            owner=manager,
        )
        deal = lead_convert(
            actor=manager,
            lead=converted,
            contact=Target(data={"last_name": "Олегов", "first_name": "Олег"}),
            deal={"title": "Балкон под ключ"},
        ).deal
    return {"tenant": tenant, "manager": manager, "lead": lead, "deal": deal}


_log_in = partial(log_in, workspace="desk")


def test_a_manager_edits_fields_in_place_with_enter(new_page, shots, desk):
    page = new_page()
    _log_in(page, desk["manager"].user.email)
    lead = desk["lead"]
    page.goto(f"/desk/leads/{lead.pk}/")

    # Click the name: an input in its place, focused; type, Enter saves.
    page.click("[data-testid=inline-name]")
    field = page.locator("form.inline-form input[name=name]")
    expect(field).to_be_focused()
    field.fill("Анна Петрова")
    page.screenshot(path=str(shots / "1-lead-name-editing.png"))
    field.press("Enter")
    expect(page.locator("[data-testid=inline-name]")).to_have_text("Анна Петрова")
    expect(page.locator("form.inline-form")).to_have_count(0)
    changes = page.locator("[data-testid=timeline] [data-testid=changes]").first
    expect(changes).to_contain_text("Анна")
    expect(changes).to_contain_text("Анна Петрова")

    # A wrong e-mail: the error under the input, nothing saved.
    page.click("[data-testid=inline-email]")
    email = page.locator("form.inline-form input[name=email]")
    # Typed once the editor has settled (it takes the focus then), as a person would.
    expect(email).to_be_focused()
    email.fill("не почта")
    email.press("Enter")
    expect(page.locator("[data-testid=inline-error]")).to_be_visible()
    page.screenshot(path=str(shots / "2-lead-email-error.png"))
    # Esc: the value again, as it was.
    page.locator("form.inline-form input[name=email]").press("Escape")
    expect(page.locator("form.inline-form")).to_have_count(0)
    with tenant_context(desk["tenant"]):
        fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.name, fresh.email) == ("Анна Петрова", "")

    # The amount: Enter saves, the card shows it formatted.
    page.click("[data-testid=inline-amount]")
    amount = page.locator("form.inline-form input[name=amount]")
    expect(amount).to_be_focused()
    amount.fill("125000")
    amount.press("Enter")
    expect(page.locator("[data-testid=lead-amount]")).to_contain_text("125")
    page.screenshot(path=str(shots / "3-lead-saved-with-history.png"), full_page=True)

    # The deal made from another lead: its history carries the lead's; its date in place.
    deal = desk["deal"]
    page.goto(f"/desk/deals/{deal.pk}/")
    expect(page.locator("[data-testid=carried]").first).to_be_visible()
    page.click("[data-testid=inline-expected_close]")
    date = page.locator("form.inline-form input[name=expected_close]")
    expect(date).to_be_focused()
    date.fill("2027-01-01")
    date.press("Enter")
    expect(page.locator("[data-testid=expected-close]")).to_contain_text("01.01.2027")
    page.screenshot(path=str(shots / "4-deal-date-and-carried-history.png"), full_page=True)
    with tenant_context(desk["tenant"]):
        assert Deal.objects.get(pk=deal.pk).expected_close == dt.date(2027, 1, 1)
