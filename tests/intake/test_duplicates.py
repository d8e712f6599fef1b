"""Duplicates at creation: the new-lead and quick-lead forms show what the workspace has
for a typed phone or e-mail (htmx), within the member's rights, and the choice is explicit:
add to that lead, or create a new lead anyway. A lead made by hand is its creator's."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.access import validate_rights
from crm.models import Role, TimelineEvent
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.deals.factories import make_contact, make_deal
from tests.factories import add_member
from tests.leads.factories import make_lead

FORM = {"source": "manual", "currency": "RUB", "name": "Анна"}


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/leads/{path}"


def _lookup(client, url, **params):
    return client.get(url("new/duplicates/"), params, headers={"HX-Request": "true"})


def _inquiries(lead):
    return list(TimelineEvent.objects.filter(target_id=lead.pk, kind="lead.inquiry"))


def test_a_phone_in_another_format_shows_the_lead_contact_and_deal(
    client_for, tenant, manager, url
):
    with tenant_context(tenant):
        lead = make_lead(manager, phone="+7 916 300-00-01", title="Кухня Петровых")
        contact = make_contact(manager, last_name="Петров", phones=["8 916 300 00 01"])
        deal = make_deal(manager, data={"title": "Кухня", "contact": contact})
    response = _lookup(client_for(manager), url, phone="8 (916) 300-00-01", email="")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/{tenant.slug}/leads/{lead.pk}/"' in html
    assert f'name="attach_to" value="{lead.pk}"' in html
    assert f'href="/{tenant.slug}/contacts/{contact.pk}/"' in html
    assert f'href="/{tenant.slug}/deals/{deal.pk}/"' in html
    # The submit button comes along: "create anyway", never a plain Save.
    assert 'id="lead-submit" hx-swap-oob="true"' in html
    assert 'data-testid="create-anyway"' in html
    assert 'data-testid="create-lead"' not in html
    assert 'data-testid="hidden-matches"' not in html


def test_an_e_mail_matches_whatever_its_case_and_the_quick_form_field_works(
    client_for, tenant, manager, url
):
    with tenant_context(tenant):
        lead = make_lead(manager, email="olga@example.com")
    client = client_for(manager)
    for params in ({"email": " OLGA@Example.COM\u200b"}, {"contact": "Olga@example.com"}):
        html = _lookup(client, url, **params).content.decode()
        assert f'name="attach_to" value="{lead.pk}"' in html


def test_nothing_known_offers_the_plain_create_button(client_for, tenant, manager, url):
    html = _lookup(client_for(manager), url, phone="+7 916 300-00-99").content.decode()
    assert 'data-testid="duplicate-warning"' not in html
    assert 'data-testid="create-lead"' in html


def test_a_colleagues_records_are_counted_but_not_revealed(client_for, tenant, admin, manager, url):
    colleague = add_member(tenant, "manager")
    with tenant_context(tenant):
        hidden = make_lead(admin, owner=colleague, phone="+7 916 300-00-02", title="Секрет")
        make_deal(
            colleague,
            data={"title": "Чужая сделка", "contact": make_contact(colleague, phones=[])},
        )
    html = _lookup(client_for(manager, "en"), url, phone="89163000002").content.decode()
    assert "Секрет" not in html
    assert f"/leads/{hidden.pk}/" not in html
    assert 'name="attach_to"' not in html
    assert 'data-testid="hidden-matches"' in html
    assert "belongs to a colleague" in html
    assert 'data-testid="create-lead"' in html  # no open lead of theirs: create is plain
    # The admin sees it and may add to it.
    html = _lookup(client_for(admin), url, phone="89163000002").content.decode()
    assert f'name="attach_to" value="{hidden.pk}"' in html


def test_another_workspace_is_never_shown_nor_counted(
    client_for, tenant, other_tenant, manager, other_admin, url
):
    with tenant_context(other_tenant):
        make_lead(other_admin, phone="+7 916 300-00-03", title="Globex lead")
        make_contact(other_admin, phones=["+7 916 300-00-03"], last_name="Globex")
    html = _lookup(client_for(manager), url, phone="+7 916 300-00-03").content.decode()
    assert "Globex" not in html
    assert 'data-testid="duplicate-warning"' not in html


@pytest.mark.parametrize(
    "params",
    [
        {"phone": "8 916"},
        {"phone": "абв" * 500},
        {"phone": "\x00\u202e+7 916"},
        {"email": "@"},
        {"email": "ann@"},
        {"email": "x" * 5000},
        {"contact": ""},
        {},
        {"phone": ["1", "2"]},
    ],
)
def test_bad_input_finds_nothing_and_never_fails(client_for, tenant, manager, url, params):
    response = _lookup(client_for(manager), url, **params)
    assert response.status_code == 200
    assert 'data-testid="duplicate-warning"' not in response.content.decode()


def test_the_lookup_needs_the_right_to_create_leads(client_for, tenant, manager, url):
    with tenant_context(tenant):
        manager.role = Role.objects.create(
            name="Только смотреть", rights=validate_rights({"lead": {"view": "all"}})
        )
        manager.save(update_fields=["role"])
    response = _lookup(client_for(manager), url, phone="+7 916 300-00-04")
    assert response.status_code == 403


def test_the_lookup_runs_a_constant_number_of_queries(client_for, tenant, admin, url):
    client = client_for(admin)
    _lookup(client, url, phone="+7 916 300-00-05")  # warm up the session
    with tenant_context(tenant):
        make_lead(admin, phone="+7 916 300-00-05")
        make_contact(admin, phones=["+7 916 300-00-05"])
    with CaptureQueriesContext(connection) as few:
        _lookup(client, url, phone="+7 916 300-00-05")
    with tenant_context(tenant):
        for _ in range(8):
            make_lead(admin, phone="+7 916 300-00-05")
            contact = make_contact(admin, phones=["+7 916 300-00-05"])
            make_deal(admin, data={"contact": contact})
    with CaptureQueriesContext(connection) as many:
        response = _lookup(client, url, phone="+7 916 300-00-05")
    assert response.content.decode().count('data-testid="match-lead"') == 5
    assert len(many) == len(few)


# --- The explicit choice -------------------------------------------------------------------


def test_add_to_that_lead_attaches_the_inquiry_and_makes_no_lead(client_for, tenant, manager, url):
    with tenant_context(tenant):
        older = make_lead(manager, phone="+7 916 300-00-06", title="Старый")
        make_lead(manager, phone="+7 916 300-00-06", title="Новый")
    data = {**FORM, "phone": "89163000006", "message": "Перезвонить", "attach_to": older.pk}
    response = client_for(manager).post(url("new/"), data)
    assert response.status_code == 302
    assert response["Location"] == f"/{tenant.slug}/leads/{older.pk}/"
    with tenant_context(tenant):
        assert Lead.objects.count() == 2
        assert _inquiries(older)[0].data["message"] == "Перезвонить"


def test_adding_to_a_lead_one_may_not_see_or_of_another_workspace_is_refused(
    client_for, tenant, other_tenant, admin, manager, other_admin, url
):
    colleague = add_member(tenant, "manager")
    with tenant_context(tenant):
        hidden = make_lead(admin, owner=colleague, phone="+7 916 300-00-07")
    with tenant_context(other_tenant):
        foreign = make_lead(other_admin, phone="+7 916 300-00-07")
    client = client_for(manager, "en")
    for target in (hidden.pk, foreign.pk, "abc", ""):
        data = {**FORM, "phone": "89163000007", "attach_to": target}
        response = client.post(url("new/"), data)
        assert response.status_code == 400
        assert "That lead is closed now or does not match" in response.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
        assert _inquiries(hidden) == []
    with tenant_context(other_tenant):
        assert _inquiries(foreign) == []


def test_create_anyway_makes_a_new_lead_linked_as_a_repeat(client_for, tenant, manager, url):
    with tenant_context(tenant):
        first = make_lead(manager, phone="+7 916 300-00-08")
    response = client_for(manager).post(
        url("quick/"), {"name": "Анна", "contact": "89163000008", "create_anyway": "1"}
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        new = Lead.objects.exclude(pk=first.pk).get()
        assert new.is_repeat
        assert new.owner_id == manager.pk
        assert _inquiries(first) == []


def test_the_quick_lead_shows_the_matches_and_both_choices(client_for, tenant, manager, url):
    with tenant_context(tenant):
        lead = make_lead(manager, phone="+7 916 300-00-09")
    response = client_for(manager).post(url("quick/"), {"name": "Анна", "contact": "89163000009"})
    assert response.status_code == 409
    html = response.content.decode()
    assert f'name="attach_to" value="{lead.pk}"' in html
    assert 'data-testid="create-anyway"' in html
    with tenant_context(tenant):
        assert Lead.objects.count() == 1


# --- The owner of a lead made by hand ------------------------------------------------------


def test_the_form_offers_the_creator_as_owner(client_for, tenant, manager, url):
    colleague = add_member(tenant, "manager")
    response = client_for(manager).get(url("new/"))
    form = response.context["form"]
    assert form["owner"].value() == manager.pk
    # A manager may give leads only to themselves (or the shared inbox).
    with tenant_context(tenant):  # the database shows rows of the workspace only
        assert list(form.fields["owner"].queryset) == [manager]
        assert colleague not in form.fields["owner"].queryset


def test_a_lead_made_by_hand_is_its_creators_unless_they_choose(client_for, tenant, admin, url):
    other = add_member(tenant, "manager")
    client = client_for(admin)
    mine = client.post(url("new/"), {**FORM, "phone": "+7 916 300-00-10", "owner": admin.pk})
    theirs = client.post(url("new/"), {**FORM, "phone": "+7 916 300-00-11", "owner": other.pk})
    inbox = client.post(url("new/"), {**FORM, "phone": "+7 916 300-00-12", "owner": ""})
    assert {mine.status_code, theirs.status_code, inbox.status_code} == {302}
    with tenant_context(tenant):
        owners = dict(Lead.objects.values_list("phone_e164", "owner_id"))
    assert owners == {"+79163000010": admin.pk, "+79163000011": other.pk, "+79163000012": None}


def test_a_manager_cannot_give_a_new_lead_to_a_colleague(client_for, tenant, manager, url):
    colleague = add_member(tenant, "manager")
    response = client_for(manager).post(
        url("new/"), {**FORM, "phone": "+7 916 300-00-13", "owner": colleague.pk}
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Lead.objects.exists()
