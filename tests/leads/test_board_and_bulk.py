"""The kanban board and bulk actions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.tenancy import tenant_context
from leads import services
from leads.models import Lead, LeadStatus
from tests.leads.factories import make_lead


def _statuses(state: str) -> list[LeadStatus]:
    return list(LeadStatus.objects.filter(state=state))


def test_board_columns_carry_counts_and_sums(client_for, tenant, admin):
    with tenant_context(tenant):
        for amount in ("100", "250.5"):
            lead = make_lead(admin)
            Lead.objects.filter(pk=lead.pk).update(amount=Decimal(amount))
        moved = make_lead(admin)
        Lead.objects.filter(pk=moved.pk).update(amount=Decimal("40"))
        services.lead_move(
            actor=admin, lead=Lead.objects.get(pk=moved.pk), status=_statuses("in_progress")[0]
        )
        new, in_progress = _statuses("new")[0], _statuses("in_progress")[0]
    response = client_for(admin).get(f"/{tenant.slug}/leads/board/")
    assert response.status_code == 200
    columns = {c.status.pk: c for c in response.context["columns"]}
    assert (columns[new.pk].count, columns[new.pk].total) == (2, Decimal("350.50"))
    assert (columns[in_progress.pk].count, columns[in_progress.pk].total) == (1, Decimal("40.00"))


def test_board_runs_a_constant_number_of_queries(
    client_for, tenant, admin, django_assert_num_queries
):
    client = client_for(admin)
    with tenant_context(tenant):
        make_lead(admin)
    client.get(f"/{tenant.slug}/leads/board/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/{tenant.slug}/leads/board/")
    with tenant_context(tenant):
        for i in range(20):
            lead = make_lead(admin)
            if i % 2:
                services.lead_move(actor=admin, lead=lead, status=_statuses("junk")[i % 3])
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(f"/{tenant.slug}/leads/board/")


def test_a_drop_moves_through_the_service_and_a_refused_drop_explains(
    client_for, tenant, admin, manager
):
    with tenant_context(tenant):
        lead = make_lead(manager)
        junk, new = _statuses("junk")[0], _statuses("new")[0]
    client = client_for(manager)
    url = f"/{tenant.slug}/leads/{lead.pk}/move/"
    ok = client.post(url, {"status": junk.pk, "board": "1"}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200
    assert f'id="card-{lead.pk}"' in ok.content.decode()
    refused = client.post(url, {"status": new.pk, "board": "1"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 409
    # The reason as an in-place message: the board puts the card back and shows it.
    assert refused["HX-Retarget"] == "#toasts"
    assert "<html" not in refused.content.decode()
    assert (
        "cannot move"
        in client_for(manager, "en")
        .post(url, {"status": new.pk, "board": "1"}, HTTP_HX_REQUEST="true")
        .content.decode()
    )
    with tenant_context(tenant):
        other = make_lead(admin)
    marketer_like = client_for(manager).post(
        f"/{tenant.slug}/leads/{other.pk}/move/", {"status": junk.pk, "board": "1"}
    )
    assert marketer_like.status_code == 404  # not the manager's lead: invisible
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).status == junk
        assert Lead.objects.get(pk=other.pk).state == "new"


def test_bulk_actions_honour_rights_per_lead_and_report_skips(
    client_for, tenant, admin, director, manager
):
    with tenant_context(tenant):
        mine = [make_lead(manager) for _ in range(2)]
        theirs = make_lead(admin)
        junk = _statuses("junk")[0]
    client = client_for(manager)
    ids = [lead.pk for lead in [*mine, theirs]]
    response = client.post(
        f"/{tenant.slug}/leads/bulk/",
        {"ids": ids, "action": "move", "status": junk.pk},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any("2" in t for t in texts)
    with tenant_context(tenant):
        assert {lead.state for lead in Lead.objects.filter(pk__in=[m.pk for m in mine])} == {"junk"}
        assert (
            Lead.objects.get(pk=theirs.pk).state == "new"
        )  # not visible to the manager: untouched
    response = client_for(director).post(
        f"/{tenant.slug}/leads/bulk/", {"ids": ids, "action": "delete"}, follow=True
    )
    # Directors may not delete: the bar does not offer it, and sending it is refused.
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    with tenant_context(tenant):
        assert Lead.objects.filter(deleted_at__isnull=False).count() == 0
    client_for(admin).post(
        f"/{tenant.slug}/leads/bulk/", {"ids": [m.pk for m in mine], "action": "archive"}
    )
    with tenant_context(tenant):
        assert Lead.objects.filter(archived_at__isnull=False).count() == 2


@pytest.mark.parametrize(
    "payload",
    [{"action": "move"}, {"action": "explode", "ids": [1]}, {"ids": [1], "action": "move"}],
)
def test_bad_bulk_input_changes_nothing(client_for, tenant, admin, payload):
    with tenant_context(tenant):
        lead = make_lead(admin)
    payload = {k: ([lead.pk] if k == "ids" else v) for k, v in payload.items()}
    response = client_for(admin).post(f"/{tenant.slug}/leads/bulk/", payload)
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).state == "new"


def test_a_team_leads_board_runs_a_constant_number_of_queries(
    client_for, tenant, admin, django_assert_num_queries
):
    from tests.factories import TeamFactory, add_member

    with tenant_context(tenant):
        team = TeamFactory()
    chief = add_member(tenant, "manager", team=team)
    with tenant_context(tenant):
        team.lead = chief
        team.save()
    client = client_for(chief)
    member = add_member(tenant, "manager", team=team)
    with tenant_context(tenant):
        make_lead(admin, owner=member)
    client.get(f"/{tenant.slug}/leads/board/")
    with CaptureQueriesContext(connection) as few:
        response = client.get(f"/{tenant.slug}/leads/board/")
    assert sum(len(c.cards) for c in response.context["columns"]) == 1
    more = [add_member(tenant, "manager", team=team) for _ in range(4)]
    with tenant_context(tenant):
        for owner in more:
            make_lead(admin, owner=owner)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(f"/{tenant.slug}/leads/board/")
    assert sum(len(c.cards) for c in response.context["columns"]) == 5
    assert len(response.context["allowed"]) == 5  # the team lead may move the team's leads


def test_a_drop_of_a_card_the_role_may_not_move_says_why(client_for, tenant, admin, manager):
    """An unassigned card is on a manager's board (the shared inbox), but moving it needs
    taking it first: the drop is refused with the reason, in place."""
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        junk = _statuses("junk")[0]
    refused = client_for(manager, "en").post(
        f"/{tenant.slug}/leads/{lead.pk}/move/",
        {"status": junk.pk, "board": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 403
    assert refused["HX-Retarget"] == "#toasts"
    assert "Your role does not allow this action on this record." in refused.content.decode()
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).state == "new"


@pytest.mark.parametrize(("role", "readonly"), [("manager", False), ("marketer", True)])
def test_a_board_the_role_may_not_move_on_is_read_only(
    client_for, tenant, admin, request, role, readonly
):
    member = request.getfixturevalue(role)
    for board in ("leads/board/", "deals/board/"):
        page = client_for(member, "en").get(f"/{tenant.slug}/{board}").content.decode()
        assert ('data-testid="board-readonly"' in page) == readonly
        assert (" data-readonly " in page) == readonly
