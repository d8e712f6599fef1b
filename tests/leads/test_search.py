"""Name search: the beginnings of the words of title, name and company, from LeadWord."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.access import Action, Entity, owner_scope, scope_queryset
from crm.models import Membership
from crm.tenancy import tenant_context
from leads import selectors, services
from leads.models import Lead, LeadWord
from leads.words import WORDS_SQL, prefix_range, query_words, text_words
from tests.factories import TeamFactory, add_member
from tests.leads.factories import make_lead


@pytest.fixture
def url(tenant):
    return f"/{tenant.slug}/leads/"


def _found(client, url: str, query: str, **params) -> list[str]:
    response = client.get(url, {"q": query, **params})
    assert response.status_code == 200
    return [lead.title for lead in response.context["page"].rows]


def test_words_are_upper_case_without_yo_and_single_letters():
    assert text_words("Ёлкин-Соколов И.", "", "ООО «Сокол_1»") == {
        "ЕЛКИН",
        "СОКОЛОВ",
        "ООО",
        "СОКОЛ_1",
    }
    assert query_words("  сок   иван ") == ["ИВАН", "СОК"]
    assert prefix_range("СОКОЛ") == ("СОКОЛ", "СОКОМ")


def test_any_word_beginning_finds_the_lead_case_and_yo_aside(client_for, tenant, admin, url):
    with tenant_context(tenant):
        make_lead(admin, title="Заявка 1", name="Иван Соколов")
        make_lead(admin, title="Заявка 2", name="Анна Соколова")
        make_lead(admin, title="Заявка 3", name="Пётр Высоколов")
        make_lead(admin, title="Заявка 4", name="Фёдор Ёлкин")
    client = client_for(admin)
    assert _found(client, url, "сок") == ["Заявка 2", "Заявка 1"]
    assert _found(client, url, "СОКОЛОВА") == ["Заявка 2"]
    # Inside a word is not a beginning: "колов" does not find "Соколов".
    assert _found(client, url, "колов") == []
    assert _found(client, url, "петр") == ["Заявка 3"]
    assert _found(client, url, "елкин") == _found(client, url, "Ёлк") == ["Заявка 4"]
    assert _found(client, url, "заявка") == ["Заявка 4", "Заявка 3", "Заявка 2", "Заявка 1"]
    assert _found(client, url, "я") == []  # a single letter: no search


def test_every_query_word_must_begin_some_word_of_title_name_or_company(
    client_for, tenant, admin, url
):
    with tenant_context(tenant):
        make_lead(admin, title="Поставка труб", name="Иван Соколов", company_name="ООО «Ромашка»")
        make_lead(admin, title="Поставка кирпича", name="Иван Петров", company_name="Лютик")
        make_lead(admin, title="Монтаж", name="Пётр Соколов")
    client = client_for(admin)
    assert _found(client, url, "иван сок") == ["Поставка труб"]
    assert _found(client, url, "сок ив") == ["Поставка труб"]
    assert _found(client, url, "ромашка соколов") == ["Поставка труб"]
    assert _found(client, url, "поставка кирп") == ["Поставка кирпича"]
    assert _found(client, url, "лют") == ["Поставка кирпича"]
    assert _found(client, url, "иван монтаж") == []


def test_search_respects_the_other_filters(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        make_lead(admin, owner=None, title="Соколов свободный")
        make_lead(admin, owner=manager, title="Соколов занятый")
    client = client_for(admin)
    assert _found(client, url, "сок", owner="none") == ["Соколов свободный"]
    assert _found(client, url, "сок", owner=str(manager.pk)) == ["Соколов занятый"]


def test_words_follow_an_edit(client_for, tenant, admin, url):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Заявка", name="Иван Соколов")
        services.lead_update(actor=admin, lead=lead, data={"name": "Иван Петров"})
        services.lead_update(actor=admin, lead=lead, data={"message": "Перезвонить"})
        assert set(LeadWord.objects.filter(lead=lead).values_list("word", flat=True)) == {
            "ЗАЯВКА",
            "ИВАН",
            "ПЕТРОВ",
        }
    client = client_for(admin)
    assert _found(client, url, "сок") == []
    assert _found(client, url, "петр") == ["Заявка"]


def test_a_manager_finds_own_and_unassigned_leads_as_owners_change(
    client_for, tenant, admin, manager, url
):
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        free = make_lead(admin, owner=None, title="Соколов свободный")
        make_lead(admin, owner=manager, title="Соколов мой")
        theirs = make_lead(admin, owner=other, title="Соколов чужой")
    client = client_for(manager)
    assert _found(client, url, "сок") == ["Соколов мой", "Соколов свободный"]
    with tenant_context(tenant):
        services.lead_assign(actor=admin, lead=theirs, owner=manager)
        services.lead_assign(actor=admin, lead=free, owner=other)
    assert _found(client, url, "сок") == ["Соколов чужой", "Соколов мой"]
    with tenant_context(tenant):
        services.lead_assign(actor=admin, lead=free, owner=None)
        free.refresh_from_db()
        services.lead_take(actor=manager, lead=free)
        assert set(LeadWord.objects.filter(lead=free).values_list("owner", flat=True)) == {
            manager.pk
        }
    assert _found(client, url, "сок") == ["Соколов чужой", "Соколов мой", "Соколов свободный"]


def test_a_team_lead_finds_the_teams_leads(client_for, tenant, admin, url):
    lead_of_team = add_member(tenant, "manager")
    member = add_member(tenant, "manager")
    with tenant_context(tenant):
        team = TeamFactory(lead=lead_of_team)
        Membership.objects.filter(pk=member.pk).update(team=team)
        make_lead(admin, owner=member, title="Соколов команды")
        make_lead(admin, owner=admin, title="Соколов директора")
    assert _found(client_for(lead_of_team), url, "сок") == ["Соколов команды"]
    assert _found(client_for(member), url, "сок") == ["Соколов команды"]


@pytest.mark.parametrize("role", ["admin", "director", "manager", "marketer"])
def test_the_owner_scope_holds_the_rows_of_scope_queryset(tenant, admin, role):
    member = admin if role == "admin" else add_member(tenant, role)
    teammate = add_member(tenant, "manager")
    with tenant_context(tenant):
        team = TeamFactory(lead=member)
        Membership.objects.filter(pk=teammate.pk).update(team=team)
        for owner in (None, member, teammate, add_member(tenant, "manager"), admin):
            make_lead(admin, owner=owner)
        scope = owner_scope(actor=member, entity=Entity.LEAD, action=Action.VIEW)
        leads = Lead.objects.all()
        by_owner = (
            set(leads.values_list("pk", flat=True))
            if scope is None
            else {
                lead.pk
                for lead in leads
                if lead.owner_id in scope.owner_ids or (scope.unassigned and not lead.owner_id)
            }
        )
        scoped = scope_queryset(leads, actor=member, action=Action.VIEW)
        assert by_owner == set(scoped.values_list("pk", flat=True))


def test_other_tenants_leads_are_never_found(
    client_for, tenant, other_tenant, admin, other_admin, url
):
    with tenant_context(other_tenant):
        make_lead(other_admin, title="Соколов чужой фирмы", name="Соколов")
    with tenant_context(tenant):
        make_lead(admin, title="Соколов наш")
    assert _found(client_for(admin), url, "сок") == ["Соколов наш"]
    with tenant_context(tenant):
        assert selectors.name_matches("соколов", actor=admin)[0] == [
            Lead.objects.get(title="Соколов наш").pk
        ]


@pytest.mark.parametrize("path", ["inbox/", ""])
@pytest.mark.parametrize("role", ["admin", "manager"])
def test_a_search_runs_a_constant_number_of_queries(
    client_for, tenant, admin, manager, url, path, role, django_assert_num_queries
):
    member = admin if role == "admin" else manager
    client = client_for(member)
    with tenant_context(tenant):
        for i in range(5):
            make_lead(admin, owner=None, title=f"Соколов {i}")
    client.get(url + path, {"q": "сок"})
    with CaptureQueriesContext(connection) as five:
        assert len(_page(client, url + path)) == 5
    with tenant_context(tenant):
        for i in range(45):
            make_lead(admin, owner=None, title=f"Соколова {i}", company_name="Сокол")
    with django_assert_num_queries(len(five.captured_queries)):
        assert len(_page(client, url + path)) == 50


@pytest.mark.parametrize("path", ["inbox/", ""])
def test_a_search_that_finds_nothing_shows_an_empty_list(client_for, tenant, admin, url, path):
    with tenant_context(tenant):
        make_lead(admin, owner=None, title="Соколов")
    response = client_for(admin).get(url + path, {"q": "Фирсихин"})
    assert response.status_code == 200
    assert response.context["page"].rows == []
    assert b'data-testid="lead-table"' in response.content


def _page(client, url: str) -> list[Lead]:
    return client.get(url, {"q": "сок"}).context["page"].rows


def test_a_capped_search_lists_the_newest_matches_and_says_so(
    client_for, tenant, admin, url, monkeypatch
):
    monkeypatch.setattr(selectors, "SEARCH_MATCHES", 3)
    with tenant_context(tenant):
        for i in range(5):
            make_lead(admin, title=f"Соколов {i}{i}")
    response = client_for(admin).get(url, {"q": "сок"})
    assert [lead.title for lead in response.context["page"].rows] == [
        "Соколов 44",
        "Соколов 33",
        "Соколов 22",
    ]
    assert b'data-testid="search-capped"' in response.content
    narrower = client_for(admin).get(url, {"q": "сокол 44"})
    assert [lead.title for lead in narrower.context["page"].rows] == ["Соколов 44"]
    assert b'data-testid="search-capped"' not in narrower.content


def test_words_go_with_their_lead(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Соколов")
        Lead.objects.filter(pk=lead.pk).update(deleted_at=timezone.now() - timedelta(days=99))
        assert services.leads_purge_trash(tenant=tenant) == 1
        assert not LeadWord.objects.exists()


@pytest.mark.postgres
def test_the_sql_words_are_the_python_words(tenant, admin):
    """The migration's backfill and the benchmark loader split text as leads/words.py does."""
    migration = importlib.import_module("leads.migrations.0006_lead_words")
    texts = [
        ("Заявка — Иван Соколов", "Ёлкин-Петров И. О.", "ООО «Сокол_1» 2024"),
        ("Café №5", "", "x"),
    ]
    with tenant_context(tenant):
        leads = [
            make_lead(admin, title=title, name=name, company_name=company)
            for title, name, company in texts
        ]
        expected = {
            (lead.pk, word)
            for lead in leads
            for word in text_words(lead.title, lead.name, lead.company_name)
        }
        assert set(LeadWord.objects.values_list("lead", "word")) == expected
        for sql in (migration.BACKFILL, f"{_BACKFILL_HEAD} ({WORDS_SQL}) w"):
            LeadWord.objects.all().delete()
            with connection.cursor() as cursor:
                cursor.execute(sql)
            assert set(LeadWord.objects.values_list("lead", "word")) == expected
            assert set(LeadWord.objects.values_list("owner", flat=True)) == {admin.pk}


_BACKFILL_HEAD = (
    "INSERT INTO leads_leadword (tenant_id, lead_id, owner_id, created_at, word) "
    "SELECT l.tenant_id, l.id, l.owner_id, l.created_at, w.word "
    "FROM leads_lead l CROSS JOIN LATERAL"
)
