"""Winning a deal at 0 asks for the amount: the service refuses it without one, the card's
win button asks for it, the board and bulk moves are refused in place."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.errors import DomainError
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from deals import services
from deals.models import Deal, Outcome
from tests.deals.factories import make_deal, sales, stage


@pytest.fixture
def url(tenant):
    return lambda deal: f"/{tenant.slug}/deals/{deal.pk}/move/"


def _won_events(deal):
    return list(TimelineEvent.objects.filter(target_id=deal.pk, kind="deal.won"))


def test_winning_at_zero_needs_an_amount(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager)
        won = stage(sales(), "won")
        with pytest.raises(services.AmountRequired):
            services.deal_move(actor=manager, deal=deal, stage=won)
        with pytest.raises(services.AmountRequired):
            services.deal_move(actor=manager, deal=deal, stage=won, amount=Decimal(0))
        with pytest.raises(DomainError, match="negative"):
            services.deal_move(actor=manager, deal=deal, stage=won, amount=Decimal(-5))
        fresh = Deal.objects.get(pk=deal.pk)
        assert (fresh.outcome, fresh.amount) == (Outcome.OPEN, 0)
        assert _won_events(deal) == []
        services.deal_move(actor=manager, deal=fresh, stage=won, amount=Decimal("150000"))
        fresh = Deal.objects.get(pk=deal.pk)
        assert (fresh.outcome, fresh.amount) == (Outcome.WON, Decimal("150000"))
        assert _won_events(deal)[0].data["changes"] == {"amount": ["0.00", "150000"]}


def test_a_deal_with_an_amount_is_won_as_before(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager, data={"amount": 900})
        services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "won"))
        assert Deal.objects.get(pk=deal.pk).outcome == Outcome.WON


def test_the_card_asks_the_amount_of_a_deal_at_zero(client_for, tenant, manager):
    with tenant_context(tenant):
        zero = make_deal(manager)
        priced = make_deal(manager, data={"amount": 500})
    client = client_for(manager)
    page = client.get(f"/{tenant.slug}/deals/{zero.pk}/").content.decode()
    assert 'data-testid="win-form"' in page
    assert 'name="amount"' in page
    page = client.get(f"/{tenant.slug}/deals/{priced.pk}/").content.decode()
    assert 'data-testid="win-form"' not in page
    assert 'data-testid="win"' in page


@pytest.mark.parametrize("amount", ["", "0", "-1", "abc", "1e999"])
def test_a_win_without_a_good_amount_is_refused_in_place(client_for, tenant, manager, url, amount):
    with tenant_context(tenant):
        deal = make_deal(manager)
        won = stage(sales(), "won")
    response = client_for(manager).post(
        url(deal), {"stage": won.pk, "amount": amount}, headers={"HX-Request": "true"}
    )
    assert response.status_code in (400, 409)
    html = response.content.decode()
    assert 'data-testid="card-error"' in html
    assert "<html" not in html  # the card, in place
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).outcome == Outcome.OPEN


def test_the_win_dialog_wins_the_deal_with_its_amount(client_for, tenant, manager, url):
    with tenant_context(tenant):
        deal = make_deal(manager)
        won = stage(sales(), "won")
    response = client_for(manager).post(
        url(deal), {"stage": won.pk, "amount": "75000.50"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    with tenant_context(tenant):
        fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.outcome, fresh.amount) == (Outcome.WON, Decimal("75000.50"))


def test_a_board_drop_into_won_at_zero_is_refused_in_place(client_for, tenant, manager, url):
    with tenant_context(tenant):
        deal = make_deal(manager)
        won = stage(sales(), "won")
    response = client_for(manager, "en").post(
        url(deal), {"stage": won.pk, "board": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#toasts"
    assert "amount before marking it won" in response.content.decode()


def test_bulk_win_skips_deals_at_zero_with_the_reason(client_for, tenant, manager):
    with tenant_context(tenant):
        zero = make_deal(manager, data={"title": "Нулевая"})
        priced = make_deal(manager, data={"title": "С суммой", "amount": 10})
        won = stage(sales(), "won")
    response = client_for(manager).post(
        f"/{tenant.slug}/deals/bulk/", {"ids": [zero.pk, priced.pk], "stage": won.pk}, follow=True
    )
    texts = " ".join(str(m) for m in response.context["messages"])
    assert "Нулевая" in texts
    with tenant_context(tenant):
        assert Deal.objects.get(pk=zero.pk).outcome == Outcome.OPEN
        assert Deal.objects.get(pk=priced.pk).outcome == Outcome.WON


def test_another_workspace_deal_cannot_be_won(
    client_for, tenant, other_tenant, manager, other_admin
):
    with tenant_context(other_tenant):
        deal = make_deal(other_admin)
        won = stage(sales(), "won")
    response = client_for(manager).post(
        f"/{tenant.slug}/deals/{deal.pk}/move/", {"stage": won.pk, "amount": "5"}
    )
    assert response.status_code == 404
    with tenant_context(other_tenant):
        assert Deal.objects.get(pk=deal.pk).outcome == Outcome.OPEN
