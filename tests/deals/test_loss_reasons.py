"""Deal loss reasons: a workspace's list (seeded with defaults), one of which a lost deal
must name; administrators add, rename, reorder and turn them off in the settings; the old
free-text reasons become linked reasons in the data migration, and back."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import TimelineEvent
from crm.services import tenant_create
from crm.tenancy import tenant_context
from deals import services
from deals.models import Deal, LossReason, Outcome
from tests.deals.factories import make_deal, sales, stage
from tests.factories import UserFactory, make_tenant

DEFAULTS_RU = [
    "Дорого",
    "Выбрали конкурента",
    "Нет бюджета",
    "Не выходит на связь",
    "Не наш клиент",
    "Другое",
]
DEFAULTS_EN = [
    "Too expensive",
    "Chose a competitor",
    "No budget",
    "No answer",
    "Not our client",
    "Other",
]


def _url(tenant, path: str = "") -> str:
    return f"/{tenant.slug}/deals/{path}"


def _names(**filters) -> list[str]:
    return list(
        LossReason.objects.filter(**filters)
        .order_by("position", "pk")
        .values_list("name", flat=True)
    )


def test_new_workspaces_get_the_default_reasons_in_their_language(tenant, db):
    english, _admin = tenant_create(
        name="English", slug="english", owner=UserFactory(), language="en"
    )
    with tenant_context(tenant):
        assert _names(is_active=True) == DEFAULTS_RU
    with tenant_context(english):
        assert _names(is_active=True) == DEFAULTS_EN


# --- Losing a deal --------------------------------------------------------------------------


def test_a_deal_is_lost_with_one_of_the_reasons(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager)
        price = LossReason.objects.get(name="Дорого")
        services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "lost"), reason=price)
        deal = Deal.objects.get(pk=deal.pk)
        assert (deal.outcome, deal.loss_reason) == (Outcome.LOST, price)
        event = TimelineEvent.objects.get(target_id=deal.pk, kind="deal.lost")
        assert event.data["reason"] == "Дорого"


@pytest.mark.parametrize("which", ["none", "inactive", "foreign"])
def test_losing_without_a_valid_reason_is_refused_and_writes_nothing(
    tenant, other_tenant, manager, which
):
    with tenant_context(other_tenant):
        foreign = LossReason.objects.first()
    with tenant_context(tenant):
        deal = make_deal(manager)
        inactive = LossReason.objects.get(name="Другое")
        LossReason.objects.filter(pk=inactive.pk).update(is_active=False)
        inactive.refresh_from_db()
        reason = {"none": None, "inactive": inactive, "foreign": foreign}[which]
        events = TimelineEvent.objects.count()
        with pytest.raises(DomainError):
            services.deal_move(
                actor=manager, deal=deal, stage=stage(sales(), "lost"), reason=reason
            )
        deal = Deal.objects.get(pk=deal.pk)
        assert (deal.outcome, deal.loss_reason) == (Outcome.OPEN, None)
        assert TimelineEvent.objects.count() == events


def test_the_card_refuses_a_loss_without_a_reason_in_place(client_for, tenant, admin, other_tenant):
    with tenant_context(tenant):
        deal = make_deal(admin)
        lost = stage(sales(), "lost")
    with tenant_context(other_tenant):
        foreign = LossReason.objects.first()
    client = client_for(admin, "en")
    for reason, message in (("", "Choose why the deal was lost."), (foreign.pk, "loss reasons")):
        response = client.post(
            _url(tenant, f"{deal.pk}/move/"),
            {"stage": lost.pk, "reason": reason},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 400
        assert message in response.content.decode()
    board = client.post(_url(tenant, f"{deal.pk}/move/"), {"stage": lost.pk, "board": "1"})
    assert board.status_code == 400
    assert "Choose why the deal was lost." in board.content.decode()
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deal.pk).outcome == Outcome.OPEN


def test_bulk_loss_needs_a_reason(client_for, tenant, admin):
    with tenant_context(tenant):
        deals = [make_deal(admin) for _ in range(2)]
        lost = stage(sales(), "lost")
        price = LossReason.objects.get(name="Дорого")
    client = client_for(admin, "en")
    body = {"ids": [d.pk for d in deals], "stage": lost.pk}
    response = client.post(_url(tenant, "bulk/"), body, follow=True)
    assert "Choose why the deals were lost." in response.content.decode()
    with tenant_context(tenant):
        assert not Deal.objects.filter(outcome=Outcome.LOST).exists()
    client.post(_url(tenant, "bulk/"), {**body, "reason": price.pk})
    with tenant_context(tenant):
        assert set(
            Deal.objects.filter(outcome=Outcome.LOST).values_list("loss_reason", flat=True)
        ) == {price.pk}


# --- Settings -------------------------------------------------------------------------------


def test_admins_add_rename_reorder_and_turn_off_reasons(client_for, tenant, admin):
    client = client_for(admin, "en")
    page = client.get(_url(tenant, "settings/loss-reasons/"))
    assert page.status_code == 200
    assert "Chose a competitor" not in page.content.decode()  # a Russian workspace
    assert "Выбрали конкурента" in page.content.decode()
    assert (
        client.post(_url(tenant, "settings/loss-reasons/"), {"name": "  Сроки  "}).status_code
        == 302
    )
    with tenant_context(tenant):
        assert _names()[-1] == "Сроки"
        deadline = LossReason.objects.get(name="Сроки")
        other = LossReason.objects.get(name="Другое")
    client.post(_url(tenant, f"settings/loss-reasons/{deadline.pk}/move/"), {"up": "1"})
    client.post(
        _url(tenant, f"settings/loss-reasons/{deadline.pk}/"), {"name": "Не устроили сроки"}
    )
    client.post(_url(tenant, f"settings/loss-reasons/{other.pk}/toggle/"), {"active": "0"})
    with tenant_context(tenant):
        assert _names()[-2:] == ["Не устроили сроки", "Другое"]
        assert "Другое" not in _names(is_active=True)
    # A turned-off reason is no longer offered when a deal is lost.
    with tenant_context(tenant):
        deal = make_deal(admin)
    card = client.get(_url(tenant, f"{deal.pk}/")).content.decode()
    assert "Не устроили сроки</option>" in card
    assert "Другое</option>" not in card
    client.post(_url(tenant, f"settings/loss-reasons/{other.pk}/toggle/"), {"active": "1"})
    with tenant_context(tenant):
        assert "Другое" in _names(is_active=True)


@pytest.mark.parametrize("name", ["", "   ", "дорого", "x" * 81])
def test_a_bad_or_taken_name_is_refused(client_for, tenant, admin, name):
    response = client_for(admin, "en").post(_url(tenant, "settings/loss-reasons/"), {"name": name})
    assert response.status_code == 400
    with tenant_context(tenant):
        assert _names() == DEFAULTS_RU


def test_the_last_active_reason_stays_on(tenant, admin):
    with tenant_context(tenant):
        reasons = list(LossReason.objects.order_by("position"))
        for reason in reasons[:-1]:
            services.loss_reason_set_active(actor=admin, reason=reason, active=False)
        with pytest.raises(DomainError, match="at least one"):
            services.loss_reason_set_active(actor=admin, reason=reasons[-1], active=False)


def test_only_administrators_manage_reasons(client_for, tenant, manager, director):
    with tenant_context(tenant):
        reason = LossReason.objects.first()
        with pytest.raises(AccessDenied):
            services.loss_reason_save(actor=manager, reason=None, data={"name": "Хакер"})
        with pytest.raises(AccessDenied):
            services.loss_reason_set_active(actor=manager, reason=reason, active=False)
    for member in (manager, director):
        client = client_for(member, "en")
        assert client.get(_url(tenant, "settings/loss-reasons/")).status_code == 403
        assert client.post(_url(tenant, "settings/loss-reasons/"), {"name": "X"}).status_code == 403
        page = client.get(f"/{tenant.slug}/deals/").content.decode()
        assert "settings-loss-reasons" not in page
    with tenant_context(tenant):
        assert _names() == DEFAULTS_RU


def test_another_workspaces_reason_is_a_404(client_for, tenant, other_tenant, admin):
    with tenant_context(other_tenant):
        theirs = LossReason.objects.first()
    client = client_for(admin, "en")
    for path in ("", "move/", "toggle/"):
        url = _url(tenant, f"settings/loss-reasons/{theirs.pk}/{path}")
        response = client.post(url, {"name": "Взлом", "active": "0", "up": "1"})
        assert response.status_code == 404
    with tenant_context(other_tenant):
        theirs.refresh_from_db()
        assert (theirs.name, theirs.is_active) == ("Дорого", True)


# --- The data migration ---------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor == "postgresql",
    reason="the application role runs no DDL (on PostgreSQL the owner migrates the test DB)",
)
@pytest.mark.django_db(transaction=True)
def test_the_migration_maps_old_texts_to_reasons_and_reverses():
    tenant = make_tenant("migrated", name="Migrated")
    with tenant_context(tenant):
        from crm.models import Membership

        admin = Membership.objects.get(role__kind="admin")
        lost = stage(sales(), "lost")
        deals = [make_deal(admin, data={"title": f"D{n}"}) for n in range(5)]
        won = make_deal(admin, data={"title": "Won"})
    # As `migrate` does (its signals drop and restore the SQLite triggers that would stop
    # a table from being remade: analytics' marks, the channel routes).
    call_command("migrate", "deals", "0006_loss_reasons", verbosity=0)
    try:
        state = MigrationExecutor(connection).loader.project_state(("deals", "0006_loss_reasons"))
        old_deal = state.apps.get_model("deals", "Deal")
        old_reason = state.apps.get_model("deals", "LossReason")
        # As before: no reasons, free texts.
        old_reason.objects.filter(tenant_id=tenant.pk).delete()
        texts = ["дорого ", "Ушли к конкурентам", "Провалена", "", "Ушли к конкурентам"]
        for deal, text in zip(deals, texts, strict=True):
            old_deal.objects.filter(pk=deal.pk).update(
                outcome="lost", stage_id=lost.pk, loss_reason_text=text
            )
        call_command("migrate", verbosity=0)
        with tenant_context(tenant):
            linked = {d.title: d.loss_reason for d in Deal.objects.select_related("loss_reason")}
            assert _names(is_active=True) == DEFAULTS_RU
            assert _names(is_active=False) == ["Провалена", "Ушли к конкурентам"]
            assert linked["D0"].name == "Дорого"
            assert linked["D1"] == linked["D4"]
            assert linked["D1"].name == "Ушли к конкурентам"
            assert linked["D2"].name == "Провалена"
            assert linked["D3"] is None
            assert linked["Won"] is None
        # And back: the names return as texts.
        call_command("migrate", "deals", "0006_loss_reasons", verbosity=0)
        state = MigrationExecutor(connection).loader.project_state(("deals", "0006_loss_reasons"))
        old_deal = state.apps.get_model("deals", "Deal")
        texts_back = dict(
            old_deal.objects.filter(tenant_id=tenant.pk).values_list("title", "loss_reason_text")
        )
        assert texts_back == {
            "D0": "Дорого",
            "D1": "Ушли к конкурентам",
            "D2": "Провалена",
            "D3": "",
            "D4": "Ушли к конкурентам",
            "Won": "",
        }
        assert won.pk
    finally:
        call_command("migrate", verbosity=0)


@pytest.mark.parametrize("path", ["board/", "?outcome=lost"])
def test_lists_with_reasons_keep_a_constant_number_of_queries(client_for, tenant, admin, path):
    from django.test.utils import CaptureQueriesContext

    def lose(n: int) -> None:
        with tenant_context(tenant):
            reasons = list(LossReason.objects.all())
            for index in range(n):
                deal = make_deal(admin)
                services.deal_move(
                    actor=admin,
                    deal=deal,
                    stage=stage(sales(), "lost"),
                    reason=reasons[index % len(reasons)],
                )

    client = client_for(admin, "en")
    lose(1)
    client.get(_url(tenant, path))
    with CaptureQueriesContext(connection) as few:
        assert client.get(_url(tenant, path)).status_code == 200
    lose(6)
    with CaptureQueriesContext(connection) as many:
        page = client.get(_url(tenant, path))
    assert len(many.captured_queries) == len(few.captured_queries)
    if path == "board/":
        assert "Другое" in page.content.decode()  # the cards name their reasons
