"""Contact and company services: create, keys, edit, trash, purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts import selectors, services
from contacts.models import Company, Contact, MatchKey
from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import Activity, TimelineEvent
from crm.tenancy import tenant_context
from tests.contacts.factories import make_company, make_contact


def _keys(record) -> set[tuple[str, str]]:
    return set(record.keys.values_list("kind", "value"))


def test_creating_a_contact_normalizes_and_indexes_its_keys(tenant, manager):
    with tenant_context(tenant):
        contact = services.contact_create(
            actor=manager,
            data={
                "last_name": " Соколова ",
                "first_name": "Анна",
                "phones": ["8 (999) 123-45-67", "+7 999 1234567", "+7 912 000 11 22"],
                "emails": ["Anna@Example.RU", "anna@example.ru"],
                "telegram": "https://t.me/Anna_S",
                "whatsapp": "8 999 123 45 67",
            },
        )
        assert contact.owner == manager
        assert contact.last_name == "Соколова"
        assert contact.phones == ["8 (999) 123-45-67", "+7 912 000 11 22"]
        assert contact.emails == ["Anna@Example.RU"]
        assert _keys(contact) == {
            ("phone", "+79991234567"),
            ("phone", "+79120001122"),
            # The digits backwards: the top-bar search's "ends with" (decision 013).
            ("phone_tail", "76543219997"),
            ("phone_tail", "22110002197"),
            ("email", "anna@example.ru"),
            ("telegram", "anna_s"),
            ("whatsapp", "+79991234567"),
            ("word", "соколова"),
            ("word", "анна"),
        }
        assert TimelineEvent.objects.filter(kind="contact.created", target_id=contact.pk).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"position": "Директор"}, "name or a way to reach"),
        ({"last_name": "Петров", "phones": ["позвоните мне"]}, "does not look like a phone"),
        ({"last_name": "Петров", "emails": ["not-an-email"]}, "not a valid e-mail"),
    ],
)
def test_bad_contacts_are_refused_and_nothing_is_written(tenant, manager, data, message):
    with tenant_context(tenant):
        with pytest.raises(DomainError, match=message):
            services.contact_create(actor=manager, data=data)
        assert not Contact.objects.exists()
        assert not MatchKey.objects.exists()
        assert not TimelineEvent.objects.filter(kind="contact.created").exists()


def test_a_company_needs_a_name_and_a_proper_tax_id(tenant, admin):
    with tenant_context(tenant):
        with pytest.raises(DomainError, match="name"):
            services.company_create(actor=admin, data={"tax_id": "7707083893"})
        with pytest.raises(DomainError, match="10 or 12 digits"):
            services.company_create(actor=admin, data={"name": "ООО «А»", "tax_id": "12345"})
        company = services.company_create(
            actor=admin, data={"name": "ПАО «Сбербанк»", "tax_id": "7707 083893"}
        )
        assert company.tax_id == "7707083893"
        assert ("tax_id", "7707083893") in _keys(company)
        assert Company.objects.count() == 1


def test_a_contact_cannot_join_another_tenants_company(tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        foreign = make_company(other_admin)
    with tenant_context(tenant), pytest.raises(DomainError, match="another workspace"):
        services.contact_create(actor=admin, data={"last_name": "Петров", "company": foreign})


def test_editing_records_changes_keys_and_the_timeline(tenant, admin):
    with tenant_context(tenant):
        contact = make_contact(admin, phones=["+7 999 000-00-01"])
        services.record_update(
            actor=admin,
            record=contact,
            data={"phones": ["8 999 000 00 02"], "first_name": "Пётр"},
        )
        assert ("phone", "+79990000002") in _keys(contact)
        assert ("phone", "+79990000001") not in _keys(contact)
        event = TimelineEvent.objects.filter(kind="contact.changed").get()
        assert set(event.data["changes"]) == {"phones", "first_name"}


def test_a_manager_edits_own_contacts_only(tenant, admin, manager):
    with tenant_context(tenant):
        mine = make_contact(manager)
        theirs = make_contact(admin)
        services.record_update(actor=manager, record=mine, data={"position": "CEO"})
        with pytest.raises(AccessDenied):
            services.record_update(actor=manager, record=theirs, data={"position": "CEO"})
        with pytest.raises(AccessDenied):
            services.record_delete(actor=manager, record=mine)


def test_trash_restore_and_purge(tenant, admin):
    with tenant_context(tenant):
        contact = make_contact(admin)
        services.record_activity_add(actor=admin, record=contact, kind="call", subject="Звонок")
        services.record_delete(actor=admin, record=contact)
        assert not selectors.contact_base().filter(pk=contact.pk).exists()
        contact.refresh_from_db()
        services.record_restore(actor=admin, record=contact)
        assert selectors.contact_base().filter(pk=contact.pk).exists()
        services.record_delete(actor=admin, record=contact)
        assert services.parties_purge_trash(tenant=tenant) == 0
        Contact.objects.filter(pk=contact.pk).update(deleted_at=timezone.now() - timedelta(days=31))
        assert services.parties_purge_trash(tenant=tenant) == 1
        assert not Contact.objects.filter(pk=contact.pk).exists()
        assert not MatchKey.objects.exists()
        assert not Activity.objects.exists()


def test_the_beat_task_purges_every_tenants_old_trash(tenant, other_tenant, admin, other_admin):
    from contacts.tasks import parties_purge_trash_all_task

    old = timezone.now() - timedelta(days=31)
    for workspace, actor in ((tenant, admin), (other_tenant, other_admin)):
        with tenant_context(workspace):
            stale = make_company(actor)
            kept = make_company(actor)
            services.record_delete(actor=actor, record=stale)
            services.record_delete(actor=actor, record=kept)
            Company.objects.filter(pk=stale.pk).update(deleted_at=old)
    assert parties_purge_trash_all_task() >= 2
    for workspace in (tenant, other_tenant):
        with tenant_context(workspace):
            assert Company.objects.count() == 1
