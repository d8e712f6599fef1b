"""Every figure links to the records behind it: for every report and every dashboard tile,
each count's link opens the lead or deal list showing exactly that many records (its
"Found: N"), for a director who sees everything and for a manager who sees their own."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from analytics.reports import REPORTS
from analytics.tables import COUNT
from channels.models import Channel
from crm.models import Activity, Role
from crm.tenancy import tenant_context
from deals.models import Deal, LossReason, Outcome, Stage
from leads.models import Lead, LeadSource, LeadState, LeadStatus
from tests.deals.factories import make_deal
from tests.factories import add_member
from tests.leads.factories import make_lead

BOGOTA = zoneinfo.ZoneInfo("America/Bogota")  # UTC−5
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=BOGOTA)


def _at(days_ago: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    day = (NOW - dt.timedelta(days=days_ago)).date()
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BOGOTA)


@pytest.fixture
def world(tenant, admin, other_tenant, other_admin):
    """Leads of three sources and two channels, owned by two managers and the pool, in
    every state; converted ones with deals won, lost and open; answers in and out of the
    response time; repeat leads; UTM tags; overdue activities; deals closed in the period
    and expected next month; and another workspace's lead that must never count."""
    tenant.time_zone = "America/Bogota"
    tenant.save()
    anna, boris = add_member(tenant, "manager"), add_member(tenant, "manager")
    with tenant_context(tenant), time_machine.travel(NOW, tick=False):
        site = Channel.objects.create(kind="web_form", name="Сайт")
        bot = Channel.objects.create(kind="telegram", name="Бот")
        statuses = {s.state: s for s in LeadStatus.objects.filter(is_default=True)}
        junk = list(LeadStatus.objects.filter(state=LeadState.JUNK))
        won = Stage.objects.filter(kind=Outcome.WON).first()
        lost = Stage.objects.filter(kind=Outcome.LOST).first()
        specs = [
            # days ago, hour, owner, source, channel, state, response min, repeat, utm, deal
            (0, 0, anna, LeadSource.WEB_FORM, site, LeadState.NEW, None, False, "ya", None),
            (1, 23, anna, LeadSource.WEB_FORM, site, LeadState.IN_PROGRESS, 5, True, "ya", None),
            (3, 9, boris, LeadSource.CALL, None, LeadState.IN_PROGRESS, 40, False, "", None),
            (5, 14, anna, LeadSource.TELEGRAM, bot, LeadState.CONVERTED, 10, False, "", "won"),
            (8, 11, boris, LeadSource.WEB_FORM, site, LeadState.CONVERTED, 90, True, "vk", "lost"),
            (9, 12, boris, LeadSource.CALL, None, LeadState.CONVERTED, 2, False, "", "open"),
            (12, 8, None, LeadSource.WEB_FORM, site, LeadState.NEW, None, False, "ya", None),
            (15, 16, anna, LeadSource.CALL, None, LeadState.JUNK, 15, False, "", None),
            (20, 7, boris, LeadSource.WEB_FORM, site, LeadState.JUNK, 3, True, "vk", None),
            (29, 0, anna, LeadSource.WEB_FORM, site, LeadState.CONVERTED, 1, False, "ya", "won"),
            (35, 10, anna, LeadSource.WEB_FORM, site, LeadState.CONVERTED, 4, False, "ya", "won"),
            (40, 10, boris, LeadSource.CALL, None, LeadState.JUNK, None, False, "", None),
        ]
        for index, (
            ago,
            hour,
            owner,
            source,
            channel,
            state,
            minutes,
            repeat,
            utm,
            deal,
        ) in enumerate(specs):
            lead = make_lead(admin, owner=owner, title=f"L{index}", source=source)
            created = _at(ago, hour)
            status = junk[index % len(junk)] if state == LeadState.JUNK else statuses[state]
            fields = {
                "created_at": created,
                "state": state,
                "status": status,
                "channel_id": channel.pk if channel else None,
                "is_repeat": repeat,
                "utm_source": utm,
                "utm_campaign": f"{utm}-camp" if utm else "",
                "first_response_at": created + dt.timedelta(minutes=minutes)
                if minutes is not None
                else None,
                "taken_at": created + dt.timedelta(minutes=minutes or 1)
                if state != LeadState.NEW
                else None,
                "closed_at": created + dt.timedelta(days=1)
                if state in (LeadState.CONVERTED, LeadState.JUNK)
                else None,
                "archived_at": NOW if index == 8 else None,
            }
            if deal:
                made = make_deal(admin, owner=owner, data={"amount": Decimal(1000 * (index + 1))})
                stage = {"won": won, "lost": lost}.get(deal, made.stage)
                Deal.objects.filter(pk=made.pk).update(
                    source_lead=lead,
                    stage=stage,
                    outcome=deal,
                    closed_at=created + dt.timedelta(days=2) if deal != "open" else None,
                    expected_close=(NOW + dt.timedelta(days=3)).date(),
                    loss_reason=LossReason.objects.get(name="Дорого") if deal == "lost" else None,
                )
                fields["deal"] = made
            Lead.objects.filter(pk=lead.pk).update(**fields)
            if index in (1, 2):
                Activity.objects.create(
                    target=lead,
                    kind="call",
                    subject="Перезвонить",
                    owner=owner,
                    due_at=NOW - dt.timedelta(hours=2),
                )
    with tenant_context(other_tenant), time_machine.travel(NOW, tick=False):
        stranger = make_lead(other_admin, title="чужой", source=LeadSource.WEB_FORM)
        Lead.objects.filter(pk=stranger.pk).update(created_at=_at(2))
    return {"anna": anna, "boris": boris}


