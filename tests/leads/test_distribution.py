"""Lead distribution through its services: matching rules, strategies, availability, the
rules' settings use cases, and round robin under concurrency (PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connections

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import CustomField, Membership, TimelineEvent
from crm.services import system_actor
from crm.tenancy import tenant_context
from leads.distribution import (
    RoutingContext,
    phone_region,
    pick_owner,
    rule_delete,
    rule_list,
    rule_move,
    rule_save,
    rule_set_enabled,
)
from leads.models import AssignmentRule, LeadStatus
from leads.services import lead_move
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead


def _rule(actor: Membership, members: list[Membership], **data) -> AssignmentRule:
    data.setdefault("name", f"Rule {AssignmentRule.objects.count() + 1}")
    data.setdefault("strategy", "round_robin")
    return rule_save(actor=actor, rule=None, data={**data, "members": [m.pk for m in members]})


@pytest.fixture
def pool(tenant):
    return [add_member(tenant, "manager") for _ in range(3)]


def _picks(n: int, context: RoutingContext | None = None) -> list[int | None]:
    picked = [pick_owner(context=context or RoutingContext()) for _ in range(n)]
    return [m.pk if m else None for m in picked]


def test_round_robin_takes_turns_and_skips_the_unavailable(tenant, admin, pool):
    a, b, c = pool
    with tenant_context(tenant):
        _rule(admin, pool)
        assert _picks(4) == [a.pk, b.pk, c.pk, a.pk]
        Membership.objects.filter(pk=b.pk).update(is_away=True)
        Membership.objects.filter(pk=c.pk).update(is_active=False)
        assert _picks(2) == [a.pk, a.pk]
        Membership.objects.filter(pk=b.pk).update(is_away=False)
        assert _picks(2) == [b.pk, a.pk]


def test_nobody_available_or_no_rule_leaves_the_lead_unassigned(tenant, admin, pool):
    with tenant_context(tenant):
        assert _picks(1) == [None]
        _rule(admin, pool[:1])
        Membership.objects.filter(pk=pool[0].pk).update(is_away=True)
        assert _picks(1) == [None]


def test_the_system_member_is_never_picked(tenant, admin):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        rule = _rule(admin, [admin])
        AssignmentRule.objects.filter(pk=rule.pk).update(members=[robot.pk])
        assert _picks(1) == [None]


def test_least_loaded_picks_the_member_with_fewest_open_leads(tenant, admin, pool):
    a, b, c = pool
    with tenant_context(tenant):
        _rule(admin, pool, strategy="least_loaded")
        for owner, count in ((a, 2), (b, 1)):
            for _ in range(count):
                make_lead(admin, owner=owner)
        closed = make_lead(admin, owner=c)
        make_lead(admin, owner=c)
        # Closed leads are not load: c has one open lead like b; b comes first in turn.
        lead_move(actor=admin, lead=closed, status=LeadStatus.objects.filter(state="junk")[0])
        first = pick_owner(context=RoutingContext())
        assert first.pk == b.pk
        make_lead(admin, owner=first)
        assert pick_owner(context=RoutingContext()).pk == c.pk


def test_random_picks_only_available_pool_members(tenant, admin, pool):
    with tenant_context(tenant):
        _rule(admin, pool, strategy="random")
        Membership.objects.filter(pk=pool[0].pk).update(is_away=True)
        picked = Counter(_picks(30))
    assert set(picked) <= {pool[1].pk, pool[2].pk}
    assert len(picked) == 2


def test_the_first_enabled_matching_rule_wins(tenant, admin, pool):
    a, b, c = pool
    with tenant_context(tenant):
        telegram = _rule(admin, [a], sources=["telegram", "whatsapp"])
        _rule(admin, [b], utm_source="Yandex", utm_campaign="spring")
        _rule(admin, [c])
        assert _picks(1, RoutingContext(source="whatsapp")) == [a.pk]
        utm = {"utm_source": "yandex ", "utm_campaign": "SPRING", "utm_medium": "cpc"}
        assert _picks(1, RoutingContext(source="web_form", utm=utm)) == [b.pk]
        assert _picks(1, RoutingContext(source="web_form", utm={"utm_source": "yandex"})) == [c.pk]
        rule_set_enabled(actor=admin, rule=telegram, enabled=False)
        assert _picks(1, RoutingContext(source="whatsapp")) == [c.pk]


def test_channel_region_and_custom_field_conditions(tenant, admin, pool):
    a, b, c = pool
    with tenant_context(tenant):
        CustomField.objects.create(
            entity="lead", key="product", label="Продукт", field_type="choice", choices=["A", "B"]
        )
        CustomField.objects.create(
            entity="lead", key="tags", label="Теги", field_type="multi_choice", choices=["x", "y"]
        )
        _rule(admin, [a], channel_ids=[7, "9"])
        _rule(admin, [b], regions=["моск", "Санкт"], custom_field="product", custom_value="B")
        _rule(admin, [c], custom_field="tags", custom_value="y")
        assert _picks(1, RoutingContext(channel_id=9)) == [a.pk]
        assert _picks(1, RoutingContext(channel_id=8)) == [None]
        moscow = RoutingContext(phone_e164="+74951234567", custom={"product": "B"})
        assert _picks(1, moscow) == [b.pk]
        mobile = RoutingContext(phone_e164="+79991234567", custom={"product": "B"})
        assert _picks(1, mobile) == [None]
        assert _picks(1, RoutingContext(custom={"tags": ["x", "y"]})) == [c.pk]


def test_phone_region_speaks_the_tenant_language():
    assert phone_region("+74951234567", "ru") == "Московская обл."
    assert phone_region("+74951234567", "en") == "Moscow"
    assert phone_region("", "ru") == ""
    assert phone_region("not a phone", "ru") == ""


@pytest.mark.parametrize(
    ("data", "members"),
    [
        ({"name": " "}, True),
        ({"strategy": "fastest"}, True),
        ({"sources": ["pigeon"]}, True),
        ({"channel_ids": ["x"]}, True),
        ({"channel_ids": [0]}, True),
        ({"custom_field": "nope", "custom_value": "1"}, True),
        ({"custom_field": "budget", "custom_value": "много"}, True),
        ({"custom_field": "budget", "custom_value": ""}, True),
        ({}, False),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_saved(tenant, admin, pool, data, members):
    with tenant_context(tenant):
        CustomField.objects.create(entity="lead", key="budget", label="Бюджет", field_type="number")
        payload = {"name": "R", "strategy": "random", "members": [m.pk for m in pool], **data}
        if not members:
            payload["members"] = []
        with pytest.raises(DomainError):
            rule_save(actor=admin, rule=None, data=payload)
        assert not AssignmentRule.objects.exists()


def test_a_rule_cannot_hold_another_tenants_member(tenant, other_admin, admin):
    with tenant_context(tenant), pytest.raises(DomainError):
        rule_save(
            actor=admin,
            rule=None,
            data={"name": "R", "strategy": "random", "members": [other_admin.pk]},
        )


def test_rule_names_are_unique_per_tenant(tenant, other_tenant, admin, other_admin, pool):
    with tenant_context(tenant):
        _rule(admin, pool, name="Сайт")
        with pytest.raises(DomainError):
            _rule(admin, pool, name="сайт")
    with tenant_context(other_tenant):
        _rule(other_admin, [other_admin], name="Сайт")
        assert [r.name for r in rule_list()] == ["Сайт"]


def test_only_settings_holders_change_rules(tenant, admin, manager, pool):
    with tenant_context(tenant):
        rule = _rule(admin, pool)
        for call in (
            lambda: _rule(manager, pool),
            lambda: rule_move(actor=manager, rule=rule, up=True),
            lambda: rule_set_enabled(actor=manager, rule=rule, enabled=False),
            lambda: rule_delete(actor=manager, rule=rule),
        ):
            with pytest.raises(AccessDenied):
                call()
        assert AssignmentRule.objects.get().enabled


def test_reorder_edit_and_delete_are_recorded(tenant, admin, pool):
    with tenant_context(tenant):
        first, second, third = (_rule(admin, pool, name=n) for n in ("A", "B", "C"))
        rule_move(actor=admin, rule=third, up=True)
        assert [r.name for r in rule_list()] == ["A", "C", "B"]
        rule_move(actor=admin, rule=first, up=True)  # already on top: nothing moves
        rule_move(actor=admin, rule=first, up=False)
        assert [r.name for r in rule_list()] == ["C", "A", "B"]
        rule_save(
            actor=admin,
            rule=second,
            data={"name": "B2", "strategy": "random", "members": [pool[0].pk]},
        )
        rule_delete(actor=admin, rule=first)
        assert [(r.name, r.strategy, r.members) for r in rule_list()] == [
            ("C", "round_robin", sorted(m.pk for m in pool)),
            ("B2", "random", [pool[0].pk]),
        ]
        kinds = set(TimelineEvent.objects.values_list("kind", flat=True))
    assert {"rule.created", "rule.moved", "rule.changed", "rule.deleted"} <= kinds


def test_pick_owner_needs_a_tenant_context(db):
    with pytest.raises(RuntimeError):
        pick_owner(context=RoutingContext())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_round_robin_picks_never_share_a_turn():
    tenant = make_tenant("rr-race", name="Race")
    members = [add_member(tenant, "manager") for _ in range(4)]
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        _rule(admin, members)
    barrier = threading.Barrier(4, timeout=10)
    picked: list[int] = []
    errors: list[BaseException] = []

    def pick() -> None:
        try:
            barrier.wait()
            with tenant_context(tenant):
                picked.append(pick_owner(context=RoutingContext()).pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(picked) == sorted(m.pk for m in members)
