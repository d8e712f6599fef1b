"""Every date is the workspace's: shown, typed in, "today", "overdue", "this week", reminders.

Two workspaces, one in Moscow (UTC+3) and one in Bogotá (UTC−5, no daylight saving), see the
same instants as different local times and days. The clock is moved with time-machine.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from crm.models import Activity, Membership, Notification, Role, Tenant
from crm.tenancy import tenant_context
from leads.models import Lead
from leads.services import lead_activity_add
from leads.tasks import activities_send_reminders_task
from tests.factories import make_tenant
from tests.leads.factories import make_lead

UTC = dt.UTC
MOSCOW, BOGOTA = "Europe/Moscow", "America/Bogota"


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture(params=[MOSCOW, BOGOTA])
def zone(request) -> str:
    return request.param


def _workspace(slug: str, time_zone: str) -> tuple[Tenant, Membership]:
    tenant = make_tenant(slug)
    Tenant.objects.filter(pk=tenant.pk).update(time_zone=time_zone)
    tenant.refresh_from_db()
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind=Role.Kind.ADMIN)
    return tenant, admin


@pytest.fixture
def workspace(db, zone: str) -> tuple[Tenant, Membership]:
    return _workspace("zoned", zone)


def _lead_at(tenant: Tenant, admin: Membership, when: dt.datetime, **data) -> Lead:
    with time_machine.travel(when, tick=False), tenant_context(tenant):
        return make_lead(admin, title=data.pop("title", "Zoned lead"), **data)


def _page(client, tenant: Tenant, path: str) -> str:
    response = client.get(f"/{tenant.slug}/{path}")
    assert response.status_code == 200
    return response.content.decode()


def _listed(client, tenant: Tenant, query: str) -> set[int]:
    html = _page(client, tenant, f"leads/?{query}")
    return {int(pk) for pk in re.findall(r'<tr id="lead-(\d+)"', html)}


def test_lists_cards_and_timelines_show_local_time(workspace, zone, client_for):
    tenant, admin = workspace
    # 22:30 UTC on the 3rd: 01:30 on the 4th in Moscow, 17:30 on the 3rd in Bogotá.
    lead = _lead_at(tenant, admin, at(2026, 12, 3, 22, 30))
    client = client_for(admin)
    local = {
        MOSCOW: ("04.12 01:30", "4 декабря 2026 г. 1:30"),
        BOGOTA: ("03.12 17:30", "3 декабря 2026 г. 17:30"),
    }
    row_time, card_time = local[zone]

    assert row_time in _page(client, tenant, "leads/")
    assert row_time in _page(client, tenant, "leads/inbox/")
    card = _page(client, tenant, f"leads/{lead.pk}/")
    assert card.count(card_time) >= 2  # the card's header and its timeline's "created"


def test_due_time_typed_in_is_read_as_the_workspace_time(workspace, zone, client_for):
    tenant, admin = workspace
    lead = _lead_at(tenant, admin, at(2026, 12, 3, 9))
    response = client_for(admin).post(
        f"/{tenant.slug}/leads/{lead.pk}/activities/",
        {"kind": "call", "subject": "Call back", "due_at": "2026-12-05T10:00"},
    )
    assert response.status_code in (200, 302)
    with tenant_context(tenant):
        activity = Activity.objects.get(subject="Call back")
    assert activity.due_at == {MOSCOW: at(2026, 12, 5, 7), BOGOTA: at(2026, 12, 5, 15)}[zone]

    # Shown back as typed: on the card's activity and in the timeline's sentence.
    card = _page(client_for(admin), tenant, f"leads/{lead.pk}/")
    assert "5 декабря 2026 г. 10:00" in card
    assert "срок 05.12.2026 10:00" in card


def test_overdue_turns_at_the_local_due_time(workspace, zone, client_for):
    tenant, admin = workspace
    lead = _lead_at(tenant, admin, at(2026, 12, 3, 9))
    client = client_for(admin)
    client.post(
        f"/{tenant.slug}/leads/{lead.pk}/activities/",
        {"kind": "call", "subject": "Call", "due_at": "2026-12-05T10:00"},
    )
    due = {MOSCOW: at(2026, 12, 5, 7), BOGOTA: at(2026, 12, 5, 15)}[zone]  # 10:00 local
    with time_machine.travel(due - dt.timedelta(minutes=1), tick=False):
        assert lead.pk not in _listed(client, tenant, "preset=overdue")
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        assert lead.pk in _listed(client, tenant, "preset=overdue")
        assert "text-danger fw-semibold" in _page(client, tenant, f"leads/{lead.pk}/")


def test_due_today_is_the_workspace_today(workspace, zone, client_for):
    tenant, admin = workspace
    lead = _lead_at(tenant, admin, at(2026, 12, 3, 9))
    with tenant_context(tenant):
        # 04:00 UTC on the 4th: 07:00 on the 4th in Moscow, 23:00 on the 3rd in Bogotá.
        lead_activity_add(
            actor=admin, lead=lead, kind="call", subject="Call", due_at=at(2026, 12, 4, 4)
        )
    # 12:00 UTC on the 4th: the 4th in both places.
    with time_machine.travel(at(2026, 12, 4, 12), tick=False):
        due_today = lead.pk in _listed(client_for(admin), tenant, "preset=due_today")
    assert due_today is (zone == MOSCOW)


def test_date_filters_and_periods_use_local_days(workspace, zone, client_for):
    tenant, admin = workspace
    late = _lead_at(tenant, admin, at(2026, 12, 3, 22, 30), title="Late on the 3rd UTC")
    monday = _lead_at(tenant, admin, at(2026, 11, 29, 22, 30), title="Sunday night UTC")
    client = client_for(admin)
    in_moscow = zone == MOSCOW

    assert (late.pk in _listed(client, tenant, "created_after=2026-12-04")) is in_moscow
    assert (late.pk in _listed(client, tenant, "created_before=2026-12-03")) is not in_moscow
    with time_machine.travel(at(2026, 12, 4, 12), tick=False):
        assert (late.pk in _listed(client, tenant, "created=today")) is in_moscow
        assert (late.pk in _listed(client, tenant, "created=yesterday")) is not in_moscow
        # The week of Friday 4 December starts on Monday 30 November, local midnight.
        assert (monday.pk in _listed(client, tenant, "created=this_week")) is in_moscow
        assert late.pk in _listed(client, tenant, "created=this_week")


def test_reminders_fire_at_the_local_time_and_say_it(
    workspace, zone, client_for, django_capture_on_commit_callbacks
):
    tenant, admin = workspace
    lead = _lead_at(tenant, admin, at(2026, 12, 3, 9))
    client = client_for(admin)
    client.post(
        f"/{tenant.slug}/leads/{lead.pk}/activities/",
        {
            "kind": "call",
            "subject": "Call back",
            "due_at": "2026-12-05T10:00",
            "remind_at": "2026-12-05T09:30",
        },
    )
    remind = {MOSCOW: at(2026, 12, 5, 6, 30), BOGOTA: at(2026, 12, 5, 14, 30)}[zone]
    with time_machine.travel(remind - dt.timedelta(minutes=1), tick=False):
        activities_send_reminders_task.delay(tenant_id=tenant.pk)
    with tenant_context(tenant):
        assert not Notification.objects.exists()
    with (
        time_machine.travel(remind + dt.timedelta(seconds=30), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        activities_send_reminders_task.delay(tenant_id=tenant.pk)
    with tenant_context(tenant):
        assert Notification.objects.filter(kind="activity.reminder").count() == 1

    # The bell and the e-mail (sent by a task, in the workspace's language) say 10:00.
    assert "05.12.2026 10:00" in _page(client, tenant, "notifications/")
    assert len(mail.outbox) == 1
    assert "05.12.2026 10:00" in mail.outbox[0].subject
    assert "05.12.2026 10:00" in mail.outbox[0].body


def test_two_workspaces_in_one_process_keep_their_own_zones(db, client_for):
    moscow, moscow_admin = _workspace("msk", MOSCOW)
    bogota, bogota_admin = _workspace("bog", BOGOTA)
    when = at(2026, 12, 3, 22, 30)
    _lead_at(moscow, moscow_admin, when)
    _lead_at(bogota, bogota_admin, when)
    assert "04.12 01:30" in _page(client_for(moscow_admin), moscow, "leads/")
    assert "03.12 17:30" in _page(client_for(bogota_admin), bogota, "leads/")
    assert "04.12 01:30" in _page(client_for(moscow_admin), moscow, "leads/")


@pytest.mark.parametrize("typed", ["0001-01-01T01:00", "9999-12-31T23:00"])
def test_a_time_at_the_calendar_ends_is_a_form_error(workspace, client_for, typed):
    tenant, admin = workspace
    lead = _lead_at(tenant, admin, at(2026, 12, 3, 9))
    response = client_for(admin).post(
        f"/{tenant.slug}/leads/{lead.pk}/activities/",
        {"kind": "call", "subject": "Edge", "due_at": typed, "remind_at": typed},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert (
        "between 1900 and 2200" in response.content.decode() or "1900" in response.content.decode()
    )
    with tenant_context(tenant):
        assert not Activity.objects.filter(subject="Edge").exists()
    assert client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").status_code == 200
