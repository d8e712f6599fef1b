"""Tasks ("Дела"): my activities across leads, deals, contacts and companies by when they are
due (the workspace's days), acted on in place, given to others, created, and the calendar.

Personas: an administrator, a team lead (manager role) and their team mate, a manager of
another team, a marketer (views everything, edits nothing), and another workspace.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.services import record_activity_add, record_delete
from crm.models import Activity, Membership, Notification, Team, Tenant, TimelineEvent
from crm.services import activity_create
from crm.tenancy import tenant_context
from leads.services import lead_activity_add
from tests.contacts.factories import make_company, make_contact
from tests.deals.factories import make_deal, sales, stage
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead

UTC = dt.UTC
VLADIVOSTOK = zoneinfo.ZoneInfo("Asia/Vladivostok")  # UTC+10, no daylight saving


def at(*args: int, tz: dt.tzinfo = VLADIVOSTOK) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


def url(tenant: Tenant, path: str = "") -> str:
    return f"/{tenant.slug}/tasks/{path}"


@pytest.fixture
def zoned(tenant: Tenant) -> Tenant:
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Asia/Vladivostok")
    tenant.refresh_from_db()
    return tenant


@pytest.fixture
def team(tenant, manager):
    """The manager leads a team with one mate; another manager is in another team."""
    mate = add_member(tenant, "manager")
    stranger = add_member(tenant, "manager")
    with tenant_context(tenant):
        ours = Team.objects.create(name="Север", lead=manager)
        theirs = Team.objects.create(name="Юг")
        Membership.objects.filter(pk__in=[manager.pk, mate.pk]).update(team=ours)
        Membership.objects.filter(pk=stranger.pk).update(team=theirs)
        for member in (manager, mate, stranger):
            member.refresh_from_db()
    return {"lead": manager, "mate": mate, "stranger": stranger}


def _groups(html: str) -> dict[str, list[str]]:
    """Group key → the subjects listed in it, in order."""
    found: dict[str, list[str]] = {}
    for key, body in re.findall(r'data-group="(\w+)".*?<ul[^>]*>(.*?)</ul>', html, flags=re.DOTALL):
        found[key] = re.findall(r'class="task-subject[^"]*">([^<]*)<', body)
    return found


def _counts(html: str) -> dict[str, str]:
    return dict(
        re.findall(r'data-group="(\w+)".*?data-testid="count">([^<]*)<', html, flags=re.DOTALL)
    )


def _plan(actor, target, subject, due=None, kind="call", owner=None, **extra):
    return activity_create(
        actor=actor, target=target, kind=kind, subject=subject, due_at=due, owner=owner, **extra
    )


def _english(client_for):
    return lambda member: client_for(member, language="en")


# --- The groups, on the workspace's clock ---------------------------------------------------


def test_groups_follow_the_workspace_days_not_utc(zoned, admin, client_for):
    # Thursday 2026-12-10, 11:00 in Vladivostok = 01:00 UTC.
    now = at(2026, 12, 10, 11)
    with tenant_context(zoned):
        lead = make_lead(admin, title="Окна")
        _plan(admin, lead, "Вчерашний звонок", at(2026, 12, 9, 23, 30))
        _plan(admin, lead, "Утренний звонок", at(2026, 12, 10, 9))
        _plan(admin, lead, "Вечерний звонок", at(2026, 12, 10, 23, 30))
        # 00:30 local tomorrow is 14:30 UTC *today* by UTC's calendar.
        _plan(admin, lead, "Ночной звонок", at(2026, 12, 11, 0, 30))
        _plan(admin, lead, "В субботу", at(2026, 12, 12, 10))
        _plan(admin, lead, "В воскресенье вечером", at(2026, 12, 13, 23, 59))
        # Monday 00:00 local is Sunday 14:00 UTC: next week here.
        _plan(admin, lead, "В понедельник", at(2026, 12, 14, 0, 0))
        _plan(admin, lead, "Когда-нибудь", None, kind="task")
        _plan(admin, lead, "Запись в журнал", None, kind="note")
        done = _plan(admin, lead, "Сделано", at(2026, 12, 10, 8))
        Activity.objects.filter(pk=done.pk).update(done_at=now - dt.timedelta(hours=1))
        old = _plan(admin, lead, "Давно сделано", at(2026, 11, 1, 8))
        Activity.objects.filter(pk=old.pk).update(done_at=now - dt.timedelta(days=30))
    with time_machine.travel(now, tick=False):
        html = client_for(admin).get(url(zoned)).content.decode()
    assert _groups(html) == {
        "overdue": ["Вчерашний звонок", "Утренний звонок"],
        "today": ["Вечерний звонок"],
        "tomorrow": ["Ночной звонок"],
        "week": ["В субботу", "В воскресенье вечером"],
        "later": ["В понедельник"],
        "undated": ["Когда-нибудь"],
        "done": ["Сделано"],
    }
    assert "Запись в журнал" not in html
    # Shown in the workspace's time: 23:30 on Wednesday, not 13:30 UTC.
    assert "23:30" in html
    assert "Asia/Vladivostok" in html


def test_on_sunday_this_week_is_empty_and_monday_is_later(zoned, admin, client_for):
    now = at(2026, 12, 13, 9)  # Sunday
    with tenant_context(zoned):
        lead = make_lead(admin, title="Окна")
        _plan(admin, lead, "Завтра", at(2026, 12, 14, 9))
        _plan(admin, lead, "Во вторник", at(2026, 12, 15, 9))
    with time_machine.travel(now, tick=False):
        html = client_for(admin).get(url(zoned)).content.decode()
    groups = _groups(html)
    assert groups["tomorrow"] == ["Завтра"]
    assert groups["later"] == ["Во вторник"]
    assert "week" not in groups


def test_rows_show_their_record_of_every_kind_with_a_link(tenant, admin, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Лид «Окна»")
        deal = make_deal(admin, data={"title": "Сделка «Двери»"}, stage=stage(sales(), "open"))
        contact = make_contact(admin, last_name="Соколова", first_name="Анна")
        company = make_company(admin, name="ООО «Ромашка»")
        for record in (lead, deal, contact, company):
            _plan(admin, record, f"Позвонить {record.pk}", dt.datetime.now(UTC))
    html = client_for(admin).get(url(tenant)).content.decode()
    for path, record in (
        ("leads", lead),
        ("deals", deal),
        ("contacts", contact),
        ("companies", company),
    ):
        assert f'href="/{tenant.slug}/{path}/{record.pk}/"' in html
    for text in ("Лид «Окна»", "Сделка «Двери»", "Соколова Анна", "ООО «Ромашка»"):
        assert text.replace("«", "&laquo;").replace("»", "&raquo;") in html or text in html


def test_type_filter(tenant, admin, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin)
        _plan(admin, lead, "Обсудить цену", dt.datetime.now(UTC), kind="call")
        _plan(admin, lead, "Показ офиса", dt.datetime.now(UTC), kind="meeting")
    html = client_for(admin).get(url(tenant) + "?kind=meeting").content.decode()
    assert "Показ офиса" in html
    assert "Обсудить цену" not in html
    # An unknown type shows everything.
    html = client_for(admin).get(url(tenant) + "?kind=<script>").content.decode()
    assert "Показ офиса" in html
    assert "Обсудить цену" in html


def test_a_full_group_shows_its_first_rows_and_counts_the_rest(
    tenant, admin, client_for, monkeypatch
):
    from crm import activities

    monkeypatch.setattr(activities, "GROUP_LIMIT", 3)
    monkeypatch.setattr(activities, "COUNT_CAP", 5)
    with tenant_context(tenant):
        lead = make_lead(admin)
        past = dt.datetime.now(UTC) - dt.timedelta(days=1)
        for i in range(4):
            _plan(admin, lead, f"Долг {i}", past + dt.timedelta(minutes=i))
        for i in range(8):
            _plan(admin, lead, f"Без срока {i}", None, kind="task")
    html = _english(client_for)(admin).get(url(tenant)).content.decode()
    groups = _groups(html)
    assert groups["overdue"] == ["Долг 0", "Долг 1", "Долг 2"]
    assert "And 1 more." in html
    assert len(groups["undated"]) == 3
    assert "5+" in html
    assert "The first 3 of over 5." in html


# --- Whose activities, and which records ----------------------------------------------------


def test_mine_by_default_team_for_a_team_lead_never_another_team(tenant, team, client_for):
    lead_, mate, stranger = team["lead"], team["mate"], team["stranger"]
    with tenant_context(tenant):
        for member, subject in ((lead_, "Моё"), (mate, "Коллеги"), (stranger, "Чужое")):
            record = make_lead(member, owner=member)
            _plan(member, record, subject, dt.datetime.now(UTC) + dt.timedelta(hours=2))
    client = client_for(lead_)
    mine = client.get(url(tenant)).content.decode()
    assert "Моё" in mine
    assert "Коллеги" not in mine
    assert 'data-whose="team"' in mine
    assert 'data-whose="all"' not in mine
    team_page = client.get(url(tenant) + "?whose=team").content.decode()
    assert "Моё" in team_page
    assert "Коллеги" in team_page
    assert "Чужое" not in team_page
    # "all" is not this role's: the page falls back to mine.
    assert "Коллеги" not in client.get(url(tenant) + "?whose=all").content.decode()
    # The mate (no team led, "own" scope) has no team switch and sees only their own.
    mate_page = client_for(mate).get(url(tenant) + "?whose=team").content.decode()
    assert 'data-whose="team"' not in mate_page
    assert "Коллеги" in mate_page
    assert "Моё" not in mate_page


def test_everyone_for_full_scope(tenant, admin, team, client_for):
    with tenant_context(tenant):
        record = make_lead(team["stranger"], owner=team["stranger"])
        _plan(team["stranger"], record, "Чужое", dt.datetime.now(UTC))
    html = client_for(admin).get(url(tenant) + "?whose=all").content.decode()
    assert "Чужое" in html


def test_only_activities_on_records_i_may_view(tenant, admin, team, client_for):
    """An activity given to me on a lead I cannot see stays off my page; trashed records'
    activities leave it too."""
    lead_ = team["lead"]
    with tenant_context(tenant):
        hidden = make_lead(admin, title="Скрытый", owner=team["stranger"])
        _plan(admin, hidden, "Невидимое", dt.datetime.now(UTC), owner=lead_)
        contact = make_contact(admin, last_name="Удалённый")
        _plan(admin, contact, "В корзине", dt.datetime.now(UTC), owner=lead_)
        record_delete(actor=admin, record=contact)
        mine = make_lead(lead_, owner=lead_)
        _plan(lead_, mine, "Видимое", dt.datetime.now(UTC))
    html = client_for(lead_).get(url(tenant)).content.decode()
    assert "Видимое" in html
    assert "Невидимое" not in html
    assert "Скрытый" not in html
    assert "В корзине" not in html
    assert _counts(html) == {"overdue": "1", "today": "0"}  # nor counted


def test_simple_mode_leaves_lead_activities_out(tenant, admin, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin)
        _plan(admin, lead, "По лиду", dt.datetime.now(UTC))
        contact = make_contact(admin)
        _plan(admin, contact, "По контакту", dt.datetime.now(UTC))
    Tenant.objects.filter(pk=tenant.pk).update(mode="simple")
    html = client_for(admin).get(url(tenant)).content.decode()
    assert "По контакту" in html
    assert "По лиду" not in html


# --- Acting in place ------------------------------------------------------------------------


def _one(tenant, admin, owner=None, due=None, kind="call"):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Окна", owner=owner or admin)
        activity = lead_activity_add(
            actor=admin,
            lead=lead,
            kind=kind,
            subject="Перезвонить",
            due_at=due or dt.datetime.now(UTC) + dt.timedelta(hours=3),
            owner=owner or admin,
        )
    return lead, activity


def test_done_in_place_with_htmx(tenant, admin, client_for):
    lead, activity = _one(tenant, admin)
    response = client_for(admin).post(url(tenant, f"{activity.pk}/done/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith("<li")
    assert "task-row--done" in html
    assert 'data-testid="task-done"' not in html
    with tenant_context(tenant):
        activity.refresh_from_db()
        assert activity.done_at is not None
        assert TimelineEvent.objects.filter(kind="activity.done", target_id=lead.pk).exists()


def test_done_without_javascript_redirects_back(tenant, admin, client_for):
    _lead, activity = _one(tenant, admin)
    response = client_for(admin).post(
        url(tenant, f"{activity.pk}/done/"), {"whose": "all", "kind": "call"}
    )
    assert response.status_code == 302
    assert response["Location"] == url(tenant) + "?whose=all&kind=call"


def test_reschedule_an_hour_on_and_to_tomorrow_same_time(zoned, admin, client_for):
    now = at(2026, 12, 10, 22, 15)
    due = at(2026, 12, 10, 23, 0)
    with time_machine.travel(now, tick=False):
        _lead, activity = _one(zoned, admin, due=due)
        with tenant_context(zoned):
            Activity.objects.filter(pk=activity.pk).update(
                remind_at=due - dt.timedelta(minutes=15), reminded_at=now
            )
        client = client_for(admin)
        response = client.post(
            url(zoned, f"{activity.pk}/reschedule/"), {"to": "hour"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
        assert "11.12 00:00" in response.content.decode()  # the new time, local
        with tenant_context(zoned):
            activity.refresh_from_db()
        assert activity.due_at == at(2026, 12, 11, 0, 0)
        assert activity.remind_at == at(2026, 12, 10, 23, 45)  # moved along
        assert activity.reminded_at is None  # and goes out again
        # Tomorrow at the same local time (tomorrow from today, the 10th: the 11th).
        client.post(url(zoned, f"{activity.pk}/reschedule/"), {"to": "tomorrow"})
        with tenant_context(zoned):
            activity.refresh_from_db()
        assert activity.due_at == at(2026, 12, 11, 0, 0)


def test_an_overdue_activity_moves_an_hour_from_now(zoned, admin, client_for):
    now = at(2026, 12, 10, 15, 0)
    with time_machine.travel(now, tick=False):
        _lead, activity = _one(zoned, admin, due=at(2026, 12, 10, 9, 0))
        client_for(admin).post(url(zoned, f"{activity.pk}/reschedule/"), {"to": "hour"})
        with tenant_context(zoned):
            activity.refresh_from_db()
        assert activity.due_at == at(2026, 12, 10, 16, 0)
        client_for(admin).post(url(zoned, f"{activity.pk}/reschedule/"), {"to": "tomorrow"})
        with tenant_context(zoned):
            activity.refresh_from_db()
        assert activity.due_at == at(2026, 12, 11, 16, 0)


def test_reschedule_to_a_picked_time_typed_in_the_workspace_zone(zoned, admin, client_for):
    _lead, activity = _one(zoned, admin)
    response = client_for(admin).post(
        url(zoned, f"{activity.pk}/reschedule/"),
        {"to": "pick", "due_at": "2027-01-15T10:30"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    with tenant_context(zoned):
        activity.refresh_from_db()
        assert activity.due_at == at(2027, 1, 15, 10, 30)
        event = TimelineEvent.objects.get(kind="activity.rescheduled")
        assert event.data["due_at"] == at(2027, 1, 15, 10, 30).isoformat()


@pytest.mark.parametrize(
    "data",
    [
        {"to": "pick"},
        {"to": "pick", "due_at": "not a date"},
        {"to": "pick", "due_at": "9999-01-01T10:00"},
        {"to": "next-year"},
        {},
    ],
)
def test_bad_reschedule_is_refused_in_place_and_changes_nothing(tenant, admin, client_for, data):
    _lead, activity = _one(tenant, admin)
    response = client_for(admin).post(
        url(tenant, f"{activity.pk}/reschedule/"), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#toasts"
    with tenant_context(tenant):
        assert Activity.objects.get(pk=activity.pk).due_at == activity.due_at


def test_a_done_activity_is_not_rescheduled(tenant, admin, client_for):
    client_for = _english(client_for)
    _lead, activity = _one(tenant, admin)
    client = client_for(admin)
    client.post(url(tenant, f"{activity.pk}/done/"))
    response = client.post(
        url(tenant, f"{activity.pk}/reschedule/"), {"to": "hour"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "already done" in response.content.decode()


def test_give_an_activity_to_a_team_mate_who_is_notified(tenant, admin, team, client_for):
    """The team lead's own call on the mate's lead goes to the mate."""
    lead_, mate = team["lead"], team["mate"]
    with tenant_context(tenant):
        record = make_lead(admin, title="Окна", owner=mate)
        activity = _plan(lead_, record, "Перезвонить", dt.datetime.now(UTC), owner=lead_)
    response = client_for(lead_).post(
        url(tenant, f"{activity.pk}/assign/"), {"owner": mate.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert str(mate.user) in response.content.decode()
    with tenant_context(tenant):
        activity.refresh_from_db()
        assert activity.owner_id == mate.pk
        note = Notification.objects.get(recipient=mate, kind="activity.assigned")

        assert note.url == f"/{tenant.slug}/leads/{activity.target_id}/"
        assert TimelineEvent.objects.filter(kind="activity.assigned").count() == 1
    # It is now on the mate's page.
    assert "Перезвонить" in client_for(mate).get(url(tenant)).content.decode()
    bell = client_for(mate, language="en").get(f"/{tenant.slug}/notifications/").content.decode()
    assert "gave you" in bell
    assert "Перезвонить" in bell


def test_giving_to_someone_who_cannot_see_the_record_is_refused(tenant, team, client_for):
    client_for = _english(client_for)
    lead_, stranger = team["lead"], team["stranger"]
    _lead, activity = _one(tenant, lead_, owner=lead_)
    response = client_for(lead_).post(
        url(tenant, f"{activity.pk}/assign/"), {"owner": stranger.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "cannot see this record" in response.content.decode()
    with tenant_context(tenant):
        assert Activity.objects.get(pk=activity.pk).owner_id == lead_.pk
        assert not Notification.objects.exists()


def test_giving_to_a_member_of_another_workspace_is_refused(tenant, admin, other_admin, client_for):
    _lead, activity = _one(tenant, admin)
    response = client_for(admin).post(
        url(tenant, f"{activity.pk}/assign/"), {"owner": other_admin.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert Activity.objects.get(pk=activity.pk).owner_id == admin.pk


# --- Rights ---------------------------------------------------------------------------------


def test_a_viewer_who_is_not_the_owner_gets_no_controls_and_a_403(
    tenant, admin, marketer, client_for
):
    _lead, activity = _one(tenant, admin)
    client = client_for(marketer)
    html = client.get(url(tenant) + "?whose=all").content.decode()
    assert "Перезвонить" in html
    assert 'data-testid="task-done"' not in html
    for path, data in (
        ("done/", {}),
        ("reschedule/", {"to": "hour"}),
        ("assign/", {"owner": marketer.pk}),
    ):
        response = client.post(url(tenant, f"{activity.pk}/{path}"), data, HTTP_HX_REQUEST="true")
        assert response.status_code == 403, path
        assert response["HX-Retarget"] == "#toasts"
    with tenant_context(tenant):
        fresh = Activity.objects.get(pk=activity.pk)
        assert (fresh.done_at, fresh.due_at, fresh.owner_id) == (None, activity.due_at, admin.pk)


def test_the_owner_of_an_activity_on_a_record_they_only_view_may_complete_it(
    tenant, admin, manager, client_for
):
    """Contacts are everyone's to view, edited by their owner: an activity given to a
    manager on someone else's contact is theirs to do."""
    with tenant_context(tenant):
        contact = make_contact(admin, last_name="Общий")
        activity = record_activity_add(
            actor=admin, record=contact, kind="call", subject="Позвонить", owner=manager
        )
    response = client_for(manager).post(url(tenant, f"{activity.pk}/done/"))
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Activity.objects.get(pk=activity.pk).done_at is not None


