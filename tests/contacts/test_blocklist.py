"""The blocklist: normalized entries, the check channels make, the settings page, and the
lead card's "Spam" action (junk status plus the lead's sender blocked)."""

from __future__ import annotations

import pytest

from contacts.blocklist import (
    blocked_reason,
    blocked_sender_add,
    blocklist_value,
    messenger_value,
)
from contacts.models import BlockedSender
from crm.errors import DomainError
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from leads.conversion import lead_convert_to_deal
from leads.models import Lead, LeadStatus
from leads.services import lead_mark_spam, lead_move, spam_status
from tests.leads.factories import make_lead


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("phone", "8 (916) 555-00-01", "+79165550001"),
        ("phone", "+7 916 555 00 01", "+79165550001"),
        ("email", " Spam@Example.COM ", "spam@example.com"),
        ("domain", "@Spam.Example.", "spam.example"),
        ("messenger", "telegram:@Spammer", "telegram:spammer"),
        ("messenger", "Telegram: https://t.me/spammer", "telegram:spammer"),
        ("messenger", "whatsapp:8 916 555-00-01", "whatsapp:+79165550001"),
        ("messenger", "vk:id12345", "vk:id12345"),
    ],
)
def test_values_are_normalized(kind, raw, value):
    assert blocklist_value(kind, raw, "RU") == value


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("phone", "позвоните"),
        ("phone", "12"),
        ("email", "not-an-email"),
        ("domain", "no spaces.com x"),
        ("domain", "localhost"),
        ("domain", "a@b.com"),
        ("messenger", "12345"),
        ("messenger", "icq:12345"),
        ("messenger", "telegram:"),
        ("fax", "123"),
    ],
)
def test_bad_values_are_refused_with_a_reason(kind, raw):
    with pytest.raises(DomainError):
        blocklist_value(kind, raw, "RU")


def test_blocked_reason_matches_phone_email_domain_and_messenger(tenant, admin):
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="phone", value="8 916 555-00-02", reason="Звонки")
        blocked_sender_add(actor=admin, kind="email", value="bot@mail.example")
        blocked_sender_add(actor=admin, kind="domain", value="spam.example", reason="Домен")
        blocked_sender_add(actor=admin, kind="messenger", value="telegram:spammer")
        assert blocked_reason(phone_e164="+79165550002") == "Звонки"
        assert "bot@mail.example" in blocked_reason(email_key="bot@mail.example")
        assert blocked_reason(email_key="anyone@spam.example") == "Домен"
        assert blocked_reason(messenger="telegram", messenger_id="@SPAMMER")
        assert blocked_reason(messenger="vk", messenger_id="spammer") is None
        assert blocked_reason(phone_e164="+79165550003", email_key="ok@mail.example") is None
        assert blocked_reason() is None


def test_another_tenants_blocklist_does_not_apply(tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        blocked_sender_add(actor=other_admin, kind="phone", value="+7 916 555-00-04")
    with tenant_context(tenant):
        assert blocked_reason(phone_e164="+79165550004") is None
        blocked_sender_add(actor=admin, kind="phone", value="+7 916 555-00-04")  # not a clash
        assert BlockedSender.objects.count() == 1


def test_a_value_is_blocked_once(tenant, admin):
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="phone", value="+7 916 555-00-05")
        with pytest.raises(DomainError):
            blocked_sender_add(actor=admin, kind="phone", value="8 916 555 00 05")
        assert BlockedSender.objects.count() == 1


def test_messenger_values_need_a_provider_and_an_id():
    assert messenger_value("telegram", "", "RU") == ""
    assert messenger_value("", "spammer", "RU") == ""


# --- The settings page ----------------------------------------------------------------------


@pytest.fixture
def url(tenant):
    return lambda path="": f"/{tenant.slug}/contacts/settings/blocklist/{path}"


def test_admin_lists_adds_and_removes_entries(client_for, tenant, admin, url):
    client = client_for(admin)
    assert client.get(url()).status_code == 200
    added = client.post(url(), {"kind": "phone", "value": "8 916 555-00-06", "reason": "Спам"})
    assert added.status_code == 302
    with tenant_context(tenant):
        entry = BlockedSender.objects.get()
    assert (entry.kind, entry.value, entry.reason, entry.added_by_id) == (
        "phone",
        "+79165550006",
        "Спам",
        admin.pk,
    )
    page = client.get(url()).content.decode()
    assert page.count('data-testid="blocked-entry"') == 1
    assert "+79165550006" in page
    assert client.post(url(f"{entry.pk}/delete/")).status_code == 302
    with tenant_context(tenant):
        assert not BlockedSender.objects.exists()
        kinds = list(TimelineEvent.objects.values_list("kind", flat=True).order_by("pk"))
    assert kinds[-2:] == ["blocklist.added", "blocklist.removed"]


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "phone", "value": "не телефон"},
        {"kind": "email", "value": "nobody"},
        {"kind": "messenger", "value": "spammer"},
        {"kind": "pager", "value": "123"},
        {"kind": "phone", "value": ""},
    ],
)
def test_bad_input_is_explained_and_nothing_is_added(client_for, tenant, admin, url, data):
    response = client_for(admin).post(url(), data)
    assert response.status_code == 400
    assert response.context["form"].errors
    with tenant_context(tenant):
        assert not BlockedSender.objects.exists()


def test_a_duplicate_entry_is_explained(client_for, tenant, admin, url):
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="email", value="spam@example.com")
    response = client_for(admin).post(url(), {"kind": "email", "value": "SPAM@example.com"})
    assert response.status_code == 400
    assert "value" in response.context["form"].errors


