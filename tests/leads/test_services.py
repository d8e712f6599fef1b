"""Lead services: creation rules, normalization, the state machine, take, assign, trash."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from leads import services
from leads.models import Lead, LeadProduct, LeadState, LeadStatus
from leads.services import InvalidTransition, ProductLine
from tests.factories import TeamFactory, add_member
from tests.leads.factories import make_lead


def _status(state: str, index: int = 0) -> LeadStatus:
    return list(LeadStatus.objects.filter(state=state))[index]


def test_new_tenants_get_default_statuses_in_their_language(tenant):
    with tenant_context(tenant):
        names = list(LeadStatus.objects.values_list("name", flat=True))
        assert "Новый" in names
        assert "Некачественный: спам" in names
        for state in LeadState.values:
            assert LeadStatus.objects.filter(state=state, is_default=True).count() == 1


def test_create_normalizes_contacts_and_records_the_event(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(
            manager, name="Иван", phone="8 (999) 123-45-67", email=" Ivan@Example.COM "
        )
        assert lead.phone_e164 == "+79991234567"
        assert lead.email_key == "ivan@example.com"
        assert (lead.state, lead.status.name, lead.owner) == (LeadState.NEW, "Новый", manager)
        assert lead.title == "Иван"
        assert lead.currency == "RUB"
        assert TimelineEvent.objects.filter(target_id=lead.pk, kind="lead.created").exists()


@pytest.mark.parametrize(
    "data", [{"name": "Nobody"}, {"name": "Blank", "phone": "  ", "email": ""}]
)
def test_a_lead_needs_a_way_to_reach_the_person(tenant, manager, data):
    with tenant_context(tenant):
        with pytest.raises(DomainError, match="way to reach"):
            services.lead_create(actor=manager, data=data)
        assert not Lead.objects.exists()


def test_a_messenger_handle_alone_is_enough(tenant, manager):
    with tenant_context(tenant):
        lead = services.lead_create(
            actor=manager, data={"messenger": "telegram", "messenger_id": "@ivan"}
        )
        assert lead.has_contact_way


def test_products_fill_the_amount(tenant, manager):
    with tenant_context(tenant):
        lead = services.lead_create(
            actor=manager,
            data={"phone": "+79990000001"},
            products=[
                ProductLine("Лицензия", Decimal("3"), Decimal("1000.50")),
                ProductLine("Внедрение", Decimal("1"), Decimal("5000")),
            ],
        )
        assert lead.amount == Decimal("8001.50")
        assert LeadProduct.objects.filter(lead=lead).count() == 2
        services.lead_update(
            actor=manager,
            lead=lead,
            data={},
            products=[ProductLine("X", Decimal("2"), Decimal("10"))],
        )
        lead.refresh_from_db()
        assert lead.amount == Decimal("20.00")


def test_marketers_cannot_give_leads_to_others_but_admins_can(tenant, admin, manager, marketer):
    with tenant_context(tenant):
        with pytest.raises(AccessDenied):
            services.lead_create(actor=manager, data={"phone": "+79990000002"}, owner=marketer)
        lead = services.lead_create(actor=admin, data={"phone": "+79990000003"}, owner=manager)
        assert lead.owner == manager


# --- The state machine --------------------------------------------------------------------


def test_moves_follow_the_state_machine(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        services.lead_move(actor=manager, lead=lead, status=_status("in_progress", 1))
        assert (lead.state, lead.status.name) == ("in_progress", "Уточняется информация")
        assert lead.first_response_at is not None
        services.lead_move(
            actor=manager, lead=lead, status=_status("in_progress", 0)
        )  # a stage move
        services.lead_move(actor=manager, lead=lead, status=_status("junk", 1))
        assert lead.state == "junk"
        assert lead.closed_at is not None
        services.lead_move(actor=manager, lead=lead, status=_status("in_progress"))  # reopen
        assert lead.state == "in_progress"
        assert lead.closed_at is None
        moves = TimelineEvent.objects.filter(target_id=lead.pk, kind="lead.moved").count()
        assert moves == 4
        lead.refresh_from_db()
        assert lead.status.state == lead.state


@pytest.mark.parametrize(
    ("start", "target"), [("junk", "new"), ("in_progress", "new"), ("new", "converted")]
)
def test_invalid_moves_are_refused_clearly(tenant, manager, start, target):
    with tenant_context(tenant):
        lead = make_lead(manager)
        if start != "new":
            services.lead_move(actor=manager, lead=lead, status=_status(start))
        with pytest.raises(InvalidTransition) as refused:
            services.lead_move(actor=manager, lead=lead, status=_status(target))
        assert refused.value.status_code == 409
        lead.refresh_from_db()
        assert lead.state == start


def test_a_concurrent_move_is_detected(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        stale = Lead.objects.get(pk=lead.pk)
        services.lead_move(actor=manager, lead=lead, status=_status("junk"))
        with pytest.raises(InvalidTransition, match="moment ago"):
            services.lead_move(actor=manager, lead=stale, status=_status("in_progress"))
        lead.refresh_from_db()
        assert lead.state == "junk"


def test_moving_needs_the_edit_right(tenant, admin, manager, marketer):
    with tenant_context(tenant):
        lead = make_lead(admin)
        with pytest.raises(AccessDenied):
            services.lead_move(actor=marketer, lead=lead, status=_status("junk"))
        with pytest.raises(AccessDenied):
            services.lead_move(actor=manager, lead=lead, status=_status("junk"))
        assert Lead.objects.get(pk=lead.pk).state == "new"


def test_a_team_lead_moves_the_teams_leads(tenant, admin):
    with tenant_context(tenant):
        team = TeamFactory()
    lead_member = add_member(tenant, "manager", team=team)
    member = add_member(tenant, "manager", team=team)
    with tenant_context(tenant):
        team.lead = lead_member
        team.save()
        lead = make_lead(member)
        services.lead_move(actor=lead_member, lead=lead, status=_status("junk"))
        assert lead.state == "junk"


# --- Take and assign ----------------------------------------------------------------------


def test_take_assigns_and_starts_work(tenant, admin, manager):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        services.lead_take(actor=manager, lead=lead)
        lead.refresh_from_db()
        assert lead.owner == manager
        assert lead.state == "in_progress"
        kinds = set(TimelineEvent.objects.filter(target_id=lead.pk).values_list("kind", flat=True))
        assert {"lead.taken", "lead.moved"} <= kinds


def test_the_second_taker_is_told(tenant, admin, manager):
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        stale = Lead.objects.get(pk=lead.pk)
        services.lead_take(actor=manager, lead=lead)
        with pytest.raises(DomainError, match=f"Already taken by {manager.user.full_name}"):
            services.lead_take(actor=other, lead=stale)
        assert Lead.objects.get(pk=lead.pk).owner == manager
        # Pressing one's own button again changes nothing and is no error.
        assert services.lead_take(actor=manager, lead=stale).owner == manager


def test_marketers_cannot_take(tenant, admin, marketer):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        with pytest.raises(AccessDenied):
            services.lead_take(actor=marketer, lead=lead)
        assert Lead.objects.get(pk=lead.pk).owner is None


def test_assign_and_return_to_the_inbox(tenant, admin, manager):
    with tenant_context(tenant):
        lead = make_lead(admin)
        services.lead_assign(actor=admin, lead=lead, owner=manager)
        assert Lead.objects.get(pk=lead.pk).owner == manager
        services.lead_assign(actor=admin, lead=lead, owner=None)
        assert Lead.objects.get(pk=lead.pk).owner is None


def test_a_member_of_another_tenant_cannot_own_a_lead(tenant, other_tenant, admin, other_admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        with pytest.raises(DomainError):
            services.lead_assign(actor=admin, lead=lead, owner=other_admin)
        assert Lead.objects.get(pk=lead.pk).owner == admin


# --- Trash --------------------------------------------------------------------------------


def test_trash_restore_and_purge(tenant, admin):
    with tenant_context(tenant):
        keep, old = make_lead(admin), make_lead(admin)
        services.lead_delete(actor=admin, lead=keep)
        services.lead_delete(actor=admin, lead=old)
        Lead.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))
        services.lead_restore(actor=admin, lead=Lead.objects.get(pk=keep.pk))
        assert Lead.objects.get(pk=keep.pk).deleted_at is None
        assert services.leads_purge_trash(tenant=tenant) == 1
        assert not Lead.objects.filter(pk=old.pk).exists()


def test_managers_cannot_delete(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        with pytest.raises(AccessDenied):
            services.lead_delete(actor=manager, lead=lead)
        assert Lead.objects.get(pk=lead.pk).deleted_at is None


def test_only_junk_is_archived(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        with pytest.raises(DomainError):
            services.lead_archive(actor=admin, lead=lead)
        services.lead_move(actor=admin, lead=lead, status=_status("junk"))
        services.lead_archive(actor=admin, lead=lead)
        assert Lead.objects.get(pk=lead.pk).archived_at is not None


# --- Statuses -----------------------------------------------------------------------------


def test_deleting_a_status_moves_its_leads_within_the_state(tenant, admin):
    with tenant_context(tenant):
        doomed, keeper = _status("in_progress", 1), _status("in_progress", 0)
        lead = make_lead(admin)
        services.lead_move(actor=admin, lead=lead, status=doomed)
        with pytest.raises(DomainError):
            services.status_delete(actor=admin, status=doomed, replacement=_status("junk"))
        assert services.status_delete(actor=admin, status=doomed, replacement=keeper) == 1
        lead.refresh_from_db()
        assert lead.status == keeper
        assert not LeadStatus.objects.filter(pk=doomed.pk).exists()
        assert TimelineEvent.objects.filter(target_id=lead.pk, kind="lead.moved").count() == 2


def test_deleting_the_default_status_passes_the_default_on(tenant, admin):
    with tenant_context(tenant):
        default, other = _status("in_progress", 0), _status("in_progress", 1)
        assert default.is_default
        services.status_delete(actor=admin, status=default, replacement=other)
        assert LeadStatus.objects.get(pk=other.pk).is_default


def test_status_names_are_unique_case_insensitively(tenant, admin):
    with tenant_context(tenant), pytest.raises(DomainError):
        services.status_save(
            actor=admin, status=None, data={"name": "новый", "color": "#000000", "state": "new"}
        )
