"""Settings → Lead scoring through HTTP and the rule services: who may open it, the
frameworks and thresholds, rules created, changed, reordered, switched and deleted with good
and bad input, and the open leads rescored after each change."""

from __future__ import annotations

import pytest

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.models import CustomField, Membership, Tenant, TimelineEvent
from crm.tenancy import tenant_context
from leads.models import Lead, ScoringRule, ScoringSettings
from leads.scoring_rules import (
    scoring_rule_delete,
    scoring_rule_move,
    scoring_rule_save,
    scoring_rule_set_enabled,
)
from tests.leads.factories import make_lead

SETTINGS_DATA = {
    "bant": "on",
    "auto_temperature": "on",
    "hot_from": "50",
    "warm_from": "20",
    "fit_a_from": "40",
    "fit_b_from": "10",
    "engagement_1_from": "30",
    "engagement_2_from": "5",
}


@pytest.fixture
def url(tenant):
    return lambda path="": f"/{tenant.slug}/leads/scoring/{path}"


def _rule(tenant: Tenant, actor: Membership, name: str = "Telegram", **data) -> ScoringRule:
    data = {"subject": "source", "operator": "is", "values": ["telegram"], "points": 20, **data}
    with tenant_context(tenant):
        return scoring_rule_save(actor=actor, data={"name": name, **data})


def _rules(tenant: Tenant) -> list[tuple[str, bool]]:
    with tenant_context(tenant):
        return [(r.name, r.enabled) for r in ScoringRule.objects.order_by("position", "pk")]


# --- Who may open it ------------------------------------------------------------------------


def test_admin_opens_the_page_from_the_settings_menu(client_for, english_workspace, admin, url):
    client = client_for(admin)
    menu = client.get(f"/{english_workspace.slug}/leads/settings/statuses/")
    assert b'data-testid="settings-scoring"' in menu.content
    page = client.get(url())
    assert page.status_code == 200
    assert b'data-testid="scoring-settings"' in page.content
    assert b"No rules yet" in page.content
    assert b'class="list-group-item list-group-item-action active" href="/acme/leads/scoring/"' in (
        page.content
    )


@pytest.mark.parametrize("role", ["manager", "marketer", "director"])
def test_roles_without_the_settings_right_are_refused_and_see_no_link(
    client_for, tenant, admin, role, request, url
):
    member = request.getfixturevalue(role)
    rule = _rule(tenant, admin)
    client = client_for(member)
    assert client.get(url()).status_code == 403
    assert client.post(url(), SETTINGS_DATA).status_code == 403
    assert client.get(url("rules/new/")).status_code == 403
    assert client.post(url("rules/new/"), {"name": "x"}).status_code == 403
    assert client.get(url(f"rules/{rule.pk}/")).status_code == 403
    assert client.post(url("preview/"), SETTINGS_DATA).status_code == 403
    assert client.post(url("rules/new/preview/"), {}).status_code == 403
    for action in ("move", "toggle", "delete"):
        assert client.post(url(f"rules/{rule.pk}/{action}/")).status_code == 403
    assert _rules(tenant) == [("Telegram", True)]
    for page in ("/acme/leads/", "/acme/"):
        assert b"/leads/scoring/" not in client.get(page).content
    with tenant_context(tenant), pytest.raises(AccessDenied):
        scoring_rule_save(
            actor=member,
            data={"name": "y", "subject": "amount", "operator": "filled", "points": 1},
        )
    with tenant_context(tenant), pytest.raises(AccessDenied):
        scoring_rule_delete(actor=member, rule=rule)


def test_another_workspaces_rule_is_not_found(client_for, admin, other_tenant, other_admin, url):
    theirs = _rule(other_tenant, other_admin, "Чужое")
    client = client_for(admin)
    assert client.get(url(f"rules/{theirs.pk}/")).status_code == 404
    assert client.post(url(f"rules/{theirs.pk}/"), {"name": "x"}).status_code == 404
    assert client.post(url(f"rules/{theirs.pk}/preview/"), {}).status_code == 404
    for action in ("move", "toggle", "delete"):
        assert client.post(url(f"rules/{theirs.pk}/{action}/")).status_code == 404
    assert _rules(other_tenant) == [("Чужое", True)]


