"""The top-bar search: every kind found, phones by their last digits, rights, tenants, bad
input, and a constant number of queries."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import MatchKey
from contacts.normalize import phone_tail
from crm.models import Role
from crm.tenancy import tenant_context
from leads.models import Lead
from search.selectors import parse
from tests.contacts.factories import make_company, make_contact
from tests.deals.factories import make_deal
from tests.factories import TeamFactory, add_member
from tests.leads.factories import make_lead


def _url(tenant) -> str:
    return f"/{tenant.slug}/search/"


def _found(client, tenant, q: str, **params) -> dict[str, list[str]]:
    """{kind: [titles]} of the full results page."""
    response = client.get(_url(tenant), {"q": q, **params})
    assert response.status_code == 200
    return {
        group.kind: [hit.title for hit in group.hits]
        for group in response.context["results"].groups
    }


def _dropdown(client, tenant, q: str):
    return client.get(_url(tenant), {"q": q, "fragment": "dropdown"}, HTTP_HX_REQUEST="true")


# --- Reading the query --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "digits"),
    [
        ("4567", "digits", "4567"),
        ("…45-67", "digits", "4567"),  # as a caller's number is written down
        ("45-67", "digits", "4567"),
        ("8 (967) 123-45-67", "digits", "89671234567"),
        ("+7 967 123 45 67", "digits", "79671234567"),
        ("123", "", ""),
        ("ivan@example.com", "email", ""),
        ("Соколов", "words", ""),
        ("ООО «Ромашка» 2", "words", ""),
        ("!!! ... ---", "", ""),
        ("   ", "", ""),
        ("\u200b\u200e\ufeff", "", ""),
        ("'; DROP TABLE leads_lead; --", "words", ""),
        ("а", "", ""),
    ],
)
def test_a_query_is_read_as_email_digits_or_words(raw, kind, digits):
    query = parse(raw)
    assert (query.kind, query.digits) == (kind, digits)


def test_the_last_digits_are_a_prefix_of_the_tail():
    assert parse("45-67").tail_range == ("7654", "7655")
    # A whole number compares its last ten digits: 8 and +7 alike.
    assert parse("8 (967) 123-45-67").tail_range == parse("+7 967 1234567").tail_range
    assert phone_tail("+79671234567") == "76543217697"


# --- Each kind found ----------------------------------------------------------------------


@pytest.fixture
def world(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(
            admin,
            title="Заявка с сайта",
            name="Иван Соколов",
            company_name="Ромашка",
            phone="8 (967) 123-45-67",
            email="Ivan@Example.com",
        )
        make_lead(admin, title="Другая заявка", name="Пётр Петров", phone="+7 916 000-11-22")
        company = make_company(
            admin, name="ООО «Ромашка»", tax_id="7707083893", phones=["+7 495 111-45-67"]
        )
        contact = make_contact(
            admin,
            last_name="Соколова",
            first_name="Анна",
            phones=["+7 903 765-45-67"],
            emails=["anna@example.com"],
            company=company,
        )
        deal = make_deal(admin, data={"title": "Поставка труб", "contact": contact})
    return {"lead": lead, "company": company, "contact": contact, "deal": deal}


def test_the_last_four_digits_find_every_kind_with_that_phone_ending(
    client_for, tenant, admin, world
):
    found = _found(client_for(admin), tenant, "45-67")
    assert found == {
        "lead": ["Заявка с сайта"],
        "deal": ["Поставка труб"],  # through its contact's phone
        "contact": ["Соколова Анна"],
        "company": ["ООО «Ромашка»"],
    }
    # More digits narrow it; the whole number in any format finds the lead.
    assert _found(client_for(admin), tenant, "123-45-67") == {"lead": ["Заявка с сайта"]}
    for typed in ("+7 967 123 45 67", "89671234567", "8 (967) 123-45-67", " 9671234567 "):
        assert _found(client_for(admin), tenant, typed) == {"lead": ["Заявка с сайта"]}


def test_names_company_email_and_inn_find_their_records(client_for, tenant, admin, world):
    client = client_for(admin)
    assert _found(client, tenant, "соколов") == {
        "lead": ["Заявка с сайта"],
        "deal": ["Поставка труб"],  # its contact is Соколова
        "contact": ["Соколова Анна"],
    }
    assert _found(client, tenant, "ромашка") == {
        "lead": ["Заявка с сайта"],
        "company": ["ООО «Ромашка»"],
    }
    # A word inside a deal's title is the deal list's search (a scan): the page links to it.
    assert _found(client, tenant, "поставка") == {}
    page = client.get(_url(tenant), {"q": "поставка"}).content.decode()
    assert f'href="/{tenant.slug}/deals/?q={quote("поставка")}"' in page
    assert _found(client, tenant, "IVAN@example.COM") == {"lead": ["Заявка с сайта"]}
    assert _found(client, tenant, "anna@example.com") == {
        "deal": ["Поставка труб"],
        "contact": ["Соколова Анна"],
    }
    assert _found(client, tenant, "7707083893") == {"company": ["ООО «Ромашка»"]}
    assert _found(client, tenant, "Фирсихин") == {}


def test_the_dropdown_links_each_result_to_its_card(client_for, tenant, admin, world):
    response = _dropdown(client_for(admin), tenant, "4567")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    for kind, path in (
        ("lead", "leads"),
        ("deal", "deals"),
        ("contact", "contacts"),
        ("company", "companies"),
    ):
        assert f'href="/{tenant.slug}/{path}/{world[kind].pk}/"' in html
    assert f"/{tenant.slug}/search/?q=4567" in html


def test_the_box_is_in_the_top_bar_of_every_page(client_for, tenant, admin):
    html = client_for(admin).get(f"/{tenant.slug}/leads/inbox/").content.decode()
    assert 'id="top-search"' in html
    assert "js/search.js" in html


def test_phone_tail_is_kept_by_the_database_on_every_write(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Звонок", phone="8 999 765-43-21")
        assert Lead.objects.get(pk=lead.pk).phone_tail == "12345679997+"
        Lead.objects.filter(pk=lead.pk).update(phone_e164="+79990000001")
        assert Lead.objects.get(pk=lead.pk).phone_tail == "10000009997+"
        contact = make_contact(admin, phones=["8 916 222-33-44"])
        assert set(
            contact.keys.filter(kind=MatchKey.Kind.PHONE_TAIL).values_list("value", flat=True)
        ) == {"44332226197"}


# --- Rights and tenants -------------------------------------------------------------------


def test_a_manager_with_own_scope_finds_only_own_and_unassigned_leads(client_for, tenant, admin):
    with tenant_context(tenant):
        team = TeamFactory(tenant=tenant, name="Продажи")
    me = add_member(tenant, Role.Kind.MANAGER, team=team)
    colleague = add_member(tenant, Role.Kind.MANAGER, team=team)
    with tenant_context(tenant):
        make_lead(admin, owner=me, title="Мой", phone="+7 999 100-45-67")
        theirs = make_lead(admin, owner=colleague, title="Коллеги", phone="+7 999 200-45-67")
        make_lead(admin, owner=None, title="Ничей", phone="+7 999 300-45-67")
        make_lead(admin, owner=colleague, title="Соколов коллеги", phone="+7 999 400-00-01")
        make_deal(admin, owner=colleague, data={"title": "Сделка коллеги 4567"})
    client = client_for(me)
    assert _found(client, tenant, "4567") == {"lead": ["Ничей", "Мой"]}
    assert _found(client, tenant, "соколов") == {}
    assert _found(client, tenant, "сделка") == {}
    html = _dropdown(client, tenant, "4567").content.decode()
    assert "Коллеги" not in html
    # Their cards stay closed too (404, the same as a missing one).
    assert client.get(f"/{tenant.slug}/leads/{theirs.pk}/").status_code == 404


def test_a_kind_the_role_may_not_view_is_not_searched(client_for, tenant, admin, world):
    member = add_member(tenant, Role.Kind.MANAGER)
    with tenant_context(tenant):
        role = member.role
        role.rights = {
            **role.rights,
            "deal": {**role.rights["deal"], "view": "none"},
            "company": {**role.rights["company"], "view": "none"},
        }
        role.save()
    found = _found(client_for(member), tenant, "45-67")
    assert found == {"contact": ["Соколова Анна"]}  # the leads are the admin's own
    html = _dropdown(client_for(member), tenant, "45-67").content.decode()
    assert 'data-testid="search-group-deal"' not in html
    assert 'data-testid="search-group-company"' not in html


def test_another_tenants_records_never_appear(client_for, tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        make_lead(other_admin, title="Чужой Соколов", phone="+7 967 999-45-67", email="x@globex.ru")
        make_contact(other_admin, last_name="Соколов", phones=["+7 903 111-45-67"])
        make_company(other_admin, name="Соколиный глаз", tax_id="7707083893")
    client = client_for(admin)
    for q in ("4567", "соколов", "x@globex.ru", "7707083893", "сокол"):
        assert _found(client, tenant, q) == {}, q
    # A member of this tenant cannot search the other one at all.
    assert client.get(_url(other_tenant), {"q": "4567"}).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(client, tenant):
    response = client.get(_url(tenant), {"q": "4567"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "x" * 10_000,
        "4" * 5_000,
        "!!!???...",
        "' OR 1=1 --",
        "%_%\\",
        "\u200b\u200b\u200b",
        "\u202eсоколов\u202c",
        "\x00\x01соколов",
        "@",
        "@@@",
        "a@",
        "((((((((",
        "8 (",
        "1234567890123456789012345678901234567890",
    ],
)
def test_bad_input_never_fails(client_for, tenant, admin, world, q):
    client = client_for(admin)
    assert client.get(_url(tenant), {"q": q}).status_code == 200
    assert _dropdown(client, tenant, q).status_code == 200


@pytest.mark.parametrize(
    "raw", ["q=%ED%A0%80", "q=%FF%FE", "q=%00", "q=1&q=2", "q[]=x", "fragment=dropdown"]
)
def test_broken_query_strings_never_fail(client_for, tenant, admin, raw):
    response = client_for(admin).get(f"{_url(tenant)}?{raw}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200


def test_invisible_characters_are_ignored(client_for, tenant, admin, world):
    assert _found(client_for(admin), tenant, "\u200b45\u200e-67\ufeff") == _found(
        client_for(admin), tenant, "4567"
    )


def test_an_empty_or_unreadable_query_explains_itself(client_for, tenant, admin):
    client = client_for(admin, "en")
    assert _dropdown(client, tenant, "").content.strip() == b""
    assert "the last 4 digits" in _dropdown(client, tenant, "!!").content.decode()
    assert client.get(_url(tenant)).status_code == 200
    page = client.get(_url(tenant), {"q": "..."}).content.decode()
    assert 'data-testid="search-hint"' in page


def test_only_get(client_for, tenant, admin):
    assert client_for(admin).post(_url(tenant), {"q": "4567"}).status_code == 405


# --- Queries ------------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["4567", "соколов", "ivan@example.com"])
@pytest.mark.parametrize("role", ["admin", "manager"])
def test_a_constant_number_of_queries_whatever_the_results(
    client_for, tenant, admin, manager, q, role, django_assert_num_queries
):
    member = admin if role == "admin" else manager
    client = client_for(member)

    def add(n: int, start: int) -> None:
        with tenant_context(tenant):
            for i in range(start, start + n):
                make_lead(
                    admin,
                    owner=None,
                    title=f"Соколов {i}",
                    phone=f"+7 999 {i:03d}-45-67",
                    email="ivan@example.com",
                )
                contact = make_contact(
                    admin,
                    last_name=f"Соколов{i}",
                    phones=[f"+7 916 {i:03d}-45-67"],
                    emails=["ivan@example.com"],
                )
                make_company(
                    admin,
                    name=f"Соколов и сыновья {i}",
                    phones=[f"+7 495 {i:03d}-45-67"],
                    emails=["ivan@example.com"],
                )
                make_deal(admin, owner=None, data={"title": f"Соколов {i}", "contact": contact})

    add(1, 100)
    client.get(_url(tenant), {"q": q})
    with CaptureQueriesContext(connection) as one:
        client.get(_url(tenant), {"q": q})
    add(24, 200)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(_url(tenant), {"q": q})
    groups = {group.kind: len(group.hits) for group in response.context["results"].groups}
    assert groups["lead"] == 20
    assert all(group.more for group in response.context["results"].groups if group.kind == "lead")
