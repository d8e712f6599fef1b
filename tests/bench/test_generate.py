"""The benchmark generator's rows (bench/rows.py, bench/history.py) obey the models'
invariants: a lead's status belongs to its state, its stays chain up to one open stay in its
current status, a deal's stage is of its outcome's kind, every id is its own tenant's.

Built on small tenants made by the generator's own setup (services) and read back from the
COPY text it would load; the load itself (COPY as the owner role) is PostgreSQL's and runs
in `make bench`.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import pytest
from django.apps import apps
from django.db.models import NOT_PROVIDED, GeneratedField

from bench.generate import ensure_tenant, tenant_facts
from bench.plan import TenantPlan
from bench.rows import COLUMNS, DEAL_COLUMNS, STAY_COLUMNS, LeadRows
from crm.models import Membership, Tenant
from crm.tenancy import tenant_context
from deals.models import Stage
from leads.models import LeadStatus

LEADS = 3000
NULL = "\\N"


def _parse(text: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in text.splitlines()]


def _at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _generated(slug: str) -> tuple[int, list[dict], list[dict], list[dict]]:
    tenant = ensure_tenant(TenantPlan(slug, f"ООО «{slug}»", LEADS))
    rows = LeadRows(tenant_facts(tenant), LEADS)
    rows.lead_offset, rows.deal_offset = tenant.pk * 10**6, tenant.pk * 10**6
    leads, deals, stays = rows.chunk(0, LEADS)
    return (
        tenant.pk,
        _parse(leads, COLUMNS),
        _parse(deals, DEAL_COLUMNS),
        _parse(stays, STAY_COLUMNS),
    )


@pytest.fixture
def generated(db):
    return {slug: _generated(slug) for slug in ("gen-a", "gen-b")}


def _own_ids(tenant_id: int) -> tuple[dict[int, str], dict[int, Stage], set[int]]:

    with tenant_context(Tenant.objects.get(pk=tenant_id)):
        states = dict(LeadStatus.objects.values_list("pk", "state"))
        stages = {s.pk: s for s in Stage.objects.all()}
        members = set(Membership.objects.values_list("pk", flat=True))
    return states, stages, members


def test_leads_and_their_stays_obey_the_state_machine(generated):
    for tenant_id, leads, _deals, stays in generated.values():
        states, _stages, members = _own_ids(tenant_id)
        by_lead: dict[str, list[dict]] = {}
        for stay in stays:
            assert int(stay["tenant_id"]) == tenant_id
            by_lead.setdefault(stay["lead_id"], []).append(stay)
        assert 2 <= len(stays) / len(leads) <= 3
        for lead in leads:
            assert int(lead["tenant_id"]) == tenant_id
            assert states[int(lead["status_id"])] == lead["state"]
            assert lead["owner_id"] == NULL or int(lead["owner_id"]) in members
            chain = by_lead[lead["id"]]
            assert states[int(chain[0]["status_id"])] == "new"
            assert chain[0]["entered_at"] == lead["created_at"]
            open_stays = [s for s in chain if s["left_at"] == NULL]
            assert open_stays == [chain[-1]]
            assert chain[-1]["status_id"] == lead["status_id"]
            for before, after in pairwise(chain):
                assert before["left_at"] == after["entered_at"]
                assert _at(before["entered_at"]) <= _at(before["left_at"])
            assert all(int(s["status_id"]) in states for s in chain)
            state = lead["state"]
            assert (lead["first_response_at"] == NULL) == (state == "new")
            assert (lead["closed_at"] != NULL) == (state in ("converted", "junk"))
            if state in ("in_progress", "converted"):
                assert lead["taken_at"] != NULL
            if state == "new":
                assert lead["taken_at"] == NULL
            if lead["closed_at"] != NULL:
                assert chain[-1]["entered_at"] == lead["closed_at"]
            if lead["first_response_at"] != NULL:
                assert _at(lead["created_at"]) < _at(lead["first_response_at"])


def test_deals_stages_match_their_outcome_and_their_leads(generated):
    for tenant_id, leads, deals, _stays in generated.values():
        _states, stages, members = _own_ids(tenant_id)
        leads_by_id = {lead["id"]: lead for lead in leads}
        assert 0.12 <= len(deals) / len(leads) <= 0.3
        outcomes = {deal["outcome"] for deal in deals}
        assert outcomes == {"open", "won", "lost"}
        for deal in deals:
            assert int(deal["tenant_id"]) == tenant_id
            stage = stages[int(deal["stage_id"])]
            assert stage.kind == deal["outcome"]
            assert stage.pipeline_id == int(deal["pipeline_id"])
            assert int(deal["owner_id"]) in members
            assert (deal["closed_at"] == NULL) == (deal["outcome"] == "open")
            assert (deal["loss_reason_id"] != NULL) == (deal["outcome"] == "lost")
            if deal["source_lead_id"] != NULL:
                lead = leads_by_id[deal["source_lead_id"]]
                assert lead["state"] == "converted"
                assert lead["deal_id"] == deal["id"]
                assert deal["created_at"] == lead["closed_at"]
        linked = {lead["deal_id"] for lead in leads if lead["deal_id"] != NULL}
        assert linked == {d["id"] for d in deals if d["source_lead_id"] != NULL}


def test_rows_are_the_same_on_every_run(generated):
    tenant_id, leads, deals, stays = generated["gen-a"]

    again = _generated("gen-a")

    assert again == (tenant_id, leads, deals, stays)


@pytest.mark.parametrize(
    ("model", "columns"),
    [("leads.Lead", COLUMNS), ("deals.Deal", DEAL_COLUMNS), ("leads.StatusStay", STAY_COLUMNS)],
)
def test_the_copy_writes_every_column_that_needs_a_value(model, columns):
    """A new NOT NULL column without a database default fails here, not hours into a load."""
    required = {
        field.column
        for field in apps.get_model(model)._meta.concrete_fields
        if not field.null
        and not field.primary_key
        and field.db_default is NOT_PROVIDED
        and not isinstance(field, GeneratedField)
    }
    assert required - set(columns) == set()