def _count_of(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    total = response.context.get("total")
    assert total is not None, f"{url} shows no count"
    return total


def _figures(client: Client, tenant, period: str):
    """Every count (value, link) of every report's tables and of the dashboard's tiles."""
    for slug in REPORTS:
        url = reverse("analytics:report", kwargs={"tenant_slug": tenant.slug, "slug": slug})
        report = client.get(f"{url}?period={period}").context["report"]
        for table in report.tables:
            for row in [*table.rows, *([table.total] if table.total else [])]:
                for cell, column in zip(row.cells, table.columns, strict=True):
                    if column.kind == COUNT and cell.url:
                        yield f"{slug}/{table.key}/{row.label}/{column.label}", cell
    url = reverse("analytics:dashboard", kwargs={"tenant_slug": tenant.slug})
    for tile in client.get(f"{url}?period={period}").context["tiles"]:
        if tile.column.kind == COUNT and tile.cell.url:
            yield f"dashboard/{tile.key}", tile.cell


@pytest.mark.parametrize("period", ["last_30_days", "this_month", "last_7_days"])
@time_machine.travel(NOW, tick=False)
def test_every_count_links_to_a_list_of_exactly_that_many(world, director, client_for, period):
    client = client_for(director)
    checked = 0
    for name, cell in _figures(client, director.tenant, period):
        assert _count_of(client, cell.url) == cell.value, name
        checked += 1
    assert checked > 150  # every report took part


@time_machine.travel(NOW, tick=False)
def test_a_manager_with_the_analytics_right_drills_into_their_own(world, tenant, client_for):
    anna = world["anna"]
    with tenant_context(tenant):
        Role.objects.filter(pk=anna.role_id).update(can_view_analytics=True)
    client = client_for(anna)
    checked = 0
    for name, cell in _figures(client, tenant, "last_30_days"):
        assert _count_of(client, cell.url) == cell.value, name
        checked += 1
    assert checked > 100
    # Her own leads of the period: L0, L1, L3, L7, L9 (L10 is 35 days old).
    home = client.get(reverse("analytics:dashboard", kwargs={"tenant_slug": tenant.slug}))
    tiles = {t.key: t.cell for t in home.context["tiles"]}
    assert tiles["leads"].value == 5