# --- The rule form ----------------------------------------------------------------------------


def test_the_form_offers_fields_custom_fields_framework_questions_and_events(
    client_for, english_workspace, admin, url
):
    with tenant_context(english_workspace):
        CustomField.objects.create(
            entity="lead", key="product", label="Product", field_type="choice", choices=["A", "B"]
        )
        CustomField.objects.create(entity="deal", key="deal_only", label="Deal", field_type="text")
        ScoringSettings.objects.create(bant=True)
    page = client_for(admin).get(url("rules/new/"))
    assert page.status_code == 200
    html = page.content.decode()
    for subject in ("source", "amount", "region", "utm_campaign", "custom:product", "event"):
        assert f'value="{subject}"' in html
    assert 'value="custom:deal_only"' not in html
    assert 'value="bant:budget" data-operators="between filled"' in html
    assert 'optgroup label="BANT"' in html
    assert 'optgroup label="CHAMP (switched off)"' in html
    assert 'value="champ:prioritization"' in html
    assert 'data-testid="scoring-choices-source"' in html
    assert 'data-testid="scoring-choices-custom:product"' in html
    assert 'value="demo_requested"' in html  # the events catalogue
    assert "js/scoring.js" in html


def test_admin_creates_a_fit_rule_and_sees_it_in_words(client_for, english_workspace, admin, url):
    client = client_for(admin)
    response = client.post(
        url("rules/new/"),
        {
            "name": "  From  Telegram ",
            "subject": "source",
            "operator": "is",
            "values_source": ["telegram", "whatsapp"],
            "values_text": "ignored for a subject with its own answers",
            "low": "5",
            "half_life_days": "7",
            "points": "25",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url()
    with tenant_context(english_workspace):
        rule = ScoringRule.objects.get()
        assert TimelineEvent.objects.filter(kind="scoring_rule.created").count() == 1
    assert (rule.name, rule.subject, rule.operator, rule.values) == (
        "From Telegram",
        "source",
        "is",
        ["telegram", "whatsapp"],
    )
    assert (rule.low, rule.half_life_days, rule.points, rule.enabled) == (None, None, 25, True)
    listing = client.get(url()).content.decode()
    assert f'data-testid="scoring-rule-{rule.pk}"' in listing
    assert "Source is Telegram, WhatsApp" in listing
    assert "+25" in listing


def test_admin_creates_a_range_rule_and_an_event_rule(client_for, english_workspace, admin, url):
    client = client_for(admin)
    assert (
        client.post(
            url("rules/new/"),
            {
                "name": "Big budget",
                "subject": "bant:budget",
                "operator": "between",
                "low": "100000",
                "high": "",
                "points": "30",
            },
        ).status_code
        == 302
    )
    response = client.post(
        url("rules/new/"),
        {
            "name": "Demo",
            "subject": "event",
            "operator": "contains",  # not read for an event
            "events": ["demo_requested", "price_asked"],
            "other_events": "webinar_joined\n\n demo_requested ",
            "max_times": "3",
            "half_life_days": "14",
            "points": "10",
        },
    )
    assert response.status_code == 302
    with tenant_context(english_workspace):
        budget, demo = ScoringRule.objects.order_by("position")
    assert (budget.operator, budget.low, budget.high, budget.values) == (
        "between",
        100000,
        None,
        [],
    )
    assert (demo.subject, demo.operator, demo.values) == (
        "event",
        "is",
        ["demo_requested", "price_asked", "webinar_joined"],
    )
    assert (demo.max_times, demo.half_life_days, demo.position) == (3, 14, budget.position + 1)
    listing = client.get(url()).content.decode()
    assert "Budget (BANT): from 100 000" in listing
    assert "Requested a demo, Asked for a price, webinar_joined, at most 3 times" in listing
    assert "Points halve every 14 days." in listing
    edit = client.get(url(f"rules/{demo.pk}/")).content.decode()
    assert 'value="demo_requested" class="form-check-input" id="id_events_' in edit
    assert "webinar_joined</textarea>" in edit


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"subject": "salary"}, "this field or question is unknown"),
        ({"subject": "custom:gone"}, "this field or question is unknown"),
        ({"subject": "amount", "operator": "is", "values": ["5"]}, "is tested with"),
        ({"subject": "phone", "operator": "contains", "values": ["+7"]}, "is tested with"),
        ({"subject": "amount", "operator": "between"}, "Give “from”, “to” or both."),
        (
            {"subject": "amount", "operator": "between", "low": "9", "high": "3"},
            "must not be above",
        ),
        ({"subject": "amount", "operator": "between", "low": "many"}, "are numbers"),
        ({"subject": "amount", "operator": "between", "low": "1e15"}, "are numbers"),
        ({"subject": "utm_source", "operator": "is", "values": [" ", ""]}, "at least one value"),
        ({"subject": "region", "operator": "contains", "values": []}, "at least one value"),
        ({"subject": "source", "values": ["pigeon"]}, "takes one of its own answers"),
        ({"subject": "bant:authority", "values": ["boss"]}, "takes one of its own answers"),
        ({"subject": "event", "values": []}, "Name at least one event"),
        ({"subject": "event", "values": ["demo"], "max_times": 0}, "from 1 to 100"),
        ({"subject": "event", "values": ["demo"], "max_times": "101"}, "from 1 to 100"),
        ({"subject": "event", "values": ["demo"], "half_life_days": "0"}, "half-life"),
        ({"half_life_days": 7}, "Only event rules fade"),
        ({"points": 1001}, "from -1000 to 1000"),
        ({"points": "2.5"}, "from -1000 to 1000"),
        ({"points": None}, "from -1000 to 1000"),
        ({"name": "   "}, "Name the rule."),
        ({"name": "telegram"}, "already exists"),
        ({"values": ["x" * 201]}, "at most 200 characters"),
    ],
)
def test_bad_rules_are_refused_with_the_reason_and_nothing_is_written(tenant, admin, data, message):
    _rule(tenant, admin, "Telegram")
    base = {"name": "New", "subject": "source", "operator": "is", "values": ["vk"], "points": 5}
    with tenant_context(tenant):
        before = TimelineEvent.objects.count()
        with pytest.raises(DomainError, match=message):
            scoring_rule_save(actor=admin, data={**base, **data})
        assert TimelineEvent.objects.count() == before
    assert _rules(tenant) == [("Telegram", True)]


