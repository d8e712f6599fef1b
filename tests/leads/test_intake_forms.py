"""What people type into the CRM's own forms, read like channel data: phone fields with
several numbers, extensions and words; invisible and direction characters; and how lists,
cards and the timeline show user text without letting it reorder the page."""

from __future__ import annotations

import pytest

from contacts.models import Contact
from crm.models import TimelineEvent
from crm.services import tenant_update
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.conversion import Target, lead_convert
from leads.models import Lead
from leads.services import lead_create
from tests.deals.factories import make_contact

BOM, ZWSP, ZWJ, RLO, PDF, RLI, PDI = (
    "\ufeff",
    "\u200b",
    "\u200d",
    "\u202e",
    "\u202c",
    "\u2067",
    "\u2069",
)
FORM = {"source": "manual", "currency": "RUB", "name": "Анна"}


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/{path}"


def _lead(tenant) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get()


# --- The lead form and the quick lead -------------------------------------------------------


def test_the_lead_form_reads_several_numbers_an_extension_and_words(
    client_for, tenant, manager, url
):
    phone = "8 999 123-45-67 (жена), 8 (495) 123-45-67 доб. 12"
    response = client_for(manager).post(url("leads/new/"), {**FORM, "phone": phone})
    assert response.status_code == 302
    lead = _lead(tenant)
    assert (lead.phone, lead.phone_e164) == ("8 999 123-45-67", "+79991234567")
    assert lead.other_phones == ["+7 495 123-45-67 доб. 12"]
    assert lead.message.endswith(phone)  # "(жена)" is kept beside the numbers
    card = client_for(manager).get(url(f"leads/{lead.pk}/")).content.decode()
    assert 'data-testid="lead-other-phones"' in card
    assert 'href="tel:+74951234567;ext=12">+7 495 123-45-67 доб. 12</a>' in card


def test_other_phones_are_edited_one_per_line_and_kept_without_repeats(
    client_for, tenant, manager, marketer, url
):
    client = client_for(manager)
    client.post(url("leads/new/"), {**FORM, "phone": "+7 999 123-45-67", "owner": manager.pk})
    lead = _lead(tenant)
    edit = client.get(url(f"leads/{lead.pk}/edit/")).content.decode()
    assert 'name="other_phones"' in edit
    data = {**FORM, "title": lead.title, "phone": lead.phone, "owner": manager.pk}
    data["other_phones"] = "8 916 765-43-21\nне знаю"
    refused = client.post(url(f"leads/{lead.pk}/edit/"), data)
    assert refused.status_code == 400
    assert "не знаю" in refused.context["form"].errors["other_phones"][0]
    data["other_phones"] = "8 916 765-43-21\n+7 916 765 43 21\n8 999 123 45 67"
    assert client_for(marketer).post(url(f"leads/{lead.pk}/edit/"), data).status_code == 403
    assert _lead(tenant).other_phones == []
    assert client.post(url(f"leads/{lead.pk}/edit/"), data).status_code == 302
    lead = _lead(tenant)
    assert lead.other_phones == ["8 916 765-43-21"]  # one per number, not the main one
    with tenant_context(tenant):
        changed = TimelineEvent.objects.filter(kind="lead.changed", target_id=lead.pk).get()
    assert "other_phones" in changed.data["changes"]


def test_an_unreadable_phone_is_a_form_error_and_nothing_is_written(
    client_for, tenant, manager, url
):
    client = client_for(manager)
    response = client.post(url("leads/new/"), {**FORM, "phone": "позвоню сам"})
    assert response.status_code == 400
    error = response.context["form"].errors["phone"][0]
    assert "позвоню сам" in error
    quick = client.post(url("leads/quick/"), {"name": "Олег", "contact": "12"})
    assert quick.status_code == 400
    assert quick.context["quick_form"].errors["contact"]
    with tenant_context(tenant):
        assert not Lead.objects.exists()


def test_a_lead_whose_old_phone_cannot_be_read_is_still_editable(client_for, tenant, manager, url):
    with tenant_context(tenant):
        lead = lead_create(actor=manager, data={"title": "Старый", "email": "a@example.com"})
        Lead.objects.filter(pk=lead.pk).update(phone="звонить секретарю")  # from before
    data = {**FORM, "title": "Старый", "email": "a@example.com", "phone": "звонить секретарю"}
    response = client_for(manager).post(url(f"leads/{lead.pk}/edit/"), {**data, "name": "Ив"})
    assert response.status_code == 302
    assert (_lead(tenant).name, _lead(tenant).phone) == ("Ив", "звонить секретарю")


def test_invisible_characters_never_fail_or_split_a_managers_input(
    client_for, tenant, manager, url
):
    client = client_for(manager)
    response = client.post(
        url("leads/new/"),
        {
            **FORM,
            "name": f"{RLI}Ан{ZWSP}на{PDI}",
            "title": f"Диван{BOM}",
            "email": f"anna@example.com{ZWSP}",
            "message": f"Цвет {RLO}серый",
        },
    )
    assert response.status_code == 302
    lead = _lead(tenant)
    assert (lead.name, lead.title, lead.email) == ("Анна", "Диван", "anna@example.com")
    assert lead.message == f"Цвет {RLO}серый"
    # Search and the duplicate check see the clean values; the query may carry them too.
    found = client.get(url("leads/"), {"q": f"ан{ZWSP}на"}).context["page"].rows
    assert [row.pk for row in found] == [lead.pk]
    found = client.get(url("leads/"), {"q": f"{BOM}ANNA@example.com"}).context["page"].rows
    assert [row.pk for row in found] == [lead.pk]
    quick = client.post(url("leads/quick/"), {"name": "Анна", "contact": f"anna@example.com{ZWJ}"})
    assert quick.status_code == 409  # the open lead is found: the warning first
    assert 'data-testid="duplicate-warning"' in quick.content.decode()


