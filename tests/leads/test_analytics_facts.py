"""The facts analytics reads off leads: when a lead went into work (taken_at), whether it
was a repeat inquiry (is_repeat), and its stays in each status (StatusStay) — kept by every
path that changes a lead's status, and filled for existing leads by migration 0016."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels.services import channel_create
from crm.models import Tenant
from crm.tenancy import tenant_context
from leads import services
from leads.conversion import lead_convert_to_deal
from leads.models import Lead, LeadState, LeadStatus, StatusStay
from tests.factories import make_tenant
from tests.leads.factories import make_lead

MIGRATION = "0016_backfill_analytics_facts"
LEAD = {"name": "Анна", "phone": "+7 999 123 4567", "message": "Сколько стоит?"}
T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 10:30 on the 2nd in Vladivostok


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def status(state: str, *, default: bool = True) -> LeadStatus:
    return LeadStatus.objects.filter(state=state, is_default=default).order_by("pk").first()


def stays(lead: Lead) -> list[tuple[str, datetime, datetime | None]]:
    rows = StatusStay.objects.filter(lead=lead).select_related("status")
    return [(s.status.name, s.entered_at, s.left_at) for s in rows.order_by("entered_at", "pk")]


def assert_one_open_stay_each() -> None:
    """Every lead of the active tenant has exactly one open stay, in its status."""
    for lead in Lead.objects.all():
        open_stays = StatusStay.objects.filter(lead=lead, left_at=None)
        assert [s.status_id for s in open_stays] == [lead.status_id], lead.title


@pytest.fixture
def tenant(db) -> Tenant:
    """A workspace east of UTC: an instant and its local day differ."""
    tenant = make_tenant("acme", name="Acme")
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Asia/Vladivostok")
    tenant.refresh_from_db()
    return tenant


@pytest.fixture
def deliver(tenant, admin, django_capture_on_commit_callbacks):
    """POST an inquiry to an API channel of the tenant, as a partner site would."""
    with tenant_context(tenant):
        channel = channel_create(actor=admin, kind="api", name="Сайт-партнёр")
    url = reverse("inbound", kwargs={"token": channel.token})

    def send(payload: dict[str, str]):
        body = json.dumps(payload, ensure_ascii=False)
        auth = f"Bearer {channel.secret}"
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(
                url, body, content_type="application/json", HTTP_AUTHORIZATION=auth
            )
        assert response.status_code == 202
        return response

    return send


def travel(minutes: int):
    return time_machine.travel(at(minutes), tick=False)


# --- taken_at ------------------------------------------------------------------------------


def test_taking_a_lead_sets_taken_at_once_and_junk_and_reopen_keep_it(
    tenant, admin, manager, client_for
):
    with tenant_context(tenant), travel(0):
        lead = make_lead(admin, owner=None)
    assert lead.taken_at is None
    with travel(7):
        response = client_for(manager).post(f"/{tenant.slug}/leads/{lead.pk}/take/")
    assert response.status_code in (200, 302)
    with tenant_context(tenant):
        lead.refresh_from_db()
        assert (lead.state, lead.taken_at) == (LeadState.IN_PROGRESS, at(7))
        with travel(30):
            services.lead_move(actor=manager, lead=lead, status=status("junk"))
        with travel(60):
            services.lead_move(actor=manager, lead=lead, status=status("in_progress"))
        with travel(90):
            services.lead_move(
                actor=manager, lead=lead, status=status("in_progress", default=False)
            )
        lead.refresh_from_db()
        assert lead.taken_at == at(7)
        assert lead.closed_at is None


def test_a_lead_junked_straight_from_new_was_never_taken(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        services.lead_move(actor=admin, lead=lead, status=status("junk", default=False))
        lead.refresh_from_db()
        assert lead.taken_at is None
        # Reopened from junk, it goes into work then.
        with travel(5):
            services.lead_move(actor=admin, lead=lead, status=status("in_progress"))
        assert Lead.objects.get(pk=lead.pk).taken_at == at(5)


def test_conversion_sets_taken_at_only_when_the_lead_was_never_in_work(tenant, admin):
    with tenant_context(tenant):
        with travel(0):
            straight = make_lead(admin, **LEAD)
            worked = make_lead(admin, name="Борис", email="boris@example.com")
        with travel(3):
            services.lead_move(actor=admin, lead=worked, status=status("in_progress"))
        with travel(20):
            lead_convert_to_deal(actor=admin, lead=straight)
            lead_convert_to_deal(actor=admin, lead=worked)
        straight.refresh_from_db()
        worked.refresh_from_db()
        assert (straight.state, straight.taken_at, straight.closed_at) == (
            "converted",
            at(20),
            at(20),
        )
        assert (worked.state, worked.taken_at) == ("converted", at(3))


def test_a_bulk_move_into_work_sets_taken_at_of_each_lead(tenant, admin):
    with tenant_context(tenant):
        leads = [make_lead(admin) for _ in range(3)]
        with travel(12):
            result = services.leads_bulk(
                actor=admin, leads=leads, action="move", status=status("in_progress")
            )
        assert result.done == 3
        assert set(Lead.objects.values_list("taken_at", flat=True)) == {at(12)}


# --- is_repeat -----------------------------------------------------------------------------


def test_a_repeat_inquiry_through_a_channel_makes_a_lead_marked_repeat(
    tenant, admin, deliver, client_for
):
    deliver(LEAD)
    with tenant_context(tenant):
        (first,) = Lead.objects.all()
        assert first.is_repeat is False
        services.lead_move(actor=admin, lead=first, status=status("junk"))
    # An open lead takes a second inquiry; after it is closed, the person is known: repeat.
    deliver({**LEAD, "message": "Снова я"})
    with tenant_context(tenant):
        repeat = Lead.objects.exclude(pk=first.pk).get()
        assert repeat.is_repeat is True
        assert Lead.objects.get(pk=first.pk).is_repeat is False
    page = client_for(admin).get(f"/{tenant.slug}/leads/{repeat.pk}/").content.decode()
    assert 'data-testid="repeat-badge"' in page
    page = client_for(admin).get(f"/{tenant.slug}/leads/{first.pk}/").content.decode()
    assert 'data-testid="repeat-badge"' not in page


def test_an_inquiry_attached_to_an_open_lead_marks_nothing(tenant, deliver):
    deliver(LEAD)
    deliver({**LEAD, "message": "Ещё вопрос"})
    with tenant_context(tenant):
        (lead,) = Lead.objects.all()
        assert lead.is_repeat is False


# --- Status stays --------------------------------------------------------------------------


def test_stays_chain_from_creation_through_moves_to_conversion(tenant, admin):
    with tenant_context(tenant):
        with travel(0):
            lead = make_lead(admin, **LEAD)
        with travel(10):
            services.lead_move(actor=admin, lead=lead, status=status("in_progress"))
        with travel(70):
            services.lead_move(actor=admin, lead=lead, status=status("in_progress", default=False))
        with travel(250):
            lead_convert_to_deal(actor=admin, lead=lead)
        names = {s.state: s.name for s in LeadStatus.objects.filter(is_default=True)}
        clarifying = status("in_progress", default=False).name
        assert stays(lead) == [
            (names["new"], at(0), at(10)),
            (names["in_progress"], at(10), at(70)),
            (clarifying, at(70), at(250)),
            (names["converted"], at(250), None),
        ]
        assert_one_open_stay_each()


def test_a_stay_begins_when_the_lead_is_created_and_a_refused_move_leaves_it(tenant, admin):
    with tenant_context(tenant):
        with travel(0):
            lead = make_lead(admin)
        with pytest.raises(services.InvalidTransition):
            services.lead_move(actor=admin, lead=lead, status=status("converted"))
        assert stays(Lead.objects.get(pk=lead.pk)) == [(status("new").name, at(0), None)]


def test_deleting_a_status_moves_the_open_stays_of_its_leads_in_bulk(
    tenant, other_tenant, admin, other_admin
):
    def delete_with(count: int) -> tuple[int, list[Lead], Lead]:
        doomed = services.status_save(
            actor=admin,
            status=None,
            data={"name": f"Ждём {count}", "color": "#123456", "state": "in_progress"},
        )
        moved = [make_lead(admin) for _ in range(count)]
        for lead in moved:
            services.lead_move(actor=admin, lead=lead, status=doomed)
        with CaptureQueriesContext(connection) as queries, travel(500):
            services.status_delete(actor=admin, status=doomed, replacement=status("in_progress"))
        return len(queries.captured_queries), moved

    with tenant_context(other_tenant):
        theirs = make_lead(other_admin)
        services.lead_move(actor=other_admin, lead=theirs, status=status("in_progress"))
        their_stays = stays(theirs)
    with tenant_context(tenant):
        untouched = make_lead(admin)
        few, _moved = delete_with(1)
        many, moved = delete_with(4)
        assert many == few  # statements do not grow with the leads moved
        for lead in moved:
            (open_stay,) = StatusStay.objects.filter(lead=lead, left_at=None)
            assert (open_stay.status, open_stay.entered_at) == (status("in_progress"), at(500))
        assert stays(untouched) == [(status("new").name, untouched.created_at, None)]
        assert_one_open_stay_each()
    with tenant_context(other_tenant):
        assert stays(theirs) == their_stays


def test_moves_in_one_workspace_leave_the_other_ones_stays_alone(
    tenant, other_tenant, admin, other_admin
):
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin)
    with tenant_context(tenant):
        ours = make_lead(admin)
        services.lead_move(actor=admin, lead=ours, status=status("in_progress"))
        services.lead_move(actor=admin, lead=ours, status=status("junk"))
        assert len(stays(ours)) == 3
        assert not StatusStay.objects.filter(lead=theirs).exists()  # not even visible
    with tenant_context(other_tenant):
        assert [(name, left) for name, _entered, left in stays(theirs)] == [
            (status("new").name, None)
        ]
        assert Lead.objects.get(pk=theirs.pk).taken_at is None


def test_purging_a_lead_from_the_trash_takes_its_stays_along(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        services.lead_move(actor=admin, lead=lead, status=status("junk"))
        services.lead_delete(actor=admin, lead=lead)
        Lead.objects.filter(pk=lead.pk).update(deleted_at=timezone.now() - timedelta(days=40))
        assert services.leads_purge_trash(tenant=tenant) == 1
        assert not StatusStay.objects.filter(lead_id=lead.pk).exists()


# --- The backfill of existing leads (migration 0016) -----------------------------------------


def _backfill() -> None:
    migration = importlib.import_module(f"leads.migrations.{MIGRATION}")
    state = MigrationExecutor(connection).loader.project_state(("leads", MIGRATION))
    editor = SimpleNamespace(
        connection=connection,
        execute=lambda sql, params=(): connection.cursor().execute(sql, params),
    )
    migration.backfill(state.apps, editor)


def test_the_backfill_reads_the_facts_of_existing_leads_from_their_timelines(
    tenant, admin, deliver
):
    deliver(LEAD)
    with tenant_context(tenant):
        (earlier,) = Lead.objects.all()
        with travel(5):
            services.lead_move(actor=admin, lead=earlier, status=status("in_progress"))
        with travel(9):
            services.lead_move(actor=admin, lead=earlier, status=status("junk"))
    deliver({**LEAD, "message": "Снова я"})
    with tenant_context(tenant):
        repeat = Lead.objects.get(is_repeat=True)
        with travel(0):
            legacy = make_lead(admin)  # in work before there were timelines of moves
        Lead.objects.filter(pk=legacy.pk).update(
            state="in_progress", status=status("in_progress"), first_response_at=at(2)
        )
        fresh = make_lead(admin)
        # As before migration 0015 wrote anything.
        StatusStay.objects.all().delete()
        Lead.objects.update(taken_at=None, is_repeat=False)

        _backfill()
        _backfill()  # a second run changes nothing

        facts = {lead.pk: (lead.is_repeat, lead.taken_at) for lead in Lead.objects.all()}
        assert facts == {
            earlier.pk: (False, at(5)),
            repeat.pk: (True, None),
            legacy.pk: (False, at(2)),
            fresh.pk: (False, None),
        }
        assert_one_open_stay_each()
        assert StatusStay.objects.get(lead=earlier).entered_at == at(9)  # its last move
        assert StatusStay.objects.get(lead=fresh).entered_at == fresh.created_at


# --- The demo workspace ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_workspace_has_a_history_dashboards_can_read():
    from crm.demo import seed_demo
    from crm.models import Activity
    from deals.models import Deal

    demo, created = seed_demo()
    assert created
    with tenant_context(demo):
        now = timezone.now()
        leads = list(Lead.objects.all())
        assert len(leads) >= 250
        ages = [(now - lead.created_at).days for lead in leads]
        assert max(ages) >= 60
        assert min(ages) >= 0
        assert max(ages) < 91
        assert_one_open_stay_each()
        by_state = {s: [lead for lead in leads if lead.state == s] for s in LeadState.values}
        assert all(by_state.values())
        for lead in by_state["in_progress"] + by_state["converted"]:
            assert lead.created_at < lead.taken_at <= now
            assert lead.first_response_at is not None
        assert all(lead.taken_at is None for lead in by_state["new"])
        waits = [
            lead.first_response_at - lead.created_at for lead in leads if lead.first_response_at
        ]
        assert any(wait > timedelta(minutes=15) for wait in waits)
        assert sum(wait <= timedelta(minutes=15) for wait in waits) > len(waits) / 2
        assert sum(lead.is_repeat for lead in leads) >= 5
        assert len({lead.status_id for lead in by_state["junk"]}) >= 3
        for stay in StatusStay.objects.exclude(left_at=None):
            assert stay.entered_at < stay.left_at <= now
        deals = Deal.objects.filter(source_lead__isnull=False)
        assert deals.filter(outcome="won").exclude(closed_at=None).exists()
        assert deals.filter(outcome="lost").exclude(loss_reason=None).exists()
        assert not Deal.objects.exclude(outcome="open").filter(closed_at=None).exists()
        assert Activity.objects.filter(done_at=None, due_at__lt=now).count() >= 3
