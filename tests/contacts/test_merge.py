"""Manual merge of two contacts (or companies) and its exact undo."""

from __future__ import annotations

import pytest

from contacts import selectors, services
from contacts.models import Company, Contact, ContactMerge, MatchKey
from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import Activity, CustomField
from crm.tenancy import tenant_context
from leads import selectors as lead_selectors
from leads.conversion import Target, lead_convert
from leads.models import Lead
from tests.contacts.factories import make_company, make_contact
from tests.leads.factories import make_lead


def _state(record) -> dict:
    """Everything a merge may touch about one record, read back from the database."""
    fresh = type(record).objects.get(pk=record.pk)
    fields = {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}
    fields.pop("updated_at")
    return {
        "fields": fields,
        "keys": sorted(fresh.keys.values_list("kind", "value")),
        "activities": sorted(
            Activity.objects.filter(target_id=fresh.pk).values_list("pk", flat=True)
        ),
    }


@pytest.fixture
def pair(tenant, admin, manager):
    with tenant_context(tenant):
        CustomField.objects.create(entity="contact", key="city", label="Город", field_type="text")
        CustomField.objects.create(entity="contact", key="size", label="Размер", field_type="text")
        company = make_company(admin, name="ООО «Ромашка»")
        survivor = make_contact(
            admin,
            last_name="Иванов",
            first_name="Иван",
            phones=["+7 999 111-22-33"],
            emails=["ivan@example.ru"],
            custom={"city": "Москва"},
        )
        merged = make_contact(
            manager,
            last_name="Иванов",
            first_name="Иван",
            middle_name="Петрович",
            company=company,
            position="Директор",
            phones=["8 (999) 111-22-33", "+7 912 555-66-77"],
            emails=["IVAN@example.ru", "boss@romashka.ru"],
            telegram="@ivanov",
            custom={"city": "Казань", "size": "50"},
        )
        call = services.record_activity_add(
            actor=admin, record=merged, kind="call", subject="Позвонить"
        )
        mine = services.record_activity_add(actor=admin, record=survivor, kind="task", subject="КП")
    return {"survivor": survivor, "merged": merged, "call": call, "mine": mine, "company": company}


def test_merge_moves_everything_and_undo_restores_it_exactly(tenant, admin, pair):
    survivor, merged = pair["survivor"], pair["merged"]
    with tenant_context(tenant):
        before = {"survivor": _state(survivor), "merged": _state(merged)}
        merge = services.record_merge(
            actor=admin,
            survivor=survivor,
            merged=merged,
            take={"company_id", "position", "owner_id", "custom.city"},
        )
        survivor.refresh_from_db()
        assert survivor.phones == ["+7 999 111-22-33", "+7 912 555-66-77"]
        assert survivor.emails == ["ivan@example.ru", "boss@romashka.ru"]
        assert survivor.company_id == pair["company"].pk
        assert survivor.position == "Директор"
        assert survivor.middle_name == "Петрович"  # survivor had none: filled in
        assert survivor.first_name == "Иван"
        assert survivor.telegram == "@ivanov"
        assert survivor.owner_id == merged.owner_id
        assert survivor.custom == {"city": "Казань", "size": "50"}
        assert Activity.objects.get(pk=pair["call"].pk).target_id == survivor.pk
        assert ("telegram", "ivanov") in set(survivor.keys.values_list("kind", "value"))
        assert not MatchKey.objects.filter(contact=merged).exists()
        hidden = Contact.objects.get(pk=merged.pk)
        assert hidden.merged_into_id == survivor.pk
        assert not selectors.contact_base().filter(pk=merged.pk).exists()
        kinds = [e.kind for e in lead_selectors.party_timeline(survivor)]
        assert kinds[0] == "contact.merged"
        assert "contact.merged_into" not in kinds  # told once, by the survivor's own event
        assert "contact.created" in kinds  # the merged record's history shows on the survivor
        assert merge.moved["crm.activity"] == [pair["call"].pk]

        services.record_merge_undo(actor=admin, merge=merge)
        assert _state(survivor) == before["survivor"]
        assert _state(merged) == before["merged"]
        assert ContactMerge.objects.get(pk=merge.pk).undone_at is not None
        survivor.refresh_from_db()
        kinds = [e.kind for e in lead_selectors.party_timeline(survivor)]
        assert kinds[0] == "contact.merge_undone"
        assert kinds.count("contact.created") == 1  # the merged record's history left again
        with pytest.raises(DomainError, match="already been undone"):
            services.record_merge_undo(actor=admin, merge=ContactMerge.objects.get(pk=merge.pk))


