"""End to end in a real browser (issue 17): a manager fills a lead's BANT questionnaire on
its card and sees the score explained rule by rule and the temperature turn hot; a marketer
hands the lead to sales (MQL → SAL) and the handover rule gives it to a seller; an
administrator previews scoring rules on the last 90 days."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from crm.models import Membership
from crm.tenancy import tenant_context
from leads.distribution import rule_save
from leads.models import Lead, ScoringRule, ScoringSettings, Temperature
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _russian(text: str) -> str:
    with translation.override("ru"):
        return gettext(text)


def _label(choice) -> str:
    with translation.override("ru"):
        return str(choice.label)


@pytest.fixture
def team():
    tenant = make_tenant("remont", name="Ремонт офисов")  # speaks Russian
    manager = add_member(tenant, "manager")
    marketer = add_member(tenant, "marketer")
    seller = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
        ScoringSettings.objects.create(tenant=tenant, bant=True, hot_from=60, warm_from=30)
        rules = [
            ("Заявка с сайта", "source", "is", ["web_form"], None, 10),
            ("Бюджет от 100 000", "bant:budget", "between", [], Decimal(100000), 40),
            ("Решает сам", "bant:authority", "is", ["decides"], None, 15),
        ]
        for position, (name, subject, operator, values, low, points) in enumerate(rules):
            ScoringRule.objects.create(
                tenant=tenant,
                name=name,
                position=position,
                subject=subject,
                operator=operator,
                values=values,
                low=low,
                points=points,
            )
        rule_save(
            actor=admin,
            rule=None,
            data={
                "name": "Передача в продажи",
                "strategy": "round_robin",
                "members": [seller.pk],
                "levels": ["sal"],
            },
        )
        lead = make_lead(admin, owner=manager, title="Ремонт офиса на Тверской", source="web_form")
    return {
        "tenant": tenant,
        "admin": admin,
        "manager": manager,
        "marketer": marketer,
        "seller": seller,
        "lead": lead,
    }


_log_in = partial(log_in, workspace="remont")


def _panel(page):
    return page.locator("[data-testid=qualification]")


def test_a_bant_questionnaire_turns_the_lead_hot_and_explains_why(new_page, shots, team):
    lead = team["lead"]
    page = new_page()
    _log_in(page, team["manager"].user.email)
    page.goto(f"/remont/leads/{lead.pk}/")
    panel = _panel(page)
    # Scored when it was created: the site form's 10 points, cold.
    expect(panel.locator("[data-testid=temperature-badge]")).to_have_text(_label(Temperature.COLD))
    expect(panel.locator("[data-testid=score-total]")).to_have_text("10")
    page.screenshot(path=shots / "01-before-bant.png", full_page=True)

    form = panel.locator("[data-testid=framework-form-bant]")
    form.locator("input[name=budget]").fill("250 000")
    form.locator("select[name=authority]").select_option("decides")
    form.locator("textarea[name=need]").fill("Ремонт офиса 300 м² под новый отдел продаж")
    form.locator("select[name=timing]").select_option("now")
    form.locator("[data-testid=framework-save-bant]").click()

    # The panel comes back in place, recomputed: 10 + 40 + 15 = 65 ≥ 60, hot.
    expect(panel.locator("[data-testid=temperature-badge]")).to_have_text(_label(Temperature.HOT))
    expect(panel.locator("[data-testid=score-total]")).to_have_text("65")
    expect(panel.locator("[data-testid=completeness]")).to_have_text("4/4")
    parts = panel.locator("[data-testid=score-part]")
    expect(parts).to_have_count(3)
    expect(parts.nth(1)).to_contain_text("Бюджет от 100 000")
    expect(parts.nth(1)).to_contain_text("250 000")
    expect(parts.nth(2)).to_contain_text("Решает сам")
    page.screenshot(path=shots / "02-after-bant.png", full_page=True)
    with tenant_context(team["tenant"]):
        fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.score, fresh.temperature, fresh.temperature_by_hand) == (65, "hot", False)

    # The list shows it among the hot leads.
    page.goto("/remont/leads/?temperature=hot")
    row = page.locator(f"#lead-{lead.pk}")
    expect(row.locator("[data-testid=temperature-badge]")).to_have_text(_label(Temperature.HOT))
    page.screenshot(path=shots / "03-hot-list.png", full_page=True)


def test_a_marketer_hands_the_lead_to_sales(new_page, shots, team):
    lead = team["lead"]
    page = new_page()
    _log_in(page, team["marketer"].user.email)
    page.goto(f"/remont/leads/{lead.pk}/")
    panel = _panel(page)
    panel.locator("[data-testid=level-mql]").click()
    expect(page.locator("[data-testid=level-badge]")).to_have_text("MQL")
    page.locator("[data-testid=level-sal]").click()
    expect(page.locator("[data-testid=level-badge]")).to_have_text("SAL")
    expect(page.locator("[data-testid=card-owner]")).to_contain_text(str(team["seller"].user))
    page.screenshot(path=shots / "04-handed-over.png", full_page=True)


def test_an_admin_previews_a_rule_on_the_last_90_days(new_page, shots, team):
    page = new_page()
    _log_in(page, team["admin"].user.email)
    page.goto("/remont/leads/scoring/")
    expect(page.locator("body")).to_contain_text("Бюджет от 100 000")
    page.screenshot(path=shots / "05-scoring-settings.png", full_page=True)
    page.goto("/remont/leads/scoring/rules/new/")
    form = page.locator("[data-testid=scoring-rule-form]")
    form.locator("input[name=name]").fill("Сайт — горячо")
    form.locator("[data-testid=scoring-choices-source] input[value=web_form]").check()
    form.locator("input[name=points]").fill("60")
    page.locator("[data-testid=scoring-preview-button]").click()
    # The one lead of the last 90 days: cold now (10 points), hot with the rule (70).
    hot = page.locator("[data-testid=scoring-preview-hot]")
    expect(hot.locator("[data-testid=leads]")).to_have_text("1")
    expect(hot.locator("[data-testid=leads-now]")).to_have_text("0")
    expect(page.locator("[data-testid=scoring-preview-cold] [data-testid=leads-now]")).to_have_text(
        "1"
    )
    page.screenshot(path=shots / "06-rule-preview.png", full_page=True)
    with tenant_context(team["tenant"]):
        assert not ScoringRule.objects.filter(name="Сайт — горячо").exists()  # nothing saved
    form.locator("button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/remont/leads/scoring/$"))
    expect(page.locator("body")).to_contain_text("Сайт — горячо")
