"""The card's qualification panel over HTTP: what each role sees and may do, the score's
explanation as computed, questionnaires with errors in place, the "qualify" task, refusals
answered in place, other tenants' leads 404."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import Activity
from crm.tenancy import tenant_context
from leads.models import Lead, ScoringRule, ScoringSettings
from leads.qualification import lead_rescore
from tests.leads.factories import make_lead


@pytest.fixture
def scoring(tenant):
    with tenant_context(tenant):
        ScoringSettings.objects.create(tenant=tenant, bant=True, hot_from=50, warm_from=20)
        ScoringRule.objects.create(
            tenant=tenant, name="Site form", subject="source", values=["web_form"], points=20
        )
        ScoringRule.objects.create(
            tenant=tenant,
            name="Big budget",
            subject="bant:budget",
            operator="between",
            low=Decimal(100000),
            points=40,
        )


def _url(tenant, lead, tail: str = "") -> str:
    return f"/{tenant.slug}/leads/{lead.pk}/{tail}"


def _htmx(client, url: str, data: dict):
    return client.post(url, data, HTTP_HX_REQUEST="true")


def test_the_card_explains_the_score_rule_by_rule(
    client_for, tenant, english_workspace, admin, scoring
):
    with tenant_context(tenant):
        lead = make_lead(admin, source="web_form")
        lead = lead_rescore(lead_id=lead.pk)
    page = client_for(admin).get(_url(tenant, lead)).content.decode()
    assert 'data-testid="qualification"' in page
    parts = re.findall(r'data-testid="score-part">(.*?)</tr>', page, re.S)
    assert len(parts) == 1
    assert "Site form" in parts[0]
    assert "Source: Web form" in parts[0]
    assert "+20" in parts[0]
    assert re.search(r'data-testid="score-total">20<', page)
    assert 'data-testid="matrix-badge">B3<' in page
    assert 'data-testid="temperature-badge">Warm<' in page
    assert 'data-testid="framework-bant"' in page
    assert 'data-testid="framework-champ"' not in page  # switched off


def test_a_bant_questionnaire_saves_in_place_and_moves_the_score(
    client_for, tenant, english_workspace, admin, scoring, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        lead = make_lead(admin, source="web_form")
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = _htmx(
            client,
            _url(tenant, lead, "qualification/bant/"),
            {"budget": "300 000", "authority": "decides", "need": "CRM", "timing": "now"},
        )
    assert answer.status_code == 200
    body = answer.content.decode()
    assert body.lstrip().startswith('<div class="card mb-3" id="lead-qualification"')
    assert 'data-testid="completeness">4/4<' in body
    with tenant_context(tenant):
        fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.score, fresh.temperature) == (60, "hot")
    assert fresh.qualification["bant"]["budget"] == "300000.00"


def test_a_bad_answer_stays_in_its_input_with_the_reason(
    client_for, tenant, english_workspace, admin, scoring
):
    with tenant_context(tenant):
        lead = make_lead(admin)
    answer = _htmx(
        client_for(admin),
        _url(tenant, lead, "qualification/bant/"),
        {"budget": "много", "need": "Ремонт офиса"},
    )
    assert answer.status_code == 400
    body = answer.content.decode()
    assert 'value="много"' in body
    assert "Enter an amount, e.g. 150 000 or 1,5 млн." in body
    with tenant_context(tenant):
        # Nothing half-saved: the form keeps what was typed.
        assert Lead.objects.get(pk=lead.pk).qualification == {}
    assert "Ремонт офиса</textarea>" in body


def test_a_switched_off_framework_is_refused_in_place(
    client_for, tenant, english_workspace, admin, scoring
):
    with tenant_context(tenant):
        lead = make_lead(admin)
    answer = _htmx(client_for(admin), _url(tenant, lead, "qualification/champ/"), {"money": "5"})
    assert answer.status_code == 400
    assert "This qualification framework is switched off." in answer.content.decode()
    unknown = _htmx(client_for(admin), _url(tenant, lead, "qualification/spin/"), {})
    assert unknown.status_code == 404


def test_the_level_buttons_set_it_and_show_who(client_for, tenant, english_workspace, admin):
    with tenant_context(tenant):
        lead = make_lead(admin)
    answer = _htmx(client_for(admin), _url(tenant, lead, "qualification/level/"), {"level": "sql"})
    assert answer.status_code == 200
    assert 'data-testid="level-badge">SQL<' in answer.content.decode()
    assert 'data-testid="level-set"' in answer.content.decode()
    bad = _htmx(client_for(admin), _url(tenant, lead, "qualification/level/"), {"level": "x"})
    assert bad.status_code == 400
    assert "Unknown qualification level." in bad.content.decode()


def test_temperature_by_hand_and_back_to_the_score(
    client_for, tenant, english_workspace, admin, scoring, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        lead = make_lead(admin, source="web_form")
    client = client_for(admin)
    url = _url(tenant, lead, "qualification/temperature/")
    answer = _htmx(client, url, {"temperature": "hot"})
    assert "set by hand" in answer.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = _htmx(client, url, {"temperature": ""})
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).temperature == "warm"
    assert _htmx(client, url, {"temperature": "boiling"}).status_code == 400


def test_a_marketer_qualifies_and_a_director_reads(
    client_for, tenant, english_workspace, admin, marketer, director, scoring
):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
    marketer_page = client_for(marketer).get(_url(tenant, lead)).content.decode()
    assert 'data-testid="level-mql"' in marketer_page
    assert 'data-testid="framework-form-bant"' in marketer_page
    assert 'data-testid="edit-details"' not in marketer_page  # qualifying is not editing
    assert (
        _htmx(
            client_for(marketer), _url(tenant, lead, "qualification/level/"), {"level": "mql"}
        ).status_code
        == 200
    )
    # A role without the right sees the panel read-only, and a post is refused in place.
    with tenant_context(tenant):
        role = director.role
        role.rights["lead"]["qualify"] = "none"
        role.save(update_fields=["rights"])
    page = client_for(director).get(_url(tenant, lead)).content.decode()
    assert 'data-testid="qualification"' in page
    assert 'data-testid="level-mql"' not in page
    assert 'data-testid="framework-form-bant"' not in page
    refused = _htmx(client_for(director), _url(tenant, lead, "qualification/level/"), {"level": ""})
    assert refused.status_code == 403
    assert refused["HX-Retarget"] == "#toasts"
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).level == "mql"


def test_a_manager_cannot_reach_someone_elses_lead(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin)
    client = client_for(manager)
    assert client.get(_url(tenant, lead, "qualification/")).status_code == 404
    assert (
        _htmx(client, _url(tenant, lead, "qualification/level/"), {"level": "mql"}).status_code
        == 404
    )


def test_another_tenants_lead_is_404(client_for, tenant, other_tenant, other_admin, admin):
    with tenant_context(other_tenant):
        theirs = make_lead(other_admin)
    client = client_for(admin)
    for tail in ("qualification/", "qualification/level/", "qualification/bant/"):
        method = client.get if tail == "qualification/" else client.post
        assert method(_url(tenant, theirs, tail)).status_code == 404


def test_ask_a_marketer_to_qualify_from_the_card(
    client_for, tenant, english_workspace, admin, marketer
):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin, title="Офис на Тверской")
    client = client_for(admin)
    page = client.get(_url(tenant, lead)).content.decode()
    assert 'data-testid="qualify-task-form"' in page
    assert f'value="{marketer.pk}"' in page
    answer = _htmx(
        client,
        _url(tenant, lead, "qualification/task/"),
        {"assignee": marketer.pk, "due_at": "2026-12-10T10:00", "note": "Узнать бюджет"},
    )
    assert answer.status_code == 200
    with tenant_context(tenant):
        task = Activity.objects.get()
    assert task.owner_id == marketer.pk
    assert task.subject == "Qualify the lead “Офис на Тверской”"
    # Typed in the workspace's time (Moscow by default): 10:00 there is 07:00 UTC.
    assert task.due_at.isoformat() == "2026-12-10T07:00:00+00:00"
    bad = _htmx(client, _url(tenant, lead, "qualification/task/"), {"assignee": "999999"})
    assert bad.status_code == 400
    with tenant_context(tenant):
        assert Activity.objects.count() == 1


def test_the_panel_polls_while_the_score_is_recomputed(
    client_for, tenant, english_workspace, admin, scoring
):
    with tenant_context(tenant):
        lead = make_lead(admin)  # committed in the test's transaction: never scored
    page = client_for(admin).get(_url(tenant, lead)).content.decode()
    assert 'data-testid="score-stale"' in page
    assert 'hx-trigger="load delay:2s"' in page
    # It asks again a bounded number of times, then stops.
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="load delay:2s"', page).group(1)
    assert poll.endswith("polls=9")
    last = client_for(admin).get(_url(tenant, lead, "qualification/"), {"since": "", "polls": 0})
    assert 'hx-trigger="load' not in last.content.decode()
    with tenant_context(tenant):
        lead_rescore(lead_id=lead.pk)
    page = client_for(admin).get(_url(tenant, lead, "qualification/")).content.decode()
    assert 'data-testid="score-stale"' not in page
    # A change after the score (a new level) does not make it stale; bad input is no 500.
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(level="mql", updated_at=timezone.now())
    page = client_for(admin).get(_url(tenant, lead)).content.decode()
    assert 'data-testid="score-stale"' not in page
    for bad in ({"since": "2026-13-45T99:00", "polls": "x"}, {"since": "нет", "polls": "-5"}):
        assert client_for(admin).get(_url(tenant, lead, "qualification/"), bad).status_code == 200


def test_list_rows_and_board_cards_carry_the_badges(client_for, tenant, english_workspace, admin):
    with tenant_context(tenant):
        lead = make_lead(admin, owner=admin, temperature="hot")
        Lead.objects.filter(pk=lead.pk).update(level="sal")
    client = client_for(admin)
    for page in ("", "board/"):
        body = client.get(f"/{tenant.slug}/leads/{page}").content.decode()
        assert 'data-testid="temperature-badge">Hot<' in body, page
        assert 'data-testid="level-badge">SAL<' in body, page


def test_the_list_filters_by_level_reached_cell_and_score(client_for, tenant, admin):
    with tenant_context(tenant):
        a = make_lead(admin, title="A")
        b = make_lead(admin, title="B")
        make_lead(admin, title="C")
        Lead.objects.filter(pk=a.pk).update(
            level="sql", sql_at=a.created_at, score=70, fit_score=50, engagement_score=20
        )
        Lead.objects.filter(pk=b.pk).update(level="", sql_at=b.created_at, score=10)
    client = client_for(admin)

    def titles(**query):
        response = client.get(f"/{tenant.slug}/leads/", query)
        assert response.status_code == 200
        return sorted(row.title for row in response.context["page"].rows)

    assert titles(level="sql") == ["A"]
    assert titles(level="none") == ["B", "C"]
    assert titles(reached="sql") == ["A", "B"]
    assert titles(matrix="A2") == ["A"]
    assert titles(matrix=["C3", "A2"]) == ["A", "B", "C"]
    assert titles(score_min=10) == ["A", "B"]
    assert titles(score_min=11, score_max=100) == ["A"]
    assert [
        r.title
        for r in client.get(f"/{tenant.slug}/leads/", {"sort": "-score"}).context["page"].rows
    ] == ["A", "B", "C"]
    assert (
        client.get(f"/{tenant.slug}/leads/", {"score_min": "x", "matrix": "Z9"}).status_code == 200
    )


def test_a_handover_out_of_the_members_sight_goes_back_to_the_list(
    client_for, tenant, english_workspace, admin, manager
):
    from leads.distribution import rule_save
    from tests.factories import add_member

    seller = add_member(tenant, "manager")
    with tenant_context(tenant):
        rule_save(
            actor=admin,
            rule=None,
            data={
                "name": "H",
                "strategy": "round_robin",
                "members": [seller.pk],
                "levels": ["sal"],
            },
        )
        lead = make_lead(admin, owner=manager)
    answer = _htmx(
        client_for(manager), _url(tenant, lead, "qualification/level/"), {"level": "sal"}
    )
    assert answer.status_code == 204
    assert answer["HX-Redirect"] == f"/{tenant.slug}/leads/"
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).owner_id == seller.pk
