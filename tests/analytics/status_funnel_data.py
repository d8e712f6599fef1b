"""A known data set for the status and funnel reports: a workspace in Bogotá (UTC−5) with
two managers (one on a team), leads in the period 1–10 March 2026 and in the ten days
before, their stays in statuses and their deals; another tenant's lead on the same days.

Current cohort (1–10 March, local days), now = 15 March 12:00 local:

    lead  created       source    owner  status (state)        taken   closed  repeat deal
    L1    01.03 00:00   web_form  m1     New                   —       —       no     —
    L2    02.03 10:00   web_form  m1     In progress           +1 h    —       yes    —
    L3    03.03 09:00   call      m2     Clarifying (in prog.) +30 min —       no     —
    L4    04.03 08:00   call      m1     Converted             +2 h    +24 h   no     won +48 h
    L5    05.03 12:00   web_form  m2     Converted             +1 h    +6 h    yes    lost
    L6    06.03 12:00   web_form  —      Junk: spam            —       13:00   no     —
    L7    10.03 23:30   email     m2     Junk: not our client  +10 min 11.03   no     —
Left out: L8 (11.03 00:10 local), a deleted lead, another tenant's lead.
Previous cohort (19–28 February): L9 28.02 23:50 call m1 converted (taken +4 h, closed
+2 h, deal won +24 h); L10 20.02 web_form m2 New.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from crm.access import Scope
from crm.models import Membership, Role, Team, Tenant
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead, LeadSource, LeadStatus, StatusStay
from tests.deals.factories import make_deal
from tests.factories import add_member
from tests.leads.factories import make_lead

ZONE = zoneinfo.ZoneInfo("America/Bogota")
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=ZONE)
QUERY = "period=custom&date_from=2026-03-01&date_to=2026-03-10"
HOUR = 3600


def local(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=ZONE)


@dataclass
class Data:
    tenant: Tenant
    admin: Membership
    m1: Membership
    m2: Membership
    director: Membership
    statuses: list[LeadStatus]
    leads: dict[str, Lead] = field(default_factory=dict)


def add_lead(
    data: Data,
    name: str,
    *,
    created: dt.datetime,
    source: str,
    owner: Membership | None,
    status: int,
    taken: dt.datetime | None = None,
    closed: dt.datetime | None = None,
    repeat: bool = False,
    deal: tuple[str, dt.datetime] | None = None,
) -> Lead:
    """A lead with its analytics facts written directly (the services may not yet)."""
    lead = make_lead(data.admin, owner=owner, source=source)
    StatusStay.objects.filter(lead_id=lead.pk).delete()  # the services' own stays, if any
    won_deal = None
    if deal is not None:
        won_deal = make_deal(data.admin)
        Deal.objects.filter(pk=won_deal.pk).update(outcome=deal[0], closed_at=deal[1])
    chosen = data.statuses[status]
    Lead.objects.filter(pk=lead.pk).update(
        created_at=created,
        status=chosen,
        state=chosen.state,
        taken_at=taken,
        closed_at=closed,
        is_repeat=repeat,
        deal=won_deal,
    )
    lead.refresh_from_db()
    data.leads[name] = lead
    return lead


def stay(data: Data, lead: str, status: int, entered: dt.datetime, left: dt.datetime | None):
    StatusStay.objects.create(
        lead=data.leads[lead], status=data.statuses[status], entered_at=entered, left_at=left
    )


# Status positions of the default set.
NEW, IN_PROGRESS, CLARIFYING, CONVERTED, NOT_OURS, SPAM, WRONG, DUPLICATE = range(8)


def build_data(tenant: Tenant, other_tenant: Tenant) -> Data:
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="America/Bogota")
    tenant.refresh_from_db()
    m1 = add_member(tenant, Role.Kind.MANAGER)
    m2 = add_member(tenant, Role.Kind.MANAGER)
    director = add_member(tenant, Role.Kind.DIRECTOR)
    with tenant_context(tenant):
        admin = Membership.objects.filter(role__kind=Role.Kind.ADMIN).first()
        team = Team.objects.create(name="East")
        Membership.objects.filter(pk__in=[m2.pk, director.pk]).update(team=team)
        # Managers may read analytics (their own figures); the director sees the team.
        Role.objects.filter(kind=Role.Kind.MANAGER).update(can_view_analytics=True)
        role = Role.objects.get(kind=Role.Kind.DIRECTOR)
        role.rights["lead"]["view"] = Scope.TEAM
        role.save(update_fields=["rights"])
        fresh = Membership.objects.select_related("user", "role").in_bulk(
            [m1.pk, m2.pk, director.pk]
        )
        data = Data(
            tenant=tenant,
            admin=admin,
            m1=fresh[m1.pk],
            m2=fresh[m2.pk],
            director=fresh[director.pk],
            statuses=list(LeadStatus.objects.order_by("position")),
        )
        web, call, email = LeadSource.WEB_FORM, LeadSource.CALL, LeadSource.EMAIL
        m1, m2 = data.m1, data.m2
        add_lead(data, "L1", created=local(1), source=web, owner=m1, status=NEW)
        add_lead(
            data, "L2", created=local(2, 10), source=web, owner=m1, status=IN_PROGRESS,
            taken=local(2, 11), repeat=True,
        )  # fmt: skip
        add_lead(
            data, "L3", created=local(3, 9), source=call, owner=m2, status=CLARIFYING,
            taken=local(3, 9, 30),
        )  # fmt: skip
        add_lead(
            data, "L4", created=local(4, 8), source=call, owner=m1, status=CONVERTED,
            taken=local(4, 10), closed=local(5, 10), deal=("won", local(7, 10)),
        )  # fmt: skip
        add_lead(
            data, "L5", created=local(5, 12), source=web, owner=m2, status=CONVERTED,
            taken=local(5, 13), closed=local(5, 19), repeat=True, deal=("lost", local(6, 9)),
        )  # fmt: skip
        add_lead(
            data, "L6", created=local(6, 12), source=web, owner=None, status=SPAM,
            closed=local(6, 13),
        )  # fmt: skip
        add_lead(
            data, "L7", created=local(10, 23, 30), source=email, owner=m2, status=NOT_OURS,
            taken=local(10, 23, 40), closed=local(11),
        )  # fmt: skip
        # Outside the period or the cohort.
        add_lead(data, "L8", created=local(11, 0, 10), source=web, owner=m1, status=NEW)
        deleted = add_lead(data, "deleted", created=local(5), source=web, owner=m1, status=NEW)
        Lead.objects.filter(pk=deleted.pk).update(deleted_at=local(6))
        # The previous period.
        add_lead(
            data, "L9", created=local(28, 23, 50, month=2), source=call, owner=m1,
            status=CONVERTED, taken=local(1, 3, 50), closed=local(1, 5, 50),
            deal=("won", local(2, 5, 50)),
        )  # fmt: skip
        add_lead(data, "L10", created=local(20, 10, month=2), source=web, owner=m2, status=NEW)
        # Stays: L1 is still new; L3 went to Clarifying, In progress and back.
        stay(data, "L1", NEW, local(1), None)
        stay(data, "L2", NEW, local(2, 10), local(2, 11))
        stay(data, "L2", IN_PROGRESS, local(2, 11), None)
        stay(data, "L3", NEW, local(3, 9), local(3, 9, 30))
        stay(data, "L3", CLARIFYING, local(3, 9, 30), local(3, 10, 30))
        stay(data, "L3", IN_PROGRESS, local(3, 10, 30), local(3, 13, 30))
        stay(data, "L3", CLARIFYING, local(3, 13, 30), None)
        stay(data, "L4", NEW, local(4, 8), local(4, 10))
        stay(data, "L4", IN_PROGRESS, local(4, 10), local(5, 10))
        stay(data, "L4", CONVERTED, local(5, 10), None)
        stay(data, "L8", NEW, local(11, 0, 10), None)
        stay(data, "deleted", NEW, local(5), None)
        stay(data, "L9", NEW, local(28, 23, 50, month=2), local(1, 3, 50))
    with tenant_context(other_tenant):
        admin_b = Membership.objects.filter(role__kind=Role.Kind.ADMIN).first()
        other = make_lead(admin_b, source=web)
        Lead.objects.filter(pk=other.pk).update(created_at=local(3, 12), taken_at=local(3, 13))
    return data
