"""Two managers take the same lead at the same moment: one wins, the other is told who."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from crm.errors import DomainError
from crm.models import Membership
from crm.tenancy import tenant_context
from leads.models import Lead
from leads.services import lead_take
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_take_has_exactly_one_winner():
    tenant = make_tenant("race", name="Race")
    first, second = add_member(tenant, "manager"), add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        lead = make_lead(admin, owner=None)
    barrier = threading.Barrier(2, timeout=10)
    outcomes: dict[int, str] = {}

    def take(member: Membership) -> None:
        try:
            with tenant_context(tenant):
                mine = Lead.objects.get(pk=lead.pk)
                barrier.wait()
                lead_take(actor=member, lead=mine)
            outcomes[member.pk] = "won"
        except DomainError as error:
            outcomes[member.pk] = error.message
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take, args=(m,)) for m in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == sorted([first.pk, second.pk])
    winner = next(pk for pk, outcome in outcomes.items() if outcome == "won")
    loser = first if winner == second.pk else second
    winner_name = (first if winner == first.pk else second).user.full_name
    assert outcomes[loser.pk] == f"Already taken by {winner_name}."
    with tenant_context(tenant):
        taken = Lead.objects.get(pk=lead.pk)
    assert taken.owner_id == winner
    assert taken.state == "in_progress"
