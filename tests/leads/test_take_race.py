"""Two managers press "Take" on the same lead: the loser is told who took it, in place of
the row (htmx) or as a message on the inbox, never a bare 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from crm.tenancy import tenant_context
from leads import services
from leads.models import Lead
from leads.selectors import TAKE_RACE_WINDOW
from tests.factories import add_member
from tests.leads.factories import make_lead


@pytest.fixture
def race(tenant, admin, client_for):
    first, second = add_member(tenant, "manager"), add_member(tenant, "manager")
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None, title="Заявка с сайта")
    # Both see the lead in their inbox, then the first is faster.
    for member in (first, second):
        assert (
            f'id="lead-{lead.pk}"'
            in client_for(member, "en").get(f"/{tenant.slug}/leads/inbox/").content.decode()
        )
    won = client_for(first, "en").post(
        f"/{tenant.slug}/leads/{lead.pk}/take/", HTTP_HX_REQUEST="true"
    )
    assert won.status_code == 200
    return {"lead": lead, "first": first, "second": second, "url": f"/{tenant.slug}/leads/"}


def test_the_loser_sees_who_took_it_in_place_of_the_row(race, client_for, tenant):
    lead, first = race["lead"], race["first"]
    lost = client_for(race["second"], "en").post(
        f"{race['url']}{lead.pk}/take/", HTTP_HX_REQUEST="true"
    )
    assert lost.status_code == 409  # swapped in place (base.html's htmx responseHandling)
    body = lost.content.decode()
    assert body.startswith(f'<tr id="lead-{lead.pk}">')
    assert f"Already taken by {first.user.full_name}." in body
    assert "<html" not in body
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).owner_id == first.pk


def test_the_loser_without_javascript_gets_the_inbox_with_the_message(race, client_for):
    lead, first = race["lead"], race["first"]
    lost = client_for(race["second"], "en").post(f"{race['url']}{lead.pk}/take/", follow=True)
    assert lost.redirect_chain[-1][0].endswith("/leads/inbox/")
    messages = [str(m) for m in lost.context["messages"]]
    assert messages == [f"Already taken by {first.user.full_name}."]


def test_the_winner_pressing_again_keeps_the_lead(race, client_for):
    again = client_for(race["first"], "en").post(
        f"{race['url']}{race['lead'].pk}/take/", HTTP_HX_REQUEST="true"
    )
    assert again.status_code == 200
    assert 'data-testid="take-error"' not in again.content.decode()


def test_a_lead_given_from_the_inbox_names_its_new_owner(tenant, admin, manager, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        services.lead_assign(actor=admin, lead=lead, owner=admin)
    lost = client_for(manager, "en").post(f"/{tenant.slug}/leads/{lead.pk}/take/", follow=True)
    assert [str(m) for m in lost.context["messages"]] == [
        f"Already taken by {admin.user.full_name}."
    ]


def test_a_lead_never_in_the_shared_inbox_stays_a_404(tenant, admin, manager, client_for):
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        lead = make_lead(admin, owner=other)
    response = client_for(manager, "en").post(f"/{tenant.slug}/leads/{lead.pk}/take/")
    assert response.status_code == 404
    assert other.user.full_name not in response.content.decode()


def test_a_deleted_lead_is_a_404(tenant, admin, manager, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        services.lead_take(actor=admin, lead=lead)
        services.lead_delete(actor=admin, lead=lead)
    assert (
        client_for(manager, "en").post(f"/{tenant.slug}/leads/{lead.pk}/take/").status_code == 404
    )


def test_another_tenants_taken_lead_is_a_404(
    tenant, other_tenant, other_admin, manager, client_for
):
    with tenant_context(other_tenant):
        lead = make_lead(other_admin, owner=None)
        services.lead_take(actor=other_admin, lead=lead)
    response = client_for(manager, "en").post(
        f"/{tenant.slug}/leads/{lead.pk}/take/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404
    assert other_admin.user.full_name not in response.content.decode()


def test_a_lead_that_left_the_inbox_long_ago_stays_a_404(tenant, admin, manager, client_for):
    """Pressing Take on old ids must not tell who owns leads one may not see."""
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        services.lead_assign(actor=admin, lead=lead, owner=admin)
    later = timezone.now() + TAKE_RACE_WINDOW + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        response = client_for(manager, "en").post(f"/{tenant.slug}/leads/{lead.pk}/take/")
    assert response.status_code == 404
    assert admin.user.full_name not in response.content.decode()
