"""End to end in a real browser: merge two duplicate contacts, then undo the merge."""

from __future__ import annotations

import re
from functools import partial

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from contacts.services import record_activity_add
from crm.models import Activity, Membership
from crm.tenancy import tenant_context
from tests.contacts.factories import make_company, make_contact
from tests.e2e.pages import log_in
from tests.factories import make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people():
    tenant = make_tenant("shop", name="Магазин")
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
        company = make_company(admin, name="ООО «Ромашка»", tax_id="7701234567")
        keep = make_contact(
            admin,
            last_name="Соколова",
            first_name="Анна",
            phones=["+7 999 123-45-67"],
            emails=["anna@romashka.ru"],
        )
        twin = make_contact(
            admin,
            last_name="Соколова",
            first_name="Анна",
            middle_name="Викторовна",
            company=company,
            position="Главный бухгалтер",
            phones=["8 (999) 123-45-67", "+7 912 000-11-22"],
            emails=["ANNA@romashka.ru"],
        )
        call = record_activity_add(actor=admin, record=twin, kind="call", subject="Обсудить КП")
    return {"tenant": tenant, "admin": admin, "keep": keep, "twin": twin, "call": call}


_log_in = partial(log_in, workspace="shop")


def test_an_admin_merges_two_contacts_and_undoes_it(new_page, shots, people):
    keep, twin = people["keep"], people["twin"]
    page = new_page()
    _log_in(page, people["admin"].user.email)
    page.click("[data-nav=contacts]")
    page.wait_for_url(re.compile(r"/shop/contacts/$"))
    page.fill("main input[name=q]", "8 999 123 45 67")  # the top bar has a search box too
    page.click("[data-testid=filters] button[type=submit]")
    expect(page.locator("[data-testid=record-table] tbody tr")).to_have_count(2)
    page.screenshot(path=shots / "01-search-by-phone.png", full_page=True)

    page.goto(f"/shop/contacts/{keep.pk}/")
    duplicates = page.locator("[data-testid=duplicates]")
    expect(duplicates).to_contain_text("Соколова Анна Викторовна")
    page.screenshot(path=shots / "02-card-with-duplicate.png", full_page=True)
    duplicates.locator(f"[data-testid=merge-{twin.pk}]").click()
    page.wait_for_url(re.compile(rf"/shop/contacts/{keep.pk}/merge/\?with={twin.pk}$"))
    page.check("[data-testid=take-pick_position]")
    page.screenshot(path=shots / "03-merge-choices.png", full_page=True)
    page.click("[data-testid=merge-submit]")
    page.wait_for_url(re.compile(rf"/shop/contacts/{keep.pk}/$"))
    expect(page.locator("[data-testid=phones]")).to_contain_text("+7 912 000-11-22")
    expect(page.locator("[data-testid=details]")).to_contain_text("Главный бухгалтер")
    expect(page.locator("[data-testid=details]")).to_contain_text("ООО «Ромашка»")
    expect(page.locator("[data-testid=activities]")).to_contain_text("Обсудить КП")
    expect(page.locator("[data-testid=timeline]")).to_contain_text("Соколова Анна Викторовна")
    page.screenshot(path=shots / "04-merged.png", full_page=True)
    with tenant_context(people["tenant"]):
        assert Contact.objects.get(pk=twin.pk).merged_into_id == keep.pk
        assert Activity.objects.get(pk=people["call"].pk).target_id == keep.pk

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=merges] button").click()
    page.wait_for_url(re.compile(rf"/shop/contacts/{twin.pk}/$"))
    expect(page.locator("[data-testid=record-name]")).to_have_text("Соколова Анна Викторовна")
    expect(page.locator("[data-testid=activities]")).to_contain_text("Обсудить КП")
    page.screenshot(path=shots / "05-undone.png", full_page=True)
    page.goto(f"/shop/contacts/{keep.pk}/")
    expect(page.locator("[data-testid=phones]")).not_to_contain_text("+7 912 000-11-22")
    expect(page.locator("[data-testid=details]")).not_to_contain_text("Главный бухгалтер")
    page.screenshot(path=shots / "06-survivor-restored.png", full_page=True)
    with tenant_context(people["tenant"]):
        restored = Contact.objects.get(pk=twin.pk)
        assert restored.merged_into_id is None
        assert Activity.objects.get(pk=people["call"].pk).target_id == twin.pk
        assert Contact.objects.get(pk=keep.pk).position == ""
