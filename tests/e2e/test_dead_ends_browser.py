"""End to end in a real browser, in Russian: a marketer's inbox has no "Take" to press, a
refused htmx action says why in place, the loser of a Take race is told who won, archived
leads come back from their list, and the time zone is found by typing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.models import Membership, Tenant
from crm.tenancy import tenant_context
from leads.models import Lead, LeadStatus
from leads.services import lead_archive, lead_create, lead_move, lead_take
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop():
    tenant = make_tenant("shop", name="Магазин")
    people = {kind: add_member(tenant, kind) for kind in ("manager", "marketer")}
    people["manager2"] = add_member(tenant, "manager")
    with tenant_context(tenant):
        people["admin"] = Membership.objects.get(role__kind="admin")
        pool = [
            lead_create(
                actor=people["admin"],
                data={"title": f"Заявка с сайта {n}", "phone": f"+7 999 100-20-3{n}"},
                owner=None,
            )
            for n in range(3)
        ]
    return {"tenant": tenant, "pool": pool, **people}


def _log_in(page, member) -> None:
    log_in(page, member.user.email, workspace="shop")


def test_a_marketers_inbox_has_nothing_to_take(new_page, shots, shop):
    page = new_page()
    _log_in(page, shop["marketer"])
    page.click("[data-nav=inbox]")
    page.wait_for_url(re.compile(r"/shop/leads/inbox/$"))
    expect(page.locator("#lead-rows tr")).to_have_count(3)
    expect(page.locator("[data-testid=take]")).to_have_count(0)
    expect(page.locator("#lead-rows input[type=checkbox]")).to_have_count(0)
    page.screenshot(path=shots / "01-marketer-inbox.png", full_page=True)
    # The lead list: no trash for a role that may not delete.
    page.click("[data-nav=leads]")
    expect(page.locator("[data-testid=lead-table]")).to_be_visible()
    expect(page.locator("[data-testid=trash-link]")).to_have_count(0)
    # The board is for looking at.
    page.click("[data-nav=kanban]")
    expect(page.locator("[data-testid=board-readonly]")).to_contain_text("не перемещать")
    page.screenshot(path=shots / "02-marketer-board.png", full_page=True)


def test_the_loser_of_a_take_race_is_told_who_won(new_page, shots, shop):
    page = new_page()
    _log_in(page, shop["manager"])
    page.click("[data-nav=inbox]")
    lead = shop["pool"][0]
    expect(page.locator(f"#lead-{lead.pk} [data-testid=take]")).to_be_visible()
    with tenant_context(shop["tenant"]):
        lead_take(actor=shop["manager2"], lead=Lead.objects.get(pk=lead.pk))  # faster
    page.click(f"#lead-{lead.pk} [data-testid=take]")
    told = page.locator(f"#lead-{lead.pk} [data-testid=take-error]")
    expect(told).to_have_text(f"Лид уже взял(а) {shop['manager2'].user.full_name}.")
    page.screenshot(path=shots / "01-taken-by-another.png", full_page=True)
    # A lead deleted meanwhile: the message comes in place, the page stays.
    other = shop["pool"][1]
    with tenant_context(shop["tenant"]):
        Lead.objects.filter(pk=other.pk).update(deleted_at="2026-01-01T00:00:00Z")
    page.click(f"#lead-{other.pk} [data-testid=take]")
    refusal = page.locator("#toasts [data-testid=refusal]")
    expect(refusal).to_contain_text("Этой записи больше нет")
    expect(page.locator("[data-testid=lead-table]")).to_be_visible()
    page.screenshot(path=shots / "02-deleted-meanwhile.png", full_page=True)
    refusal.locator("button.btn-close").click()
    expect(refusal).to_have_count(0)


def test_the_time_zone_is_found_by_typing(new_page, shots, shop):
    page = new_page()
    _log_in(page, shop["admin"])
    page.goto("/shop/settings/general/")
    select = page.locator("select[name=time_zone]")
    expect(select.locator("option:checked")).to_have_text("(UTC+3) Москва, Россия")
    search = page.locator("[data-testid=select-search]")
    expect(search).to_have_attribute("placeholder", re.compile("Найти часовой пояс"))
    search.fill("екатер")
    expect(select.locator("option:not([hidden])")).to_have_count(1)
    expect(select.locator("option:checked")).to_have_text("(UTC+5) Екатеринбург, Россия")
    page.screenshot(path=shots / "01-search-yekaterinburg.png", full_page=True)
    # English names, offsets and IANA names are found too; regions stay as groups.
    search.fill("utc+5:30")
    expect(select.locator("option:not([hidden])")).to_have_text(
        ["(UTC+5:30) Калькутта, Индия", "(UTC+5:30) Коломбо, Шри-Ланка"]
    )
    search.fill("asia/vladivostok")
    expect(select.locator("option:checked")).to_contain_text("Владивосток")
    expect(select.locator("optgroup:not([hidden])")).to_have_count(1)
    expect(select.locator("optgroup:not([hidden])")).to_have_attribute("label", "Азия")
    search.fill("")
    expect(select.locator("optgroup:not([hidden])")).to_have_count(10)
    page.screenshot(path=shots / "02-all-regions.png", full_page=True)
    search.fill("владивосток")
    search.press("Enter")  # moves to the list, does not send the form
    assert page.url.endswith("/shop/settings/general/")
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=flash]")
    page.screenshot(path=shots / "03-saved.png", full_page=True)
    shop["tenant"].refresh_from_db()
    assert Tenant.objects.get(pk=shop["tenant"].pk).time_zone == "Asia/Vladivostok"


def test_archived_leads_are_listed_and_return_in_bulk(new_page, shots, shop):
    admin = shop["admin"]
    with tenant_context(shop["tenant"]):
        junk = LeadStatus.objects.filter(state="junk").order_by("position").first()
        for lead in shop["pool"][:2]:
            lead_move(actor=admin, lead=lead, status=junk)
            lead_archive(actor=admin, lead=lead)
    page = new_page()
    _log_in(page, admin)
    page.goto("/shop/leads/")
    expect(page.locator("#lead-rows tr")).to_have_count(1)
    page.click("[data-testid=archived-leads]")
    expect(page.locator("h1")).to_have_text("Лиды в архиве")
    expect(page.locator("#lead-rows tr")).to_have_count(2)
    first, second = shop["pool"][0], shop["pool"][1]
    page.locator(f"#lead-{first.pk} input[type=checkbox]").check()
    expect(page.locator("#bulk-form")).to_be_visible()
    actions = page.locator("#bulk-form select[name=action] option")
    expect(actions).to_have_text(["Вернуть в списки", "Удалить"])
    page.screenshot(path=shots / "01-archived-list.png", full_page=True)
    page.click("#bulk-form button[type=submit]")
    expect(page.locator("[data-testid=flash]").first).to_contain_text("Готово: 1.")
    expect(page.locator("#lead-rows tr")).to_have_count(1)
    page.screenshot(path=shots / "02-returned.png", full_page=True)
    # The other one from its card.
    page.goto(f"/shop/leads/{second.pk}/")
    expect(page.locator("[data-testid=archived]")).to_contain_text("В архиве с")
    page.screenshot(path=shots / "03-archived-card.png", full_page=True)
    page.click("[data-testid=unarchive]")
    expect(page.locator("[data-testid=archived]")).to_have_count(0)
    with tenant_context(shop["tenant"]):
        assert not Lead.objects.filter(pk__in=[first.pk, second.pk], archived_at__isnull=False)