@pytest.mark.parametrize("role", ["manager", "director", "marketer"])
def test_only_the_settings_right_opens_the_page(client_for, tenant, admin, url, role, request):
    member = request.getfixturevalue(role)
    with tenant_context(tenant):
        entry = blocked_sender_add(actor=admin, kind="email", value="spam@example.com")
    client = client_for(member)
    assert client.get(url()).status_code == 403
    assert client.post(url(), {"kind": "phone", "value": "+79165550007"}).status_code == 403
    assert client.post(url(f"{entry.pk}/delete/")).status_code == 403
    with tenant_context(tenant):
        assert list(BlockedSender.objects.values_list("value", flat=True)) == ["spam@example.com"]


def test_another_tenants_entry_is_not_found(client_for, tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        theirs = blocked_sender_add(actor=other_admin, kind="email", value="spam@example.com")
    client = client_for(admin)
    response = client.post(f"/{tenant.slug}/contacts/settings/blocklist/{theirs.pk}/delete/")
    assert response.status_code == 404
    page = client.get(f"/{tenant.slug}/contacts/settings/blocklist/").content.decode()
    assert "spam@example.com" not in page
    with tenant_context(other_tenant):
        assert BlockedSender.objects.filter(pk=theirs.pk).exists()


# --- "Spam" on a lead -----------------------------------------------------------------------


def test_spam_junks_the_lead_and_blocks_its_sender(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(
            admin,
            phone="8 916 555-00-08",
            email="Bot@Spam.example",
            messenger="telegram",
            messenger_id="@SpamBot",
        )
        spam = spam_status()
    assert "спам" in spam.name.casefold()
    client = client_for(admin)
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="spam"' in card
    response = client.post(f"/{tenant.slug}/leads/{lead.pk}/spam/")
    assert response.status_code == 302
    with tenant_context(tenant):
        lead.refresh_from_db()
        assert (lead.state, lead.status_id) == ("junk", spam.pk)
        assert set(BlockedSender.objects.values_list("kind", "value")) == {
            ("phone", "+79165550008"),
            ("email", "bot@spam.example"),
            ("messenger", "telegram:spambot"),
        }
        assert TimelineEvent.objects.filter(kind="lead.spam", target_id=lead.pk).exists()
        assert blocked_reason(email_key="bot@spam.example")
    # Again (the lead is junk already): nothing new, nothing doubled.
    assert client.post(f"/{tenant.slug}/leads/{lead.pk}/spam/").status_code == 302
    with tenant_context(tenant):
        assert BlockedSender.objects.count() == 3
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="blocked-sender"' in card


def test_spam_goes_to_the_default_junk_status_when_none_is_named_so(tenant, admin):
    with tenant_context(tenant):
        for status in LeadStatus.objects.filter(state="junk"):
            LeadStatus.objects.filter(pk=status.pk).update(name=f"Отказ {status.pk}")
        lead = make_lead(admin)
        lead_mark_spam(actor=admin, lead=lead)
        lead.refresh_from_db()
        assert lead.status.is_default


def test_a_converted_lead_is_not_spam(client_for, tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, phone="+7 916 555-00-09")
        lead_convert_to_deal(actor=admin, lead=lead)
    response = client_for(admin).post(f"/{tenant.slug}/leads/{lead.pk}/spam/")
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).state == "converted"
        assert not BlockedSender.objects.exists()


def test_spam_needs_the_right_to_edit_the_lead(client_for, tenant, admin, manager, marketer):
    with tenant_context(tenant):
        theirs = make_lead(admin, owner=admin, phone="+7 916 555-00-10")
        mine = make_lead(admin, owner=manager, phone="+7 916 555-00-11")
    assert client_for(manager).post(f"/{tenant.slug}/leads/{theirs.pk}/spam/").status_code == 404
    assert client_for(marketer).post(f"/{tenant.slug}/leads/{theirs.pk}/spam/").status_code == 403
    with tenant_context(tenant):
        assert not BlockedSender.objects.exists()
    assert client_for(manager).post(f"/{tenant.slug}/leads/{mine.pk}/spam/").status_code == 302
    with tenant_context(tenant):
        assert list(BlockedSender.objects.values_list("value", flat=True)) == ["+79165550011"]


def test_another_tenants_lead_cannot_be_marked(
    client_for, tenant, other_tenant, admin, other_admin
):
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin, phone="+7 916 555-00-12")
    assert client_for(admin).post(f"/{tenant.slug}/leads/{theirs.pk}/spam/").status_code == 404
    with tenant_context(other_tenant):
        assert Lead.objects.get(pk=theirs.pk).state == "new"
        assert not BlockedSender.objects.exists()


def test_spam_as_a_bulk_action(client_for, tenant, admin):
    with tenant_context(tenant):
        first = make_lead(admin, email="one@spam.example")
        second = make_lead(admin, email="two@spam.example")
        converted = make_lead(admin, email="three@spam.example")
        lead_convert_to_deal(actor=admin, lead=converted)
    response = client_for(admin).post(
        f"/{tenant.slug}/leads/bulk/",
        {"action": "spam", "ids": [first.pk, second.pk, converted.pk]},
        follow=True,
    )
    assert response.status_code == 200
    with tenant_context(tenant):
        assert set(Lead.objects.values_list("state", flat=True)) == {"junk", "converted"}
        assert set(BlockedSender.objects.values_list("value", flat=True)) == {
            "one@spam.example",
            "two@spam.example",
        }


def test_reopening_a_spam_lead_keeps_the_blocklist(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, phone="+7 916 555-00-13")
        lead_mark_spam(actor=admin, lead=lead)
        lead.refresh_from_db()
        lead_move(
            actor=admin,
            lead=lead,
            status=LeadStatus.objects.get(state="in_progress", is_default=True),
        )
        assert BlockedSender.objects.filter(value="+79165550013").exists()
