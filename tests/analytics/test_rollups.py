"""The daily rollups (analytics.rollups, decision 011): every figure of every report and of
the dashboard is the same read through the rollups as read raw, on random data (seeded) in
three workspaces — Moscow, Bogotá (UTC−5) and Kiritimati (UTC+14) — for every period and
a spread of filters and viewers; and stays the same after late changes (a lead converted,
junked, reassigned, moved, deleted or answered a month after it came, a deal won later, a
stay closed or deleted, a lead imported into an old day, the time zone and the response
time limit changed), before the worker has seen them (the marks make those days raw) and
after it has (recomputed), and later the same day (open stays grow with now).

The counts, the medians and percentiles (from the per-minute histograms) and the time in
status (from the stays' sums) are all compared, with durations on the edges of a minute
(a microsecond short of one, exactly on one, negative ones, several days long).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from analytics import dashboard, rollups
from analytics.models import LeadDay, LeadDuration, RollupDay, RollupMark, StayDay
from analytics.params import params_for
from analytics.reports import REPORTS
from analytics.tasks import rollups_refresh_all_task
from channels.services import channel_create
from crm.access import Scope
from crm.models import Membership, Role, Team, Tenant
from crm.tenancy import tenant_context
from deals.models import Deal, Outcome, Pipeline
from deals.services import first_stage
from leads import services as lead_services
from leads.conversion import lead_convert_to_deal
from leads.models import Lead, LeadSource, LeadState, LeadStatus, StatusStay
from tests.factories import add_member, make_tenant

NOW = dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC)  # Kiritimati: 23:30 on the 15th
ZONES = ("Europe/Moscow", "America/Bogota", "Pacific/Kiritimati")
LEADS = 140  # a workspace
DAYS = 130  # spread over the days before now
SOURCES = [LeadSource.WEB_FORM, LeadSource.CALL, LeadSource.EMAIL, LeadSource.MANUAL]
UTM = [("", ""), ("google", "brand"), ("google", "generic"), ("yandex", "brand")]
ROLLUP_TABLES = ("analytics_leadday", "analytics_leadduration", "analytics_stayday")


@dataclasses.dataclass
class World:
    tenant: Tenant
    admin: Membership
    managers: list[Membership]
    director: Membership
    team: Team
    channel: int
    statuses: list[LeadStatus]
    leads: list[Lead]


def _instant(rng: random.Random, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """A creation instant in the days before now; one in six on a local day's very edge."""
    moment = NOW - dt.timedelta(seconds=rng.uniform(0, DAYS * 86400))
    if rng.random() < 1 / 6:
        local = moment.astimezone(zone)
        midnight = dt.datetime.combine(local.date(), dt.time.min, tzinfo=zone)
        edge = midnight if rng.random() < 0.5 else midnight + dt.timedelta(days=1, microseconds=-1)
        moment = min(edge, NOW - dt.timedelta(seconds=1))
    return moment


