"""Lead conversion: every combination, reuse of matches, one transaction, rights, bulk."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contacts.models import Company, Contact
from crm.access import AccessDenied
from crm.errors import DomainError
from crm.lineitems import ProductLine
from crm.models import Activity, CustomField, TimelineEvent
from crm.services import activity_create
from crm.tenancy import tenant_context
from deals.models import Deal
from leads import conversion
from leads.conversion import Target, lead_convert
from leads.models import Lead, LeadState, LeadWord
from leads.services import InvalidTransition, lead_create, leads_bulk
from tests.deals.factories import make_contact
from tests.factories import TeamFactory, add_member
from tests.leads.factories import make_lead

COMBINATIONS = [
    ("contact",),
    ("company",),
    ("deal",),
    ("contact", "company"),
    ("contact", "deal"),
    ("company", "deal"),
    ("contact", "company", "deal"),
]


def _kinds(record) -> list[str]:
    return list(
        TimelineEvent.objects.filter(
            target_id=record.pk, target_type__model=type(record).__name__.lower()
        )
        .order_by("pk")
        .values_list("kind", flat=True)
    )


@pytest.mark.parametrize("parts", COMBINATIONS, ids="+".join)
def test_converting_into_each_combination(tenant, manager, parts):
    with tenant_context(tenant):
        lead = lead_create(
            actor=manager,
            data={
                "title": "Окна",
                "name": "Анна",
                "company_name": "ООО Ромашка",
                "phone": "8 916 000-11-22",
            },
            products=[ProductLine(name="Окно", quantity=Decimal("2"), price=Decimal("5000"))],
        )
        result = lead_convert(
            actor=manager,
            lead=lead,
            contact=Target() if "contact" in parts else None,
            company=Target() if "company" in parts else None,
            deal={} if "deal" in parts else None,
        )
        lead.refresh_from_db()
        assert lead.state == LeadState.CONVERTED
        assert lead.status.state == LeadState.CONVERTED
        assert lead.closed_at is not None
        assert (lead.contact_id is not None) == ("contact" in parts)
        assert (lead.company_id is not None) == ("company" in parts)
        assert (lead.deal_id is not None) == ("deal" in parts)
        assert Contact.objects.count() == (1 if "contact" in parts else 0)
        assert Company.objects.count() == (1 if "company" in parts else 0)
        assert Deal.objects.count() == (1 if "deal" in parts else 0)
        if result.contact:
            assert result.contact.phones == ["8 916 000-11-22"]
            assert result.contact.company == result.company
            assert "contact.converted_from" in _kinds(result.contact)
        if result.company:
            assert result.company.name == "ООО Ромашка"
        if result.deal:
            deal = result.deal
            assert deal.source_lead_id == lead.pk
            assert (deal.contact, deal.company) == (result.contact, result.company)
            assert [(p.name, p.quantity) for p in deal.products.all()] == [("Окно", 2)]
            assert deal.amount == Decimal("10000")
            assert deal.owner == manager
            assert "deal.converted_from" in _kinds(deal)
        assert _kinds(lead)[-2:] == ["lead.moved", "lead.converted"]


def test_an_existing_contact_is_reused_by_phone_in_another_format(tenant, manager):
    with tenant_context(tenant):
        known = make_contact(manager, phones=["+7 (916) 555-44-33"])
        lead = make_lead(manager, phone="8 916 5554433", name="Пётр")
        contact, _company = conversion.lead_matches(actor=manager, lead=lead)
        assert contact == known
        result = lead_convert(actor=manager, lead=lead, contact=Target(record=contact), deal={})
        assert result.contact == known
        assert Contact.objects.count() == 1
        assert result.deal.contact == known
        assert TimelineEvent.objects.filter(
            kind="contact.converted_from", target_id=known.pk, data__reused=True
        ).exists()


def test_the_user_may_create_a_new_contact_instead_of_the_match(tenant, manager):
    with tenant_context(tenant):
        make_contact(manager, phones=["+7 916 555-44-33"])
        lead = make_lead(manager, phone="89165554433")
        result = lead_convert(actor=manager, lead=lead, contact=Target(data={"last_name": "Новый"}))
        assert Contact.objects.count() == 2
        assert result.contact.last_name == "Новый"


def test_a_company_is_reused_by_name_ignoring_case(tenant, manager):
    with tenant_context(tenant):
        from contacts.services import company_create

        known = company_create(actor=manager, data={"name": "ООО Ромашка"})
        lead = make_lead(manager, company_name="ооо  ромашка")
        _contact, company = conversion.lead_matches(actor=manager, lead=lead)
        assert company == known


def test_a_new_company_with_a_known_tax_id_is_the_known_company(tenant, manager):
    with tenant_context(tenant):
        from contacts.services import company_create

        known = company_create(actor=manager, data={"name": "Вектор", "tax_id": "7707083893"})
        lead = make_lead(manager)
        result = lead_convert(
            actor=manager,
            lead=lead,
            company=Target(data={"name": "ООО «Вектор»", "tax_id": "7707 083 893"}),
        )
        assert result.company == known
        assert Company.objects.count() == 1


def test_a_failure_midway_leaves_nothing_half_made(tenant, manager, monkeypatch):
    def broken(**kwargs):
        raise DomainError("the deal broke")

    with tenant_context(tenant):
        lead = make_lead(manager, name="Анна", company_name="Ромашка")
        activity_create(actor=manager, target=lead, kind="call", subject="Позвонить")
        monkeypatch.setattr(conversion, "deal_create", broken)
        with pytest.raises(DomainError):
            lead_convert(actor=manager, lead=lead, contact=Target(), company=Target(), deal={})
        lead = Lead.objects.get(pk=lead.pk)
        assert lead.state == LeadState.NEW
        assert (lead.contact_id, lead.company_id, lead.deal_id) == (None, None, None)
        assert Contact.objects.count() == Company.objects.count() == Deal.objects.count() == 0
        assert Activity.objects.get().target_id == lead.pk
        assert "lead.converted" not in _kinds(lead)


def test_activities_move_to_the_deal_or_else_the_contact(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        activity_create(actor=manager, target=lead, kind="call", subject="Позвонить")
        result = lead_convert(actor=manager, lead=lead, contact=Target(), deal={})
        assert Activity.objects.get().target == result.deal
        other = make_lead(manager)
        activity_create(actor=manager, target=other, kind="task", subject="Счёт")
        result = lead_convert(actor=manager, lead=other, contact=Target())
        assert Activity.objects.get(subject="Счёт").target == result.contact


def test_custom_fields_are_carried_by_key_or_label(tenant, admin):
    with tenant_context(tenant):
        CustomField.objects.create(entity="lead", key="budget", label="Бюджет", field_type="number")
        CustomField.objects.create(entity="lead", key="city", label="Город", field_type="text")
        CustomField.objects.create(entity="deal", key="budget", label="Бюджет", field_type="number")
        CustomField.objects.create(entity="contact", key="town", label="город", field_type="text")
        lead = make_lead(admin)
        Lead.objects.filter(pk=lead.pk).update(custom={"budget": 100, "city": "Тула"})
        lead.refresh_from_db()
        result = lead_convert(actor=admin, lead=lead, contact=Target(), deal={})
        assert result.deal.custom == {"budget": 100}
        assert result.contact.custom == {"town": "Тула"}


def test_converting_twice_is_refused(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        lead_convert(actor=manager, lead=lead, deal={})
        with pytest.raises(InvalidTransition):
            lead_convert(actor=manager, lead=lead, deal={})
        assert Deal.objects.count() == 1


def test_an_empty_conversion_is_refused(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        with pytest.raises(DomainError):
            lead_convert(actor=manager, lead=lead)


def test_conversion_keeps_the_search_words(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager, title="Окна Ромашка")
        before = set(LeadWord.objects.filter(lead=lead).values_list("word", "owner_id"))
        lead_convert(actor=manager, lead=lead, deal={})
        assert set(LeadWord.objects.filter(lead=lead).values_list("word", "owner_id")) == before


# --- Rights -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "director"])
def test_admins_and_directors_may_convert_anyones_lead(tenant, manager, role, request):
    actor = request.getfixturevalue(role)
    with tenant_context(tenant):
        lead = make_lead(manager)
        result = lead_convert(actor=actor, lead=lead, deal={})
        # Scope "all" may give the deal to the lead's owner.
        assert result.deal.owner == manager


def test_the_owner_may_convert_their_lead(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        assert lead_convert(actor=manager, lead=lead, deal={}).deal.owner == manager


def test_the_owners_team_lead_may_convert(tenant, manager):
    with tenant_context(tenant):
        lead_member = add_member(tenant, "manager")
        team = TeamFactory(lead=lead_member)
        manager.team = team
        manager.save(update_fields=["team"])
        lead = make_lead(manager)
        result = lead_convert(actor=lead_member, lead=lead, contact=Target(), deal={})
        assert result.deal.owner == lead_member


def test_another_manager_may_not_convert(tenant, manager):
    with tenant_context(tenant):
        other = add_member(tenant, "manager")
        lead = make_lead(manager)
        with pytest.raises(AccessDenied):
            lead_convert(actor=other, lead=lead, deal={})
        assert Deal.objects.count() == 0


def test_a_marketer_may_not_convert(tenant, manager, marketer):
    with tenant_context(tenant):
        lead = make_lead(manager)
        with pytest.raises(AccessDenied):
            lead_convert(actor=marketer, lead=lead, contact=Target())
        assert Contact.objects.count() == 0


def test_an_unassigned_lead_is_converted_only_with_scope_all(tenant, manager, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        with pytest.raises(AccessDenied):
            lead_convert(actor=manager, lead=lead, deal={})
        assert lead_convert(actor=admin, lead=lead, deal={}).deal.owner == admin


def test_another_tenants_contact_cannot_be_reused(tenant, other_tenant, manager, other_admin):
    with tenant_context(other_tenant):
        foreign = make_contact(other_admin)
    with tenant_context(tenant):
        lead = make_lead(manager)
        with pytest.raises(DomainError):
            lead_convert(actor=manager, lead=lead, contact=Target(record=foreign))
        assert Lead.objects.get(pk=lead.pk).state == LeadState.NEW


# --- Bulk ---------------------------------------------------------------------------------


def test_bulk_conversion_makes_deals_and_reports_skips(tenant, manager):
    with tenant_context(tenant):
        known = make_contact(manager, phones=["+7 916 111-22-33"])
        mine = make_lead(manager, phone="8 916 111 22 33", company_name="Ромашка")
        fresh = make_lead(manager, name="Новый")
        done = make_lead(manager)
        lead_convert(actor=manager, lead=done, deal={})
        theirs = make_lead(add_member(tenant, "manager"))
        result = leads_bulk(
            actor=manager,
            leads=list(Lead.objects.filter(pk__in=[mine.pk, fresh.pk, done.pk, theirs.pk])),
            action="convert",
        )
        assert result.done == 2
        assert sorted(title for title, _reason in result.skipped) == sorted(
            [done.title, theirs.title]
        )
        mine.refresh_from_db()
        assert mine.deal.contact == known
        assert mine.company.name == "Ромашка"
        fresh.refresh_from_db()
        assert fresh.deal.contact.first_name == "Новый"
        assert Deal.objects.count() == 3
