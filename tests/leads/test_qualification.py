"""Qualification through its services and the worker's tasks: the funnel level and its
handover, the temperature by hand or by score, frameworks on and off, behaviour events,
recomputation after changes, the nightly decay in the workspace's time zone, the "qualify"
task and the "qualify" right."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import Activity, Notification, TimelineEvent
from crm.tenancy import tenant_context
from leads.distribution import RoutingContext, pick_owner, rule_save
from leads.models import Lead, LeadEvent, ScoringRule, ScoringSettings
from leads.qualification import (
    event_record,
    lead_answer,
    lead_qualify_task,
    lead_rescore,
    lead_set_level,
    lead_set_temperature,
    leads_rescore,
    scores_decay,
)
from leads.services import lead_update
from tests.factories import add_member
from tests.leads.factories import make_lead


def _rule(tenant, name: str, subject: str, points: int, operator: str = "is", **fields):
    with tenant_context(tenant):
        return ScoringRule.objects.create(
            tenant=tenant, name=name, subject=subject, operator=operator, points=points, **fields
        )


def _settings(tenant, **fields) -> ScoringSettings:
    with tenant_context(tenant):
        found, _ = ScoringSettings.objects.update_or_create(tenant=tenant, defaults=fields)
        return found


def _fresh(tenant, lead: Lead) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get(pk=lead.pk)


# --- The level --------------------------------------------------------------------------


def test_a_level_is_recorded_with_who_and_when_and_dates_every_step_reached(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False):
            lead = lead_set_level(actor=admin, lead=lead, level="mql")
        with time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), tick=False):
            lead = lead_set_level(actor=admin, lead=lead, level="sql")
        lead.refresh_from_db()
        assert (lead.level, lead.level_set_by) == ("sql", admin)
        assert lead.mql_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        # SAL was skipped on the way up: reached when SQL was.
        assert lead.sal_at == lead.sql_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
        lead = lead_set_level(actor=admin, lead=lead, level="")
        lead.refresh_from_db()
        assert lead.level == ""
        assert lead.sql_at is not None  # reached stays reached
        moves = TimelineEvent.objects.filter(kind="lead.level", target_id=lead.pk)
        assert [(e.data["from"], e.data["to"]) for e in moves.order_by("pk")] == [
            ("", "mql"),
            ("mql", "sql"),
            ("sql", ""),
        ]


def test_a_bad_level_or_a_closed_lead_is_refused_and_nothing_changes(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        with pytest.raises(DomainError):
            lead_set_level(actor=admin, lead=lead, level="vip")
        Lead.objects.filter(pk=lead.pk).update(state="junk")
        with pytest.raises(DomainError, match="Only an open lead is qualified"):
            lead_set_level(actor=admin, lead=_fresh(tenant, lead), level="mql")
        with pytest.raises(DomainError, match="Only an open lead is qualified"):
            lead_set_temperature(actor=admin, lead=_fresh(tenant, lead), temperature="hot")
        assert _fresh(tenant, lead).level == ""
        assert _fresh(tenant, lead).temperature == ""
        assert not TimelineEvent.objects.filter(kind="lead.level").exists()


def test_a_marketer_qualifies_leads_they_may_not_edit_a_manager_only_their_own(
    tenant, admin, manager, marketer
):
    with tenant_context(tenant):
        others = make_lead(admin, owner=admin)
        own = make_lead(admin, owner=manager)
        assert lead_set_level(actor=marketer, lead=others, level="mql").level == "mql"
        with pytest.raises(AccessDenied):
            lead_update(actor=marketer, lead=others, data={"name": "x"})
        with pytest.raises(AccessDenied):
            lead_set_level(actor=manager, lead=others, level="sal")
        assert lead_set_level(actor=manager, lead=own, level="sal").level == "sal"


def test_the_handover_to_sal_goes_to_sales_by_the_rule_naming_it(tenant, admin, marketer):
    seller = add_member(tenant, "manager")
    with tenant_context(tenant):
        rule_save(
            actor=admin,
            rule=None,
            data={
                "name": "Handover",
                "strategy": "round_robin",
                "members": [seller.pk],
                "levels": ["sal"],
            },
        )
        # Not a rule for new inquiries.
        assert pick_owner(context=RoutingContext(source="web_form")) is None
        lead = make_lead(admin, owner=None)
        lead = lead_set_level(actor=marketer, lead=lead, level="mql")
        assert _fresh(tenant, lead).owner is None  # MQL stays with marketing
        lead = lead_set_level(actor=marketer, lead=lead, level="sal")
        assert _fresh(tenant, lead).owner == seller
        assigned = TimelineEvent.objects.get(kind="lead.assigned", target_id=lead.pk)
        assert assigned.data["rule"] == "Handover"
        assert Notification.objects.filter(recipient=seller, kind="lead.assigned").exists()


def test_a_rule_without_levels_does_not_fire_at_the_handover(tenant, admin):
    seller = add_member(tenant, "manager")
    with tenant_context(tenant):
        rule_save(
            actor=admin,
            rule=None,
            data={"name": "Everything", "strategy": "round_robin", "members": [seller.pk]},
        )
        lead = make_lead(admin, owner=admin)
        lead_set_level(actor=admin, lead=lead, level="sal")
        assert _fresh(tenant, lead).owner == admin


# --- Temperature and score --------------------------------------------------------------


@pytest.fixture
def rules(tenant):
    _settings(tenant, hot_from=50, warm_from=20, bant=True)
    return [
        _rule(tenant, "Site form", "source", 20, values=["web_form"]),
        _rule(tenant, "Big budget", "bant:budget", 40, "between", low=Decimal(100000)),
        _rule(
            tenant,
            "Asked a price",
            "event",
            15,
            values=["price_asked"],
            max_times=2,
            half_life_days=7,
        ),
    ]


def test_the_score_sets_the_temperature_until_a_person_does(
    tenant, english_workspace, admin, rules
):
    with tenant_context(tenant):
        lead = make_lead(admin, source="web_form")
        lead = lead_rescore(lead_id=lead.pk)
        assert (lead.score, lead.temperature, lead.temperature_by_hand) == (20, "warm", False)
        assert lead.score_parts == [
            {
                "rule_id": rules[0].pk,
                "name": "Site form",
                "kind": "fit",
                "points": 20,
                "why": "Source: Web form",
            }
        ]
        lead = lead_set_temperature(actor=admin, lead=lead, temperature="cold")
        lead_answer(actor=admin, lead=lead, framework="bant", data={"budget": "250 000"})
        lead = lead_rescore(lead_id=lead.pk)
        assert (lead.score, lead.temperature) == (60, "cold")  # pinned by hand
        lead = lead_set_temperature(actor=admin, lead=lead, temperature="")
        lead = lead_rescore(lead_id=lead.pk)
        assert (lead.temperature, lead.temperature_by_hand) == ("hot", False)
        scored = TimelineEvent.objects.filter(kind="lead.temperature_scored", target_id=lead.pk)
        assert [(e.data["from"], e.data["to"]) for e in scored.order_by("pk")] == [
            ("", "warm"),
            ("cold", "hot"),
        ]


def test_a_temperature_set_in_the_lead_form_is_pinned_too(tenant, admin, rules):
    with tenant_context(tenant):
        lead = make_lead(admin, source="web_form", temperature="hot")
        assert lead.temperature_by_hand
        lead = lead_rescore(lead_id=lead.pk)
        assert lead.temperature == "hot"
        lead_update(actor=admin, lead=lead, data={"temperature": ""})
        assert lead_rescore(lead_id=lead.pk).temperature == "warm"


def test_without_rules_or_with_auto_temperature_off_the_score_leaves_it(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        assert lead_rescore(lead_id=lead.pk).temperature == ""
    _rule(tenant, "Any", "phone", 100, "filled")
    _settings(tenant, auto_temperature=False)
    with tenant_context(tenant):
        lead = lead_rescore(lead_id=lead.pk)
        assert (lead.score, lead.temperature) == (100, "")


def test_changes_and_events_are_rescored_after_commit(
    tenant, admin, rules, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        with django_capture_on_commit_callbacks(execute=True):
            lead = make_lead(admin, source="call")
        assert _fresh(tenant, lead).scored_at is not None
        assert _fresh(tenant, lead).score == 0
        with django_capture_on_commit_callbacks(execute=True):
            lead_update(actor=admin, lead=lead, data={"source": "web_form"})
        assert _fresh(tenant, lead).score == 20
        with django_capture_on_commit_callbacks(execute=True):
            event_record(actor=admin, lead=_fresh(tenant, lead), name="price_asked")
        assert (_fresh(tenant, lead).engagement_score, _fresh(tenant, lead).score) == (15, 35)


def test_an_event_from_the_future_counts_from_now(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        event = event_record(
            actor=admin, lead=lead, name="  demo_requested ", at=datetime(2099, 1, 1, tzinfo=UTC)
        )
        assert event.name == "demo_requested"
        assert event.occurred_at <= datetime.now(UTC)
        with pytest.raises(DomainError):
            event_record(actor=admin, lead=lead, name="   ")
        assert LeadEvent.objects.count() == 1


def test_rescoring_all_open_leads_skips_closed_ones(tenant, admin, rules):
    with tenant_context(tenant):
        open_lead = make_lead(admin, source="web_form")
        closed = make_lead(admin, source="web_form")
        Lead.objects.filter(pk=closed.pk).update(state="junk")
        assert leads_rescore(tenant=tenant) == 1
        assert _fresh(tenant, open_lead).score == 20
        assert _fresh(tenant, closed).scored_at is None


# --- Frameworks --------------------------------------------------------------------------


def test_answers_need_the_framework_switched_on(tenant, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        with pytest.raises(DomainError):
            lead_answer(actor=admin, lead=lead, framework="bant", data={"budget": "1"})
        with pytest.raises(DomainError):
            lead_answer(actor=admin, lead=lead, framework="spin", data={})
    _settings(tenant, champ=True)
    with tenant_context(tenant):
        errors = lead_answer(
            actor=admin,
            lead=lead,
            framework="champ",
            data={"challenges": " Теряем  заявки ", "money": "около ста", "prioritization": "high"},
        )
        assert errors == {"money": "Enter an amount, e.g. 150 000 or 1,5 млн."}
        assert _fresh(tenant, lead).qualification == {}  # nothing half-saved
        errors = lead_answer(
            actor=admin,
            lead=lead,
            framework="champ",
            data={"challenges": " Теряем  заявки ", "money": "", "prioritization": "high"},
        )
        assert errors == {}
        lead.refresh_from_db()
        assert lead.qualification == {
            "champ": {
                "challenges": "Теряем заявки",
                "authority": "",
                "money": None,
                "prioritization": "high",
            }
        }
        changed = TimelineEvent.objects.get(kind="lead.qualified", target_id=lead.pk)
        assert changed.data["changed"]["challenges"] == [None, "Теряем заявки"]
    # Off again: the answers stay on the lead, the questionnaire and its points go.
    _settings(tenant, champ=False)
    with tenant_context(tenant):
        assert _fresh(tenant, lead).qualification["champ"]["prioritization"] == "high"


def test_a_bad_choice_is_refused_by_question(tenant, admin):
    _settings(tenant, bant=True)
    with tenant_context(tenant):
        lead = make_lead(admin)
        errors = lead_answer(
            actor=admin, lead=lead, framework="bant", data={"authority": "king", "budget": "-5"}
        )
        assert set(errors) == {"authority", "budget"}
        assert _fresh(tenant, lead).qualification == {}


# --- The nightly decay ------------------------------------------------------------------


def test_the_nightly_decay_runs_once_after_three_in_the_workspaces_zone(tenant, admin):
    tenant.time_zone = "Asia/Vladivostok"  # UTC+10
    tenant.save(update_fields=["time_zone"])
    _rule(tenant, "Demo", "event", 40, values=["demo_requested"], half_life_days=7)
    with tenant_context(tenant):
        lead = make_lead(admin)
        event_record(
            actor=admin,
            lead=lead,
            name="demo_requested",
            at=datetime(2026, 11, 26, 17, 0, tzinfo=UTC),  # 27 Nov, 03:00 in Vladivostok
        )
        lead_rescore(lead_id=lead.pk, now=datetime(2026, 11, 26, 17, 0, tzinfo=UTC))
        assert _fresh(tenant, lead).engagement_score == 40
        # 16:59 UTC on 3 Dec is 02:59 on the 4th in Vladivostok: not yet.
        assert scores_decay(tenant=tenant, now=datetime(2026, 12, 3, 16, 59, tzinfo=UTC)) == 0
        assert scores_decay(tenant=tenant, now=datetime(2026, 12, 3, 17, 0, tzinfo=UTC)) == 1
        assert _fresh(tenant, lead).engagement_score == 20  # seven days: half
        assert ScoringSettings.objects.get().decayed_on.isoformat() == "2026-12-04"
        # Once a workspace day.
        assert scores_decay(tenant=tenant, now=datetime(2026, 12, 3, 23, 0, tzinfo=UTC)) == 0
        assert scores_decay(tenant=tenant, now=datetime(2026, 12, 4, 17, 1, tzinfo=UTC)) == 1


# --- The "qualify this lead" task -----------------------------------------------------


def test_a_qualify_task_goes_to_a_marketer_on_the_leads_card(tenant, admin, marketer, manager):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin, title="ООО Ромашка")
        due = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
        task = lead_qualify_task(
            actor=admin, lead=lead, assignee=marketer, due_at=due, note="Бюджет?"
        )
        assert (task.owner, task.kind, task.due_at, task.target) == (marketer, "task", due, lead)
        assert "ООО Ромашка" in task.subject
        # A manager who cannot see someone else's lead cannot be asked to qualify it.
        with pytest.raises(DomainError):
            lead_qualify_task(actor=admin, lead=lead, assignee=manager)
        assert Activity.objects.count() == 1


def test_a_member_of_another_workspace_cannot_be_asked(tenant, admin, other_admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
        with pytest.raises(DomainError):
            lead_qualify_task(actor=admin, lead=lead, assignee=other_admin)


def test_scores_stay_in_their_tenant(tenant, other_tenant, admin, other_admin):
    _rule(tenant, "Form", "source", 10, values=["web_form"])
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin, source="web_form")
        assert lead_rescore(lead_id=theirs.pk).score == 0  # our rule is not theirs
    with tenant_context(tenant):
        assert lead_rescore(lead_id=theirs.pk) is None
        mine = make_lead(admin, source="web_form")
        assert leads_rescore(tenant=tenant) == 1
        assert _fresh(tenant, mine).score == 10


def test_a_lost_publish_does_not_fail_the_change(
    tenant, admin, monkeypatch, django_capture_on_commit_callbacks
):
    from leads import tasks

    def down(**kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.lead_rescore_task, "delay", down)
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True) as callbacks:
        lead = make_lead(admin)
    assert callbacks  # the publish ran, failed, and was only logged
    with tenant_context(tenant):
        assert Lead.objects.filter(pk=lead.pk, scored_at=None).exists()


def test_a_workspace_without_rules_writes_no_scores(
    tenant, admin, django_capture_on_commit_callbacks
):
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        lead = make_lead(admin)
    with tenant_context(tenant):
        assert Lead.objects.filter(pk=lead.pk, scored_at=None, score=0).exists()


def test_the_worker_explains_in_the_workspaces_language(tenant, admin):
    _rule(tenant, "Сайт", "source", 10, values=["web_form"])
    _rule(tenant, "Демо", "event", 20, values=["demo_requested"])
    with tenant_context(tenant):  # the workspace speaks Russian; this test runs in English
        lead = make_lead(admin, source="web_form")
        event_record(actor=admin, lead=lead, name="demo_requested")
        lead = lead_rescore(lead_id=lead.pk)
    whys = [part["why"] for part in lead.score_parts]
    assert whys[0] == "Источник: Веб-форма"
    assert whys[1].startswith("Запросил демо ×1")


def test_two_clicks_on_a_level_hand_the_lead_over_once(tenant, admin, marketer):
    seller, other = add_member(tenant, "manager"), add_member(tenant, "manager")
    with tenant_context(tenant):
        rule_save(
            actor=admin,
            rule=None,
            data={
                "name": "Handover",
                "strategy": "round_robin",
                "members": [seller.pk, other.pk],
                "levels": ["sal"],
            },
        )
        stale = make_lead(admin, owner=None)  # both clicks loaded the lead before either saved
        lead_set_level(actor=marketer, lead=stale, level="sal")
        lead_set_level(actor=marketer, lead=stale, level="sal")
        assert TimelineEvent.objects.filter(kind="lead.assigned", target_id=stale.pk).count() == 1
        assert TimelineEvent.objects.filter(kind="lead.level", target_id=stale.pk).count() == 1


def test_a_jump_to_sql_hands_over_by_the_sal_rule_when_none_names_sql(tenant, admin):
    seller = add_member(tenant, "manager")
    with tenant_context(tenant):
        rule_save(
            actor=admin,
            rule=None,
            data={
                "name": "SAL",
                "strategy": "round_robin",
                "members": [seller.pk],
                "levels": ["sal"],
            },
        )
        lead = make_lead(admin, owner=None)
        lead_set_level(actor=admin, lead=lead, level="sql")
        assert _fresh(tenant, lead).owner_id == seller.pk
        lowered = make_lead(admin, owner=None)
        lead_set_level(actor=admin, lead=lowered, level="sql")
        Lead.objects.filter(pk=lowered.pk).update(owner=None)
        lead_set_level(actor=admin, lead=_fresh(tenant, lowered), level="sal")  # lowered
        assert _fresh(tenant, lowered).owner_id is None


def test_closed_leads_keep_their_score_and_the_robot_qualifies_nothing(tenant, admin, rules):
    from crm.services import system_actor

    with tenant_context(tenant):
        lead = make_lead(admin, source="web_form")
        Lead.objects.filter(pk=lead.pk).update(state="junk")
        assert lead_rescore(lead_id=lead.pk).scored_at is None
        robot = system_actor(tenant)
        with pytest.raises(DomainError):
            lead_qualify_task(actor=admin, lead=make_lead(admin), assignee=robot)


def test_an_edit_saved_alongside_a_level_does_not_put_the_old_level_back(tenant, admin):
    _settings(tenant, bant=True)
    with tenant_context(tenant):
        lead = make_lead(admin)
        stale = Lead.objects.get(pk=lead.pk)  # a manager's edit form, read before
        lead_set_level(actor=admin, lead=lead, level="sal")
        lead_answer(actor=admin, lead=lead, framework="bant", data={"budget": "100000"})
        lead_update(actor=admin, lead=stale, data={"name": "Ольга"})
        fresh = _fresh(tenant, lead)
        assert (fresh.name, fresh.level) == ("Ольга", "sal")
        assert fresh.qualification["bant"]["budget"] == "100000.00"
