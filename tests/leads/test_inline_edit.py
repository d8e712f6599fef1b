"""Inline editing of a lead card's fields: the input in place, Enter saves through the
same service as the full form (history recorded), errors and refusals in place."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.models import CustomField, TimelineEvent
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.leads.factories import make_lead

HX = {"HX-Request": "true"}


def _url(tenant, lead, name: str) -> str:
    return f"/{tenant.slug}/leads/{lead.pk}/field/{name}/"


def test_a_click_gives_the_input_and_enter_saves_it_with_its_history(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, name="Анна", phone="+7 999 111-22-33")
    client = client_for(admin, language="en")
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert f'hx-get="{_url(tenant, lead, "name")}"' in card
    assert 'data-testid="inline-phone"' in card

    editor = client.get(_url(tenant, lead, "name"), headers=HX)
    assert editor.status_code == 200
    html = editor.content.decode()
    assert "<html" not in html
    assert 'value="Анна"' in html
    assert "autofocus" in html

    saved = client.post(_url(tenant, lead, "name"), {"name": "Анна Петрова"}, headers=HX)
    assert saved.status_code == 200
    assert 'id="lead-card"' in saved.content.decode()
    assert "Анна Петрова" in saved.content.decode()
    with tenant_context(tenant):
        lead.refresh_from_db()
        event = TimelineEvent.objects.filter(kind="lead.changed").first()
    assert lead.name == "Анна Петрова"
    assert lead.phone == "+7 999 111-22-33"  # the other fields stay as they were
    assert event.data["changes"] == {"name": ["Анна", "Анна Петрова"]}


def test_cancel_shows_the_value_again(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, name="Анна")
    response = client_for(admin).get(_url(tenant, lead, "name") + "?cancel=1", headers=HX)
    assert response.status_code == 200
    assert 'id="lead-details"' in response.content.decode()


def test_amount_owner_temperature_and_custom_fields_save_in_place(
    client_for, tenant, admin, manager
):
    with tenant_context(tenant):
        CustomField.objects.create(entity="lead", key="budget", label="Бюджет", field_type="number")
        CustomField.objects.create(entity="lead", key="city", label="Город", field_type="text")
        lead = make_lead(admin, custom={"city": "Казань"})
    client = client_for(admin)
    for name, value in (
        ("amount", "1500.50"),
        ("owner", str(manager.pk)),
        ("temperature", "hot"),
        ("cf_budget", "250000"),
    ):
        response = client.post(_url(tenant, lead, name), {name: value}, headers=HX)
        assert response.status_code == 200, (name, response.content.decode()[:500])
    with tenant_context(tenant):
        lead.refresh_from_db()
        kinds = list(TimelineEvent.objects.filter(target_id=lead.pk).values_list("kind", flat=True))
    assert lead.amount == Decimal("1500.50")
    assert lead.owner_id == manager.pk
    assert lead.temperature == "hot"
    assert lead.custom == {"city": "Казань", "budget": 250000}  # the other custom field stays
    assert "lead.assigned" in kinds


def test_a_wrong_value_is_shown_in_place_and_nothing_is_written(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, phone="", email="anna@example.com")
        before = TimelineEvent.objects.count()
    client = client_for(admin, language="en")
    for name, value in (("email", "not an e-mail"), ("email", ""), ("amount", "много")):
        response = client.post(_url(tenant, lead, name), {name: value}, headers=HX)
        assert response.status_code == 400, name
        assert response["HX-Retarget"] == f"#inline-{name}"
        html = response.content.decode()
        assert 'data-testid="inline-error"' in html
        assert 'id="lead-card"' not in html
    assert (
        "Give at least one way to reach the person"
        in client.post(_url(tenant, lead, "email"), {"email": ""}, headers=HX).content.decode()
    )
    with tenant_context(tenant):
        lead.refresh_from_db()
        assert TimelineEvent.objects.count() == before
    assert lead.email == "anna@example.com"


def test_the_amount_of_a_lead_with_products_is_not_editable_in_place(client_for, tenant, admin):
    from crm.lineitems import ProductLine
    from leads.services import lead_update

    with tenant_context(tenant):
        lead = make_lead(admin)
        lead_update(
            actor=admin,
            lead=lead,
            data={},
            products=[ProductLine(name="CRM", quantity=Decimal(1), price=Decimal(100))],
        )
    client = client_for(admin)
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="inline-amount"' not in card
    response = client.post(_url(tenant, lead, "amount"), {"amount": "5"}, headers=HX)
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#toasts"  # the refusal, in the page's message area


def test_a_role_without_edit_gets_no_clickable_values_and_a_refusal_in_place(
    client_for, tenant, admin, marketer
):
    viewer = marketer  # views every lead, edits none
    with tenant_context(tenant):
        lead = make_lead(admin, name="Анна")
    client = client_for(viewer)
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/")
    assert card.status_code == 200
    assert 'data-testid="inline-name"' not in card.content.decode()
    for method in (client.get, client.post):
        response = method(_url(tenant, lead, "name"), {"name": "X"}, headers=HX)
        assert response.status_code == 403
        assert response["HX-Retarget"] == "#toasts"
        assert 'data-testid="refusal"' in response.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).name == "Анна"


def test_a_converted_lead_is_not_editable_in_place(client_for, tenant, admin):
    from leads.conversion import lead_convert

    with tenant_context(tenant):
        lead = make_lead(admin, name="Анна")
        lead_convert(actor=admin, lead=lead, deal={})
    response = client_for(admin).post(_url(tenant, lead, "name"), {"name": "X"}, headers=HX)
    assert response.status_code == 403


def test_another_tenants_lead_and_unknown_fields_are_404(
    client_for, tenant, other_tenant, admin, other_admin
):
    with tenant_context(other_tenant):
        foreign = make_lead(other_admin)
    with tenant_context(tenant):
        lead = make_lead(admin)
    client = client_for(admin)
    assert client.get(_url(tenant, foreign, "name"), headers=HX).status_code == 404
    assert client.post(_url(tenant, foreign, "name"), {"name": "X"}).status_code == 404
    for name in ("state", "source", "cf_nope", "message"):
        assert client.get(_url(tenant, lead, name), headers=HX).status_code == 404, name
    with tenant_context(other_tenant):
        assert Lead.objects.get(pk=foreign.pk).name != "X"


def test_without_htmx_a_save_goes_back_to_the_card(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, name="Анна")
    response = client_for(admin).post(_url(tenant, lead, "name"), {"name": "Ольга"})
    assert response.status_code == 302
    assert response["Location"] == f"/{tenant.slug}/leads/{lead.pk}/"


@pytest.mark.parametrize("method", ["put", "delete"])
def test_other_methods_are_refused(client_for, tenant, admin, method):
    with tenant_context(tenant):
        lead = make_lead(admin)
    assert getattr(client_for(admin), method)(_url(tenant, lead, "name")).status_code == 405