def test_the_quick_lead_keeps_an_extension(client_for, tenant, manager, url):
    response = client_for(manager).post(
        url("leads/quick/"), {"name": "Офис", "contact": "8 (495) 123-45-67 доб. 305"}
    )
    assert response.status_code == 302
    lead = _lead(tenant)
    assert (lead.phone, lead.phone_e164) == ("+7 495 123-45-67 доб. 305", "+74951234567")


def test_simple_modes_quick_deal_reads_the_phone_field_too(client_for, tenant, admin):
    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": "simple"})
    response = client_for(admin).post(
        f"/{tenant.slug}/deals/quick/",
        {"name": f"Ан{ZWSP}на", "contact": "8 999 123-45-67, 8 916 765-43-21"},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        deal = Deal.objects.select_related("contact").get()
    assert deal.contact.first_name == "Анна"
    assert deal.contact.phones == ["8 999 123-45-67", "8 916 765-43-21"]


# --- Contacts and conversion ----------------------------------------------------------------


def test_a_contact_phone_line_with_two_numbers_finds_the_person_by_each(
    client_for, tenant, manager, url
):
    client = client_for(manager)
    response = client.post(
        url("contacts/new/"),
        {
            "last_name": f"Петров{ZWSP}",
            "phones": f"8 999 123{ZWJ}-45-67 или 8 916 765-43-21\n+7 495 123-45-67 доб. 7",
            "emails": f"{BOM}petrov@example.com",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        contact = Contact.objects.get()
    assert contact.last_name == "Петров"
    assert contact.phones == [
        "8 999 123-45-67 или 8 916 765-43-21",
        "8 916 765-43-21",
        "+7 495 123-45-67 доб. 7",
    ]
    assert contact.emails == ["petrov@example.com"]
    for query in ("+7 916 765 43 21", "84951234567", "petrov@example.com"):
        rows = client.get(url("contacts/"), {"q": query}).context["page"].rows
        assert [row.pk for row in rows] == [contact.pk], query


def test_conversion_takes_the_other_phones_to_the_contact(tenant, manager):
    with tenant_context(tenant):
        lead = lead_create(
            actor=manager, data={"name": "Анна", "phone": "+7 999 123-45-67, 8 916 765-43-21"}
        )
        result = lead_convert(actor=manager, lead=lead, contact=Target())
        assert result.contact.phones == ["+7 999 123-45-67", "8 916 765-43-21"]


def test_conversion_dialog_carries_the_other_phones(client_for, tenant, manager, url):
    with tenant_context(tenant):
        lead = lead_create(
            actor=manager, data={"name": "Анна", "phone": "+7 999 123-45-67; 8 916 765-43-21"}
        )
    response = client_for(manager).post(
        url(f"leads/{lead.pk}/convert/"),
        {
            "contact_mode": "new",
            "first_name": "Анна",
            "phone": "+7 999 123-45-67",
            "company_mode": "none",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Contact.objects.get().phones == ["+7 999 123-45-67", "8 916 765-43-21"]


# --- Showing user text ----------------------------------------------------------------------


def test_a_list_row_isolates_a_title_that_would_reorder_the_row(client_for, tenant, admin, url):
    with tenant_context(tenant):
        lead = lead_create(actor=admin, data={"name": "Анна", "phone": "+79990000001"})
        Lead.objects.filter(pk=lead.pk).update(title=f"{PDI}Заказ {RLO}дивана", name=f"{RLI}Ив")
    html = client_for(admin).get(url("leads/")).content.decode()
    assert f"<bdi>Заказ {RLO}дивана{PDF}</bdi></a>" in html
    assert f"<bdi>{RLI}Ив{PDI}</bdi>" in html


def test_timeline_sentences_isolate_the_values_people_typed(client_for, tenant, admin, url):
    with tenant_context(tenant):
        lead = lead_create(actor=admin, data={"title": f"שלום {RLO}abc", "phone": "+79990000002"})
        created = TimelineEvent.objects.get(kind="lead.created", target_id=lead.pk)
    # The title was cleaned on intake; an RTL title in a sentence is wrapped in FSI…PDI.
    assert created.data["title"] == "שלום abc"
    card = client_for(admin).get(url(f"leads/{lead.pk}/")).content.decode()
    assert "\u2068שלום abc\u2069" in card


def test_another_workspace_never_sees_the_card(client_for, tenant, other_admin, manager, url):
    with tenant_context(tenant):
        lead = lead_create(
            actor=manager, data={"name": "Анна", "phone": "+7 999 123-45-67, 8 916 765-43-21"}
        )
    assert client_for(other_admin).get(url(f"leads/{lead.pk}/")).status_code == 404
    with tenant_context(tenant):
        contact = make_contact(manager, phones=["+7 999 123-45-67 доб. 5"])
    assert client_for(other_admin).get(url(f"contacts/{contact.pk}/")).status_code == 404


def test_a_padded_number_longer_than_the_column_is_kept_the_standard_way(
    client_for, tenant, manager, url
):
    padded = "8" + "-" * 60 + "9991234567"  # one valid number, 71 characters as written
    response = client_for(manager).post(url("leads/quick/"), {"name": "Олег", "contact": padded})
    assert response.status_code in (200, 302)
    lead = _lead(tenant)
    assert (lead.phone, lead.phone_e164) == ("+7 999 123-45-67", "+79991234567")