def test_a_rejected_edit_leaves_the_rule_as_it_was(client_for, english_workspace, admin, url):
    rule = _rule(english_workspace, admin, "Telegram")
    _rule(english_workspace, admin, "Other", values=["vk"])
    client = client_for(admin)
    bad = [
        {
            "name": "other",
            "subject": "source",
            "operator": "is",
            "values_source": ["vk"],
            "points": "5",
        },
        {
            "name": "Telegram",
            "subject": "amount",
            "operator": "between",
            "low": "9",
            "high": "1",
            "points": "5",
        },
        {"name": "Telegram", "subject": "source", "operator": "is", "points": "9999"},
        {"name": "Telegram", "subject": "nowhere", "operator": "is", "points": "5"},
    ]
    for body in bad:
        response = client.post(url(f"rules/{rule.pk}/"), body)
        assert response.status_code == 400, body
        assert b'role="alert"' in response.content or b"invalid-feedback" in response.content
    page = client.post(url(f"rules/{rule.pk}/"), bad[0]).content.decode()
    assert "A scoring rule with this name already exists." in page
    with tenant_context(english_workspace):
        rule.refresh_from_db()
    assert (rule.name, rule.subject, rule.values, rule.points) == (
        "Telegram",
        "source",
        ["telegram"],
        20,
    )


