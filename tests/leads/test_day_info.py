"""What lists and boards carry of the day (issue 14, point 5): the next activity (overdue in
red) and the age on inbox rows, list rows and board cards; the board's filters and search;
closed columns as drop zones with counts; a card's quick actions; constant queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Activity
from crm.services import activity_create
from crm.tenancy import tenant_context
from leads import services
from leads.models import Lead, LeadStatus
from tests.leads.factories import make_lead

FUTURE = datetime(2030, 1, 15, 3, 30, tzinfo=UTC)  # 13:30 on 15.01 in Vladivostok (UTC+10)
PAST = datetime(2020, 3, 1, 20, 0, tzinfo=UTC)  # 06:00 on 02.03 in Vladivostok


@pytest.fixture
def far_east(tenant):
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    return tenant


def _plan(actor, lead, subject, due_at, kind=Activity.Kind.CALL):
    return activity_create(actor=actor, target=lead, kind=kind, subject=subject, due_at=due_at)


def _aged(lead, hours):
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(hours=hours))


def _status(state):
    return LeadStatus.objects.filter(state=state).order_by("position").first()


def test_inbox_and_list_rows_show_the_next_activity_and_the_age_in_the_workspace_zone(
    client_for, far_east, manager
):
    with tenant_context(far_east):
        soon = make_lead(manager, title="Скоро звонок")
        _plan(manager, soon, "Перезвонить", FUTURE)
        _plan(manager, soon, "Потом", FUTURE + timedelta(days=3))  # not the next one
        done = _plan(manager, soon, "Уже сделано", PAST)
        done.done_at = timezone.now()
        done.save()
        _aged(soon, 3)
        late = make_lead(manager, title="Просрочено")
        _plan(manager, late, "Отправить КП", PAST, kind=Activity.Kind.TASK)
        _aged(late, 50)
        bare = make_lead(manager, title="Без дел")
    client = client_for(manager, "en")
    for path in ("leads/inbox/", "leads/"):
        html = client.get(f"/{far_east.slug}/{path}").content.decode()
        soon_row = html[html.index(f'id="lead-{soon.pk}"') :].split("</tr>")[0]
        assert "Перезвонить" in soon_row
        assert "15.01 13:30" in soon_row
        assert "Потом" not in soon_row
        assert "Уже сделано" not in soon_row
        assert "data-overdue" not in soon_row
        assert '<div class="lead-age" data-testid="age">3 h</div>' in soon_row
        late_row = html[html.index(f'id="lead-{late.pk}"') :].split("</tr>")[0]
        assert "Отправить КП" in late_row
        assert "02.03 06:00" in late_row
        assert "text-danger" in late_row
        assert "data-overdue" in late_row
        assert ">2 d<" in late_row
        bare_row = html[html.index(f'id="lead-{bare.pk}"') :].split("</tr>")[0]
        assert 'data-testid="next-activity-none"' in bare_row


def test_the_next_activity_is_escaped(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        _plan(manager, lead, "<script>alert(1)</script>", FUTURE)
    html = client_for(manager).get(f"/{tenant.slug}/leads/inbox/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "path", ["leads/inbox/", "leads/", "leads/board/", "leads/board/?q=Клиент&source=call"]
)
def test_lists_and_the_board_run_a_constant_number_of_queries_with_activities(
    client_for, tenant, admin, path, django_assert_num_queries
):
    client = client_for(admin)
    with tenant_context(tenant):
        for _ in range(2):
            lead = make_lead(admin, name="Клиент Первый", source="call")
            _plan(admin, lead, "Звонок", FUTURE)
    client.get(f"/{tenant.slug}/{path}")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/{tenant.slug}/{path}")
    with tenant_context(tenant):
        for i in range(30):
            lead = make_lead(admin, name="Клиент Второй", source="call")
            for day in range(3):
                _plan(admin, lead, f"Дело {day}", FUTURE + timedelta(days=day))
            if i % 3 == 0:
                services.lead_move(actor=admin, lead=lead, status=_status("in_progress"))
            if i % 5 == 0:
                fresh = Lead.objects.get(pk=lead.pk)
                services.lead_move(actor=admin, lead=fresh, status=_status("junk"))
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(f"/{tenant.slug}/{path}")
    assert response.status_code == 200


def test_board_cards_carry_the_next_activity_age_and_a_call_link(client_for, far_east, manager):
    with tenant_context(far_east):
        lead = make_lead(manager, title="Окна", phone="8 (999) 123-45-67")
        _plan(manager, lead, "Замер", PAST)
        _aged(lead, 5)
    html = client_for(manager, "en").get(f"/{far_east.slug}/leads/board/").content.decode()
    card = html[html.index(f'id="card-{lead.pk}"') :].split("</article>")[0]
    assert "Замер" in card
    assert "02.03 06:00" in card
    assert "data-overdue" in card
    assert 'data-testid="age">5 h<' in card
    assert 'href="tel:+79991234567"' in card
    assert 'data-testid="card-done"' in card
    assert 'data-testid="card-plan"' in card


def test_board_filters_and_search_like_the_list(client_for, tenant, manager):
    with tenant_context(tenant):
        call = make_lead(manager, name="Соколов Иван", source="call")
        web = make_lead(manager, name="Петров Пётр", source="web_form")
    client = client_for(manager)
    board = f"/{tenant.slug}/leads/board/"

    def cards(params):
        response = client.get(board, params)
        assert response.status_code == 200
        return {lead.pk for column in response.context["columns"] for lead in column.cards}

    assert cards({}) == {call.pk, web.pk}
    assert cards({"q": "Соко"}) == {call.pk}
    assert cards({"source": "web_form"}) == {web.pk}
    assert cards({"q": "8 999", "source": "call"}) <= {call.pk}
    # The same filter form and panel as the lists (no sort on a board).
    page = client.get(board, {"source": "call"}).content.decode()
    assert 'data-testid="lead-filters"' in page
    assert 'data-testid="filter-panel"' in page
    assert 'name="sort"' not in page
    panel = client.get(board, {"fragment": "filters"}, HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert 'data-testid="filter-panel"' in panel.content.decode()
    # A bad filter value does not break the board: it shows what it can, no 500.
    assert client.get(board, {"created_after": "не дата"}).status_code == 200
    # The board's filters can be saved like the list's.
    saved = client.post(
        f"/{tenant.slug}/filters/",
        {"list_name": "leads:kanban", "query": "source=call", "name": "Звонки"},
    )
    assert saved.status_code == 302
    assert 'data-testid="saved-filter"' in client.get(board).content.decode()


def test_closed_columns_are_drop_zones_with_counts(client_for, tenant, manager):
    with tenant_context(tenant):
        junk = _status("junk")
        for _ in range(2):
            services.lead_move(actor=manager, lead=make_lead(manager), status=junk)
        make_lead(manager)
        closed_ids = set(
            LeadStatus.objects.filter(state__in=["converted", "junk"]).values_list("pk", flat=True)
        )
    response = client_for(manager).get(f"/{tenant.slug}/leads/board/")
    columns = {c.status.pk: c for c in response.context["columns"]}
    assert columns[junk.pk].collapsed
    assert columns[junk.pk].count == 2
    assert columns[junk.pk].cards == []  # counted, not shown
    assert {c.status.pk for c in response.context["closed_columns"]} == closed_ids
    assert all(not c.collapsed for c in response.context["open_columns"])
    html = response.content.decode()
    zones = html[html.index('data-testid="closed-zones"') :]
    assert f'data-testid="drop-{junk.pk}"' in zones
    assert "data-collapsed" in zones


def test_a_drop_into_a_closed_zone_runs_the_transition_with_its_rules(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
        junk, converted = _status("junk"), _status("converted")
    client = client_for(manager, "en")
    url = f"/{tenant.slug}/leads/{lead.pk}/move/"
    # Into "converted": a conversion needs its dialog; refused in place, nothing changes.
    refused = client.post(url, {"status": converted.pk, "board": "1"}, HTTP_HX_REQUEST="true")
    assert refused.status_code >= 400
    assert refused["HX-Retarget"] == "#toasts"
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).state == "new"
    # Into a junk status: the status is the reason, as on the card.
    moved = client.post(url, {"status": junk.pk, "board": "1"}, HTTP_HX_REQUEST="true")
    assert moved.status_code == 200
    with tenant_context(tenant):
        lead = Lead.objects.get(pk=lead.pk)
        assert (lead.state, lead.status_id) == ("junk", junk.pk)
    board = client.get(f"/{tenant.slug}/leads/board/").context["columns"]
    assert next(c for c in board if c.status.pk == junk.pk).count == 1


def test_a_manager_sees_only_own_and_unassigned_cards(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        mine = make_lead(manager)
        theirs = make_lead(admin, owner=admin)
        _plan(admin, theirs, "Чужое дело", FUTURE)
    response = client_for(manager).get(f"/{tenant.slug}/leads/board/", {"q": ""})
    shown = {lead.pk for column in response.context["columns"] for lead in column.cards}
    assert mine.pk in shown
    assert theirs.pk not in shown
    assert "Чужое дело" not in response.content.decode()
    # Nor through the search or a filter.
    searched = client_for(manager).get(f"/{tenant.slug}/leads/board/", {"q": theirs.phone})
    assert all(lead.pk != theirs.pk for c in searched.context["columns"] for lead in c.cards)


def test_quick_actions_plan_and_complete_the_next_activity_in_place(client_for, tenant, manager):
    with tenant_context(tenant):
        lead = make_lead(manager)
    client = client_for(manager)
    add = f"/{tenant.slug}/leads/{lead.pk}/activities/"
    response = client.post(
        add,
        {"board": "1", "kind": "call", "subject": "Перезвонить", "due_at": "2030-01-15T13:30"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    card = response.content.decode()
    assert card.lstrip().startswith("<article")
    assert f'id="card-{lead.pk}"' in card
    assert "Перезвонить" in card
    assert "15.01 13:30" in card
    with tenant_context(tenant):
        activity = Activity.objects.get(target_id=lead.pk, subject="Перезвонить")
        assert activity.due_at == datetime(2030, 1, 15, 10, 30, tzinfo=UTC)
    done = client.post(
        f"/{tenant.slug}/leads/{lead.pk}/activities/{activity.pk}/done/",
        {"board": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert done.status_code == 200
    assert "Перезвонить" not in done.content.decode()
    assert 'data-testid="next-activity-none"' in done.content.decode()
    with tenant_context(tenant):
        assert Activity.objects.get(pk=activity.pk).done_at is not None


def test_quick_actions_refuse_bad_input_and_wrong_rights_in_place(
    client_for, tenant, other_tenant, admin, manager, marketer, other_admin
):
    with tenant_context(tenant):
        lead = make_lead(manager)
        theirs = make_lead(admin, owner=admin)
    add = f"/{tenant.slug}/leads/{{}}/activities/"
    data = {"board": "1", "kind": "call", "subject": "Звонок"}
    bad = client_for(manager).post(
        add.format(lead.pk), {**data, "subject": ""}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 400
    assert bad["HX-Retarget"] == "#toasts"
    bad_date = client_for(manager).post(
        add.format(lead.pk), {**data, "due_at": "завтра"}, HTTP_HX_REQUEST="true"
    )
    assert bad_date.status_code == 400
    # Another manager's lead: not found; a role that may not edit: refused in place.
    assert (
        client_for(manager).post(add.format(theirs.pk), data, HTTP_HX_REQUEST="true").status_code
        == 404
    )
    refused = client_for(marketer).post(add.format(lead.pk), data, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert refused["HX-Retarget"] == "#toasts"
    # Another workspace's member: not found.
    with tenant_context(other_tenant):
        pass
    assert (
        client_for(other_admin)
        .post(f"/{other_tenant.slug}/leads/{lead.pk}/activities/", data, HTTP_HX_REQUEST="true")
        .status_code
        == 404
    )
    with tenant_context(tenant):
        assert not Activity.objects.filter(target_id=lead.pk).exists()
        planned = _plan(manager, lead, "Чужими руками", FUTURE)
    done = client_for(marketer).post(
        f"/{tenant.slug}/leads/{lead.pk}/activities/{planned.pk}/done/",
        {"board": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert done.status_code == 403
    assert done["HX-Retarget"] == "#toasts"
    with tenant_context(tenant):
        assert Activity.objects.get(pk=planned.pk).done_at is None


def test_the_board_hides_quick_actions_from_a_role_that_may_not_edit(
    client_for, tenant, manager, marketer
):
    with tenant_context(tenant):
        lead = make_lead(manager)
        _plan(manager, lead, "Звонок", FUTURE)
    html = client_for(marketer).get(f"/{tenant.slug}/leads/board/").content.decode()
    card = html[html.index(f'id="card-{lead.pk}"') :].split("</article>")[0]
    assert "Звонок" in card
    assert 'data-testid="card-call"' in card
    assert 'data-testid="card-done"' not in card
    assert 'data-testid="card-plan"' not in card


def test_another_workspace_board_is_not_found(client_for, tenant, other_admin):
    assert client_for(other_admin).get(f"/{tenant.slug}/leads/board/").status_code == 404


def test_board_counts_are_capped_per_part_and_closed_ones_counted_per_owner(
    client_for, tenant, admin, manager
):
    from leads import selectors

    with tenant_context(tenant):
        for _ in range(3):
            make_lead(admin, owner=None)
        junk = _status("junk")
        services.lead_move(actor=manager, lead=make_lead(manager), status=junk)
        services.lead_move(actor=admin, lead=make_lead(admin, owner=admin), status=junk)
        statuses = list(selectors.statuses())
        since = timezone.now() - timedelta(days=30)
        columns = {
            c.status.pk: c
            for c in selectors.board(
                rows=selectors.lead_list(actor=admin),
                statuses=statuses,
                actor=admin,
                since_closed=since,
                cap=2,
            )
        }
    new = columns[_status_pk(statuses, "new")]
    assert new.count == 2
    assert new.at_least  # "2+": the part was counted up to the cap
    assert columns[junk.pk].count == 2  # everyone's closed leads, owner by owner
    assert not columns[junk.pk].at_least
    html = client_for(admin).get(f"/{tenant.slug}/leads/board/").content.decode()
    assert 'data-testid="count">3</span>' in html  # under the real cap: exact


def _status_pk(statuses, state):
    return next(s.pk for s in statuses if s.state == state)
