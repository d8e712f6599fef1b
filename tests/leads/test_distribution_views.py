"""Distribution and speed through HTTP: the rules' settings pages, the away toggle, the
response time settings, and the response time on the lead card."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.models import CustomField, Membership, Tenant, TimelineEvent
from crm.tenancy import tenant_context
from leads.distribution import rule_save
from leads.models import AssignmentRule, Lead
from tests.factories import add_member
from tests.leads.factories import make_lead


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/leads/settings/distribution/{path}"


def _rules(tenant: Tenant) -> list[tuple[str, bool]]:
    with tenant_context(tenant):
        return [(r.name, r.enabled) for r in AssignmentRule.objects.order_by("position", "pk")]


def _make_rule(tenant: Tenant, actor: Membership, name: str, member: Membership):
    with tenant_context(tenant):
        return rule_save(
            actor=actor,
            rule=None,
            data={"name": name, "strategy": "round_robin", "members": [member.pk]},
        )


def test_admin_creates_a_rule_with_conditions(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        CustomField.objects.create(
            entity="lead", key="product", label="Продукт", field_type="choice", choices=["A", "B"]
        )
    client = client_for(admin)
    page = client.get(url("new/"))
    assert page.status_code == 200
    assert b'data-testid="rule-form"' in page.content
    response = client.post(
        url("new/"),
        {
            "name": "Москва, Telegram",
            "sources": ["telegram", "whatsapp"],
            "channel_ids": "3, 7,3",
            "utm_source": "yandex",
            "regions": "Моск\n\n Санкт ",
            "custom_field": "product",
            "custom_value": "B",
            "strategy": "least_loaded",
            "members": [manager.pk, admin.pk],
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url("")
    with tenant_context(tenant):
        rule = AssignmentRule.objects.get()
    assert (rule.sources, rule.channel_ids, rule.regions) == (
        ["telegram", "whatsapp"],
        [3, 7],
        ["Моск", "Санкт"],
    )
    assert (rule.custom_field, rule.custom_value, rule.strategy) == ("product", "B", "least_loaded")
    assert rule.members == sorted([manager.pk, admin.pk])
    listing = client.get(url(""))
    assert listing.status_code == 200
    assert f'data-testid="rule-{rule.pk}"'.encode() in listing.content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"members": []}, "members"),
        ({"strategy": "fastest"}, "strategy"),
        ({"channel_ids": "3, telegram"}, "channel_ids"),
        ({"sources": ["pigeon"]}, "sources"),
        ({"custom_field": "product", "custom_value": ""}, "custom_value"),
        ({"custom_field": "product", "custom_value": "C"}, "custom_value"),
        ({"custom_field": "", "custom_value": "B"}, "custom_field"),
        ({"custom_field": "budget", "custom_value": "много"}, "custom_value"),
    ],
)
def test_bad_input_shows_field_errors_and_saves_nothing(
    client_for, tenant, admin, manager, url, body, field
):
    with tenant_context(tenant):
        CustomField.objects.create(
            entity="lead", key="product", label="Продукт", field_type="choice", choices=["A", "B"]
        )
        CustomField.objects.create(entity="lead", key="budget", label="Бюджет", field_type="number")
    data = {"name": "R", "strategy": "random", "members": [manager.pk], **body}
    response = client_for(admin).post(url("new/"), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert _rules(tenant) == []


def test_a_duplicate_name_is_a_form_error(client_for, tenant, admin, manager, url):
    _make_rule(tenant, admin, "Сайт", manager)
    data = {"name": "САЙТ", "strategy": "random", "members": [manager.pk]}
    response = client_for(admin).post(url("new/"), data)
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()


def test_edit_reorder_toggle_and_delete(client_for, tenant, admin, manager, url):
    first = _make_rule(tenant, admin, "Первое", manager)
    second = _make_rule(tenant, admin, "Второе", manager)
    client = client_for(admin)
    assert client.get(url(f"{first.pk}/")).status_code == 200
    response = client.post(
        url(f"{first.pk}/"), {"name": "Первое+", "strategy": "random", "members": [admin.pk]}
    )
    assert response.status_code == 302
    assert client.post(url(f"{second.pk}/move/"), {"up": "1"}).status_code == 302
    assert _rules(tenant) == [("Второе", True), ("Первое+", True)]
    assert client.post(url(f"{second.pk}/move/"), {"up": "0"}).status_code == 302
    assert client.post(url(f"{first.pk}/toggle/"), {"enabled": "0"}).status_code == 302
    assert _rules(tenant) == [("Первое+", False), ("Второе", True)]
    assert client.post(url(f"{first.pk}/toggle/"), {"enabled": "1"}).status_code == 302
    assert client.post(url(f"{second.pk}/delete/")).status_code == 302
    assert _rules(tenant) == [("Первое+", True)]
    with tenant_context(tenant):
        assert AssignmentRule.objects.get().members == [admin.pk]


def test_actions_need_post(client_for, tenant, admin, manager, url):
    rule = _make_rule(tenant, admin, "R", manager)
    client = client_for(admin)
    for action in ("move/", "toggle/", "delete/"):
        assert client.get(url(f"{rule.pk}/{action}")).status_code == 405
    assert client.post(url("")).status_code == 405
    assert client.get(f"/{tenant.slug}/me/availability/").status_code == 405


@pytest.mark.parametrize("kind", ["director", "manager", "marketer"])
def test_other_roles_get_403_and_change_nothing(client_for, tenant, admin, manager, url, kind):
    rule = _make_rule(tenant, admin, "R", manager)
    client = client_for(add_member(tenant, kind))
    assert client.get(url("")).status_code == 403
    assert client.get(url(f"{rule.pk}/")).status_code == 403
    data = {"name": "X", "strategy": "random", "members": [manager.pk]}
    assert client.post(url("new/"), data).status_code == 403
    assert client.post(url(f"{rule.pk}/toggle/"), {"enabled": "0"}).status_code == 403
    assert client.post(url(f"{rule.pk}/delete/")).status_code == 403
    assert _rules(tenant) == [("R", True)]


def test_another_tenants_rule_is_404(client_for, tenant, other_tenant, admin, other_admin, url):
    theirs = _make_rule(other_tenant, other_admin, "Чужое", other_admin)
    client = client_for(admin)
    assert client.get(url(f"{theirs.pk}/")).status_code == 404
    for action in ("move/", "toggle/", "delete/"):
        assert client.post(url(f"{theirs.pk}/{action}")).status_code == 404
    assert _rules(other_tenant) == [("Чужое", True)]
    assert b"\xd0\xa7\xd1\x83\xd0\xb6\xd0\xbe\xd0\xb5" not in client.get(url("")).content


def test_the_settings_menu_links_the_rules(client_for, tenant, admin):
    page = client_for(admin).get(f"/{tenant.slug}/leads/settings/statuses/")
    assert b'data-testid="settings-rules"' in page.content


# --- Availability -------------------------------------------------------------------------


def test_a_member_marks_themselves_away_and_back(client_for, tenant, manager):
    client = client_for(manager)
    home = client.get(f"/{tenant.slug}/")
    assert b'data-testid="availability"' in home.content
    assert b'data-testid="away-badge"' not in home.content
    response = client.post(
        f"/{tenant.slug}/me/availability/", {"away": "1", "next": f"/{tenant.slug}/leads/"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/{tenant.slug}/leads/"
    with tenant_context(tenant):
        assert Membership.objects.get(pk=manager.pk).is_away
    assert b'data-testid="away-badge"' in client.get(f"/{tenant.slug}/").content
    back = client.post(
        f"/{tenant.slug}/me/availability/", {"away": "0", "next": "https://evil.example/"}
    )
    assert back["Location"] == f"/{tenant.slug}/"
    with tenant_context(tenant):
        assert not Membership.objects.get(pk=manager.pk).is_away
        kinds = list(
            TimelineEvent.objects.filter(target_id=manager.pk, kind__startswith="member.")
            .order_by("pk")
            .values_list("kind", flat=True)
        )
    assert kinds[-2:] == ["member.away", "member.back"]


def test_the_away_toggle_needs_the_csrf_token(tenant, manager):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(manager.user)
    assert client.post(f"/{tenant.slug}/me/availability/", {"away": "1"}).status_code == 403
    with tenant_context(tenant):
        assert not Membership.objects.get(pk=manager.pk).is_away


def test_an_outsider_cannot_toggle_anyones_availability(client_for, tenant, other_admin):
    response = client_for(other_admin).post(f"/{tenant.slug}/me/availability/", {"away": "1"})
    assert response.status_code == 404


# --- Response time settings and the card --------------------------------------------------


GENERAL = {
    "name": "Acme",
    "mode": "classic",
    "language": "ru",
    "default_region": "RU",
    "time_zone": "Europe/Moscow",
    "currency": "RUB",
}


def test_general_settings_hold_the_response_time_limit(client_for, tenant, admin):
    client = client_for(admin)
    page = client.get(f"/{tenant.slug}/settings/general/")
    assert b'name="response_sla_minutes"' in page.content
    assert b'name="sla_reassign"' in page.content
    data = {**GENERAL, "response_sla_minutes": "30", "sla_reassign": "on"}
    assert client.post(f"/{tenant.slug}/settings/general/", data).status_code == 302
    tenant.refresh_from_db()
    assert (tenant.response_sla_minutes, tenant.sla_reassign) == (30, True)
    # Left empty, the limit stays; the checkbox unticked turns re-assignment off.
    assert client.post(f"/{tenant.slug}/settings/general/", GENERAL).status_code == 302
    tenant.refresh_from_db()
    assert (tenant.response_sla_minutes, tenant.sla_reassign) == (30, False)
    bad = client.post(
        f"/{tenant.slug}/settings/general/", {**GENERAL, "response_sla_minutes": "-5"}
    )
    assert bad.status_code == 400
    assert "response_sla_minutes" in bad.context["form"].errors
    tenant.refresh_from_db()
    assert tenant.response_sla_minutes == 30


def test_the_card_shows_the_response_time(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
        created = lead.created_at
        Lead.objects.filter(pk=lead.pk).update(first_response_at=created + timedelta(minutes=12))
        waiting = make_lead(admin, owner=admin)
        Lead.objects.filter(pk=waiting.pk).update(escalated_at=created)
    client = client_for(admin)
    answered = client.get(f"/{tenant.slug}/leads/{lead.pk}/")
    assert b'data-testid="response-time"' in answered.content
    assert "12\xa0минут" in answered.content.decode()  # Django's own timesince words
    late = client.get(f"/{tenant.slug}/leads/{waiting.pk}/")
    assert b'data-testid="escalated"' in late.content
    assert b'data-testid="response-time"' not in late.content
