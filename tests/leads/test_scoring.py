"""Rule evaluation (leads/scoring.py): each condition type, events with their count and
decay, thresholds for temperature and the fit × engagement matrix, and explanations that
add up to the score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from leads.models import Lead, ScoringRule, ScoringSettings
from leads.scoring import (
    Context,
    Occurrence,
    decayed,
    evaluate,
    matrix_cell,
    range_text,
    temperature_for,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _rule(pk: int, subject: str, points: int, operator: str = "is", **fields) -> ScoringRule:
    return ScoringRule(
        pk=pk, name=f"R{pk}", subject=subject, operator=operator, points=points, **fields
    )


def _context(**settings) -> Context:
    return Context(settings=ScoringSettings(**settings), language="ru", now=NOW)


def _score(lead: Lead, rules, events=(), **settings):
    return evaluate(lead, rules=rules, events=list(events), context=_context(**settings))


def test_source_is_one_of_the_values():
    rules = [_rule(1, "source", 10, values=["web_form", "telegram"])]
    assert _score(Lead(source="telegram"), rules).fit == 10
    assert _score(Lead(source="call"), rules).fit == 0
    part = _score(Lead(source="telegram"), rules).parts[0]
    assert (part.rule_id, part.kind, part.points) == (1, "fit", 10)
    assert part.why == "Source: Telegram"


def test_amount_between_its_ends_inclusive_and_open_ends():
    both = _rule(1, "amount", 20, "between", low=Decimal(100000), high=Decimal(500000))
    from_only = _rule(2, "amount", 5, "between", low=Decimal(1000000))
    for amount, expected in [(99999, 0), (100000, 20), (500000, 20), (500001, 0), (2e6, 5)]:
        lead = Lead(amount=Decimal(str(amount)))
        assert _score(lead, [both, from_only]).fit == expected, amount
    assert _score(Lead(amount=Decimal(150000)), [both]).parts[0].why == "Amount: 150 000"
    assert range_text(both) == "from 100 000 to 500 000"
    assert range_text(from_only) == "from 1 000 000"


def test_region_by_the_phones_prefix_in_the_workspaces_language():
    rule = _rule(1, "region", 15, "contains", values=["москов"])
    assert _score(Lead(phone_e164="+74951234567"), [rule]).fit == 15
    assert _score(Lead(phone_e164="+78122345678"), [rule]).fit == 0  # Saint Petersburg
    part = _score(Lead(phone_e164="+74951234567"), [rule]).parts[0]
    assert part.why == "Region (by phone): Московская обл."
    assert _score(Lead(phone_e164=""), [rule]).fit == 0


def test_utm_and_text_fields_is_contains_and_filled():
    rules = [
        _rule(1, "utm_campaign", 7, "is", values=["Spring-Sale"]),
        _rule(2, "email", -10, "contains", values=["@gmail.com", "@mail.ru"]),
        _rule(3, "company_name", 8, "filled"),
    ]
    lead = Lead(utm_campaign="spring-sale ", email="Ivan@Mail.ru", company_name="  ")
    score = _score(lead, rules)
    assert [(p.rule_id, p.points) for p in score.parts] == [(1, 7), (2, -10)]
    assert score.fit == -3
    lead.company_name = "ООО Ромашка"
    assert _score(lead, rules).fit == 5


def test_custom_fields_by_choice_number_and_list():
    rules = [
        _rule(1, "custom:industry", 12, "is", values=["Retail"]),
        _rule(2, "custom:employees", 9, "between", low=Decimal(50)),
        _rule(3, "custom:tags", 4, "is", values=["vip"]),
    ]
    lead = Lead(custom={"industry": "retail", "employees": 120, "tags": ["new", "VIP"]})
    assert [p.points for p in _score(lead, rules).parts] == [12, 9, 4]
    lead = Lead(custom={"industry": "Bank", "employees": "abc", "tags": {"bad": 1}})
    assert _score(lead, rules).parts == ()


def test_framework_answers_count_only_while_the_framework_is_on():
    rules = [
        _rule(1, "bant:budget", 25, "between", low=Decimal(100000)),
        _rule(2, "bant:authority", 15, "is", values=["decides"]),
        _rule(3, "champ:challenges", 5, "filled"),
    ]
    lead = Lead(
        qualification={
            "bant": {"budget": "250000.00", "authority": "decides"},
            "champ": {"challenges": "Продажи теряют заявки"},
        }
    )
    assert _score(lead, rules, bant=True, champ=True).fit == 45
    assert _score(lead, rules, bant=True, champ=False).fit == 40
    assert _score(lead, rules, bant=False, champ=False).fit == 0
    whys = [p.why for p in _score(lead, rules, bant=True, champ=True).parts]
    assert whys[1] == "Authority (BANT): Decides alone"


def test_events_count_each_occurrence_up_to_the_limit():
    rule = _rule(1, "event", 10, values=["pricing_page"], max_times=3)
    visits = [Occurrence("pricing_page", NOW - timedelta(hours=h)) for h in range(5)]
    assert _score(Lead(), [rule], visits[:2]).engagement == 20
    assert _score(Lead(), [rule], visits).engagement == 30
    other = [Occurrence("subscribed", NOW)]
    assert _score(Lead(), [rule], other).engagement == 0
    part = _score(Lead(), [rule], visits).parts[0]
    assert part.kind == "engagement"
    assert part.why.startswith("Visited the pricing page ×3")


def test_event_names_match_whatever_the_case_and_spaces():
    rule = _rule(1, "event", 30, values=["Demo_Requested"])
    assert _score(Lead(), [rule], [Occurrence(" demo_requested ", NOW)]).engagement == 30


def test_decay_halves_the_points_every_half_life():
    assert decayed(40, age_days=0, half_life_days=7) == 40
    assert decayed(40, age_days=7, half_life_days=7) == pytest.approx(20)
    assert decayed(40, age_days=14, half_life_days=7) == pytest.approx(10)
    assert decayed(40, age_days=30, half_life_days=None) == 40
    rule = _rule(1, "event", 40, values=["price_asked"], half_life_days=7, max_times=2)
    events = [
        Occurrence("price_asked", NOW - timedelta(days=14)),
        Occurrence("price_asked", NOW - timedelta(days=7)),
    ]
    score = _score(Lead(), [rule], events)
    assert score.engagement == 30  # 10 + 20
    assert "faded from 80" in score.parts[0].why
    # The most recent occurrences count when there are more than the limit.
    rule.max_times = 1
    assert _score(Lead(), [rule], events).engagement == 20


def test_an_event_that_faded_to_nothing_gives_no_part():
    rule = _rule(1, "event", 10, values=["email_opened"], half_life_days=1)
    assert (
        _score(Lead(), [rule], [Occurrence("email_opened", NOW - timedelta(days=30))]).parts == ()
    )


def test_disabled_rules_give_nothing_and_negative_points_subtract():
    rules = [
        _rule(1, "source", 50, values=["web_form"], enabled=False),
        _rule(2, "source", -20, values=["web_form"]),
    ]
    score = _score(Lead(source="web_form"), rules)
    assert (score.fit, score.total, len(score.parts)) == (-20, -20, 1)


def test_the_parts_add_up_to_the_score():
    rules = [
        _rule(1, "source", 10, values=["web_form"]),
        _rule(2, "amount", 20, "between", low=Decimal(1)),
        _rule(3, "event", 15, values=["demo_requested"]),
        _rule(4, "event", 5, values=["email_opened"], max_times=5, half_life_days=3),
    ]
    events = [Occurrence("demo_requested", NOW)] + [
        Occurrence("email_opened", NOW - timedelta(days=d)) for d in (1, 2, 4)
    ]
    score = _score(Lead(source="web_form", amount=Decimal(5)), rules, events)
    assert score.fit == sum(p.points for p in score.parts if p.kind == "fit") == 30
    assert score.engagement == sum(p.points for p in score.parts if p.kind == "engagement")
    assert score.total == score.fit + score.engagement
    assert [d["rule_id"] for d in score.stored_parts()] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("total", "expected"), [(100, "hot"), (60, "hot"), (59, "warm"), (30, "warm"), (29, "cold")]
)
def test_thresholds_map_the_score_to_temperature(total, expected):
    assert temperature_for(total, ScoringSettings(hot_from=60, warm_from=30)) == expected


@pytest.mark.parametrize(
    ("fit", "engagement", "cell"),
    [(40, 30, "A1"), (39, 29, "B2"), (20, 10, "B2"), (19, 9, "C3"), (100, 0, "A3"), (-5, 50, "C1")],
)
def test_fit_and_engagement_make_a_matrix_cell(fit, engagement, cell):
    settings = ScoringSettings(
        fit_a_from=40, fit_b_from=20, engagement_1_from=30, engagement_2_from=10
    )
    assert matrix_cell(fit, engagement, settings) == cell


def test_custom_fields_read_by_their_label_and_yes_no_fields_as_words():
    rules = [
        _rule(1, "custom:industry", 12, "is", values=["retail"]),
        _rule(2, "custom:has_site", 5, "is", values=["yes"]),
        _rule(3, "custom:has_site", -5, "is", values=["no"]),
    ]
    context = Context(
        settings=ScoringSettings(),
        language="ru",
        now=NOW,
        custom_labels={"industry": "Отрасль", "has_site": "Есть сайт"},
    )
    score = evaluate(
        Lead(custom={"industry": "Retail", "has_site": True}),
        rules=rules,
        events=[],
        context=context,
    )
    assert [(p.points, p.why) for p in score.parts] == [
        (12, "Отрасль: Retail"),
        (5, "Есть сайт: yes"),
    ]
    score = evaluate(Lead(custom={"has_site": False}), rules=rules, events=[], context=context)
    assert [(p.points, p.why) for p in score.parts] == [(-5, "Есть сайт: no")]


def test_a_deleted_custom_field_gives_no_points_and_no_amount_is_not_filled():
    rules = [
        _rule(1, "custom:industry", 12, "is", values=["retail"]),
        _rule(2, "amount", 10, "filled"),
        _rule(3, "amount", 7, "between", high=Decimal(1000)),
    ]
    context = Context(settings=ScoringSettings(), language="ru", now=NOW, custom_labels={})
    lead = Lead(custom={"industry": "retail"})  # the field was deleted: its values stay
    assert evaluate(lead, rules=rules, events=[], context=context).parts == ()
    lead.amount = Decimal(500)
    assert [p.rule_id for p in evaluate(lead, rules=rules, events=[], context=context).parts] == [
        2,
        3,
    ]


def test_odd_custom_values_are_passed_over():
    rules = [_rule(1, "custom:tags", 4, "is", values=["vip"])]
    for value in ([["vip"]], {"vip": 1}, [None, {"a": 1}], "  "):
        assert _score(Lead(custom={"tags": value}), rules).parts == ()
    assert _score(Lead(custom=["not", "a", "dict"]), rules).parts == ()
