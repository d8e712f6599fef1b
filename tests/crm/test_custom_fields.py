"""Custom fields: defined by admins, on lead forms and cards, validated by type, filterable."""

from __future__ import annotations

import pytest

from crm.models import CustomField
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.leads.factories import make_lead


@pytest.fixture
def fields(client_for, tenant, admin):
    client = client_for(admin)
    specs = [
        {
            "entity": "lead",
            "label": "Город",
            "key": "city",
            "field_type": "text",
            "required": "on",
            "position": 1,
        },
        {
            "entity": "lead",
            "label": "Бюджет",
            "key": "budget",
            "field_type": "number",
            "position": 2,
        },
        {
            "entity": "lead",
            "label": "Дата события",
            "key": "event",
            "field_type": "date",
            "position": 3,
        },
        {
            "entity": "lead",
            "label": "Тариф",
            "key": "plan",
            "field_type": "choice",
            "choices": "Старт\nБизнес",
        },
        {
            "entity": "lead",
            "label": "Интересы",
            "key": "topics",
            "field_type": "multi_choice",
            "choices": "CRM\nТелефония\nАналитика",
        },
        {"entity": "lead", "label": "Партнёр", "key": "partner", "field_type": "bool"},
        {"entity": "lead", "label": "Куратор", "key": "curator", "field_type": "user"},
    ]
    for spec in specs:
        assert client.post(f"/{tenant.slug}/settings/fields/", spec).status_code == 302, spec
    with tenant_context(tenant):
        return {f.key: f for f in CustomField.objects.all()}


def _lead_post(extra):
    return {
        "title": "С полями",
        "phone": "+7 900 555 44 33",
        "source": "manual",
        "currency": "RUB",
        **extra,
    }


def test_lead_form_saves_typed_values_and_the_card_shows_them(
    client_for, tenant, admin, manager, fields
):
    client = client_for(admin)
    response = client.post(
        f"/{tenant.slug}/leads/new/",
        _lead_post(
            {
                "cf_city": "Казань",
                "cf_budget": "150000.50",
                "cf_event": "2026-12-01",
                "cf_plan": "Бизнес",
                "cf_topics": ["CRM", "Аналитика"],
                "cf_partner": "on",
                "cf_curator": manager.pk,
            }
        ),
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        lead = Lead.objects.get()
    assert lead.custom == {
        "city": "Казань",
        "budget": 150000.5,
        "event": "2026-12-01",
        "plan": "Бизнес",
        "topics": ["CRM", "Аналитика"],
        "partner": True,
        "curator": manager.pk,
    }
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    for text in ("Казань", "150000.5", "CRM, Аналитика", str(manager.user)):
        assert text in card


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cf_city", ""),
        ("cf_budget", "много"),
        ("cf_event", "32.13.2026"),
        ("cf_plan", "Премиум"),
        ("cf_topics", ["Кофе"]),
        ("cf_curator", "999999"),
    ],
)
def test_values_are_validated_by_type(client_for, tenant, admin, fields, field, value):
    payload = _lead_post({"cf_city": "Казань", field: value})
    response = client_for(admin).post(f"/{tenant.slug}/leads/new/", payload)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    with tenant_context(tenant):
        assert not Lead.objects.exists()


def test_lists_filter_by_custom_fields(client_for, tenant, admin, fields):
    with tenant_context(tenant):
        make_lead(
            admin,
            title="Казань",
            custom={"city": "Казань", "plan": "Бизнес", "topics": ["CRM"], "partner": True},
        )
        make_lead(
            admin, title="Омск", custom={"city": "Омск", "plan": "Старт", "topics": ["Телефония"]}
        )
    client = client_for(admin)

    def titles(params):
        return [
            lead.title for lead in client.get(f"/{tenant.slug}/leads/", params).context["page"].rows
        ]

    assert titles({"cf_city": "казан"}) == ["Казань"]
    assert titles({"cf_plan": "Старт"}) == ["Омск"]
    assert titles({"cf_topics": "CRM"}) == ["Казань"]
    assert titles({"cf_partner": "true"}) == ["Казань"]


def test_key_and_type_are_fixed_and_keys_unique(client_for, tenant, admin, fields):
    client = client_for(admin)
    duplicate = client.post(
        f"/{tenant.slug}/settings/fields/",
        {"entity": "lead", "label": "Ещё город", "key": "city", "field_type": "text"},
    )
    assert duplicate.status_code == 400
    no_choices = client.post(
        f"/{tenant.slug}/settings/fields/",
        {"entity": "lead", "label": "Пусто", "key": "empty", "field_type": "choice"},
    )
    assert no_choices.status_code == 400
    city = fields["city"]
    client.post(
        f"/{tenant.slug}/settings/fields/{city.pk}/",
        {"label": "Город клиента", "key": "town", "field_type": "number", "entity": "deal"},
    )
    with tenant_context(tenant):
        city.refresh_from_db()
        assert (city.label, city.key, city.field_type, city.entity) == (
            "Город клиента",
            "city",
            "text",
            "lead",
        )


def test_only_settings_holders_define_fields(client_for, tenant, manager):
    response = client_for(manager).post(
        f"/{tenant.slug}/settings/fields/",
        {"entity": "lead", "label": "X", "key": "x", "field_type": "text"},
    )
    assert response.status_code == 403
    with tenant_context(tenant):
        assert not CustomField.objects.exists()


def test_fields_stay_inside_their_tenant(client_for, tenant, other_tenant, other_admin, fields):
    page = client_for(other_admin).get(f"/{other_tenant.slug}/leads/new/").content.decode()
    assert "cf_city" not in page