def _delay(rng: random.Random, longest: float) -> dt.timedelta:
    """A random duration up to `longest` seconds; one in five on the edge of a minute
    (a microsecond short of it, or exactly on it)."""
    seconds = rng.uniform(0, longest)
    if rng.random() < 0.2:
        minutes = dt.timedelta(minutes=int(seconds // 60) + 1)
        return minutes - dt.timedelta(microseconds=1) if rng.random() < 0.5 else minutes
    return dt.timedelta(seconds=seconds)


def _stays(rng: random.Random, world_statuses: list[LeadStatus], leads: list[Lead]) -> None:
    """Random stays: a closed one or two from creation on, then an open one in the lead's
    status (some leads without any); a few entered before the lead's creation (an
    inconsistency both ways leave out) or closed a microsecond short of a second."""
    stays = []
    for lead in leads:
        if rng.random() < 0.15:
            continue
        at = lead.created_at
        if rng.random() < 0.05:
            at -= dt.timedelta(hours=1)
        for _ in range(rng.randint(0, 2)):
            left = at + _delay(rng, 2 * 86400)
            if rng.random() < 0.1:
                left = left.replace(microsecond=999_999)
            stays.append(
                StatusStay(
                    tenant=lead.tenant,
                    lead=lead,
                    status=rng.choice(world_statuses),
                    entered_at=at,
                    left_at=left,
                )
            )
            at = left
        stays.append(StatusStay(tenant=lead.tenant, lead=lead, status=lead.status, entered_at=at))
    StatusStay.objects.bulk_create(stays)


def build_world(slug: str, zone_name: str, seed: int) -> World:
    rng = random.Random(seed)
    zone = zoneinfo.ZoneInfo(zone_name)
    tenant = make_tenant(slug)
    Tenant.objects.filter(pk=tenant.pk).update(time_zone=zone_name, response_sla_minutes=30)
    tenant.refresh_from_db()
    managers = [add_member(tenant, Role.Kind.MANAGER) for _ in range(3)]
    director = add_member(tenant, Role.Kind.DIRECTOR)
    with tenant_context(tenant):
        admin = Membership.objects.filter(role__kind=Role.Kind.ADMIN).first()
        team = Team.objects.create(name="East")
        Membership.objects.filter(pk__in=[managers[1].pk, director.pk]).update(team=team)
        Role.objects.filter(kind=Role.Kind.MANAGER).update(can_view_analytics=True)
        role = Role.objects.get(kind=Role.Kind.DIRECTOR)
        role.rights["lead"]["view"] = Scope.TEAM
        role.save(update_fields=["rights"])
        channel = channel_create(actor=admin, kind="web_form", name="Форма").pk
        statuses = list(LeadStatus.objects.order_by("position"))
        members = Membership.objects.select_related("user", "role", "tenant")
        managers = [members.get(pk=m.pk) for m in managers]
        director = members.get(pk=director.pk)
        admin = members.get(pk=admin.pk)
        pipeline = Pipeline.objects.get(is_default=True)
        stages = {kind: first_stage(pipeline, kind) for kind in Outcome.values}
        owners = [None, *managers, director]
        leads, created = [], []
        for index in range(LEADS):
            status = rng.choice(statuses)
            at = _instant(rng, zone)
            created.append(at)
            utm = rng.choice(UTM)
            response = None
            if rng.random() < 0.7:
                # Some exactly at the limit (30 min), some within a few minutes (the
                # histograms' busy bars), the rest anywhere in three days.
                delay = _delay(rng, rng.choice([600, 3 * 86400]))
                response = at + (dt.timedelta(minutes=30) if rng.random() < 0.1 else delay)
            taken = None
            if status.state != LeadState.NEW and rng.random() < 0.8:
                # Taken up to two days later: after the lead's closing (a day later) too,
                # a negative time from work to conversion.
                taken = at + _delay(rng, 2 * 86400)
            leads.append(
                Lead(
                    tenant=tenant,
                    title=f"Lead {index}",
                    phone=f"+7999{seed:03d}{index:04d}",
                    source=rng.choice(SOURCES),
                    channel_id=rng.choice([None, channel, channel + 1000]),
                    utm_source=utm[0],
                    utm_campaign=utm[1],
                    owner=rng.choice(owners),
                    status=status,
                    state=status.state,
                    is_repeat=rng.random() < 0.3,
                    taken_at=taken,
                    first_response_at=response,
                    closed_at=(at + dt.timedelta(days=1))
                    if status.state in (LeadState.CONVERTED, LeadState.JUNK)
                    else None,
                )
            )
        Lead.objects.bulk_create(leads)
        for lead, at in zip(leads, created, strict=True):
            lead.created_at = at
        Lead.objects.bulk_update(leads, ["created_at"])
        deals = []
        for lead in leads:
            if lead.state == LeadState.CONVERTED and rng.random() < 0.7:
                outcome = rng.choice(Outcome.values)
                deal = Deal(
                    tenant=tenant,
                    title=f"Deal of {lead.title}",
                    amount=Decimal(rng.randint(100, 999_999)) / 100,
                    currency="RUB",
                    outcome=outcome,
                    pipeline=pipeline,
                    stage=stages[outcome],
                    owner=lead.owner,
                    source_lead=lead,
                )
                deal.closed_at = None if outcome == Outcome.OPEN else NOW - dt.timedelta(days=1)
                deals.append(deal)
                lead.deal = deal
        Deal.objects.bulk_create(deals)
        Lead.objects.bulk_update([deal.source_lead for deal in deals], ["deal"])
        _stays(rng, statuses, leads)
    return World(tenant, admin, managers, director, team, channel, statuses, leads)


def queries(world: World) -> list[str]:
    junk = next(s for s in world.statuses if s.state == LeadState.JUNK)
    return [
        "",
        "period=today",
        "period=yesterday",
        "period=this_month",
        "period=last_month",
        "period=this_quarter",
        "period=this_year",
        "period=custom&date_from=2025-12-01&date_to=2026-01-31",
        "period=custom&date_from=2026-03-14&date_to=2026-03-16",
        "source=web_form",
        f"owner={world.managers[0].pk}",
        f"team={world.team.pk}",
        f"status={junk.pk}",
        f"channel={world.channel}",
        "period=this_quarter&source=call&source=email",
        f"period=this_quarter&status={junk.pk}&owner={world.managers[2].pk}",
        # Not dimensions of one grain: raw, and still the same.
        "utm_source=google",
        f"source=web_form&status={junk.pk}",
    ]


def figures(world: World, viewer: Membership, query: str) -> str:
    """Every figure (and link) of every report and of the dashboard, as JSON."""
    with tenant_context(world.tenant):
        viewer = Membership.objects.select_related("user", "role", "tenant").get(pk=viewer.pk)
        params = params_for(viewer, QueryDict(query))
        built: dict[str, Any] = {
            slug: dataclasses.asdict(spec.build(params)) for slug, spec in REPORTS.items()
        }
        built["dashboard"] = [dataclasses.asdict(tile) for tile in dashboard.tiles(params)]
    return json.dumps(built, default=_plain, sort_keys=True)


def _plain(value: Any) -> str:
    """JSON for what it lacks: text, and a decimal by its value (SQLite answers a SUM with 15
    significant digits, "10158.9500000000", and a sum of sums may have fewer)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def rolled_and_raw(world: World, viewer: Membership, query: str) -> tuple[str, str, set[str]]:
    """The figures through the rollups and raw, and which rollup tables were read."""
    connection.queries_log.clear()  # a full log (9,000 queries) would capture nothing
    with CaptureQueriesContext(connection) as captured:
        rolled = figures(world, viewer, query)
    used = {t for t in ROLLUP_TABLES for q in captured.captured_queries if t in q["sql"]}
    with override_settings(ANALYTICS_ROLLUPS=False):
        raw = figures(world, viewer, query)
    return rolled, raw, used


def assert_same_everywhere(worlds: list[World], *, expect_rollups: bool, few: bool = False) -> None:
    """Every figure the same both ways, for each workspace, query and viewer; `few`: the
    default period only (when nothing can be read from the rollups anyway)."""
    for world in worlds:
        used_any: set[str] = set()
        for query in [""] if few else queries(world):
            rolled, raw, used = rolled_and_raw(world, world.admin, query)
            assert rolled == raw, (world.tenant.time_zone, query)
            used_any |= used
        for viewer in (world.director, world.managers[0]):
            for query in ("", "period=this_quarter", "source=call"):
                rolled, raw, used = rolled_and_raw(world, viewer, query)
                assert rolled == raw, (world.tenant.time_zone, viewer.role.kind, query)
        # The counts, the histograms and the stays were all read (or none of them).
        assert used_any == (set(ROLLUP_TABLES) if expect_rollups else set()), world.tenant


def refresh_all() -> None:
    """The periodic job as beat runs it (the eager queue of tests: in-process)."""
    rollups_refresh_all_task.delay()


def marks(world: World) -> int:
    with tenant_context(world.tenant):
        return RollupMark.objects.count()


@pytest.fixture
def worlds(db) -> list[World]:
    with time_machine.travel(NOW, tick=False):
        built = [
            build_world(f"zone{i}", zone, seed=100 + i) for i, zone in enumerate(ZONES, start=1)
        ]
        yield built


def late_changes(world: World, rng: random.Random) -> None:
    """A month after the leads came: converted, junked, moved, reassigned, deleted (to the
    trash and for good), answered; a deal won and re-priced; a lead imported into an old day."""
    with tenant_context(world.tenant):
        old = list(
            Lead.objects.select_related("status", "owner").filter(
                created_at__lt=NOW - dt.timedelta(days=30), deleted_at=None
            )
        )
        rng.shuffle(old)
        admin = world.admin
        fresh = [lead for lead in old if lead.state in (LeadState.NEW, LeadState.IN_PROGRESS)]
        lead_convert_to_deal(actor=admin, lead=fresh[0])
        junk = next(s for s in world.statuses if s.state == LeadState.JUNK)
        lead_services.lead_move(actor=admin, lead=fresh[1], status=junk)
        lead_services.lead_assign(actor=admin, lead=fresh[2], owner=world.managers[2])
        lead_services.lead_delete(actor=admin, lead=fresh[3])
        Lead.objects.filter(pk=fresh[4].pk).delete()
        Lead.objects.filter(pk=fresh[5].pk).update(first_response_at=NOW, taken_at=NOW)
        in_progress = next(
            s for s in world.statuses if s.state == LeadState.IN_PROGRESS and not s.is_default
        )
        lead_services.lead_move(actor=admin, lead=fresh[6], status=in_progress)
        # Deals of leads from any day before today (the generated deals are few).
        with_deal = list(
            Lead.objects.filter(deal__isnull=False, created_at__lt=NOW - dt.timedelta(days=2))
            .exclude(deal__outcome=Outcome.WON)
            .order_by("pk")
            .values_list("deal_id", flat=True)
        )
        Deal.objects.filter(pk=with_deal[0]).update(outcome=Outcome.WON, closed_at=NOW)
        Deal.objects.filter(pk=with_deal[1]).update(amount=Decimal("123456.78"))
        # A won deal's closing moved alone (the time from conversion to the win), a lead's
        # closing moved alone (the time from work to conversion).
        won = Lead.objects.filter(deal__outcome=Outcome.WON, created_at__lt=NOW - dt.timedelta(2))
        Deal.objects.filter(pk=won.order_by("pk").values("deal_id")[:1]).update(
            closed_at=NOW - dt.timedelta(hours=5)
        )
        converted = Lead.objects.filter(state=LeadState.CONVERTED, taken_at__isnull=False)
        Lead.objects.filter(pk=converted.order_by("-pk").values("pk")[:1]).update(
            closed_at=NOW - dt.timedelta(days=3, seconds=59)
        )
        # An old open stay closed, another old stay deleted, by themselves.
        stays = StatusStay.objects.filter(lead__created_at__lt=NOW - dt.timedelta(days=30))
        StatusStay.objects.filter(pk=stays.filter(left_at=None).order_by("pk")[0].pk).update(
            left_at=NOW - dt.timedelta(hours=1)
        )
        StatusStay.objects.filter(pk=stays.exclude(left_at=None).order_by("-pk")[0].pk).delete()
        imported = Lead(
            tenant=world.tenant,
            title="Imported",
            phone="+79990000001",
            status=world.statuses[0],
            state=world.statuses[0].state,
            source=LeadSource.MANUAL,
        )
        imported.save()
        Lead.objects.filter(pk=imported.pk).update(created_at=NOW - dt.timedelta(days=45))


@pytest.mark.django_db(transaction=False)
def test_rollups_equal_the_raw_figures_through_late_changes(worlds):
    with time_machine.travel(NOW, tick=False):
        # Nothing rolled up yet: every request raw.
        assert_same_everywhere(worlds, expect_rollups=False, few=True)
        refresh_all()
        for world in worlds:
            with tenant_context(world.tenant):
                local_today = dt.datetime.now(zoneinfo.ZoneInfo(world.tenant.time_zone)).date()
                days = set(RollupDay.objects.values_list("day", flat=True))
                assert max(days) == local_today - dt.timedelta(days=1)  # never today
                assert LeadDay.objects.exists()
                assert LeadDuration.objects.exists()
                assert StayDay.objects.filter(open__gt=0).exists()
                assert StayDay.objects.filter(closed__gt=0).exists()
            assert marks(world) == 0
        assert_same_everywhere(worlds, expect_rollups=True)

        rng = random.Random(7)
        for world in worlds:
            late_changes(world, rng)
            assert marks(world) > 0
        # Before the worker: the changed days are marked, read raw.
        assert_same_everywhere(worlds, expect_rollups=True)
        refresh_all()
        assert all(marks(world) == 0 for world in worlds)
        assert_same_everywhere(worlds, expect_rollups=True)

        # Later the same day: open stays are longer (their average is computed on reading).
        with time_machine.travel(NOW + dt.timedelta(minutes=97, seconds=13), tick=False):
            assert_same_everywhere(worlds, expect_rollups=True, few=True)

        # The zone and the response time limit change: no day holds until recomputed.
        for world, zone in zip(worlds, reversed(ZONES), strict=True):
            Tenant.objects.filter(pk=world.tenant.pk).update(time_zone=zone, response_sla_minutes=5)
            world.tenant.refresh_from_db()
            world.admin.tenant = world.tenant
        assert_same_everywhere(worlds, expect_rollups=False, few=True)
        refresh_all()
        assert_same_everywhere(worlds, expect_rollups=True)


@pytest.mark.django_db
def test_marks_are_written_by_the_change_in_its_transaction(worlds):
    world = worlds[0]
    with time_machine.travel(NOW, tick=False), tenant_context(world.tenant):
        rollups.rebuild(world.tenant)
        assert RollupMark.objects.count() == 0
        lead = (
            Lead.objects.filter(deleted_at=None)
            .exclude(owner=world.managers[1])
            .order_by("created_at")
            .first()
        )
        Lead.objects.filter(pk=lead.pk).update(title="A title no rollup reads")
        assert RollupMark.objects.count() == 0
        Lead.objects.filter(pk=lead.pk).update(owner=world.managers[1])
        assert list(RollupMark.objects.values_list("at", flat=True)) == [lead.created_at]
        Lead.objects.filter(pk=lead.pk).update(created_at=lead.created_at + dt.timedelta(days=3))
        moved = [lead.created_at, lead.created_at + dt.timedelta(days=3)]
        assert sorted(RollupMark.objects.values_list("at", flat=True)) == [moved[0], *moved]
        day = lead.created_at.astimezone(zoneinfo.ZoneInfo(world.tenant.time_zone)).date()
        assert day not in rollups.clean_days(day, day, world.tenant.response_sla_minutes)
        rollups.refresh(world.tenant)
        assert RollupMark.objects.count() == 0
        assert day in rollups.clean_days(day, day, world.tenant.response_sla_minutes)
        # A stay closed, moved to another status or deleted by itself marks its lead.
        stay = StatusStay.objects.filter(left_at=None).select_related("lead").first()
        StatusStay.objects.filter(pk=stay.pk).update(left_at=NOW)
        StatusStay.objects.filter(pk=stay.pk).update(status=world.statuses[-1])
        StatusStay.objects.filter(pk=stay.pk).delete()
        assert list(RollupMark.objects.values_list("at", flat=True)) == [stay.lead.created_at] * 3
