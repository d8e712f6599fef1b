"""Shared data for the deal reports' tests: a workspace in Vladivostok (UTC+10, so a
local day is not the UTC one), deals placed directly in their stage with the instants the
reports read, and a report built as its page builds it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.http import QueryDict

from analytics.params import params_for
from analytics.reports.base import ReportSpec
from analytics.tables import Report, Row, Table
from crm.access import Action, Entity, Scope
from crm.models import Membership, Role, Tenant
from crm.tenancy import tenant_context
from deals.models import Deal, LossReason, Stage
from leads.services import ACTOR
from tests.deals.factories import make_deal
from tests.factories import TeamFactory, add_member

VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
# "Now" in the tests: the middle of March, so "last month" is February (28 days) and the
# period before it January.
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=VLADIVOSTOK)


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """An instant on Vladivostok's clock."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=VLADIVOSTOK)


def in_vladivostok(tenant: Tenant) -> Tenant:
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    return tenant


def add_deal(
    actor: Membership,
    stage: Stage,
    amount: str | int,
    *,
    created: dt.datetime,
    closed: dt.datetime | None = None,
    expected: dt.date | None = None,
    reason: str = "",
    owner: Membership | object | None = ACTOR,
) -> Deal:
    """A deal standing in `stage` (its outcome the stage's kind), created and closed at
    the given instants, lost for the loss reason named `reason` (made when missing) (call
    inside the tenant's context)."""
    deal = make_deal(
        actor,
        pipeline=stage.pipeline,
        owner=owner,
        data={"amount": Decimal(amount), "expected_close": expected},
    )
    Deal.objects.filter(pk=deal.pk).update(
        stage=stage,
        outcome=stage.kind,
        created_at=created,
        closed_at=closed,
        loss_reason=LossReason.objects.get_or_create(name=reason)[0] if reason else None,
    )
    return deal


def analyst(member: Membership) -> Membership:
    """`member`, its built-in role given the analytics right."""
    with tenant_context(member.tenant):
        Role.objects.filter(pk=member.role_id).update(can_view_analytics=True)
        member.role.refresh_from_db()
    return member


def team_head(tenant: Tenant, *teammates: Membership) -> Membership:
    """A new member whose role sees the leads and deals of their team (and reads
    analytics), in one team with `teammates`."""
    with tenant_context(tenant):
        team = TeamFactory()
        rights = Role.objects.get(kind=Role.Kind.DIRECTOR).rights
        rights[Entity.DEAL][Action.VIEW] = Scope.TEAM
        rights[Entity.LEAD][Action.VIEW] = Scope.TEAM
        role = Role.objects.create(name="Team head", rights=rights, can_view_analytics=True)
    head = add_member(tenant, Role.Kind.MANAGER, team=team)
    with tenant_context(tenant):
        Membership.objects.filter(pk=head.pk).update(role=role)
        Membership.objects.filter(pk__in=[m.pk for m in teammates]).update(team=team)
        head.refresh_from_db()
    return head


def build(spec: ReportSpec, member: Membership, query: str = "period=last_month") -> Report:
    """The report as `member` sees it for `query`."""
    with tenant_context(member.tenant):
        return spec.build(params_for(member, QueryDict(query)))


def table(report: Report, key: str) -> Table:
    return next(t for t in report.tables if t.key == key)


def figures(row: Row) -> list[tuple]:
    """Each cell of `row` as (value, previous)."""
    return [(cell.value, cell.previous) for cell in row.cells]


def rows(table: Table) -> dict[str, Row]:
    return {row.label: row for row in table.rows}