def test_admin_edits_moves_switches_and_deletes_rules(client_for, english_workspace, admin, url):
    first = _rule(english_workspace, admin, "First")
    second = _rule(english_workspace, admin, "Second", values=["vk"])
    client = client_for(admin)
    edited = client.post(
        url(f"rules/{first.pk}/"),
        {
            "name": "First, renamed",
            "subject": "company_name",
            "operator": "contains",
            "values_text": "ООО\nАО",
            "points": "-5",
        },
    )
    assert edited.status_code == 302
    with tenant_context(english_workspace):
        first.refresh_from_db()
    assert (first.name, first.subject, first.operator, first.values, first.points) == (
        "First, renamed",
        "company_name",
        "contains",
        ["ООО", "АО"],
        -5,
    )
    assert client.post(url(f"rules/{second.pk}/move/"), {"up": "1"}).status_code == 302
    assert _rules(english_workspace) == [("Second", True), ("First, renamed", True)]
    client.post(url(f"rules/{second.pk}/move/"), {"up": "1"})  # already first: nothing
    assert _rules(english_workspace) == [("Second", True), ("First, renamed", True)]
    response = client.post(url(f"rules/{second.pk}/toggle/"), {"enabled": "0"}, follow=True)
    assert "“Second” is off." in response.content.decode()
    assert _rules(english_workspace) == [("Second", False), ("First, renamed", True)]
    client.post(url(f"rules/{second.pk}/toggle/"), {"enabled": "1"})
    assert _rules(english_workspace) == [("Second", True), ("First, renamed", True)]
    assert client.post(url(f"rules/{second.pk}/delete/")).status_code == 302
    assert _rules(english_workspace) == [("First, renamed", True)]
    with tenant_context(english_workspace):
        kinds = list(
            TimelineEvent.objects.filter(kind__startswith="scoring_rule.").values_list(
                "kind", flat=True
            )
        )
    assert sorted(kinds) == sorted(
        [
            "scoring_rule.created",
            "scoring_rule.created",
            "scoring_rule.changed",
            "scoring_rule.moved",
            "scoring_rule.disabled",
            "scoring_rule.enabled",
            "scoring_rule.deleted",
        ]
    )


def test_the_rule_services_guard_every_caller(tenant, admin):
    rule = _rule(tenant, admin, "Telegram")
    with tenant_context(tenant):
        scoring_rule_move(actor=admin, rule=rule, up=True)  # alone: nothing moves
        scoring_rule_set_enabled(actor=admin, rule=rule, enabled=True)  # already on
        assert not TimelineEvent.objects.filter(
            kind__in=["scoring_rule.moved", "scoring_rule.enabled"]
        ).exists()


# --- Frameworks and thresholds ----------------------------------------------------------------


