"""Speed: the first response to a lead, and the escalation of leads nobody answered within
the tenant's limit (exactly once, even with two workers)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from crm.models import Membership, Notification, Tenant, TimelineEvent
from crm.services import system_actor
from crm.tenancy import tenant_context
from leads.distribution import rule_save
from leads.escalation import leads_escalate_overdue
from leads.models import Lead, LeadStatus
from leads.services import (
    lead_activity_add,
    lead_move,
    lead_take,
    lead_update,
)
from leads.tasks import leads_escalate_overdue_all_task, leads_escalate_overdue_task
from tests.factories import TeamFactory, add_member, make_tenant
from tests.leads.factories import make_lead


def _age(lead: Lead, minutes: int) -> None:
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


def _escalations(tenant: Tenant) -> list[int]:
    with tenant_context(tenant):
        return list(
            TimelineEvent.objects.filter(kind="lead.escalated").values_list("target_id", flat=True)
        )


def _notified(tenant: Tenant, kind: str = "lead.escalated") -> list[int]:
    with tenant_context(tenant):
        return sorted(Notification.objects.filter(kind=kind).values_list("recipient_id", flat=True))


# --- First response -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["call", "meeting", "email", "message"])
def test_a_contact_activity_is_the_first_response(tenant, admin, kind):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
        lead_activity_add(actor=admin, lead=lead, kind="note", subject="Заметка")
        lead.refresh_from_db()
        assert lead.first_response_at is None
        lead_activity_add(actor=admin, lead=lead, kind=kind, subject="Связались")
        lead.refresh_from_db()
        assert lead.first_response_at is not None


def test_taking_or_editing_a_lead_is_a_first_response(tenant, admin, manager):
    with tenant_context(tenant):
        pooled = make_lead(admin, owner=None)
        lead_take(actor=manager, lead=pooled)
        edited = make_lead(admin, owner=manager)
        lead_update(actor=manager, lead=edited, data={"name": "Иван"})
        unchanged = make_lead(admin, owner=manager)
        lead_update(actor=manager, lead=unchanged, data={})
        answered = {
            lead.pk: lead.first_response_at is not None
            for lead in Lead.objects.filter(pk__in=[pooled.pk, edited.pk, unchanged.pk])
        }
    assert answered == {pooled.pk: True, edited.pk: True, unchanged.pk: False}


def test_the_first_response_is_kept_once_set(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
        lead_activity_add(actor=admin, lead=lead, kind="call", subject="1")
        lead.refresh_from_db()
        first = lead.first_response_at
        lead_update(actor=admin, lead=lead, data={"name": "Другое"})
        lead_activity_add(actor=admin, lead=lead, kind="call", subject="2")
        lead.refresh_from_db()
    assert lead.first_response_at == first


def test_the_system_actor_does_not_respond(tenant, admin):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        lead = make_lead(admin, owner=None)
        lead_update(actor=robot, lead=lead, data={"name": "Робот"})
        lead_activity_add(actor=robot, lead=lead, kind="message", subject="Автоответ")
        lead_move(actor=robot, lead=lead, status=LeadStatus.objects.filter(state="in_progress")[0])
        lead.refresh_from_db()
    assert lead.first_response_at is None


# --- Escalation ---------------------------------------------------------------------------


@pytest.fixture
def team(tenant, admin):
    lead_member = add_member(tenant, "manager")
    with tenant_context(tenant):
        team = TeamFactory(lead=lead_member)
    return team


def test_an_overdue_lead_is_escalated_once_to_the_owners_team_lead(tenant, admin, team):
    owner = add_member(tenant, "manager", team=team)
    with tenant_context(tenant):
        overdue = make_lead(admin, owner=owner, title="Ждёт")
        fresh = make_lead(admin, owner=owner)
        answered = make_lead(admin, owner=owner)
        lead_activity_add(actor=owner, lead=answered, kind="call", subject="Позвонил")
        for lead in (overdue, answered):
            _age(lead, 20)
        _age(fresh, 5)
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 1
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 0
    assert _escalations(tenant) == [overdue.pk]
    assert _notified(tenant) == [team.lead_id]
    with tenant_context(tenant):
        overdue.refresh_from_db()
        assert overdue.escalated_at is not None
        assert overdue.owner_id == owner.pk  # re-assignment is off by default


def test_unassigned_leads_go_to_admins_and_directors(tenant, admin, director, manager):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        _age(lead, 16)
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 1
    assert _notified(tenant) == sorted([admin.pk, director.pk])


def test_the_limit_and_its_switch_come_from_the_tenant(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
        _age(lead, 20)
    Tenant.objects.filter(pk=tenant.pk).update(response_sla_minutes=30)
    assert leads_escalate_overdue_all_task() == 1
    assert _escalations(tenant) == []
    Tenant.objects.filter(pk=tenant.pk).update(response_sla_minutes=0)
    assert leads_escalate_overdue_all_task() == 0
    Tenant.objects.filter(pk=tenant.pk).update(response_sla_minutes=10)
    assert leads_escalate_overdue_all_task() == 1
    assert _escalations(tenant) == [lead.pk]


def test_leads_long_past_the_window_and_closed_or_trashed_leads_are_left_alone(tenant, admin):
    with tenant_context(tenant):
        ancient = make_lead(admin, owner=admin)
        _age(ancient, 3 * 24 * 60)
        junk = make_lead(admin, owner=admin)
        lead_move(actor=admin, lead=junk, status=LeadStatus.objects.filter(state="junk")[0])
        trashed = make_lead(admin, owner=admin)
        Lead.objects.filter(pk=trashed.pk).update(deleted_at=timezone.now())
        for lead in (junk, trashed):
            Lead.objects.filter(pk=lead.pk).update(first_response_at=None)
            _age(lead, 20)
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 0


def test_reassignment_follows_the_leads_rule_and_skips_the_owner(tenant, admin, team):
    owner = add_member(tenant, "manager", team=team)
    second, third = add_member(tenant, "manager"), add_member(tenant, "manager")
    Tenant.objects.filter(pk=tenant.pk).update(sla_reassign=True)
    with tenant_context(tenant):
        rule_save(
            actor=admin,
            rule=None,
            data={
                "name": "Telegram",
                "strategy": "round_robin",
                "sources": ["telegram"],
                "members": [owner.pk, second.pk],
            },
        )
        lead = make_lead(admin, owner=owner, source="telegram")
        _age(lead, 20)
        other = make_lead(admin, owner=owner, source="web_form")
        _age(other, 20)
        Membership.objects.filter(pk=third.pk).update(is_away=True)
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 2
    with tenant_context(tenant):
        lead.refresh_from_db()
        other.refresh_from_db()
        assert lead.owner_id == second.pk
        # No rule matches a web form: the least loaded available manager (not the owner,
        # not the away one) gets it.
        assert other.owner_id not in (owner.pk, third.pk)
        event = TimelineEvent.objects.get(kind="lead.escalated", target_id=lead.pk)
        assert event.actor.is_system
        assert event.data["to"] == str(second.user)
    assert second.pk in _notified(tenant, "lead.assigned")


def test_nobody_to_reassign_to_still_escalates(tenant, admin):
    Tenant.objects.filter(pk=tenant.pk).update(sla_reassign=True)
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        _age(lead, 20)
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 1
    with tenant_context(tenant):
        lead.refresh_from_db()
    assert lead.owner_id is None


def test_escalation_stays_inside_its_tenant(tenant, other_tenant, admin, other_admin):
    with tenant_context(tenant):
        mine = make_lead(admin, owner=None)
        _age(mine, 20)
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin, owner=None)
        _age(theirs, 20)
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 1
    assert _escalations(tenant) == [mine.pk]
    assert _escalations(other_tenant) == []
    assert _notified(other_tenant) == []


def test_two_runs_at_once_escalate_once_in_process(tenant, admin):
    """The claim is a conditional UPDATE: a second run over the same ids claims nothing."""
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        _age(lead, 20)
        now = timezone.now()
        assert leads_escalate_overdue(tenant=tenant, now=now) == 1
        assert leads_escalate_overdue(tenant=tenant, now=now) == 0
    assert _escalations(tenant) == [lead.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_escalate_each_lead_exactly_once():
    tenant = make_tenant("sla-race", name="Race")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        leads = [make_lead(admin, owner=None) for _ in range(5)]
        for lead in leads:
            _age(lead, 30)
    barrier = threading.Barrier(2, timeout=10)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            counts.append(leads_escalate_overdue_task(tenant_id=tenant.pk))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(counts) == 5
    assert sorted(_escalations(tenant)) == sorted(lead.pk for lead in leads)
    assert len(_notified(tenant)) == 5  # one administrator, once per lead
