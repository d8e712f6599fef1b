"""Scoring rules checked against history: the last 90 days' leads scored under unsaved rules
or thresholds, grouped by temperature and matrix cell with the conversion they actually had —
exact figures, the workspace's days, the sample's cap, a constant number of queries, another
workspace's leads never read, and nothing saved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import Membership, Tenant, TimelineEvent
from crm.periods import day_start
from crm.tenancy import tenant_context
from deals.models import Deal
from leads import backtest
from leads.models import Lead, LeadEvent, ScoringRule, ScoringSettings
from leads.scoring_rules import scoring_rule_save
from tests.deals.factories import make_deal
from tests.leads.factories import make_lead


@pytest.fixture
def url(tenant):
    return lambda path="": f"/{tenant.slug}/leads/scoring/{path}"


def _unsaved(name: str, points: int, **data) -> ScoringRule:
    return ScoringRule(name=name, points=points, enabled=True, **data)


RULES = [
    _unsaved("Telegram", 70, subject="source", operator="is", values=["telegram"]),
    _unsaved("WhatsApp", 40, subject="source", operator="is", values=["whatsapp"]),
    _unsaved("Demo", 30, subject="event", values=["demo_requested"]),
]


def _lead(
    actor: Membership,
    *,
    source: str = "manual",
    days_ago: float = 1,
    converted: bool = False,
    won: bool = False,
    created_at: dt.datetime | None = None,
) -> Lead:
    """A lead created `days_ago` (or at `created_at`), converted and with a won deal if asked."""
    lead = make_lead(actor, title=f"Lead {source}", source=source)
    changes: dict = {"created_at": created_at or timezone.now() - dt.timedelta(days=days_ago)}
    if converted:
        changes["state"] = "converted"
    if won or converted:
        deal = make_deal(actor)
        changes["deal"] = deal
        if won:
            Deal.objects.filter(pk=deal.pk).update(outcome="won")
    Lead.objects.filter(pk=lead.pk).update(**changes)
    return lead


def _known_leads(tenant: Tenant, admin: Membership) -> None:
    """Six leads of the period (and two outside it) whose figures the tests know."""
    with tenant_context(tenant):
        _lead(admin, source="telegram", converted=True, won=True)  # hot, A3
        _lead(admin, source="telegram", converted=True)  # hot, deal not won
        _lead(admin, source="whatsapp")  # warm (40), A3 (fit A from 40)
        _lead(admin, source="call", converted=True)  # cold
        _lead(admin, source="call")  # cold
        demo = _lead(admin, source="call", days_ago=10)  # warm (30 of engagement), C1
        LeadEvent.objects.create(lead=demo, name="demo_requested", occurred_at=timezone.now())
        _lead(admin, source="telegram", days_ago=120, converted=True, won=True)  # too old
        gone = _lead(admin, source="telegram")
        Lead.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())  # in the trash


def _figures(group: backtest.Group) -> tuple:
    return (
        group.leads,
        group.converted,
        group.won,
        group.converted_share,
        group.won_share,
        group.average_score,
    )


def test_the_preview_groups_the_period_by_temperature_with_actual_conversion(tenant, admin):
    _known_leads(tenant, admin)
    with tenant_context(tenant):
        found = backtest.preview(rules=RULES, settings=ScoringSettings())
    assert len(found.sample.leads) == 6
    assert not found.sample.capped
    hot, warm, cold = found.proposed.temperatures
    assert (hot.key, warm.key, cold.key) == ("hot", "warm", "cold")
    assert _figures(hot) == (2, 2, 1, 100.0, 50.0, 70.0)
    assert _figures(warm) == (2, 0, 0, 0.0, 0.0, 35.0)
    assert _figures(cold) == (2, 1, 0, 50.0, 0.0, 0.0)
    assert _figures(found.proposed.total) == (6, 3, 1, 50.0, 16.7, 35.0)
    cells = {key: cell.leads for key, cell in found.proposed.cells.items() if cell.leads}
    assert cells == {"A3": 3, "C3": 2, "C1": 1}
    assert found.proposed.cells["A3"].converted_share == 66.7
    assert [[cell.key for cell in row] for row in found.proposed.matrix()][1] == ["B1", "B2", "B3"]
    # With nothing saved every lead scores 0: all cold.
    assert [group.leads for group in found.saved.temperatures] == [0, 0, 6]


def test_thresholds_regroup_the_same_leads(tenant, admin):
    _known_leads(tenant, admin)
    with tenant_context(tenant):
        stricter = ScoringSettings(hot_from=80, warm_from=35)
        found = backtest.preview(rules=RULES, settings=stricter)
    assert [group.leads for group in found.proposed.temperatures] == [0, 3, 3]
    hot, warm, _cold = found.proposed.temperatures
    assert (hot.converted_share, hot.average_score) == (None, None)
    assert _figures(warm) == (3, 2, 1, 66.7, 33.3, 60.0)


def test_the_period_is_the_workspaces_last_90_days(tenant, admin):
    tenant.time_zone = "America/Bogota"
    tenant.save(update_fields=["time_zone"])
    now = timezone.now()
    with tenant_context(tenant):
        first = timezone.localdate(now) - dt.timedelta(days=89)
        inside = [
            _lead(admin, created_at=day_start(first) + dt.timedelta(minutes=1)),
            _lead(admin, days_ago=89),
            _lead(admin, created_at=now),
        ]
        # 23:59 of the day before in Bogotá is 04:59 UTC of the first day: out.
        _lead(admin, created_at=day_start(first) - dt.timedelta(minutes=1))
        _lead(admin, days_ago=91)
        found = backtest.preview(rules=RULES, settings=ScoringSettings(), now=now)
        assert day_start(first).utcoffset() == dt.timedelta(hours=-5)
    assert found.sample.period.first == first
    assert sorted(lead.pk for lead in found.sample.leads) == sorted(lead.pk for lead in inside)


def test_the_sample_is_capped_at_the_latest_leads(tenant, admin, monkeypatch):
    monkeypatch.setattr(backtest, "SAMPLE_CAP", 2)
    with tenant_context(tenant):
        _lead(admin, days_ago=3)
        newer = [_lead(admin, days_ago=2), _lead(admin, days_ago=1)]
        found = backtest.preview(rules=RULES, settings=ScoringSettings())
    assert found.sample.capped
    assert [lead.pk for lead in found.sample.leads] == [newer[1].pk, newer[0].pk]
    assert found.proposed.total.leads == 2


def test_the_preview_reads_a_constant_number_of_queries(
    tenant, admin, django_assert_max_num_queries
):
    def measure(count: int) -> int:
        with tenant_context(tenant):
            for _ in range(count):
                lead = _lead(admin, source="telegram")
                LeadEvent.objects.create(
                    lead=lead, name="demo_requested", occurred_at=timezone.now()
                )
            # The sample, its events, the saved rules and settings, the custom fields'
            # labels for the proposed and the saved scoring.
            with django_assert_max_num_queries(6):
                found = backtest.preview(rules=RULES, settings=ScoringSettings())
        return found.proposed.total.leads

    assert measure(2) == 2
    assert measure(25) == 27


def test_the_preview_reads_no_other_workspace(tenant, admin, other_tenant, other_admin):
    with tenant_context(other_tenant):
        theirs = _lead(other_admin, source="telegram", converted=True, won=True)
        LeadEvent.objects.create(lead=theirs, name="demo_requested", occurred_at=timezone.now())
    with tenant_context(tenant):
        ours = _lead(admin, source="call")
        found = backtest.preview(rules=RULES, settings=ScoringSettings())
    assert [lead.pk for lead in found.sample.leads] == [ours.pk]
    assert found.sample.events == {}
    assert [group.leads for group in found.proposed.temperatures] == [0, 0, 1]


# --- Through HTTP -------------------------------------------------------------------------------


def _texts(html: str, row: str) -> str:
    start = html.index(f'data-testid="scoring-preview-{row}"')
    return html[start : html.index("</tr>", start)]


def test_admin_previews_a_new_rule_without_saving_it(
    client_for, english_workspace, admin, url, django_assert_max_num_queries
):
    tenant = english_workspace
    _known_leads(tenant, admin)
    with tenant_context(tenant):
        scoring_rule_save(
            actor=admin,
            data={
                "name": "WhatsApp",
                "subject": "source",
                "operator": "is",
                "values": ["whatsapp"],
                "points": 40,
            },
        )
        scoring_rule_save(
            actor=admin,
            data={"name": "Demo", "subject": "event", "values": ["demo_requested"], "points": 30},
        )
        events_before = TimelineEvent.objects.count()
        scores_before = list(Lead.objects.order_by("pk").values_list("score", "temperature"))
    client = client_for(admin)
    with django_assert_max_num_queries(20):
        response = client.post(
            url("rules/new/preview/"),
            {
                "name": "Telegram",
                "subject": "source",
                "operator": "is",
                "values_source": ["telegram"],
                "points": "70",
            },
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert "6 leads created from" in html
    assert "Nothing is saved." in html
    assert "Events count at their age today" in html
    hot = _texts(html, "hot")
    assert '<td class="text-end" data-testid="leads">2</td>' in hot
    assert '100.0% <span class="text-muted">(2)</span>' in hot
    assert '50.0% <span class="text-muted">(1)</span>' in hot
    assert '<td class="text-end text-muted" data-testid="leads-now">0</td>' in hot
    assert '<td class="text-end" data-testid="leads">6</td>' in _texts(html, "all")
    assert 'data-testid="cell-A3"><span class="fw-semibold">3</span>' in html
    with tenant_context(tenant):
        assert sorted(ScoringRule.objects.values_list("name", flat=True)) == ["Demo", "WhatsApp"]
        assert TimelineEvent.objects.count() == events_before
        assert list(Lead.objects.order_by("pk").values_list("score", "temperature")) == (
            scores_before
        )


def test_an_edited_rule_replaces_its_saved_self_in_the_preview(
    client_for, english_workspace, admin, url
):
    _known_leads(english_workspace, admin)
    with tenant_context(english_workspace):
        rule = scoring_rule_save(
            actor=admin,
            data={
                "name": "Telegram",
                "subject": "source",
                "operator": "is",
                "values": ["telegram"],
                "points": 70,
            },
        )
        ScoringRule.objects.filter(pk=rule.pk).update(enabled=False)
    response = client_for(admin).post(
        url(f"rules/{rule.pk}/preview/"),
        {
            "name": "Telegram",
            "subject": "source",
            "operator": "is",
            "values_source": ["telegram", "whatsapp"],
            "points": "65",
        },
    )
    html = response.content.decode()
    # Counted as on: telegram and whatsapp leads are hot; the saved rule (off) gives nothing.
    assert '<td class="text-end" data-testid="leads">3</td>' in _texts(html, "hot")
    assert '<td class="text-end text-muted" data-testid="leads-now">0</td>' in _texts(html, "hot")
    with tenant_context(english_workspace):
        rule.refresh_from_db()
    assert (rule.points, rule.values, rule.enabled) == (70, ["telegram"], False)


def test_admin_previews_thresholds_and_capped_samples_say_so(
    client_for, english_workspace, admin, url, monkeypatch
):
    monkeypatch.setattr(backtest, "SAMPLE_CAP", 5)
    _known_leads(english_workspace, admin)
    with tenant_context(english_workspace):
        scoring_rule_save(
            actor=admin,
            data={
                "name": "Telegram",
                "subject": "source",
                "operator": "is",
                "values": ["telegram"],
                "points": 70,
            },
        )
    body = {
        "hot_from": "80",
        "warm_from": "50",
        "fit_a_from": "40",
        "fit_b_from": "20",
        "engagement_1_from": "30",
        "engagement_2_from": "10",
    }
    html = client_for(admin).post(url("preview/"), body).content.decode()
    assert 'data-testid="scoring-preview-capped"' in html
    assert "only the latest 5 leads are scored" in html
    hot, warm = _texts(html, "hot"), _texts(html, "warm")
    assert '<td class="text-end" data-testid="leads">0</td>' in hot
    assert '<td class="text-end text-muted" data-testid="leads-now">2</td>' in hot
    assert '<td class="text-end" data-testid="leads">2</td>' in warm
    with tenant_context(english_workspace):
        assert not ScoringSettings.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("preview/", {"hot_from": "10", "warm_from": "20"}, "“Hot from” must be above"),
        (
            "rules/new/preview/",
            {
                "name": "x",
                "subject": "amount",
                "operator": "between",
                "low": "9",
                "high": "1",
                "points": "5",
            },
            "“From” must not be above “to”.",
        ),
        ("rules/new/preview/", {"name": "x", "subject": "nowhere", "points": "5"}, "Condition"),
    ],
)
def test_a_preview_of_bad_input_says_what_to_fix(
    client_for, english_workspace, admin, url, path, body, message
):
    defaults = {
        "fit_a_from": "40",
        "fit_b_from": "20",
        "engagement_1_from": "30",
        "engagement_2_from": "10",
    }
    response = client_for(admin).post(url(path), {**defaults, **body})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="scoring-preview-errors"' in html
    assert message in html


def test_no_leads_in_the_period(client_for, english_workspace, admin, url):
    html = (
        client_for(admin)
        .post(
            url("rules/new/preview/"),
            {"name": "x", "subject": "amount", "operator": "filled", "points": "5"},
        )
        .content.decode()
    )
    assert "0 leads created from" in html
    assert "No leads were created in this period" in html


def test_a_manager_may_not_preview(client_for, manager, url):
    response = client_for(manager).post(
        url("rules/new/preview/"),
        {"name": "x", "subject": "amount", "operator": "filled", "points": "5"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#toasts"


def test_amounts_between_bounds_score_in_the_preview(tenant, admin):
    with tenant_context(tenant):
        small = make_lead(admin, title="Small", amount=Decimal("5000"))
        big = make_lead(admin, title="Big", amount=Decimal("250000"))
        rule = _unsaved(
            "Big budget", 60, subject="amount", operator="between", low=Decimal("100000"), high=None
        )
        found = backtest.preview(rules=[rule], settings=ScoringSettings())
    scored = {lead.pk: lead for lead in found.sample.leads}
    assert set(scored) == {small.pk, big.pk}
    assert [group.leads for group in found.proposed.temperatures] == [1, 0, 1]
