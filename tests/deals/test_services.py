"""Deal services: seeding, creation, the outcome state machine, pipelines and stages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.lineitems import ProductLine
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from deals import services
from deals.models import Deal, DealProduct, LossReason, Outcome, Pipeline, Stage
from deals.services import InvalidTransition
from leads.services import lead_create
from tests.deals.factories import make_contact, make_deal, sales, stage
from tests.factories import UserFactory, make_tenant


def _events(deal: Deal) -> list[str]:
    return list(
        TimelineEvent.objects.filter(target_id=deal.pk, target_type__model="deal")
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def test_new_russian_tenants_get_sales_and_repeat_sales_pipelines(tenant):
    with tenant_context(tenant):
        names = list(Pipeline.objects.order_by("position").values_list("name", flat=True))
        assert names == ["Продажи", "Повторные продажи"]
        assert Pipeline.objects.get(is_default=True).name == "Продажи"
        assert Pipeline.objects.get(is_repeat=True).name == "Повторные продажи"
        stages = list(sales().stages.values_list("name", "kind"))
        assert stages[0] == ("Новая", "open")
        assert ("Счёт выставлен", "open") in stages
        assert ("Успешно", "won") in stages
        assert ("Провалена", "lost") in stages


def test_new_english_tenants_get_english_pipelines(db):
    from crm.services import tenant_create

    tenant, _admin = tenant_create(
        name="Initech", slug="initech", owner=UserFactory(), language="en"
    )
    with tenant_context(tenant):
        assert set(Pipeline.objects.values_list("name", flat=True)) == {"Sales", "Repeat sales"}
        assert set(Stage.objects.filter(kind="won").values_list("name", flat=True)) == {"Won"}


def test_create_starts_open_in_the_default_pipeline_with_products(tenant, manager):
    with tenant_context(tenant):
        contact = make_contact(manager)
        deal = services.deal_create(
            actor=manager,
            data={"title": "Поставка", "contact": contact},
            products=[
                ProductLine("Стол", Decimal(2), Decimal("1500")),
                ProductLine("Стул", Decimal(4), Decimal("250.50")),
            ],
        )
        assert deal.outcome == Outcome.OPEN
        assert deal.pipeline == sales()
        assert deal.stage == stage(sales(), "open")
        assert deal.amount == Decimal("4002.00")
        assert deal.currency == "RUB"
        assert deal.owner == manager
        assert DealProduct.objects.filter(deal=deal).count() == 2
        assert _events(deal) == ["deal.created"]


def test_create_records_the_source_lead_for_conversion(tenant, manager):
    with tenant_context(tenant):
        lead = lead_create(actor=manager, data={"name": "Ирина", "phone": "+7 999 555-00-11"})
        deal = make_deal(manager, source_lead=lead)
        assert Deal.objects.get(pk=deal.pk).source_lead_id == lead.pk


def test_create_in_a_closed_stage_is_refused_and_writes_nothing(tenant, manager):
    with tenant_context(tenant):
        before = Deal.objects.count()
        with pytest.raises(DomainError):
            make_deal(manager, stage=stage(sales(), "won"))
        assert Deal.objects.count() == before


def test_create_with_another_tenants_contact_is_refused(tenant, other_tenant, manager, other_admin):
    with tenant_context(other_tenant):
        foreign = make_contact(other_admin)
    with tenant_context(tenant), pytest.raises(DomainError):
        services.deal_create(actor=manager, data={"title": "X", "contact": foreign})


def test_marketer_may_not_create_deals(tenant, marketer):
    with tenant_context(tenant), pytest.raises(AccessDenied):
        services.deal_create(actor=marketer, data={"title": "X"})


def test_open_stage_moves_are_plain_updates(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager)
        target = stage(sales(), "open", 2)
        services.deal_move(actor=manager, deal=deal, stage=target)
        deal.refresh_from_db()
        assert deal.stage == target
        assert deal.outcome == Outcome.OPEN
        assert _events(deal)[-1] == "deal.moved"


def test_win_lose_and_reopen_go_through_the_outcome_machine(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager)
        services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "won"), amount=1000)
        deal.refresh_from_db()
        assert deal.outcome == Outcome.WON
        assert deal.closed_at is not None
        services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "open", 1))
        deal.refresh_from_db()
        assert deal.outcome == Outcome.OPEN
        assert deal.closed_at is None
        price = LossReason.objects.get(name="Дорого")
        services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "lost"), reason=price)
        deal.refresh_from_db()
        assert deal.outcome == Outcome.LOST
        assert deal.loss_reason == price
        assert _events(deal)[-3:] == ["deal.won", "deal.reopened", "deal.lost"]
        services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "open", 1))
        deal.refresh_from_db()
        assert deal.loss_reason is None


def test_won_to_lost_directly_is_an_invalid_transition(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager)
        services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "won"), amount=1000)
        with pytest.raises(InvalidTransition) as error:
            services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "lost"))
        assert error.value.status_code == 409
        deal.refresh_from_db()
        assert deal.outcome == Outcome.WON


def test_winning_needs_a_contact_or_company(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager, customer=False)
        with pytest.raises(InvalidTransition, match="contact or a company"):
            services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "won"), amount=1000)
        assert Deal.objects.get(pk=deal.pk).outcome == Outcome.OPEN


def test_another_pipelines_stage_is_refused(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager)
        repeat = Pipeline.objects.get(is_repeat=True)
        with pytest.raises(InvalidTransition):
            services.deal_move(actor=manager, deal=deal, stage=stage(repeat, "open", 1))


def test_a_manager_may_not_move_someone_elses_deal(tenant, admin, manager):
    with tenant_context(tenant):
        deal = make_deal(admin)
        with pytest.raises(AccessDenied):
            services.deal_move(actor=manager, deal=deal, stage=stage(sales(), "open", 1))


def test_update_records_changed_fields(tenant, manager):
    with tenant_context(tenant):
        deal = make_deal(manager)
        services.deal_update(actor=manager, deal=deal, data={"title": "Новое", "amount": 10})
        event = TimelineEvent.objects.filter(kind="deal.changed").get()
        assert set(event.data["changes"]) == {"title", "amount"}


def test_deleting_a_stage_moves_its_deals(tenant, admin):
    with tenant_context(tenant):
        doomed, keeper = stage(sales(), "open", 1), stage(sales(), "open", 2)
        deals = [make_deal(admin, stage=doomed) for _ in range(3)]
        assert services.stage_delete(actor=admin, stage=doomed, replacement=keeper) == 3
        assert not Stage.objects.filter(pk=doomed.pk).exists()
        assert set(Deal.objects.filter(stage=keeper).values_list("pk", flat=True)) >= {
            d.pk for d in deals
        }


def test_a_stage_moves_its_deals_only_to_the_same_kind(tenant, admin):
    with tenant_context(tenant), pytest.raises(DomainError):
        services.stage_delete(
            actor=admin, stage=stage(sales(), "open"), replacement=stage(sales(), "won")
        )


def test_a_used_stage_keeps_its_kind(tenant, admin):
    with tenant_context(tenant):
        used = stage(sales(), "open", 1)
        make_deal(admin, stage=used)
        data = {"name": used.name, "color": used.color, "kind": "won", "probability": 5}
        with pytest.raises(DomainError):
            services.stage_save(actor=admin, pipeline=sales(), stage=used, data=data)


def test_new_pipeline_gets_open_won_and_lost_stages(tenant, admin):
    with tenant_context(tenant):
        pipeline = services.pipeline_save(actor=admin, pipeline=None, data={"name": "Опт"})
        assert set(pipeline.stages.values_list("kind", flat=True)) == set(Outcome.values)


def test_deleting_a_pipeline_moves_its_deals_by_kind(tenant, admin):
    with tenant_context(tenant):
        repeat = Pipeline.objects.get(is_repeat=True)
        open_deal = make_deal(admin, pipeline=repeat)
        won = make_deal(admin, pipeline=repeat)
        services.deal_move(actor=admin, deal=won, stage=stage(repeat, "won"), amount=1000)
        with pytest.raises(DomainError):
            services.pipeline_delete(actor=admin, pipeline=repeat)
        assert services.pipeline_delete(actor=admin, pipeline=repeat, replacement=sales()) == 2
        assert Deal.objects.get(pk=open_deal.pk).stage == stage(sales(), "open")
        assert Deal.objects.get(pk=won.pk).stage == stage(sales(), "won")


def test_the_default_pipeline_cannot_be_deleted(tenant, admin):
    with tenant_context(tenant), pytest.raises(DomainError):
        services.pipeline_delete(actor=admin, pipeline=sales())


def test_tenants_see_only_their_own_pipelines(tenant, other_tenant):
    with tenant_context(tenant):
        mine = set(Pipeline.objects.values_list("pk", flat=True))
    with tenant_context(other_tenant):
        theirs = set(Pipeline.objects.values_list("pk", flat=True))
    assert mine
    assert theirs
    assert not mine & theirs


def test_make_tenant_helper_seeds_deals(db):
    tenant = make_tenant("hooli")
    with tenant_context(tenant):
        assert Stage.objects.count() == 11


def test_the_new_responsible_is_notified(tenant, admin, manager):
    from crm.models import Notification

    with tenant_context(tenant):
        deal = make_deal(admin, owner=manager)
        assert Notification.objects.filter(recipient=manager, kind="deal.assigned").count() == 1
        services.deal_update(actor=manager, deal=deal, data={}, owner=manager)
        services.deal_update(actor=admin, deal=deal, data={}, owner=admin)
        assert not Notification.objects.filter(recipient=admin).exists()
