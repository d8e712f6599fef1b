"""Inline editing of deal, contact and company cards: saved by the same services as the
full forms (history recorded), dates in the workspace's zone, errors and refusals in place."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Company, Contact
from crm.models import CustomField, TimelineEvent
from crm.tenancy import tenant_context
from deals.models import Deal
from tests.contacts.factories import make_company, make_contact
from tests.deals.factories import make_deal
from tests.leads.factories import make_lead

HX = {"HX-Request": "true"}


def _url(tenant, path: str, pk: int, name: str) -> str:
    return f"/{tenant.slug}/{path}/{pk}/field/{name}/"


def test_deal_title_amount_date_and_owner_save_in_place(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        deal = make_deal(admin, data={"title": "Поставка", "amount": Decimal("10")})
    client = client_for(admin, language="en")
    card = client.get(f"/{tenant.slug}/deals/{deal.pk}/").content.decode()
    for name in ("title", "amount", "expected_close", "owner"):
        assert f'data-testid="inline-{name}"' in card, name
    editor = client.get(_url(tenant, "deals", deal.pk, "expected_close"), headers=HX)
    assert 'type="date"' in editor.content.decode()
    for name, value in (
        ("title", "Поставка серверов"),
        ("amount", "2500"),
        ("expected_close", "2027-03-01"),
        ("owner", str(manager.pk)),
    ):
        response = client.post(_url(tenant, "deals", deal.pk, name), {name: value}, headers=HX)
        assert response.status_code == 200, (name, response.content.decode()[:300])
        assert 'id="deal-card"' in response.content.decode()
    with tenant_context(tenant):
        deal.refresh_from_db()
        changes = [e.data["changes"] for e in TimelineEvent.objects.filter(kind="deal.changed")]
    assert (deal.title, deal.amount, deal.expected_close, deal.owner_id) == (
        "Поставка серверов",
        Decimal("2500"),
        dt.date(2027, 3, 1),
        manager.pk,
    )
    assert {"expected_close": [None, "2027-03-01"]} in changes
    assert {"owner": [str(admin.user), str(manager.user)]} in changes


def test_a_date_typed_in_a_far_east_workspace_stays_that_day(client_for, tenant, admin):
    """Vladivostok (UTC+10) shortly after local midnight is still yesterday in UTC: the
    date typed is the date kept, shown and written in the history."""
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    with tenant_context(tenant):
        deal = make_deal(admin)
    client = client_for(admin, language="en")
    response = client.post(
        _url(tenant, "deals", deal.pk, "expected_close"),
        {"expected_close": "2027-01-01"},
        headers=HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "01/01/2027" in html  # on the card and in the history line
    with tenant_context(tenant):
        deal.refresh_from_db()
    assert deal.expected_close == dt.date(2027, 1, 1)
    history = html[html.index('data-testid="timeline"') :]
    assert '<bdi class="change-new">01/01/2027</bdi>' in history
    editor = client.get(_url(tenant, "deals", deal.pk, "expected_close"), headers=HX)
    assert 'value="2027-01-01"' in editor.content.decode()


def test_deal_errors_and_custom_fields_in_place(client_for, tenant, admin):
    with tenant_context(tenant):
        CustomField.objects.create(entity="deal", key="due", label="Срок", field_type="date")
        deal = make_deal(admin)
    client = client_for(admin)
    bad = client.post(_url(tenant, "deals", deal.pk, "amount"), {"amount": "-"}, headers=HX)
    assert bad.status_code == 400
    assert 'data-testid="inline-error"' in bad.content.decode()
    bad = client.post(_url(tenant, "deals", deal.pk, "cf_due"), {"cf_due": "31.02"}, headers=HX)
    assert bad.status_code == 400
    good = client.post(
        _url(tenant, "deals", deal.pk, "cf_due"), {"cf_due": "2027-05-09"}, headers=HX
    )
    assert good.status_code == 200
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).custom == {"due": "2027-05-09"}


def test_a_manager_cannot_edit_anothers_deal_in_place(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        deal = make_deal(admin)
    response = client_for(manager).post(
        _url(tenant, "deals", deal.pk, "title"), {"title": "X"}, headers=HX
    )
    assert response.status_code == 404  # not even visible to them


def test_a_viewer_without_edit_gets_a_refusal_in_place(client_for, tenant, admin, marketer):
    with tenant_context(tenant):
        deal = make_deal(admin, data={"title": "Поставка"})
        contact = make_contact(admin)
    client = client_for(marketer)
    card = client.get(f"/{tenant.slug}/deals/{deal.pk}/").content.decode()
    assert 'class="inline-edit' not in card
    for path, pk, name in (("deals", deal.pk, "title"), ("contacts", contact.pk, "last_name")):
        response = client.post(_url(tenant, path, pk, name), {name: "X"}, headers=HX)
        assert response.status_code == 403
        assert response["HX-Retarget"] == "#toasts"
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).title == "Поставка"


def test_other_tenants_records_are_404(client_for, tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        deal = make_deal(other_admin)
        contact = make_contact(other_admin)
        company = make_company(other_admin)
    client = client_for(admin)
    for path, pk, name in (
        ("deals", deal.pk, "title"),
        ("contacts", contact.pk, "last_name"),
        ("companies", company.pk, "name"),
    ):
        assert client.get(_url(tenant, path, pk, name), headers=HX).status_code == 404
        assert client.post(_url(tenant, path, pk, name), {name: "X"}).status_code == 404


def test_contact_fields_save_in_place_with_their_history(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        company = make_company(admin, name="Ромашка")
        contact = make_contact(admin, last_name="Иванов", phones=["+7 916 000-00-01"])
    client = client_for(admin)
    editor = client.get(_url(tenant, "contacts", contact.pk, "phones"), headers=HX)
    assert 'type="text"' in editor.content.decode()  # one line in place, commas between
    for name, value in (
        ("last_name", "Петров"),
        ("phones", "+7 916 000-00-01, +7 916 000-00-02"),
        ("emails", "ivan@example.com"),
        ("company", str(company.pk)),
        ("owner", str(manager.pk)),
    ):
        response = client.post(
            _url(tenant, "contacts", contact.pk, name), {name: value}, headers=HX
        )
        assert response.status_code == 200, (name, response.content.decode()[:300])
    with tenant_context(tenant):
        contact = Contact.objects.get(pk=contact.pk)
        changes = [e.data["changes"] for e in TimelineEvent.objects.filter(kind="contact.changed")]
    assert contact.last_name == "Петров"
    assert contact.phones == ["+7 916 000-00-01", "+7 916 000-00-02"]
    assert contact.emails == ["ivan@example.com"]
    assert contact.company_id == company.pk
    assert contact.owner_id == manager.pk
    assert {"company": [None, "Ромашка"]} in changes
    bad = client.post(
        _url(tenant, "contacts", contact.pk, "emails"), {"emails": "не почта"}, headers=HX
    )
    assert bad.status_code == 400
    assert 'data-testid="inline-error"' in bad.content.decode()


def test_company_fields_save_in_place(client_for, tenant, admin):
    with tenant_context(tenant):
        company = make_company(admin, name="Ромашка")
    client = client_for(admin)
    response = client.post(
        _url(tenant, "companies", company.pk, "name"), {"name": "Лютик"}, headers=HX
    )
    assert response.status_code == 200
    bad = client.post(_url(tenant, "companies", company.pk, "name"), {"name": ""}, headers=HX)
    assert bad.status_code == 400
    with tenant_context(tenant):
        assert Company.objects.get(pk=company.pk).name == "Лютик"


@pytest.mark.parametrize("path", ["leads", "deals", "contacts"])
def test_cards_with_inline_fields_keep_a_constant_number_of_queries(
    client_for, tenant, admin, manager, path
):
    """More custom fields filled in place, more history lines: the same queries."""
    entity = path.removesuffix("s")
    make = {"leads": make_lead, "deals": make_deal, "contacts": make_contact}[path]
    with tenant_context(tenant):
        for key in ("a", "b", "c", "d"):
            CustomField.objects.create(entity=entity, key=key, label=key, field_type="user")
        small, large = make(admin), make(admin)
    client = client_for(admin)
    client.post(_url(tenant, path, small.pk, "cf_a"), {"cf_a": str(admin.pk)})
    for key in ("a", "b", "c", "d"):
        member = (admin, manager)[ord(key) % 2]
        client.post(_url(tenant, path, large.pk, f"cf_{key}"), {f"cf_{key}": str(member.pk)})
        client.post(_url(tenant, path, large.pk, "owner"), {"owner": str(member.pk)})
    client.get(f"/{tenant.slug}/{path}/{small.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/{tenant.slug}/{path}/{small.pk}/")
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/{tenant.slug}/{path}/{large.pk}/")
    assert response.content.decode().count('class="inline-edit"') >= 4
    assert len(many.captured_queries) == len(few.captured_queries)
