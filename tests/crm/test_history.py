"""History with values: each edit keeps {field: [old, new]}, the cards show old → new, and a
converted lead's history carries on in its deal's and contact's timelines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.services import record_update
from crm.models import CustomField, TimelineEvent
from crm.tenancy import tenant_context
from deals.services import deal_update
from leads.conversion import Target, lead_convert
from leads.services import lead_assign, lead_update
from tests.deals.factories import make_deal
from tests.factories import add_member
from tests.leads.factories import make_lead

XSS = '<script>alert("x")</script>'


def _last(kind: str) -> TimelineEvent:
    return TimelineEvent.objects.filter(kind=kind).first()


def _lines(response) -> str:
    html = response.content.decode()
    start = html.index('data-testid="timeline"')
    return html[start : html.index("</ul>", html.index('data-testid="changes"', start))]


def test_a_lead_edit_keeps_old_and_new_values_and_the_card_shows_them(client_for, tenant, admin):
    with tenant_context(tenant):
        CustomField.objects.create(entity="lead", key="budget", label="Бюджет", field_type="number")
        lead = make_lead(admin, name="Анна", phone="+7 999 111-22-33", amount=Decimal("1000"))
        lead_update(
            actor=admin,
            lead=lead,
            data={
                "name": XSS,
                "phone": "+7 999 111-22-44",
                "amount": Decimal("1500.50"),
                "temperature": "hot",
                "custom": {"budget": 250000},
            },
        )
        event = _last("lead.changed")
    assert event.data["changes"] == {
        "name": ["Анна", XSS],
        "phone": ["+7 999 111-22-33", "+7 999 111-22-44"],
        "amount": ["1000", "1500.50"],
        "temperature": [None, "hot"],
        "custom.budget": [None, 250000],
    }
    assert event.data["labels"] == {"custom.budget": "Бюджет"}
    assert event.data["currency"] == "RUB"

    page = client_for(admin, language="en").get(f"/{tenant.slug}/leads/{lead.pk}/")
    lines = _lines(page)
    assert XSS not in lines  # escaped
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in lines
    assert 'Contact name:</span> <bdi class="change-old">Анна</bdi>' in lines
    assert '1,000.00 RUB</bdi> <span aria-hidden="true">→</span>' in lines
    assert "1,500.50 RUB" in lines
    assert 'Temperature:</span> <bdi class="change-old">—</bdi>' in lines
    assert '<bdi class="change-new">Hot</bdi>' in lines  # the choice's label
    assert "Бюджет:</span>" in lines
    assert "250,000" in lines


def test_reassigning_shows_who_had_it_and_who_has_it(client_for, tenant, admin, manager):
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        lead = make_lead(admin, owner=manager)
        lead_assign(actor=admin, lead=lead, owner=other)
    lines = _lines(client_for(admin, language="en").get(f"/{tenant.slug}/leads/{lead.pk}/"))
    assert f'Responsible:</span> <bdi class="change-old">{manager.user}</bdi>' in lines
    assert f'<bdi class="change-new">{other.user}</bdi>' in lines


def test_a_deal_edit_keeps_amount_owner_and_date(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        deal = make_deal(admin, data={"title": "Поставка", "amount": Decimal("10")})
        deal_update(
            actor=admin,
            deal=deal,
            data={"amount": Decimal("2500"), "expected_close": dt.date(2027, 3, 1), "title": XSS},
            owner=manager,
        )
        event = _last("deal.changed")
    assert event.data["changes"] == {
        "title": ["Поставка", XSS],
        "amount": ["10", "2500"],
        "expected_close": [None, "2027-03-01"],
        "owner": [str(admin.user), str(manager.user)],
    }
    lines = _lines(client_for(admin, language="en").get(f"/{tenant.slug}/deals/{deal.pk}/"))
    assert XSS not in lines
    assert "&lt;script&gt;" in lines
    assert "2,500.00 RUB" in lines
    assert 'Expected close date:</span> <bdi class="change-old">—</bdi>' in lines
    assert "03/01/2027" in lines
    assert f'<bdi class="change-new">{manager.user}</bdi>' in lines


@pytest.mark.parametrize("kind", ["contact", "company"])
def test_contact_and_company_edits_keep_their_data(client_for, tenant, admin, kind):
    from tests.contacts.factories import make_company, make_contact

    with tenant_context(tenant):
        company = make_company(admin, name="Ромашка")
        if kind == "contact":
            record = make_contact(admin, last_name="Иванов", phones=["+7 916 000-00-01"])
            data = {
                "last_name": XSS,
                "phones": ["+7 916 000-00-02"],
                "emails": ["a@example.com"],
                "company": company,
            }
        else:
            record = make_company(admin, name="Лютик", phones=["+7 916 000-00-01"])
            data = {"name": XSS, "phones": ["+7 916 000-00-02"], "emails": ["a@example.com"]}
        record_update(actor=admin, record=record, data=data)
        changes = _last(f"{kind}.changed").data["changes"]
    name = "last_name" if kind == "contact" else "name"
    assert changes[name][1] == XSS
    assert changes["phones"] == [["+7 916 000-00-01"], ["+7 916 000-00-02"]]
    assert changes["emails"] == [None, ["a@example.com"]]
    if kind == "contact":
        assert changes["company"] == [None, "Ромашка"]
    path = "contacts" if kind == "contact" else "companies"
    lines = _lines(client_for(admin, language="en").get(f"/{tenant.slug}/{path}/{record.pk}/"))
    assert XSS not in lines
    assert "&lt;script&gt;" in lines
    assert "+7 916 000-00-01</bdi>" in lines
    assert "a@example.com</bdi>" in lines


def test_older_events_without_values_still_read(client_for, tenant, admin):
    from crm.services import timeline_record

    with tenant_context(tenant):
        lead = make_lead(admin)
        timeline_record(
            actor=admin,
            target=lead,
            kind="lead.changed",
            data={"changes": {"email": ["None", "a@b.c"], "amount": ["", "oops"]}},
        )
    page = client_for(admin, language="en").get(f"/{tenant.slug}/leads/{lead.pk}/")
    assert page.status_code == 200
    lines = _lines(page)
    assert "a@b.c" in lines
    assert "oops" in lines


def test_the_deal_and_the_contact_carry_the_lead_history(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, name="Ольга", title="Заявка с сайта")
        lead_update(actor=admin, lead=lead, data={"name": "Ольга Смирнова"})
        result = lead_convert(
            actor=admin,
            lead=lead,
            contact=Target(data={"last_name": "Смирнова", "first_name": "Ольга"}),
            deal={"title": "Сделка Ольги"},
        )
    client = client_for(admin, language="en")
    for path in (f"deals/{result.deal.pk}", f"contacts/{result.contact.pk}"):
        response = client.get(f"/{tenant.slug}/{path}/")
        events = list(response.context["events"])
        kinds = [e.kind for e in events]
        # The lead's story, then the record's own: one timeline, newest first.
        assert {"lead.created", "lead.changed"} <= set(kinds), path
        assert "lead.converted" not in kinds  # the record's "converted from" says it
        assert kinds.index("lead.changed") < kinds.index("lead.created")
        html = response.content.decode()
        assert 'data-testid="carried"' in html
        assert f'href="/{tenant.slug}/leads/{lead.pk}/" data-testid="carried"' in html
        assert "Ольга Смирнова" in html


def test_a_deal_without_a_lead_shows_only_its_own_events(client_for, tenant, admin):
    with tenant_context(tenant):
        other_lead = make_lead(admin)
        deal = make_deal(admin)
    response = client_for(admin).get(f"/{tenant.slug}/deals/{deal.pk}/")
    assert {e.target_id for e in response.context["events"]} == {deal.pk}
    assert other_lead.pk  # its events stay on its own card
    assert 'data-testid="carried"' not in response.content.decode()


def test_other_tenants_leads_never_join_a_timeline(tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        foreign = make_lead(other_admin)
    with tenant_context(tenant):
        lead = make_lead(admin)
        result = lead_convert(actor=admin, lead=lead, deal={})
        from deals.selectors import deal_timeline

        events = list(deal_timeline(result.deal))
    assert all(e.tenant_id == tenant.pk for e in events)
    assert foreign.pk not in {e.target_id for e in events if e.kind.startswith("lead.")}


@pytest.mark.parametrize("kind", ["deal", "contact"])
def test_cards_with_a_long_carried_history_run_a_constant_number_of_queries(
    client_for, tenant, admin, manager, kind
):
    def converted(edits: int):
        with tenant_context(tenant):
            lead = make_lead(admin)
            for i in range(edits):
                lead_update(actor=admin, lead=lead, data={"name": f"Имя {i}"})
                lead_assign(actor=admin, lead=lead, owner=(manager, admin)[i % 2])
            result = lead_convert(
                actor=admin, lead=lead, contact=Target(data={"last_name": "Ф"}), deal={}
            )
            record = result.deal if kind == "deal" else result.contact
            if kind == "deal":
                for i in range(edits):
                    deal_update(actor=admin, deal=record, data={"amount": Decimal(i + 1)})
            else:
                for i in range(edits):
                    record_update(actor=admin, record=record, data={"position": f"P{i}"})
        path = "deals" if kind == "deal" else "contacts"
        return f"/{tenant.slug}/{path}/{record.pk}/"

    client = client_for(admin)
    small, large = converted(1), converted(12)
    client.get(small)
    with CaptureQueriesContext(connection) as few:
        assert client.get(small).status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = client.get(large)
    assert len(response.context["events"]) > 30
    assert len(many.captured_queries) == len(few.captured_queries)
