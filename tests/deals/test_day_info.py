"""What the deal list and board carry of the day (issue 14, point 5): the next activity
(overdue in red) and the age of open deals; the board's filters and search; won and lost
as drop zones with counts; a card's quick actions; constant queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Activity
from crm.services import activity_create
from crm.tenancy import tenant_context
from deals import services
from deals.models import Deal, LossReason, Outcome
from tests.deals.factories import make_contact, make_deal, sales, stage

FUTURE = datetime(2030, 1, 15, 3, 30, tzinfo=UTC)  # 13:30 on 15.01 in Vladivostok (UTC+10)
PAST = datetime(2020, 3, 1, 20, 0, tzinfo=UTC)  # 06:00 on 02.03 in Vladivostok
WON_AT = Decimal("150000")


@pytest.fixture
def url(tenant):
    return lambda path: f"/{tenant.slug}/deals/{path}"


@pytest.fixture
def far_east(tenant):
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    return tenant


def _plan(actor, deal, subject, due_at, kind=Activity.Kind.CALL):
    return activity_create(actor=actor, target=deal, kind=kind, subject=subject, due_at=due_at)


def _cards(response) -> set[int]:
    return {deal.pk for column in response.context["columns"] for deal in column.cards}


def test_list_rows_and_board_cards_show_the_next_activity_and_the_age(
    client_for, far_east, manager, url
):
    with tenant_context(far_east):
        soon = make_deal(manager, data={"title": "Поставка"})
        _plan(manager, soon, "Созвон", FUTURE)
        late = make_deal(manager, data={"title": "Монтаж"})
        _plan(manager, late, "Выставить счёт", PAST, kind=Activity.Kind.TASK)
        Deal.objects.filter(pk=late.pk).update(created_at=timezone.now() - timedelta(days=4))
    client = client_for(manager, "en")
    listing = client.get(url("")).content.decode()
    row = listing[listing.index(f'id="deal-{soon.pk}"') :].split("</tr>")[0]
    assert "Созвон" in row
    assert "15.01 13:30" in row
    assert "data-overdue" not in row
    late_row = listing[listing.index(f'id="deal-{late.pk}"') :].split("</tr>")[0]
    assert "Выставить счёт" in late_row
    assert "02.03 06:00" in late_row
    assert "text-danger" in late_row
    assert '<div data-testid="age">4 d</div>' in late_row
    board = client.get(url("board/")).content.decode()
    card = board[board.index(f'id="card-{late.pk}"') :].split("</article>")[0]
    assert "Выставить счёт" in card
    assert "data-overdue" in card
    assert ">4 d<" in card
    assert 'href="tel:+7916' in card  # the contact's phone


@pytest.mark.parametrize("path", ["", "board/", "board/?q=Сделка&amount_min=10"])
def test_list_and_board_run_a_constant_number_of_queries_with_activities(
    client_for, tenant, admin, url, path, django_assert_num_queries
):
    client = client_for(admin)
    with tenant_context(tenant):
        for _ in range(2):
            _plan(admin, make_deal(admin, data={"amount": 100}), "Звонок", FUTURE)
    client.get(url(path))
    with CaptureQueriesContext(connection) as few:
        client.get(url(path))
    with tenant_context(tenant):
        for i in range(30):
            deal = make_deal(admin, data={"amount": 100 + i})
            for day in range(3):
                _plan(admin, deal, f"Дело {day}", FUTURE + timedelta(days=day))
            if i % 4 == 0:
                services.deal_move(actor=admin, deal=deal, stage=stage(sales(), "won"))
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(url(path)).status_code == 200


def test_board_filters_and_search_like_the_list(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        phone = make_contact(admin, phones=["+7 916 555-44-33"])
        big = make_deal(admin, data={"title": "Крупная", "amount": 500_000, "contact": phone})
        small = make_deal(admin, data={"title": "Мелкая", "amount": 1_000})
        other = make_deal(manager, data={"title": "Чужая"})
    client = client_for(admin)
    assert _cards(client.get(url("board/"))) == {big.pk, small.pk, other.pk}
    assert _cards(client.get(url("board/"), {"q": "Мелк"})) == {small.pk}
    assert _cards(client.get(url("board/"), {"q": "8 916 555 44 33"})) == {big.pk}
    assert _cards(client.get(url("board/"), {"amount_min": "10000"})) == {big.pk}
    assert _cards(client.get(url("board/"), {"owner": manager.pk})) == {other.pk}
    page = client.get(url("board/"), {"q": "Мелк"}).content.decode()
    assert 'data-testid="deal-filters"' in page
    # The pipeline comes from the tabs, kept by the filter form.
    with tenant_context(tenant):
        pipeline = sales()
    assert f'<input type="hidden" name="pipeline" value="{pipeline.pk}">' in page
    assert client.get(url("board/"), {"amount_min": "много"}).status_code == 200


def test_won_and_lost_are_drop_zones_with_counts(client_for, tenant, admin, url):
    with tenant_context(tenant):
        won, lost = stage(sales(), "won"), stage(sales(), "lost")
        for _ in range(2):
            services.deal_move(actor=admin, deal=make_deal(admin), stage=won, amount=WON_AT)
        price = LossReason.objects.get(name="Дорого")
        services.deal_move(actor=admin, deal=make_deal(admin), stage=lost, reason=price)
        make_deal(admin)
    response = client_for(admin).get(url("board/"))
    columns = {c.stage.pk: c for c in response.context["columns"]}
    assert columns[won.pk].collapsed
    assert columns[won.pk].count == 2
    assert not columns[won.pk].cards
    assert columns[lost.pk].collapsed
    assert columns[lost.pk].count == 1
    html = response.content.decode()
    zones = html[html.index('data-testid="closed-zones"') :]
    assert f'data-testid="drop-{won.pk}"' in zones
    assert "data-ask-reason" in zones


def test_a_drop_into_lost_runs_the_transition_with_its_reason(client_for, tenant, admin, url):
    with tenant_context(tenant):
        deal = make_deal(admin)
        lost, won = stage(sales(), "lost"), stage(sales(), "won")
        closed = make_deal(admin)
        services.deal_move(actor=admin, deal=closed, stage=won, amount=WON_AT)
        competitor = LossReason.objects.get(name="Выбрали конкурента")
    client = client_for(admin)
    moved = client.post(
        url(f"{deal.pk}/move/"),
        {"stage": lost.pk, "board": "1", "reason": competitor.pk},
        HTTP_HX_REQUEST="true",
    )
    assert moved.status_code == 200
    with tenant_context(tenant):
        deal.refresh_from_db()
        assert (deal.outcome, deal.loss_reason) == (Outcome.LOST, competitor)
    assert next(c for c in client.get(url("board/")).context["columns"] if c.stage == lost).count
    refused = client.post(
        url(f"{closed.pk}/move/"), {"stage": lost.pk, "board": "1"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 409
    assert refused["HX-Retarget"] == "#toasts"


def test_a_manager_sees_only_own_cards(client_for, tenant, admin, manager, url):
    with tenant_context(tenant):
        mine = make_deal(manager)
        theirs = make_deal(admin)
        _plan(admin, theirs, "Чужое дело", FUTURE)
    response = client_for(manager).get(url("board/"), {"q": theirs.title})
    assert theirs.pk not in _cards(response)
    assert mine.pk in _cards(client_for(manager).get(url("board/")))
    assert "Чужое дело" not in client_for(manager).get(url("board/")).content.decode()


def test_quick_actions_plan_and_complete_in_place(
    client_for, far_east, manager, marketer, other_admin, url
):
    with tenant_context(far_east):
        deal = make_deal(manager)
    client = client_for(manager)
    added = client.post(
        url(f"{deal.pk}/activities/"),
        {
            "board": "1",
            "kind": "meeting",
            "subject": "Встреча с клиентом",
            "due_at": "2030-01-15T13:30",
        },
        HTTP_HX_REQUEST="true",
    )
    assert added.status_code == 200
    assert "Встреча с клиентом" in added.content.decode()
    assert "15.01 13:30" in added.content.decode()
    with tenant_context(far_east):
        activity = Activity.objects.get(target_id=deal.pk, subject="Встреча с клиентом")
        assert activity.due_at == FUTURE  # typed in Vladivostok time
    bad = client.post(
        url(f"{deal.pk}/activities/"), {"board": "1", "kind": "call"}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 400
    assert bad["HX-Retarget"] == "#toasts"
    refused = client_for(marketer).post(
        url(f"{deal.pk}/activities/{activity.pk}/done/"), {"board": "1"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 403
    assert refused["HX-Retarget"] == "#toasts"
    elsewhere = client_for(other_admin).post(
        f"/{other_admin.tenant.slug}/deals/{deal.pk}/activities/{activity.pk}/done/",
        {"board": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert elsewhere.status_code == 404
    done = client.post(
        url(f"{deal.pk}/activities/{activity.pk}/done/"), {"board": "1"}, HTTP_HX_REQUEST="true"
    )
    assert done.status_code == 200
    assert "Встреча с клиентом" not in done.content.decode()
    with tenant_context(far_east):
        assert Activity.objects.get(pk=activity.pk).done_at is not None
        assert Activity.objects.filter(target_id=deal.pk).count() == 1
