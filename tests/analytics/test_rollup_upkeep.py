"""Keeping the daily rollups: the periodic job (Celery's eager queue and the embedded
scheduler of `make run`), never today, idempotent; the rebuild command and its bad input;
the rollup tables isolated per workspace (row-level security on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.models import F

from analytics import rollups, triggers
from analytics.models import Grain, LeadDay, LeadDuration, RollupDay, RollupMark, StayDay
from analytics.tasks import rollups_refresh_all_task
from crm.celery import app
from crm.models import Membership, Role, Tenant
from crm.scheduler import EmbeddedScheduler
from crm.tenancy import tenant_context
from leads.models import Lead, LeadSource
from tests.leads.factories import make_lead

NOW = dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC)
FAR_EAST = "Asia/Kamchatka"  # UTC+12: 21:30 on the 15th at NOW


def _leads(tenant: Tenant, *ages_in_hours: float) -> list[Lead]:
    """Leads of `tenant` created that many hours before NOW."""
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind=Role.Kind.ADMIN)
        made = []
        for hours in ages_in_hours:
            lead = make_lead(admin, source=LeadSource.CALL)
            Lead.objects.filter(pk=lead.pk).update(created_at=NOW - dt.timedelta(hours=hours))
            made.append(lead)
        return made


def _state(tenant: Tenant) -> tuple[list, list, int]:
    """The workspace's rollup: its days, its rows (without ids), its marks."""
    with tenant_context(tenant):
        days = sorted(RollupDay.objects.values_list("day", "time_zone", "response_sla_minutes"))
        rows = sorted(
            LeadDay.objects.values_list("day", "grain", "source", "owner_id", "status_id", "leads"),
            key=str,
        )
        return days, rows, RollupMark.objects.count()


@pytest.fixture
def far_east(tenant):
    Tenant.objects.filter(pk=tenant.pk).update(time_zone=FAR_EAST)
    tenant.refresh_from_db()
    return tenant


@pytest.mark.django_db
def test_the_periodic_job_rolls_up_finished_local_days_never_today(far_east, other_tenant):
    # 10 h before NOW is 11:30 on the 15th in Kamchatka (today); 22 h is the 14th 23:30.
    _leads(far_east, 10, 22, 22, 24 * 5)
    _leads(other_tenant, 30)
    with time_machine.travel(NOW, tick=False):
        assert rollups_refresh_all_task.delay().get() == 2  # both workspaces queued
        days, rows, marks = _state(far_east)
    assert marks == 0
    assert [d[0] for d in days] == [dt.date(2026, 3, d) for d in range(10, 15)]
    assert {d[1:] for d in days} == {(FAR_EAST, far_east.response_sla_minutes)}
    by_day = {(day, grain): n for day, grain, _source, _owner, _status, n in rows}
    for grain in Grain.values:
        assert by_day[(dt.date(2026, 3, 14), grain)] == 2
        assert by_day[(dt.date(2026, 3, 10), grain)] == 1
        assert (dt.date(2026, 3, 15), grain) not in by_day  # today stays raw
    # The other workspace has its own rollup, in its own zone (Moscow: the 14th).
    other_days, other_rows, _ = _state(other_tenant)
    assert [d[0] for d in other_days] == [dt.date(2026, 3, 14)]
    assert {r[5] for r in other_rows} == {1}


@pytest.mark.django_db
def test_refreshing_again_changes_nothing_and_a_change_is_recomputed(far_east):
    (lead, _other) = _leads(far_east, 30, 50)
    with time_machine.travel(NOW, tick=False):
        rollups_refresh_all_task.delay()
        first = _state(far_east)
        rollups_refresh_all_task.delay()
        assert _state(far_east) == first
        with tenant_context(far_east):
            Lead.objects.filter(pk=lead.pk).update(source=LeadSource.EMAIL)
            assert RollupMark.objects.count() == 1
        rollups_refresh_all_task.delay()
        days, rows, marks = _state(far_east)
    assert days == first[0]
    assert marks == 0
    sources = {(r[0], r[2]) for r in rows if r[1] == Grain.SOURCE}
    day = (NOW - dt.timedelta(hours=30)).astimezone(zoneinfo.ZoneInfo(FAR_EAST)).date()
    assert (day, LeadSource.EMAIL) in sources
    assert (day, LeadSource.CALL) not in sources


@pytest.mark.django_db
def test_a_refresh_catches_up_in_turns_newest_first(far_east):
    _leads(far_east, 24 * 10)
    with time_machine.travel(NOW, tick=False), tenant_context(far_east):
        done = rollups.refresh(far_east, limit=4)
        assert done["days"] == 4
        assert done["left"] == 6
        days = sorted(RollupDay.objects.values_list("day", flat=True))
        assert days == [dt.date(2026, 3, d) for d in range(11, 15)]
        assert rollups.refresh(far_east, limit=4)["left"] == 2
        # The two days' rows: 5 counts (status, source and hour grains; no UTM), no
        # durations or stays (these leads were never answered, taken or moved).
        assert rollups.refresh(far_east, limit=4) == {"days": 2, "rows": 5, "marks": 0, "left": 0}


