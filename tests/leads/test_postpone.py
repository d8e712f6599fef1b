"""Postponed leads ("отложили на определённый срок"): a manager postpones a lead to a day
(or a day and time, on the workspace's clock) with a reason; it leaves the inbox, the list
and the board, stays in the "Postponed" list and in searches, and on that day the periodic
job brings it back to its owner's inbox, once, with a notification and a timeline event."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import Membership, Notification, Tenant, TimelineEvent
from crm.notifications import notification_text
from crm.tenancy import tenant_context
from crm.timeline import describe
from leads import selectors, services
from leads.models import Lead, LeadStatus
from leads.postponement import leads_return_postponed
from leads.tasks import leads_return_postponed_all_task, leads_return_postponed_task
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead

# 10:00 in Vladivostok (UTC+10) on 10 March 2026.
NOW = dt.datetime(2026, 3, 10, 0, 0, tzinfo=dt.UTC)
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")


@pytest.fixture(autouse=True)
def _now():
    # The robot member is cached per (tenant id, creation time): with the clock frozen,
    # every test's tenant is the same key, so each test starts without it.
    from crm import services as crm_services

    crm_services._ROBOTS.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    crm_services._ROBOTS.clear()


@pytest.fixture
def far_east(tenant: Tenant) -> Tenant:
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    return tenant


def _url(tenant: Tenant, lead: Lead, action: str = "postpone") -> str:
    return f"/{tenant.slug}/leads/{lead.pk}/{action}/"


def _kinds(tenant: Tenant, lead: Lead) -> list[str]:
    with tenant_context(tenant):
        return list(
            TimelineEvent.objects.filter(target_id=lead.pk, kind__startswith="lead.")
            .order_by("pk")
            .values_list("kind", flat=True)
        )


def _fresh(tenant: Tenant, lead: Lead) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get(pk=lead.pk)


def _titles(response) -> set[str]:
    return {row.title for row in response.context["page"].rows}


# --- The service ---------------------------------------------------------------------------


def test_a_day_is_the_start_of_that_day_on_the_workspace_clock(far_east, manager):
    with tenant_context(far_east):
        lead = make_lead(manager, owner=manager, title="Перезвонить после отпуска")
        services.lead_postpone(
            actor=manager, lead=lead, until=dt.date(2026, 3, 20), reason="Клиент в отпуске"
        )
        lead = Lead.objects.get(pk=lead.pk)
        event = TimelineEvent.objects.get(target_id=lead.pk, kind="lead.postponed")
        text = describe(event)
    assert lead.postponed_until == dt.datetime(2026, 3, 20, tzinfo=VLADIVOSTOK)
    assert lead.postponed_until == dt.datetime(2026, 3, 19, 14, 0, tzinfo=dt.UTC)
    assert lead.postpone_reason == "Клиент в отпуске"
    assert "Клиент в отпуске" in text
    assert "2026" in text


def test_a_time_is_read_on_the_workspace_clock(far_east, manager):
    with tenant_context(far_east):
        lead = make_lead(manager, owner=manager)
        services.lead_postpone(
            actor=manager,
            lead=lead,
            until=dt.datetime(2026, 3, 10, 15, 30),  # noqa: DTZ001 - the workspace's clock
            reason="После обеда",
        )
        assert Lead.objects.get(pk=lead.pk).postponed_until == dt.datetime(
            2026, 3, 10, 5, 30, tzinfo=dt.UTC
        )


@pytest.mark.parametrize(
    ("until", "reason", "message"),
    [
        (dt.date(2026, 3, 9), "Причина", "future"),  # yesterday
        (dt.date(2026, 3, 10), "Причина", "future"),  # today's start has passed
        (dt.datetime(2026, 3, 10, 9, 59), "Причина", "future"),  # noqa: DTZ001 - a minute ago, local
        (dt.date(2026, 3, 20), "", "why"),
        (dt.date(2026, 3, 20), "   ", "why"),
        (dt.date(2028, 3, 20), "Причина", "at most"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(far_east, manager, until, reason, message):
    with tenant_context(far_east):
        lead = make_lead(manager, owner=manager)
        before = _kinds(far_east, lead)
        with pytest.raises(DomainError, match=message):
            services.lead_postpone(actor=manager, lead=lead, until=until, reason=reason)
        assert Lead.objects.get(pk=lead.pk).postponed_until is None
    assert _kinds(far_east, lead) == before


def test_a_closed_lead_cannot_be_postponed(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        services.lead_move(
            actor=admin, lead=lead, status=LeadStatus.objects.filter(state="junk").first()
        )
        with pytest.raises(DomainError, match="open lead"):
            services.lead_postpone(
                actor=admin, lead=lead, until=dt.date(2026, 4, 1), reason="Причина"
            )


def test_who_may_not_edit_the_lead_may_not_postpone_it(tenant, admin, manager, marketer):
    with tenant_context(tenant):
        others = make_lead(admin, owner=add_member(tenant, "manager"))
        for actor in (manager, marketer):
            with pytest.raises(AccessDenied):
                services.lead_postpone(
                    actor=actor, lead=others, until=dt.date(2026, 4, 1), reason="Причина"
                )
        services.lead_postpone(actor=admin, lead=others, until=dt.date(2026, 4, 1), reason="X")
        for actor in (manager, marketer):
            with pytest.raises(AccessDenied):
                services.lead_unpostpone(actor=actor, lead=Lead.objects.get(pk=others.pk))
        assert Lead.objects.get(pk=others.pk).postponed_until is not None


def test_unpostpone_brings_it_back_now(tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager, owner=manager)
        services.lead_postpone(actor=manager, lead=lead, until=dt.date(2026, 4, 1), reason="X")
        services.lead_unpostpone(actor=manager, lead=Lead.objects.get(pk=lead.pk))
        lead = Lead.objects.get(pk=lead.pk)
        assert (lead.postponed_until, lead.postpone_reason) == (None, "")
        assert selectors.inbox(actor=manager).filter(pk=lead.pk).exists()
        with pytest.raises(DomainError, match="not postponed"):
            services.lead_unpostpone(actor=manager, lead=lead)
    assert _kinds(tenant, lead)[-2:] == ["lead.postponed", "lead.unpostponed"]


# --- The working lists ---------------------------------------------------------------------


def test_a_postponed_lead_leaves_the_working_lists_and_stays_findable(
    client_for, tenant, admin, manager
):
    with tenant_context(tenant):
        make_lead(manager, owner=manager, title="В работе")
        waiting = make_lead(manager, owner=manager, title="Отложен", company_name="Ромашка")
        pooled = make_lead(manager, owner=None, title="Отложен ничей")
        for lead in (waiting, pooled):
            services.lead_postpone(
                actor=admin, lead=lead, until=dt.date(2026, 4, 1), reason="Бюджет в апреле"
            )
    client = client_for(manager, "en")
    base = f"/{tenant.slug}/leads/"
    assert _titles(client.get(f"{base}inbox/")) == {"В работе"}
    assert _titles(client.get(base)) == {"В работе"}
    assert _titles(client.get(base, {"preset": "mine"})) == {"В работе"}
    board = client.get(f"{base}board/")
    cards = {lead.title for column in board.context["columns"] for lead in column.cards}
    assert cards == {"В работе"}
    postponed = client.get(base, {"preset": "postponed"})
    assert postponed.status_code == 200
    assert _titles(postponed) == {"Отложен", "Отложен ничей"}
    # A search finds it where it is.
    assert _titles(client.get(base, {"q": "Ромашка"})) == {"Отложен"}
    # The card says until when and why, with the way back.
    card = client.get(f"{base}{waiting.pk}/").content.decode()
    assert 'data-testid="postponed"' in card
    assert "Бюджет в апреле" in card
    assert 'data-testid="unpostpone"' in card


@pytest.mark.parametrize("path", ["inbox/", "", "?preset=postponed", "board/"])
def test_lists_keep_a_constant_number_of_queries(client_for, tenant, admin, path):
    client = client_for(admin)
    url = f"/{tenant.slug}/leads/{path}"

    def add(n: int) -> None:
        with tenant_context(tenant):
            for _ in range(n):
                make_lead(admin, owner=None)
                services.lead_postpone(
                    actor=admin,
                    lead=make_lead(admin, owner=admin),
                    until=dt.date(2026, 4, 1),
                    reason="X",
                )

    add(2)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add(20)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


# --- The views -----------------------------------------------------------------------------


def test_the_card_form_postpones_in_place(client_for, far_east, manager):
    with tenant_context(far_east):
        lead = make_lead(manager, owner=manager)
    client = client_for(manager, "en")
    response = client.post(
        _url(far_east, lead),
        {"day": "2026-03-12", "time": "09:00", "reason": "Перезвонить в четверг"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert 'data-testid="postponed"' in response.content.decode()
    assert _fresh(far_east, lead).postponed_until == dt.datetime(
        2026, 3, 12, 9, 0, tzinfo=VLADIVOSTOK
    )
    response = client.post(_url(far_east, lead, "unpostpone"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _fresh(far_east, lead).postponed_until is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"day": "2026-03-01", "reason": "Причина"}, "future"),
        ({"day": "2026-03-20", "reason": ""}, "required"),
        ({"day": "", "reason": "Причина"}, "required"),
        ({"day": "not a date", "reason": "Причина"}, "valid date"),
        ({"day": "2026-03-20", "time": "25:99", "reason": "Причина"}, "valid time"),
        ({"day": "2026-03-20", "reason": "x" * 201}, "at most 200"),
    ],
)
def test_the_card_form_answers_bad_input_in_place(client_for, tenant, manager, data, message):
    with tenant_context(tenant):
        lead = make_lead(manager, owner=manager)
    response = client_for(manager, "en").post(_url(tenant, lead), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="card-error"' in page
    assert message in page
    assert 'data-testid="postpone-form"' in page  # the form stays open with the values
    assert _fresh(tenant, lead).postponed_until is None


def test_roles_that_may_not_edit_see_no_control_and_are_refused(
    client_for, tenant, admin, marketer
):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
    client = client_for(marketer, "en")
    card = client.get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="postpone"' not in card
    response = client.post(
        _url(tenant, lead), {"day": "2026-04-01", "reason": "X"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    assert _fresh(tenant, lead).postponed_until is None
    # The admin sees it.
    card = client_for(admin, "en").get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert 'data-testid="postpone"' in card


def test_another_tenants_lead_is_a_404(client_for, tenant, other_tenant, admin, other_admin):
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin, owner=other_admin)
    client = client_for(admin)
    for action in ("postpone", "unpostpone"):
        response = client.post(_url(tenant, theirs, action), {"day": "2026-04-01", "reason": "X"})
        assert response.status_code == 404
    assert _fresh(other_tenant, theirs).postponed_until is None


# --- The periodic job ----------------------------------------------------------------------


def test_the_job_returns_it_on_the_local_day_exactly_once(far_east, manager):
    with tenant_context(far_east):
        lead = make_lead(manager, owner=manager, title="Вернуть")
        services.lead_postpone(
            actor=manager, lead=lead, until=dt.date(2026, 3, 12), reason="Ждём счёт"
        )
        # 23:59 on the 11th in Vladivostok (13:59 UTC): not yet.
        assert (
            leads_return_postponed(
                tenant=far_east, now=dt.datetime(2026, 3, 11, 13, 59, tzinfo=dt.UTC)
            )
            == 0
        )
        assert not selectors.inbox(actor=manager).filter(pk=lead.pk).exists()
        # 00:00 on the 12th there (still the 11th in UTC): back.
        back = dt.datetime(2026, 3, 11, 14, 0, tzinfo=dt.UTC)
        assert leads_return_postponed(tenant=far_east, now=back) == 1
        assert leads_return_postponed(tenant=far_east, now=back) == 0
        assert leads_return_postponed(tenant=far_east, now=back + dt.timedelta(days=1)) == 0
        assert selectors.inbox(actor=manager).filter(pk=lead.pk).exists()
        lead = Lead.objects.get(pk=lead.pk)
        assert (lead.postponed_until, lead.postpone_reason) == (None, "")
        notes = list(Notification.objects.filter(kind="lead.returned"))
        assert [n.recipient_id for n in notes] == [manager.pk]
        text = notification_text(notes[0])
        assert "Вернуть" in text
        assert "Ждём счёт" in text
        assert notes[0].url.endswith(f"/leads/{lead.pk}/")
        event = TimelineEvent.objects.get(target_id=lead.pk, kind="lead.returned")
        assert event.actor.is_system
        assert "Ждём счёт" in describe(event)


def test_an_unowned_lead_returns_to_the_shared_inbox_without_a_notification(tenant, admin, manager):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=None)
        services.lead_postpone(actor=admin, lead=lead, until=dt.date(2026, 3, 11), reason="X")
        assert not selectors.inbox(actor=manager).filter(pk=lead.pk).exists()
        assert leads_return_postponed(tenant=tenant, now=NOW + dt.timedelta(days=2)) == 1
        assert selectors.inbox(actor=manager).filter(pk=lead.pk).exists()
        assert not Notification.objects.filter(kind="lead.returned").exists()
    assert _kinds(tenant, lead)[-1] == "lead.returned"


def test_a_lead_postponed_again_later_is_not_returned_early(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
        services.lead_postpone(actor=admin, lead=lead, until=dt.date(2026, 3, 11), reason="X")
        services.lead_postpone(
            actor=admin, lead=Lead.objects.get(pk=lead.pk), until=dt.date(2026, 3, 20), reason="Y"
        )
        assert leads_return_postponed(tenant=tenant, now=NOW + dt.timedelta(days=2)) == 0
        assert Lead.objects.get(pk=lead.pk).postpone_reason == "Y"


def test_the_beat_task_returns_only_each_tenants_due_leads(
    tenant, other_tenant, admin, other_admin
):
    with tenant_context(tenant):
        mine = make_lead(admin, owner=admin)
        services.lead_postpone(actor=admin, lead=mine, until=dt.date(2026, 3, 11), reason="X")
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin, owner=other_admin)
        services.lead_postpone(
            actor=other_admin, lead=theirs, until=dt.date(2026, 3, 30), reason="X"
        )
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        leads_return_postponed_all_task.apply()
    assert _fresh(tenant, mine).postponed_until is None
    assert _fresh(other_tenant, theirs).postponed_until is not None
    with tenant_context(other_tenant):
        assert not Notification.objects.filter(kind="lead.returned").exists()


def test_the_job_is_in_the_beat_schedule_the_embedded_scheduler_runs(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["leads-return-postponed"]
    assert entry["task"] == "leads.tasks.leads_return_postponed_all_task"
    assert entry["schedule"] <= 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_return_it_exactly_once():
    tenant = make_tenant("postpone-race", name="Race")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        leads = [make_lead(admin, owner=admin) for _ in range(5)]
        for lead in leads:
            services.lead_postpone(actor=admin, lead=lead, until=dt.date(2026, 3, 11), reason="X")
    barrier = threading.Barrier(2, timeout=10)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            counts.append(leads_return_postponed_task(tenant_id=tenant.pk))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(counts) == 5
    with tenant_context(tenant):
        assert Notification.objects.filter(kind="lead.returned").count() == 5
        assert TimelineEvent.objects.filter(kind="lead.returned").count() == 5
