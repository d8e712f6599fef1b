"""Inquiries with duplicate matching: attached to an open lead, repeat leads for known people,
the manager's warning before a duplicate, simple mode, and two identical inquiries at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from contacts.blocklist import blocked_sender_add
from contacts.models import Contact
from crm.access import AccessDenied, validate_rights
from crm.errors import DomainError
from crm.models import Membership, Notification, Role, Tenant, TimelineEvent
from crm.services import system_actor
from crm.tenancy import tenant_context
from deals.models import Deal
from deals.services import deal_move
from intake.services import inquiry_register
from leads.models import Lead, LeadState, LeadStatus
from leads.services import default_status, lead_move
from tests.deals.factories import make_contact, make_deal, sales, stage
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead

INBOUND = {
    "channel": "Форма на сайте",
    "channel_id": 7,
    "page_url": "https://example.com/price",
    "consent": "Согласен на обработку данных",
    "event_id": 42,
    "ip": "203.0.113.5",
}


def _events(record, kind: str) -> list[TimelineEvent]:
    from django.contrib.contenttypes.models import ContentType

    return list(
        TimelineEvent.objects.filter(
            target_type=ContentType.objects.get_for_model(record), target_id=record.pk, kind=kind
        )
    )


def _junk(actor: Membership, lead: Lead) -> None:
    lead_move(actor=actor, lead=lead, status=LeadStatus.objects.filter(state="junk").first())


# --- Classic mode ---------------------------------------------------------------------------


def test_a_new_person_makes_a_new_lead_with_where_it_came_from(tenant):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        result = inquiry_register(
            actor=robot,
            data={"name": "Анна", "phone": "8 916 100-00-01", "message": "Сколько стоит?"},
            source="web_form",
            owner=None,
            inbound=INBOUND,
        )
        assert result.outcome == "created"
        lead = result.lead
        assert lead.owner is None
        assert lead.source == "web_form"
        assert lead.phone_e164 == "+79161000001"
        (event,) = _events(lead, "lead.inquiry")
        assert event.data["inbound"]["channel"] == "Форма на сайте"
        assert event.data["inbound"]["channel_id"] == "7"
        assert event.data["inbound"]["ip"] == "203.0.113.5"
        assert event.data["message"] == "Сколько стоит?"
        assert result.deal is None
        assert result.contact is None


def test_an_open_lead_takes_the_inquiry_and_its_owner_is_told(tenant, admin, manager):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=manager, phone="+7 916 100-00-02", title="Первый")
        robot = system_actor(tenant)
        result = inquiry_register(
            actor=robot,
            data={"name": "Анна", "phone": "8 (916) 100-00-02", "message": "Ещё вопрос"},
            source="web_form",
            owner=None,
            inbound=INBOUND,
        )
        assert result.outcome == "attached"
        assert result.lead == lead
        assert Lead.objects.count() == 1
        (event,) = _events(lead, "lead.inquiry")
        assert event.data["message"] == "Ещё вопрос"
        assert event.data["sender"]["phone"] == "8 (916) 100-00-02"
        assert event.data["inbound"]["page_url"] == "https://example.com/price"
        assert Notification.objects.filter(recipient=manager, kind="inquiry.repeat").count() == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"email": "Anna@Example.com"}, {"email": "anna@example.COM "}),
        (
            {"messenger": "telegram", "messenger_id": "anna_k"},
            {"messenger": "telegram", "messenger_id": "anna_k"},
        ),
        (
            {"messenger": "telegram", "messenger_id": "anna_k"},
            {"messenger": "telegram", "messenger_id": "@Anna_K"},
        ),
        (
            {"messenger": "telegram", "messenger_id": "@anna_k"},
            {"messenger": "telegram", "messenger_id": "https://t.me/anna_k"},
        ),
    ],
)
def test_e_mails_and_messenger_identities_match_too(tenant, admin, first, second):
    with tenant_context(tenant):
        lead = make_lead(admin, **first)
        result = inquiry_register(actor=admin, data=second, source="manual")
        assert result.outcome == "attached"
        assert result.lead == lead


def test_another_messenger_with_the_same_handle_is_another_person(tenant, admin):
    with tenant_context(tenant):
        make_lead(admin, messenger="telegram", messenger_id="anna_k")
        result = inquiry_register(
            actor=admin, data={"messenger": "vk", "messenger_id": "anna_k"}, source="vk"
        )
        assert result.outcome == "created"


def test_after_a_closed_lead_a_repeat_lead_links_to_it(tenant, admin):
    with tenant_context(tenant):
        old = make_lead(admin, email="ivan@example.com", title="Старый")
        _junk(admin, old)
        result = inquiry_register(actor=admin, data={"email": "IVAN@example.com"}, source="email")
        assert result.outcome == "repeat"
        assert result.lead != old
        (event,) = _events(result.lead, "lead.repeat")
        assert event.data["lead_id"] == old.pk
        assert "contact_id" not in event.data


def test_a_known_contact_makes_a_repeat_lead_linked_to_it(tenant, admin):
    with tenant_context(tenant):
        known = make_contact(admin, phones=["+7 916 100-00-03"])
        result = inquiry_register(
            actor=admin, data={"name": "Пётр", "phone": "89161000003"}, source="call"
        )
        assert result.outcome == "repeat"
        assert result.contact == known
        lead = Lead.objects.get(pk=result.lead.pk)
        assert lead.contact_id == known.pk
        assert lead.state == "new"
        (event,) = _events(lead, "lead.repeat")
        assert event.data["contact_id"] == known.pk


def test_create_anyway_makes_a_separate_lead_linked_to_the_open_one(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, phone="+7 916 100-00-04")
        result = inquiry_register(
            actor=admin, data={"phone": "+79161000004"}, source="manual", attach=False
        )
        assert result.outcome == "repeat"
        assert result.lead != lead
        assert _events(result.lead, "lead.repeat")[0].data["lead_id"] == lead.pk


def test_a_deal_for_every_submission(tenant, admin):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        data = {"name": "Ольга", "phone": "+7 916 100-00-05", "title": "Заявка с сайта"}
        first = inquiry_register(
            actor=robot, data=data, source="web_form", owner=admin, create_deal=True
        )
        assert first.outcome == "created"
        assert first.deal.contact == first.contact
        assert first.deal.source_lead == first.lead
        assert first.deal.owner == admin
        assert first.contact.phones == ["+7 916 100-00-05"]
        assert Lead.objects.get(pk=first.lead.pk).contact_id is None  # not a repeat lead
        assert _events(first.lead, "lead.deal_created")[0].data["deal_id"] == first.deal.pk
        # While the lead is open, the next submission joins it: no second lead or deal.
        again = inquiry_register(
            actor=robot, data=data, source="web_form", owner=admin, create_deal=True
        )
        assert again.outcome == "attached"
        assert again.lead == first.lead
        assert (Lead.objects.count(), Deal.objects.count(), Contact.objects.count()) == (1, 1, 1)
        # The lead closed: a repeat lead, and the contact's open deal takes the inquiry.
        _junk(admin, first.lead)
        later = inquiry_register(
            actor=robot, data=data, source="web_form", owner=admin, create_deal=True
        )
        assert later.outcome == "repeat"
        assert later.deal == first.deal
        assert len(_events(first.deal, "deal.inquiry")) == 2
        assert (Lead.objects.count(), Deal.objects.count(), Contact.objects.count()) == (2, 1, 1)


def test_an_inquiry_nobody_can_answer_is_refused(tenant, admin):
    with tenant_context(tenant):
        with pytest.raises(DomainError):
            inquiry_register(actor=admin, data={"name": "Аноним"}, source="web_form")
        with pytest.raises(DomainError):
            inquiry_register(actor=admin, data={"phone": "+79161000006"}, source="pigeon")
        with pytest.raises(DomainError):
            inquiry_register(actor=admin, data={"messenger_id": "anna"}, source="manual")
        assert Lead.objects.count() == 0


def test_without_the_right_to_create_leads_nothing_happens(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager, phone="+7 916 100-00-07")
        manager.role = Role.objects.create(
            name="Только смотреть", rights=validate_rights({"lead": {"view": "all"}})
        )
        manager.save()
        with pytest.raises(AccessDenied):
            inquiry_register(actor=manager, data={"phone": "+79161000007"}, source="manual")
        assert _events(lead, "lead.inquiry") == []


def test_a_manager_matches_only_leads_they_may_see(tenant, admin, manager):
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        hidden = make_lead(admin, owner=other, phone="+7 916 100-00-08")
        result = inquiry_register(actor=manager, data={"phone": "89161000008"}, source="manual")
        assert result.outcome == "created"
        assert result.lead != hidden
        assert _events(hidden, "lead.inquiry") == []


def test_another_tenants_leads_and_contacts_are_strangers(tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        make_lead(other_admin, phone="+7 916 100-00-09")
        make_contact(other_admin, phones=["+7 916 100-00-09"])
    with tenant_context(tenant):
        result = inquiry_register(actor=admin, data={"phone": "89161000009"}, source="manual")
        assert result.outcome == "created"
        assert result.lead.contact_id is None


# --- Simple mode ----------------------------------------------------------------------------


def _simple(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(mode=Tenant.Mode.SIMPLE)
    tenant.refresh_from_db()


def test_simple_mode_attaches_to_the_contacts_open_deal(tenant, admin, manager):
    _simple(tenant)
    admin.tenant.refresh_from_db()
    with tenant_context(tenant):
        contact = make_contact(admin, phones=["+7 916 100-00-10"])
        deal = make_deal(admin, data={"contact": contact}, owner=manager)
        result = inquiry_register(
            actor=admin, data={"phone": "89161000010", "message": "Где счёт?"}, source="email"
        )
        assert result.outcome == "attached"
        assert result.deal == deal
        assert _events(deal, "deal.inquiry")[0].data["message"] == "Где счёт?"
        assert Notification.objects.filter(recipient=manager, kind="inquiry.repeat").exists()
        deal_move(actor=admin, deal=deal, stage=stage(sales(), "won"), amount=1000)
        again = inquiry_register(actor=admin, data={"phone": "89161000010"}, source="email")
        assert again.outcome == "repeat"
        assert again.deal != deal
        assert again.deal.contact == contact
        assert Lead.objects.count() == 0


# --- The manager's forms --------------------------------------------------------------------


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/leads/{path}"


FORM = {"source": "manual", "currency": "RUB", "name": "Анна"}


def test_the_lead_form_warns_then_attaches(client_for, tenant, manager, url):
    with tenant_context(tenant):
        lead = make_lead(manager, phone="+7 916 200-00-01", title="Есть уже")
    client = client_for(manager)
    data = {**FORM, "phone": "8 916 200-00-01", "message": "Повторно"}
    warned = client.post(url("new/"), data)
    assert warned.status_code == 409
    page = warned.content.decode()
    assert 'data-testid="duplicate-warning"' in page
    assert f'href="/{tenant.slug}/leads/{lead.pk}/"' in page
    assert 'data-testid="create-anyway"' in page
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
        assert _events(lead, "lead.inquiry") == []
    assert 'data-testid="attach-to-lead"' in page
    assert 'data-testid="create-lead"' not in page  # never a Save meaning two things
    attached = client.post(url("new/"), {**data, "attach_to": lead.pk})
    assert attached.status_code == 302
    assert attached["Location"] == f"/{tenant.slug}/leads/{lead.pk}/"
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
        assert _events(lead, "lead.inquiry")[0].data["message"] == "Повторно"


def test_the_lead_form_creates_anyway_when_asked(client_for, tenant, manager, url):
    with tenant_context(tenant):
        lead = make_lead(manager, phone="+7 916 200-00-02")
    client = client_for(manager)
    data = {**FORM, "phone": "89162000002", "create_anyway": "1"}
    response = client.post(url("new/"), data)
    assert response.status_code == 302
    with tenant_context(tenant):
        new = Lead.objects.exclude(pk=lead.pk).get()
    assert response["Location"] == f"/{tenant.slug}/leads/{new.pk}/"


def test_adding_to_a_lead_that_closed_meanwhile_shows_the_choice_again(
    client_for, tenant, manager, url
):
    with tenant_context(tenant):
        first = make_lead(manager, phone="+7 916 200-00-03")
        second = make_lead(manager, phone="+7 916 200-00-03")
        lead_move(actor=manager, lead=first, status=default_status(LeadState.JUNK))
    response = client_for(manager, "en").post(
        url("new/"), {**FORM, "phone": "89162000003", "attach_to": first.pk}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "That lead is closed now" in page
    assert f'name="attach_to" value="{second.pk}"' in page
    with tenant_context(tenant):
        assert Lead.objects.count() == 2
        assert _events(first, "lead.inquiry") == []


def test_the_quick_lead_warns_then_attaches(client_for, tenant, manager, url):
    with tenant_context(tenant):
        lead = make_lead(manager, email="olga@example.com")
    client = client_for(manager)
    warned = client.post(url("quick/"), {"name": "Ольга", "contact": "OLGA@example.com"})
    assert warned.status_code == 409
    assert 'data-testid="duplicate-warning"' in warned.content.decode()
    done = client.post(
        url("quick/"), {"name": "Ольга", "contact": "olga@example.com", "attach_to": lead.pk}
    )
    assert done.status_code == 302
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
        assert len(_events(lead, "lead.inquiry")) == 1


def test_a_lead_the_manager_cannot_see_is_not_revealed(client_for, tenant, admin, manager, url):
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        make_lead(admin, owner=other, phone="+7 916 200-00-04", title="Чужой лид")
    response = client_for(manager).post(url("quick/"), {"name": "Х", "contact": "89162000004"})
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Lead.objects.count() == 2


def test_a_known_contact_gives_a_repeat_lead_with_a_badge(client_for, tenant, admin, url):
    with tenant_context(tenant):
        known = make_contact(admin, phones=["+7 916 200-00-05"], last_name="Знакомый")
    client = client_for(admin)
    response = client.post(url("quick/"), {"name": "Знакомый", "contact": "89162000005"})
    assert response.status_code == 302
    with tenant_context(tenant):
        lead = Lead.objects.get()
    assert lead.contact_id == known.pk
    card = client.get(url(f"{lead.pk}/")).content.decode()
    assert 'data-testid="repeat-badge"' in card
    assert 'data-testid="known-contact"' in card
    assert f"/{tenant.slug}/contacts/{known.pk}/" in card
    assert 'data-testid="repeat-badge"' in client.get(url("")).content.decode()


def test_bad_input_changes_nothing(client_for, tenant, manager, url):
    client = client_for(manager)
    assert client.post(url("quick/"), {"name": "Без контактов", "contact": ""}).status_code == 400
    assert client.post(url("new/"), {**FORM}).status_code == 400
    with tenant_context(tenant):
        assert Lead.objects.count() == 0


def test_a_blocked_sender_entered_by_hand_is_only_pointed_out(client_for, tenant, admin, url):
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="domain", value="spam.example", reason="Рассылки")
    client = client_for(admin)
    response = client.post(url("quick/"), {"name": "Б", "contact": "x@Spam.example"}, follow=True)
    assert response.status_code == 200
    assert "Рассылки" in response.content.decode()
    assert 'data-testid="blocked-sender"' in response.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.count() == 1


def test_the_card_shows_the_channel_page_and_consent(client_for, tenant, admin, url):
    with tenant_context(tenant):
        result = inquiry_register(
            actor=system_actor(tenant),
            data={"phone": "+7 916 200-00-06"},
            source="web_form",
            owner=admin,
            inbound=INBOUND,
        )
    card = client_for(admin).get(url(f"{result.lead.pk}/")).content.decode()
    assert 'data-testid="inquiry-inbound"' in card
    for text in ("Форма на сайте", "https://example.com/price", "Согласен на обработку данных"):
        assert text in card


def test_simple_modes_quick_deal_attaches_to_the_open_deal(client_for, tenant, admin):
    _simple(tenant)
    with tenant_context(tenant):
        contact = make_contact(admin, phones=["+7 916 200-00-07"])
        deal = make_deal(admin, data={"contact": contact})
    response = client_for(admin).post(
        f"/{tenant.slug}/deals/quick/", {"name": "Х", "contact": "89162000007"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/{tenant.slug}/deals/{deal.pk}/"
    with tenant_context(tenant):
        assert Deal.objects.count() == 1


# --- Two identical inquiries at once (PostgreSQL) -------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_inquiries_at_once_make_one_lead():
    tenant = make_tenant("twins", name="Twins")
    with tenant_context(tenant):
        robot = system_actor(tenant)
    barrier = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            with tenant_context(tenant):
                barrier.wait()
                result = inquiry_register(
                    actor=robot,
                    data={"name": "Близнец", "phone": "+7 916 300-00-01", "email": "t@example.com"},
                    source="web_form",
                    owner=None,
                    create_deal=True,
                )
                outcomes.append(result.outcome)
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(outcomes) == ["attached", "created"]
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
        assert Deal.objects.count() == 1
        assert Contact.objects.count() == 1