@pytest.mark.django_db(transaction=True)
def test_the_embedded_scheduler_runs_the_refresh_from_the_beat_schedule(far_east):
    _leads(far_east, 30)
    entry = settings.CELERY_BEAT_SCHEDULE["analytics-rollups"]
    scheduler = EmbeddedScheduler(app=app, schedule={"analytics-rollups": entry})
    with time_machine.travel(NOW, tick=False):
        scheduler.tick()
        days, rows, marks = _state(far_east)
    assert [d[0] for d in days] == [dt.date(2026, 3, 14)]
    assert len(rows) == len(Grain.values)
    assert marks == 0


@pytest.mark.django_db
def test_the_rebuild_command_rolls_up_a_workspace_from_scratch(far_east, other_tenant):
    _leads(far_east, 30, 60)
    _leads(other_tenant, 30)
    with time_machine.travel(NOW, tick=False):
        with tenant_context(far_east):
            rollups.refresh(far_east)
            # A row written around the triggers' logic (by hand, say): the rebuild drops it.
            LeadDay.objects.filter(grain=Grain.SOURCE).update(leads=99)
        out = StringIO()
        call_command("rollups_rebuild", far_east.slug, stdout=out)
        days, rows, marks = _state(far_east)
    assert f"{far_east.slug}: 2 days rolled up" in out.getvalue()
    assert {r[5] for r in rows} == {1}
    assert marks == 0
    assert len(days) == 2  # from the first lead's day (the 13th) to yesterday
    assert _state(other_tenant)[0] == []  # another workspace is left alone


@pytest.mark.django_db
def test_the_rebuild_command_does_every_workspace_with_all(far_east, other_tenant):
    _leads(other_tenant, 30)
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("rollups_rebuild", "--all", stdout=out)
    assert f"{other_tenant.slug}: 1 days rolled up" in out.getvalue()
    assert f"{far_east.slug}: 0 days rolled up" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Give the workspaces to rebuild"),
        (("no-such-workspace",), "No such workspace: no-such-workspace."),
        (("--all", "acme"), "not both"),
    ],
)
def test_the_rebuild_command_refuses_bad_input_and_writes_nothing(far_east, args, message):
    _leads(far_east, 30)
    with tenant_context(far_east):
        before = RollupMark.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("rollups_rebuild", *args)
    with tenant_context(far_east):
        assert RollupDay.objects.count() == 0
        assert RollupMark.objects.count() == before


@pytest.mark.postgres
@pytest.mark.django_db
def test_rollup_tables_are_isolated_per_workspace(tenant, other_tenant):
    _leads(tenant, 30)
    _leads(other_tenant, 30, 40)
    with time_machine.travel(NOW, tick=False):
        for workspace in (tenant, other_tenant):
            with tenant_context(workspace):
                answered = F("created_at") + dt.timedelta(minutes=5)
                Lead.objects.update(first_response_at=answered)
                rollups.refresh(workspace)
                assert LeadDuration.objects.exists()
                assert StayDay.objects.exists()
    for model in (LeadDay, LeadDuration, StayDay, RollupDay):
        table = model._meta.db_table
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(f'SELECT DISTINCT tenant_id FROM "{table}"')  # noqa: S608
            assert {row[0] for row in cursor.fetchall()} == {tenant.pk}
        with transaction.atomic(), connection.cursor() as cursor:  # no workspace: nothing
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608
            assert cursor.fetchone()[0] == 0
    # The triggers write marks as the application role, into the changing lead's workspace
    # only; writing into another workspace's rollup is refused.
    with tenant_context(other_tenant):
        Lead.objects.update(source=LeadSource.EMAIL)
        assert RollupMark.objects.count() == 2
    with tenant_context(tenant):
        assert RollupMark.objects.count() == 0
    with (
        tenant_context(tenant),
        pytest.raises((ProgrammingError, IntegrityError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            'INSERT INTO "analytics_rollupmark" (tenant_id, at, created_at, updated_at) '
            "VALUES (%s, now(), now(), now())",
            [other_tenant.pk],
        )


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'analytics%%'")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'analytics%'"
            )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_the_triggers_are_installed_after_every_migrate(far_east):
    # Leads, deals and stays: PostgreSQL 6 (3 functions); SQLite 8.
    assert len(_triggers()) in (6, 8)
    _leads(far_east, 30)
    with time_machine.travel(NOW, tick=False), tenant_context(far_east):
        rollups.refresh(far_east)
        assert RollupDay.objects.exists()
    if connection.vendor == "sqlite":
        # SQLite migrates without them (a table remake would drop or trip over them), and
        # after migrations applied without marks, the rollups go: read raw, rolled up again.
        triggers.before_migrate(sender=None)
        assert _triggers() == set()
        triggers.after_migrate(sender=None, plan=[("a migration", False)])
        with tenant_context(far_east):
            assert not RollupDay.objects.exists()
    else:
        triggers.after_migrate(sender=None, plan=[("a migration", False)])
        with tenant_context(far_east):
            assert RollupDay.objects.exists()  # PostgreSQL kept the triggers through it
    assert len(_triggers()) in (6, 8)
