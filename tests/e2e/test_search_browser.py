"""End to end in a real browser: a caller reads out the last digits of their number, the
manager presses "/", types them, picks the lead with the arrow keys and opens it with Enter."""

from __future__ import annotations

import re
from functools import partial

import pytest
from playwright.sync_api import expect

from crm.models import Membership
from crm.tenancy import tenant_context
from leads.services import lead_create
from tests.contacts.factories import make_contact
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop():
    tenant = make_tenant("shop", name="Магазин")
    manager = add_member(tenant, "manager")
    colleague = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        older = lead_create(
            actor=admin,
            data={"title": "Заявка с сайта", "name": "Ольга", "phone": "+7 916 555-45-67"},
            owner=None,
        )
        caller = lead_create(
            actor=admin,
            data={
                "title": "Звонок: доставка",
                "name": "Пётр Соколов",
                "company_name": "Ромашка",
                "phone": "8 (967) 123-45-67",
            },
            owner=manager,
        )
        lead_create(
            actor=admin,
            data={"title": "Чужой клиент", "phone": "+7 903 000-45-67"},
            owner=colleague,
        )
        make_contact(admin, last_name="Соколов", first_name="Пётр", phones=["+7 967 123-45-67"])
    return {"tenant": tenant, "manager": manager, "caller": caller, "older": older}


_log_in = partial(log_in, workspace="shop")


def test_a_manager_finds_a_caller_by_the_last_digits(new_page, shots, shop):
    page = new_page()
    _log_in(page, shop["manager"].user.email)
    page.goto("/shop/leads/inbox/")
    box = page.locator("#top-search")
    # "/" focuses the box from anywhere on the page…
    page.locator("main").click()
    page.keyboard.press("/")
    expect(box).to_be_focused()
    page.keyboard.type("45-67")
    results = page.locator("#search-dropdown [data-search-result]")
    expect(page.locator("[data-testid=search-group-lead]")).to_be_visible()
    # Own and unassigned leads, newest first, the contact too; never the colleague's lead.
    expect(results).to_have_count(3)
    expect(page.locator("#search-dropdown")).not_to_contain_text("Чужой клиент")
    page.screenshot(path=shots / "01-dropdown.png")
    page.keyboard.press("ArrowDown")
    first = page.locator(f"#search-lead-{shop['caller'].pk}")
    expect(first).to_have_class(re.compile(r"\bactive\b"))
    expect(box).to_have_attribute("aria-activedescendant", f"search-lead-{shop['caller'].pk}")
    page.screenshot(path=shots / "02-chosen.png")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/shop/leads/{shop['caller'].pk}/$"))
    expect(page.locator("main")).to_contain_text("Звонок: доставка")
    page.screenshot(path=shots / "03-lead.png")


def test_slash_in_another_field_is_typed_and_enter_opens_all_results(new_page, shots, shop):
    page = new_page()
    _log_in(page, shop["manager"].user.email)
    page.goto("/shop/leads/new/")
    field = page.locator("input[name=title]")
    field.click()
    page.keyboard.type("a/b")
    expect(field).to_have_value("a/b")
    expect(page.locator("#top-search")).not_to_be_focused()
    # Enter with nothing chosen: the full results page.
    page.locator("#top-search").click()
    page.keyboard.type("соколов")
    expect(page.locator("#search-dropdown [data-search-result]").first).to_be_visible()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/shop/search/\?q="))
    expect(page.locator("[data-testid=search-page-group-lead]")).to_contain_text("Звонок: доставка")
    expect(page.locator("[data-testid=search-page-group-contact]")).to_contain_text("Соколов Пётр")
    page.screenshot(path=shots / "04-results-page.png", full_page=True)
    # Escape closes the dropdown.
    box = page.locator("#top-search")
    box.fill("")
    box.type("4567")
    expect(page.locator("#search-dropdown [data-search-result]").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#search-dropdown [data-search-result]")).to_have_count(0)
