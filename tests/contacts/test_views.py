"""Contact and company pages through HTTP: lists, search, card, forms, merge and undo."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import services
from contacts.models import Company, Contact, ContactMerge
from crm.models import CustomField
from crm.tenancy import tenant_context
from tests.contacts.factories import make_company, make_contact
from tests.leads.factories import make_lead


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/{path}"


def _names(response) -> list[str]:
    return [str(record) for record in response.context["page"].rows]


def test_search_by_phone_in_any_format_email_name_prefix_and_tax_id(client_for, tenant, admin, url):
    with tenant_context(tenant):
        romashka = make_company(admin, name="ООО «Ромашка»", tax_id="7707083893")
        make_contact(
            admin,
            last_name="Соколова",
            first_name="Анна",
            phones=["8 (999) 123-45-67"],
            emails=["Anna@Example.ru"],
            telegram="@anna_s",
            company=romashka,
        )
        make_contact(admin, last_name="Соколов", first_name="Пётр")
        make_contact(admin, last_name="Петров", first_name="Иван")
    client = client_for(admin)
    for query in ("+7 999 123 45 67", "89991234567", "9991234567"):
        assert _names(client.get(url("contacts/"), {"q": query})) == ["Соколова Анна"]
    assert _names(client.get(url("contacts/"), {"q": "ANNA@example.RU"})) == ["Соколова Анна"]
    assert _names(client.get(url("contacts/"), {"q": "@Anna_S"})) == ["Соколова Анна"]
    assert _names(client.get(url("contacts/"), {"q": "сокол"})) == ["Соколов Пётр", "Соколова Анна"]
    assert _names(client.get(url("contacts/"), {"q": "ан соко"})) == ["Соколова Анна"]
    assert _names(client.get(url("contacts/"), {"q": "окол"})) == []  # word prefixes only
    assert _names(client.get(url("contacts/"), {"company": "ромаш"})) == ["Соколова Анна"]
    assert _names(client.get(url("contacts/"), {"company": str(romashka.pk)})) == ["Соколова Анна"]
    assert _names(client.get(url("companies/"), {"q": "7707083893"})) == ["ООО «Ромашка»"]
    assert _names(client.get(url("companies/"), {"q": "ромашка"})) == ["ООО «Ромашка»"]


def test_filters_by_owner_dates_and_custom_fields(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        CustomField.objects.create(entity="contact", key="city", label="Город", field_type="text")
        make_contact(admin, last_name="Мой", owner=manager, custom={"city": "Казань"})
        make_contact(admin, last_name="Ничей", owner=None)
    client = client_for(manager)
    assert _names(client.get(url("contacts/"), {"owner": "me"})) == ["Мой"]
    assert _names(client.get(url("contacts/"), {"owner": "none"})) == ["Ничей"]
    assert _names(client.get(url("contacts/"), {"cf_city": "каз"})) == ["Мой"]
    assert _names(client.get(url("contacts/"), {"created_after": "2999-01-01"})) == []
    bad = client.get(url("contacts/"), {"created_after": "not-a-date"})
    assert bad.status_code == 200
    assert bad.context["filters"].errors


@pytest.mark.parametrize("path", ["contacts/", "companies/"])
def test_lists_run_a_constant_number_of_queries(
    client_for, tenant, admin, manager, url, path, django_assert_num_queries
):
    make = make_contact if path == "contacts/" else make_company

    def add(n: int) -> None:
        with tenant_context(tenant):
            company = make_company(admin)
            for _ in range(n):
                extra = {"company": company} if make is make_contact else {}
                make(admin, owner=manager, emails=["a@example.ru"], **extra)

    client = client_for(manager)
    add(5)
    with CaptureQueriesContext(connection) as five:
        assert len(client.get(url(path)).context["page"].rows) >= 5
    add(45)
    with django_assert_num_queries(len(five.captured_queries)):
        assert len(client.get(url(path)).context["page"].rows) == 50


def test_keyset_pagination_walks_every_record_once(client_for, tenant, admin, url, monkeypatch):
    from crm import keyset

    with tenant_context(tenant):
        for i in range(7):
            make_contact(admin, last_name=f"К{i}")
    monkeypatch.setattr(keyset, "PAGE_SIZE", 3)
    client, seen, after = client_for(admin), [], None
    for _ in range(5):
        response = client.get(url("contacts/"), {"after": after} if after else {})
        seen += _names(response)
        after = response.context["page"].next_cursor
        if not after:
            break
    assert seen == [f"К{i}" for i in reversed(range(7))]
    assert client.get(url("contacts/"), {"after": "garbage"}).status_code == 200


def test_card_shows_fields_duplicates_related_leads_and_activities(client_for, tenant, admin, url):
    with tenant_context(tenant):
        CustomField.objects.create(entity="contact", key="city", label="Город", field_type="text")
        contact = make_contact(
            admin, last_name="Орлов", phones=["+7 999 765-43-21"], custom={"city": "Тверь"}
        )
        twin = make_contact(admin, last_name="Орлов-дубль", phones=["8 999 765 43 21"])
        make_lead(admin, title="Заявка Орлова", phone="89997654321")
        make_lead(admin, title="Чужая заявка")
    client = client_for(admin)
    page = client.get(url(f"contacts/{contact.pk}/")).content.decode()
    assert "Тверь" in page
    assert "Орлов-дубль" in page
    assert f"?with={twin.pk}" in page
    assert "Заявка Орлова" in page
    assert "Чужая заявка" not in page
    response = client.post(
        url(f"contacts/{contact.pk}/activities/"),
        {"kind": "call", "subject": "Перезвонить"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Перезвонить" in response.content.decode()
    bad = client.post(url(f"contacts/{contact.pk}/activities/"), {"kind": "call"})
    assert bad.status_code == 302


def test_create_shows_errors_next_to_fields_and_writes_nothing(client_for, tenant, manager, url):
    client = client_for(manager)
    response = client.post(
        url("contacts/new/"), {"last_name": "Петров", "phones": "позвоните", "emails": "x@"}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["phones"]
    assert form.errors["emails"]
    response = client.post(url("contacts/new/"), {"position": "Директор"})
    assert response.context["form"].has_error("__all__", code="no_name")
    response = client.post(url("companies/new/"), {"name": "ООО «А»", "tax_id": "123"})
    assert response.status_code == 400
    assert "ИНН состоит из 10 или 12 цифр." in response.content.decode()  # Russian workspace
    with tenant_context(tenant):
        assert not Contact.objects.exists()
        assert not Company.objects.exists()
    ok = client.post(
        url("contacts/new/"),
        {"last_name": "Петров", "phones": "8 999 100 00 00\n+7 912 100-00-00", "owner": ""},
    )
    assert ok.status_code == 302
    with tenant_context(tenant):
        created = Contact.objects.get()
        assert created.phones == ["8 999 100 00 00", "+7 912 100-00-00"]
        assert created.owner is None


def test_inline_edit_with_htmx(client_for, tenant, manager, url):
    with tenant_context(tenant):
        contact = make_contact(manager, last_name="Старый")
    client = client_for(manager)
    form = client.get(url(f"contacts/{contact.pk}/edit/"), HTTP_HX_REQUEST="true")
    assert 'data-testid="record-form"' in form.content.decode()
    assert "<html" not in form.content.decode()
    saved = client.post(
        url(f"contacts/{contact.pk}/edit/"),
        {"last_name": "Новый", "phones": "+7 999 222-33-44", "owner": manager.pk},
        HTTP_HX_REQUEST="true",
    )
    assert saved.status_code == 200
    assert "Новый" in saved.content.decode()
    bad = client.post(
        url(f"contacts/{contact.pk}/edit/"),
        {"last_name": "Новый", "emails": "broken"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 400
    with tenant_context(tenant):
        assert Contact.objects.get(pk=contact.pk).emails == []


def test_merge_and_undo_through_the_pages(client_for, tenant, admin, url):
    with tenant_context(tenant):
        keep = make_contact(admin, last_name="Зайцев", phones=["+7 999 300-00-01"])
        dup = make_contact(
            admin, last_name="Зайцев", position="Инженер", phones=["8 999 300 00 01"]
        )
        other = make_contact(admin, last_name="Другой")
    client = client_for(admin)
    chooser = client.get(url(f"contacts/{keep.pk}/merge/"))
    assert [str(c) for c in chooser.context["candidates"]] == ["Зайцев"]
    found = client.get(url(f"contacts/{keep.pk}/merge/"), {"q": "друг"})
    assert [c.pk for c in found.context["candidates"]] == [other.pk]
    page = client.get(url(f"contacts/{keep.pk}/merge/"), {"with": dup.pk})
    assert page.status_code == 200
    response = client.post(
        url(f"contacts/{keep.pk}/merge/"), {"merged": dup.pk, "pick_position": "merged"}
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        merge = ContactMerge.objects.get()
        assert Contact.objects.get(pk=keep.pk).position == "Инженер"
    assert client.get(url(f"contacts/{dup.pk}/")).status_code == 404
    card = client.get(url(f"contacts/{keep.pk}/")).content.decode()
    assert f'data-testid="undo-{merge.pk}"' in card
    undone = client.post(url(f"contacts/merges/{merge.pk}/undo/"))
    assert undone.status_code == 302
    assert undone["Location"] == url(f"contacts/{dup.pk}/")
    assert client.get(url(f"contacts/{dup.pk}/")).status_code == 200
    again = client.post(url(f"contacts/merges/{merge.pk}/undo/"), follow=True)
    assert "Это объединение уже отменено." in again.content.decode()


def test_access_wrong_method_and_another_tenant(
    client_for, tenant, other_tenant, admin, other_admin, manager, marketer, url
):
    with tenant_context(tenant):
        contact = make_contact(admin)
    with tenant_context(other_tenant):
        foreign = make_contact(other_admin)
    assert client_for(admin).get(url(f"contacts/{foreign.pk}/")).status_code == 404
    assert client_for(admin).get(url(f"contacts/{contact.pk}/delete/")).status_code == 405
    assert client_for(manager).get(url(f"contacts/{contact.pk}/")).status_code == 200
    assert client_for(manager).post(url(f"contacts/{contact.pk}/delete/")).status_code == 403
    assert client_for(marketer).get(url("contacts/new/")).status_code == 403
    page = client_for(manager).get(url(f"contacts/{contact.pk}/")).content.decode()
    assert 'data-testid="merge"' not in page
    assert 'data-testid="edit-details"' not in page


def test_trash_and_restore_through_the_pages(client_for, tenant, admin, url):
    with tenant_context(tenant):
        company = make_company(admin, name="ООО «Удалённая»")
    client = client_for(admin)
    assert client.post(url(f"companies/{company.pk}/delete/")).status_code == 302
    assert client.get(url(f"companies/{company.pk}/")).status_code == 404
    assert "ООО «Удалённая»" in client.get(url("companies/trash/")).content.decode()
    assert client.post(url(f"companies/{company.pk}/restore/")).status_code == 302
    with tenant_context(tenant):
        assert Company.objects.get(pk=company.pk).deleted_at is None
        assert services.parties_purge_trash(tenant=tenant) == 0
