"""One person over several channels is one lead: every inquiry joins it, the ways to reach
them it brings fill what the lead lacks, and the card lists each way and how it was learned."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from contacts.models import Contact
from crm.models import TimelineEvent
from crm.services import system_actor
from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse
from intake.identities import identities_of
from intake.models import Identity
from intake.services import ATTACHED, CREATED, inquiry_register
from leads.conversion import Target, lead_convert
from leads.models import Lead, LeadWord

TELEGRAM = {"channel": "Бот в Telegram", "channel_id": 1}
FORM = {"channel": "Форма на сайте", "channel_id": 2}
MAIL = {"channel": "Почта отдела продаж", "channel_id": 3}


def _ways(lead: Lead) -> list[tuple[str, str, str, str]]:
    return [(w.kind, w.shown, w.source, w.via) for w in identities_of(lead=lead)]


@time_machine.travel(datetime(2026, 3, 10, 1, 0, tzinfo=UTC), tick=False)
def test_telegram_then_a_form_then_an_email_are_one_lead_with_every_way_on_its_card(
    tenant, admin, client_for
):
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    with tenant_context(tenant):
        robot = system_actor(tenant)
        first = inquiry_register(
            actor=robot,
            data={
                "name": "Анна",
                "messenger": "telegram",
                "messenger_id": "555001",
                "phone": "+7 916 100-00-01",
                "message": "Здравствуйте",
            },
            source="telegram",
            inbound=TELEGRAM,
        )
        assert first.outcome == CREATED
        form = inquiry_register(
            actor=robot,
            data={"name": "Анна К.", "phone": "8 (916) 100-00-01", "email": "Anna@Example.com"},
            source="web_form",
            inbound=FORM,
        )
        assert (form.outcome, form.lead) == (ATTACHED, first.lead)
        mail = inquiry_register(
            actor=robot,
            data={"name": "Anna", "email": "ANNA@example.com", "message": "Счёт, пожалуйста"},
            source="email",
            inbound=MAIL,
        )
        assert (mail.outcome, mail.lead) == (ATTACHED, first.lead)
        lead = Lead.objects.get(pk=first.lead.pk)
        assert lead.email == "Anna@Example.com"  # learned from the form
        assert Lead.objects.count() == 1
        assert _ways(lead) == [
            ("phone", "+7 916 100-00-01", "telegram", "Бот в Telegram"),
            ("telegram", "555001", "telegram", "Бот в Telegram"),
            ("email", "Anna@Example.com", "web_form", "Форма на сайте"),
        ]
        inquiries = TimelineEvent.objects.filter(target_id=lead.pk, kind="lead.inquiry")
        assert inquiries.count() == 3  # Telegram's, the form's and the e-mail's: one timeline
    page = client_for(admin, "en").get(tenant_reverse("leads:detail", tenant, pk=lead.pk))
    html = page.content.decode()
    block = html[html.index('data-testid="identities"') :]
    assert "Ways to reach" in html
    assert "Форма на сайте · 10.03.2026 11:00" in block  # the workspace's time
    assert block.count('data-testid="identity"') == 3


def test_learning_fills_only_what_the_lead_lacks(tenant):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        lead = inquiry_register(
            actor=robot,
            data={"name": "Олег", "phone": "+7 912 000-11-22", "email": "oleg@example.com"},
            source="web_form",
            inbound=FORM,
        ).lead
        inquiry_register(
            actor=robot,
            data={
                "name": "Олег",
                "phone": "+7 912 000-11-22, +7 999 555-44-33",
                "email": "other@example.com",
                "messenger": "whatsapp",
                "messenger_id": "79125550000",
            },
            source="web_form",
            inbound=FORM,
        )
        lead.refresh_from_db()
        assert lead.email == "oleg@example.com"  # never overwritten
        assert lead.phone == "+7 912 000-11-22"
        assert lead.other_phones == ["+7 999 555-44-33"]
        assert (lead.messenger, lead.messenger_id) == ("whatsapp", "79125550000")
        kinds = [w.kind for w in identities_of(lead=lead)]
        # The e-mail it did not take is still known as one of theirs.
        assert kinds.count("email") == 2
        assert kinds.count("phone") == 2
        change = TimelineEvent.objects.get(target_id=lead.pk, kind="lead.changed")
        assert set(change.data["changes"]) >= {"other_phones", "messenger", "messenger_id"}
        # The next message from that WhatsApp account finds the lead.
        again = inquiry_register(
            actor=robot,
            data={"messenger": "whatsapp", "messenger_id": "79125550000", "message": "Ну что?"},
            source="whatsapp",
        )
        assert again.outcome == ATTACHED
        assert again.lead == lead


def test_a_contact_card_lists_its_ways_and_its_leads_ways_once(tenant, admin, client_for):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        lead = inquiry_register(
            actor=robot,
            data={"name": "Ирина", "phone": "+7 913 222-33-44", "email": "irina@example.com"},
            source="web_form",
            inbound=FORM,
        ).lead
        result = lead_convert(actor=admin, lead=lead, contact=Target(data={"first_name": "Ирина"}))
        contact = Contact.objects.get(pk=result.contact.pk)
        later = inquiry_register(
            actor=robot,
            data={
                "name": "Ирина",
                "phone": "+7 913 222-33-44",
                "messenger": "vk",
                "messenger_id": "id77",
            },
            source="vk",
            inbound={"channel": "Сообщество ВКонтакте"},
        )
        assert later.contact == contact
        ways = identities_of(contact=contact)
        assert sorted(w.kind for w in ways) == ["email", "phone", "vk"]
    page = client_for(admin, "en").get(tenant_reverse("contacts:detail", tenant, pk=contact.pk))
    assert page.content.decode().count('data-testid="identity"') == 3


def test_a_nameless_lead_learns_the_name_and_is_found_by_it(tenant, admin):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        lead = inquiry_register(
            actor=robot, data={"phone": "+7 903 555-12-34"}, source="call", inbound=FORM
        ).lead
        assert lead.name == ""
        inquiry_register(
            actor=robot,
            data={
                "name": "Пётр Сидоров",
                "phone": "79035551234",
                "messenger": "whatsapp",
                "messenger_id": "+79035551234",
            },
            source="whatsapp",
        )
        lead.refresh_from_db()
        assert lead.name == "Пётр Сидоров"
        # The search words follow the name (the top-bar and list searches find him).
        words = LeadWord.objects.filter(lead=lead).values_list("word", flat=True)
        assert {"ПЕТР", "СИДОРОВ"} <= set(words)  # as words are kept: Ё read as Е


def test_identities_stay_in_their_workspace(tenant, other_tenant):
    with tenant_context(tenant):
        inquiry_register(
            actor=system_actor(tenant),
            data={"name": "Анна", "phone": "+7 916 100-00-01"},
            source="web_form",
        )
    with tenant_context(other_tenant):
        assert Identity.objects.count() == 0