def test_admin_saves_frameworks_and_thresholds(client_for, tenant, admin, url):
    response = client_for(admin).post(url(), SETTINGS_DATA)
    assert response.status_code == 302
    with tenant_context(tenant):
        saved = ScoringSettings.objects.get()
    assert (saved.bant, saved.champ, saved.auto_temperature) == (True, False, True)
    assert (saved.hot_from, saved.warm_from, saved.fit_a_from, saved.fit_b_from) == (50, 20, 40, 10)
    assert (saved.engagement_1_from, saved.engagement_2_from) == (30, 5)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"hot_from": "20"}, "hot_from", "“Hot from” must be above “warm from”."),
        ({"hot_from": "10"}, "hot_from", "“Hot from” must be above “warm from”."),
        ({"fit_a_from": "10"}, "fit_a_from", "Fit A must start above fit B."),
        ({"engagement_2_from": "31"}, "engagement_1_from", "Engagement 1 must start above"),
        ({"warm_from": "lots"}, "warm_from", "Enter a whole number."),
        ({"hot_from": ""}, "hot_from", "This field is required."),
        ({"hot_from": "10000000"}, "hot_from", "less than or equal to 100000"),
    ],
)
def test_thresholds_out_of_order_are_refused(
    client_for, english_workspace, admin, url, change, field, message
):
    response = client_for(admin).post(url(), {**SETTINGS_DATA, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_context(english_workspace):
        assert not ScoringSettings.objects.exists()


# --- Rescoring after a change ----------------------------------------------------------------


def test_a_rule_change_rescores_the_open_leads(
    client_for, tenant, admin, url, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        lead = make_lead(admin, title="Из Telegram", source="telegram")
        other = make_lead(admin, title="Звонок", source="call")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            url("rules/new/"),
            {
                "name": "Telegram",
                "subject": "source",
                "operator": "is",
                "values_source": ["telegram"],
                "points": "70",
            },
        )
    assert response.status_code == 302
    with tenant_context(tenant):
        lead.refresh_from_db()
        other.refresh_from_db()
        rule = ScoringRule.objects.get()
    assert (lead.score, lead.fit_score, lead.temperature) == (70, 70, "hot")
    assert [part["name"] for part in lead.score_parts] == ["Telegram"]
    assert (other.score, other.temperature) == (0, "cold")

    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        scoring_rule_save(
            actor=admin,
            rule=rule,
            data={
                "name": "Telegram",
                "subject": "source",
                "operator": "is",
                "values": ["telegram"],
                "points": 40,
            },
        )
    with tenant_context(tenant):
        lead.refresh_from_db()
    assert (lead.score, lead.temperature) == (40, "warm")

    with django_capture_on_commit_callbacks(execute=True):
        client_for(admin).post(url(f"rules/{rule.pk}/toggle/"), {"enabled": "0"})
    with tenant_context(tenant):
        lead.refresh_from_db()
    assert (lead.score, lead.score_parts) == (0, [])

    with django_capture_on_commit_callbacks(execute=True):
        client_for(admin).post(url(f"rules/{rule.pk}/toggle/"), {"enabled": "1"})
        client_for(admin).post(url(f"rules/{rule.pk}/delete/"))
    with tenant_context(tenant):
        lead.refresh_from_db()
    assert lead.score == 0


def test_thresholds_saved_rescore_the_open_leads(
    client_for, tenant, admin, url, django_capture_on_commit_callbacks
):
    rule = _rule(tenant, admin, "Telegram", points=40)
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        lead = make_lead(admin, source="telegram")
        scoring_rule_set_enabled(actor=admin, rule=rule, enabled=True)
        scoring_rule_move(actor=admin, rule=rule, up=False)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(admin).post(url(), {**SETTINGS_DATA, "hot_from": "35", "warm_from": "20"})
    with tenant_context(tenant):
        lead = Lead.objects.get(pk=lead.pk)
    assert (lead.score, lead.temperature) == (40, "hot")


def test_the_page_reads_a_constant_number_of_queries(
    client_for, tenant, admin, url, django_assert_max_num_queries
):
    client = client_for(admin)
    _rule(tenant, admin, "Rule 0")
    client.get(url())  # warm the caches a first page fills
    with django_assert_max_num_queries(25) as few:
        assert client.get(url()).status_code == 200
    for number in range(1, 9):
        _rule(tenant, admin, f"Rule {number}", subject="event", values=["demo_requested"])
    with django_assert_max_num_queries(len(few)):
        assert client.get(url()).status_code == 200


def test_a_rule_whose_custom_field_is_gone_asks_for_a_new_condition(
    client_for, english_workspace, admin, url
):
    with tenant_context(english_workspace):
        field = CustomField.objects.create(
            entity="lead", key="industry", label="Industry", field_type="text"
        )
    rule = _rule(
        english_workspace,
        admin,
        "Retail",
        subject="custom:industry",
        operator="contains",
        values=["retail"],
    )
    client = client_for(admin)
    assert "Industry contains retail" in client.get(url()).content.decode()
    with tenant_context(english_workspace):
        field.delete()
    page = client.get(url(f"rules/{rule.pk}/")).content.decode()
    assert 'data-testid="scoring-subject-gone"' in page
    assert "custom:industry" in page
    assert "custom:industry contains retail" in client.get(url()).content.decode()


def test_a_rule_on_a_framework_switched_off_says_it_gives_nothing(
    client_for, english_workspace, admin, url
):
    _rule(english_workspace, admin, "Decides", subject="champ:authority", values=["decides"])
    page = client_for(admin).get(url()).content.decode()
    assert "Authority (CHAMP) is Decides alone" in page
    assert 'data-testid="scoring-rule-framework-off"' in page
    with tenant_context(english_workspace):
        ScoringSettings.objects.create(champ=True)
    assert 'data-testid="scoring-rule-framework-off"' not in (
        client_for(admin).get(url()).content.decode()
    )