def test_undo_keeps_edits_made_after_the_merge(tenant, admin, pair):
    survivor, merged = pair["survivor"], pair["merged"]
    with tenant_context(tenant):
        merge = services.record_merge(
            actor=admin, survivor=survivor, merged=merged, take={"position"}
        )
        survivor.refresh_from_db()
        services.record_update(actor=admin, record=survivor, data={"position": "Владелец"})
        services.record_merge_undo(actor=admin, merge=ContactMerge.objects.get(pk=merge.pk))
        survivor.refresh_from_db()
        assert survivor.position == "Владелец"
        assert survivor.phones == ["+7 999 111-22-33"]


def test_merging_companies_moves_their_contacts_and_undo_moves_them_back(tenant, admin):
    with tenant_context(tenant):
        keep = make_company(admin, name="ООО «Ромашка»", tax_id="7707083893")
        dup = make_company(admin, name="Ромашка ООО", phones=["+7 495 123-45-67"])
        person = make_contact(admin, company=dup)
        merge = services.record_merge(actor=admin, survivor=keep, merged=dup)
        assert Contact.objects.get(pk=person.pk).company_id == keep.pk
        assert merge.moved["contacts.contact.company"] == [person.pk]
        assert Company.objects.get(pk=keep.pk).phones == ["+7 495 123-45-67"]
        services.record_merge_undo(actor=admin, merge=merge)
        assert Contact.objects.get(pk=person.pk).company_id == dup.pk
        assert Company.objects.get(pk=keep.pk).phones == []


def test_merge_needs_edit_rights_on_both_and_undo_the_delete_right(
    tenant, admin, manager, director, pair
):
    with tenant_context(tenant):
        with pytest.raises(AccessDenied):
            services.record_merge(actor=manager, survivor=pair["survivor"], merged=pair["merged"])
        assert Contact.objects.get(pk=pair["merged"].pk).merged_into_id is None
        merge = services.record_merge(
            actor=director, survivor=pair["survivor"], merged=pair["merged"]
        )
        with pytest.raises(AccessDenied):
            services.record_merge_undo(actor=director, merge=merge)


def test_bad_merges_are_refused(tenant, admin, pair):
    survivor, merged = pair["survivor"], pair["merged"]
    with tenant_context(tenant):
        with pytest.raises(DomainError):
            services.record_merge(actor=admin, survivor=survivor, merged=survivor)
        with pytest.raises(DomainError):
            services.record_merge(actor=admin, survivor=survivor, merged=pair["company"])
        services.record_delete(actor=admin, record=merged)
        merged.refresh_from_db()
        with pytest.raises(DomainError, match="trash"):
            services.record_merge(actor=admin, survivor=survivor, merged=merged)


def test_undo_is_refused_while_the_survivor_is_in_the_trash(tenant, admin, pair):
    with tenant_context(tenant):
        merge = services.record_merge(actor=admin, survivor=pair["survivor"], merged=pair["merged"])
        services.record_delete(actor=admin, record=pair["survivor"])
        merge = ContactMerge.objects.select_related("survivor", "merged").get(pk=merge.pk)
        with pytest.raises(DomainError, match="Restore"):
            services.record_merge_undo(actor=admin, merge=merge)


def test_merge_carries_the_converted_leads_and_deals_and_undo_takes_them_back(tenant, admin, pair):
    survivor, merged = pair["survivor"], pair["merged"]
    with tenant_context(tenant):
        lead = make_lead(admin, title="Окна", phone="+7 912 555-66-77")
        made = lead_convert(
            actor=admin, lead=lead, contact=Target(record=merged), deal={"title": "Окна"}
        )
        merge = services.record_merge(actor=admin, survivor=survivor, merged=merged)
        assert Lead.objects.get(pk=lead.pk).contact_id == survivor.pk
        assert type(made.deal).objects.get(pk=made.deal.pk).contact_id == survivor.pk
        services.record_merge_undo(actor=admin, merge=merge)
        assert Lead.objects.get(pk=lead.pk).contact_id == merged.pk
        assert type(made.deal).objects.get(pk=made.deal.pk).contact_id == merged.pk