def test_an_activity_on_a_record_i_cannot_see_is_a_404(tenant, admin, manager, client_for):
    _lead, activity = _one(tenant, admin)
    response = client_for(manager).post(url(tenant, f"{activity.pk}/done/"))
    assert response.status_code == 404


def test_another_workspace_activity_is_a_404(tenant, admin, other_tenant, other_admin, client_for):
    _lead, theirs = _one(other_tenant, other_admin)
    for path in ("done/", "reschedule/", "assign/"):
        response = client_for(admin).post(url(tenant, f"{theirs.pk}/{path}"), {"to": "hour"})
        assert response.status_code == 404
    # And their page is not ours.
    assert client_for(admin).get(url(other_tenant)).status_code == 404


def test_get_on_an_action_is_405(tenant, admin, client_for):
    _lead, activity = _one(tenant, admin)
    assert client_for(admin).get(url(tenant, f"{activity.pk}/done/")).status_code == 405


# --- New activities -------------------------------------------------------------------------


def test_create_on_a_deal_for_myself(tenant, admin, client_for):
    with tenant_context(tenant):
        deal = make_deal(admin, data={"title": "Двери"}, stage=stage(sales(), "open"))
    response = client_for(admin).post(
        url(tenant, "new/"),
        {
            "record": f"deal:{deal.pk}",
            "kind": "meeting",
            "subject": "Встреча в офисе",
            "due_at": "2027-01-15T10:30",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        activity = Activity.objects.get(subject="Встреча в офисе")
        assert (activity.target_id, activity.owner_id, activity.kind) == (
            deal.pk,
            admin.pk,
            "meeting",
        )


def test_create_for_a_team_mate_notifies_them(tenant, team, client_for):
    lead_, mate = team["lead"], team["mate"]
    with tenant_context(tenant):
        lead = make_lead(mate, owner=mate)
    response = client_for(lead_).post(
        url(tenant, "new/"),
        {"record": f"lead:{lead.pk}", "kind": "call", "subject": "Позвони", "owner": mate.pk},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        activity = Activity.objects.get(subject="Позвони")
        assert activity.owner_id == mate.pk
        assert Notification.objects.get(recipient=mate).kind == "activity.assigned"
        lead.refresh_from_db()
        assert lead.first_response_at is not None  # through the lead's own service


def test_record_search_lists_only_records_i_may_edit(tenant, admin, team, client_for):
    with tenant_context(tenant):
        make_lead(team["lead"], title="Мой лид Окна", owner=team["lead"])
        make_lead(admin, title="Чужой лид Окна", owner=team["stranger"])
        make_contact(admin, last_name="Окнов")  # the admin's: the manager may only view it
    html = client_for(team["lead"]).get(url(tenant, "records/") + "?q=окна").content.decode()
    assert "Мой лид Окна" in html
    assert "Чужой" not in html
    assert "Окнов" not in html


@pytest.mark.parametrize(
    "record",
    ["", "lead:", "lead:abc", "banana:1", "lead:987654321", "lead:99999999999999999999999"],
)
def test_create_with_a_bad_record_is_a_form_error(tenant, admin, client_for, record):
    response = client_for(admin).post(
        url(tenant, "new/"), {"record": record, "kind": "call", "subject": "Позвонить"}
    )
    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()
    with tenant_context(tenant):
        assert not Activity.objects.exists()


def test_create_on_a_record_of_another_workspace_is_a_form_error(
    tenant, admin, other_tenant, other_admin, client_for
):
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin)
    response = client_for(admin).post(
        url(tenant, "new/"), {"record": f"lead:{theirs.pk}", "kind": "call", "subject": "X"}
    )
    assert response.status_code == 400
    with tenant_context(other_tenant):
        assert not Activity.objects.exists()


def test_create_without_a_subject_keeps_nothing(tenant, admin, client_for):
    with tenant_context(tenant):
        lead = make_lead(admin)
    response = client_for(admin).post(
        url(tenant, "new/"), {"record": f"lead:{lead.pk}", "kind": "call", "subject": ""}
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Activity.objects.exists()


def test_create_on_a_record_i_only_view_is_a_403(tenant, admin, manager, client_for):
    with tenant_context(tenant):
        contact = make_contact(admin, last_name="Общий")
    response = client_for(manager).post(
        url(tenant, "new/"), {"record": f"contact:{contact.pk}", "kind": "call", "subject": "X"}
    )
    assert response.status_code == 403
    with tenant_context(tenant):
        assert not Activity.objects.exists()


def test_create_for_someone_who_cannot_see_the_record_keeps_nothing(tenant, team, client_for):
    client_for = _english(client_for)
    with tenant_context(tenant):
        lead = make_lead(team["lead"], owner=team["lead"])
    response = client_for(team["lead"]).post(
        url(tenant, "new/"),
        {
            "record": f"lead:{lead.pk}",
            "kind": "call",
            "subject": "Позвони",
            "owner": team["stranger"].pk,
        },
    )
    assert response.status_code == 400
    assert "cannot see this record" in response.content.decode()
    with tenant_context(tenant):
        assert not Activity.objects.exists()
        assert not Notification.objects.exists()


# --- Calendar -------------------------------------------------------------------------------


def test_calendar_week_places_calls_and_meetings_by_local_hour(zoned, admin, client_for):
    client_for = _english(client_for)
    with tenant_context(zoned):
        lead = make_lead(admin, title="Окна")
        _plan(admin, lead, "Созвон", at(2026, 12, 10, 9, 30), kind="call")
        _plan(admin, lead, "Встреча", at(2026, 12, 11, 0, 30), kind="meeting")  # 10th UTC
        _plan(admin, lead, "Задача", at(2026, 12, 10, 9, 0), kind="task")
        _plan(admin, lead, "Следующая неделя", at(2026, 12, 14, 10), kind="call")
    html = client_for(admin).get(url(zoned, "calendar/") + "?view=week&date=2026-12-10")
    html = html.content.decode()
    assert "Созвон" in html
    assert "Встреча" in html
    assert "Задача" not in html
    assert "Следующая неделя" not in html
    # The meeting at 00:30 on Friday the 11th sits in Friday's "earlier" cell.
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.DOTALL)
    earlier = next(r for r in rows if "Earlier" in r)
    cells = re.findall(r'<td class="calendar-cell[^"]*">(.*?)</td>', earlier, flags=re.DOTALL)
    assert "Встреча" in cells[4]  # Monday 7th … Friday 11th
    nine = next(r for r in rows if ">09:00<" in r)
    cells = re.findall(r'<td class="calendar-cell[^"]*">(.*?)</td>', nine, flags=re.DOTALL)
    assert "Созвон" in cells[3]
    assert "date=2026-12-14" in html
    assert "date=2026-11-30" in html


def test_calendar_day_and_bad_dates(zoned, admin, client_for):
    with tenant_context(zoned):
        lead = make_lead(admin)
        _plan(admin, lead, "Созвон", at(2026, 12, 10, 9, 30))
    client = client_for(admin)
    day = client.get(url(zoned, "calendar/") + "?view=day&date=2026-12-10").content.decode()
    assert "Созвон" in day
    assert client.get(url(zoned, "calendar/") + "?view=day&date=2026-12-11").status_code == 200
    for query in ("?date=garbage", "?date=0001-01-01", "?view=year", "?date=9999-12-31"):
        assert client.get(url(zoned, "calendar/") + query).status_code == 200


# --- Constant queries -----------------------------------------------------------------------


NOON = dt.datetime(2026, 12, 10, 9, tzinfo=UTC)  # Thursday, noon in Moscow


def _many(tenant, admin, n: int) -> None:
    """n records of every kind, each with a call and a meeting due today and more
    activities spread over the groups (overdue, today, tomorrow, this week, later, done)."""
    with tenant_context(tenant):
        now = NOON
        for i in range(n):
            lead = make_lead(admin)
            deal = make_deal(admin, stage=stage(sales(), "open"))
            contact = make_contact(admin)
            company = make_company(admin)
            offsets = (-30, 2, 26, 50, 24 * 40)
            for j, record in enumerate((lead, deal, contact, company)):
                _plan(admin, record, "Звонок сегодня", now + dt.timedelta(hours=1), "call")
                _plan(admin, record, "Встреча сегодня", now + dt.timedelta(hours=2), "meeting")
                hours = offsets[(i + j) % len(offsets)]
                for kind in ("call", "meeting"):
                    a = _plan(admin, record, f"{kind} {i}", now + dt.timedelta(hours=hours), kind)
                if j == 0:
                    Activity.objects.filter(pk=a.pk).update(done_at=now)
            _plan(admin, lead, f"Без даты {i}", None, kind="task")


@pytest.mark.parametrize(
    "path", ["", "?whose=all", "?kind=call", "calendar/", "calendar/?view=day"]
)
def test_query_count_does_not_grow_with_activities(
    tenant, admin, client_for, django_assert_num_queries, path, monkeypatch
):
    """Every group full (so counted) in both: the most queries the page makes."""
    from crm import activities

    monkeypatch.setattr(activities, "GROUP_LIMIT", 1)
    client = client_for(admin)
    _many(tenant, admin, 2)
    with time_machine.travel(NOON, tick=False):
        with CaptureQueriesContext(connection) as few:
            assert client.get(url(tenant, path)).status_code == 200
        _many(tenant, admin, 6)
        with django_assert_num_queries(len(few.captured_queries)):
            assert client.get(url(tenant, path)).status_code == 200


def test_query_count_for_a_team_lead(
    tenant, team, client_for, django_assert_num_queries, monkeypatch
):
    from crm import activities

    monkeypatch.setattr(activities, "GROUP_LIMIT", 1)
    lead_ = team["lead"]
    client = client_for(lead_)

    def more(n):
        with tenant_context(tenant):
            for member in (lead_, team["mate"]):
                for _ in range(n):
                    lead = make_lead(member, owner=member)
                    contact = make_contact(member, owner=member)
                    deal = make_deal(member, owner=member, stage=stage(sales(), "open"))
                    for record in (lead, contact, deal):
                        _plan(member, record, "Звонок", dt.datetime.now(UTC))

    more(1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(tenant) + "?whose=team").status_code == 200
    more(5)
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(url(tenant) + "?whose=team").status_code == 200


# --- Navigation -----------------------------------------------------------------------------


def test_every_role_has_tasks_in_the_navigation(tenant, admin, marketer, other_tenant, client_for):
    for member in (admin, marketer):
        html = client_for(member).get(f"/{tenant.slug}/").content.decode()
        assert f'href="/{tenant.slug}/tasks/"' in html
    assert make_tenant  # the other workspace fixture exists for the 404 tests above
