"""End to end in a real browser on a 1366×768 laptop screen: the lead board carries the day
(next activity, overdue in red, age), its filters and search, closed columns as drop zones,
a card's quick actions; the deal board likewise."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Activity, Membership
from crm.services import activity_create
from crm.tenancy import tenant_context
from deals.models import Deal, Pipeline
from deals.services import deal_create
from leads.models import Lead, LeadStatus
from leads.services import lead_create, lead_move
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def day():
    tenant = make_tenant("shop", name="Магазин")
    tenant.time_zone = "Asia/Yekaterinburg"
    tenant.save(update_fields=["time_zone"])
    manager = add_member(tenant, "manager")
    now = timezone.now()
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        statuses = {s.name: s for s in LeadStatus.objects.all()}
        in_work = LeadStatus.objects.filter(state="in_progress").order_by("position")
        people = [
            ("Окна в дом", "Соколов Иван", "+7 912 100-20-30", "call", 0, "Замер", -26),
            ("Кухня на заказ", "Петрова Анна", "+7 912 200-30-40", "web_form", 0, "КП", 3),
            ("Двери", "Иванов Пётр", "+7 912 300-40-50", "web_form", 1, "Договор", 20),
            ("Потолки", "Сидорова Ольга", "+7 912 400-50-60", "telegram", 1, None, None),
            ("Шкаф-купе", "Кузнецов Олег", "+7 912 500-60-70", "call", 2, "Встреча", -2),
            ("Балкон", "Смирнов Илья", "+7 912 600-70-80", "web_form", -1, None, None),
        ]
        leads = {}
        for n, (title, name, phone, source, column, subject, hours) in enumerate(people):
            lead = lead_create(
                actor=admin,
                data={"title": title, "name": name, "phone": phone, "source": source},
                owner=manager,
            )
            if column > 0:
                lead_move(actor=admin, lead=lead, status=list(in_work)[column - 1])
            if subject:
                activity_create(
                    actor=admin,
                    target=lead,
                    kind=Activity.Kind.CALL,
                    subject=subject,
                    due_at=now + timedelta(hours=hours),
                    owner=manager,
                )
            Lead.objects.filter(pk=lead.pk).update(created_at=now - timedelta(hours=5 + 20 * n))
            leads[title] = lead
        junk = LeadStatus.objects.filter(state="junk").order_by("position").first()
        lead_move(actor=admin, lead=Lead.objects.get(pk=leads["Балкон"].pk), status=junk)
        theirs = lead_create(
            actor=admin, data={"title": "Чужой лид", "phone": "+7 912 999-00-00"}, owner=admin
        )
    return {
        "tenant": tenant,
        "manager": manager,
        "leads": leads,
        "junk": junk,
        "theirs": theirs,
        "statuses": statuses,
    }


_log_in = partial(log_in, workspace="shop")


def _fits(page) -> bool:
    """Whether the board's columns fit the screen's width (no sideways scrolling)."""
    return page.evaluate(
        "() => { const k = document.getElementById('kanban');"
        " return k.scrollWidth <= k.clientWidth + 1"
        " && document.documentElement.scrollWidth <= window.innerWidth; }"
    )


def test_a_manager_works_the_lead_board_on_a_laptop(new_page, shots, day):
    leads = day["leads"]
    page = new_page()
    page.set_viewport_size(LAPTOP)
    _log_in(page, day["manager"].user.email)
    page.goto("/shop/leads/board/")
    windows = page.locator(f"#card-{leads['Окна в дом'].pk}")
    expect(windows.locator("[data-testid=card-next]")).to_contain_text("Замер")
    expect(windows.locator("[data-overdue]")).to_have_count(1)  # overdue: in red
    assert "text-danger" in windows.locator("[data-testid=next-activity]").get_attribute("class")
    expect(windows.locator("[data-testid=age]")).to_have_text("5 ч")
    expect(windows.locator("[data-testid=card-call]")).to_have_attribute("href", "tel:+79121002030")
    expect(page.locator(f"#card-{day['theirs'].pk}")).to_have_count(0)  # not the manager's
    junk_zone = page.locator(f"[data-testid=column-{day['junk'].pk}]")
    expect(junk_zone.locator("[data-testid=count]")).to_have_text("1")
    assert _fits(page), "the open columns and the closed zones must fit 1366 px"
    page.screenshot(path=shots / "01-board-1366.png")

    # Plan the next activity on a card without opening it.
    doors = page.locator(f"#card-{leads['Потолки'].pk}")
    expect(doors.locator("[data-testid=next-activity-none]")).to_have_count(1)
    doors.locator("[data-testid=card-plan] summary").click()
    doors.locator("input[name=subject]").fill("Перезвонить после обеда")
    doors.locator("input[name=due_at]").fill(
        (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT15:00")
    )
    page.screenshot(path=shots / "02-plan-form.png")
    doors.locator("button[type=submit]").click()
    doors = page.locator(f"#card-{leads['Потолки'].pk}")
    expect(doors.locator("[data-testid=card-next]")).to_contain_text("Перезвонить после обеда")
    expect(doors.locator("[data-testid=card-next]")).to_contain_text("15:00")

    # Complete the overdue one: the next activity (none left) shows in its place.
    windows.locator("[data-testid=card-done]").click()
    expect(
        page.locator(f"#card-{leads['Окна в дом'].pk} [data-testid=next-activity-none]")
    ).to_have_count(1)
    with tenant_context(day["tenant"]):
        assert Activity.objects.get(subject="Замер").done_at is not None
    page.screenshot(path=shots / "03-after-quick-actions.png")

    # Drop a card into the collapsed junk zone: moved, counted, no longer shown.
    kitchen = page.locator(f"#card-{leads['Кухня на заказ'].pk}")
    kitchen.drag_to(page.locator(f"[data-testid=drop-{day['junk'].pk}]"))
    expect(junk_zone.locator("[data-testid=count]")).to_have_text("2")
    expect(page.locator(f"#card-{leads['Кухня на заказ'].pk}")).to_have_count(0)
    with tenant_context(day["tenant"]):
        assert Lead.objects.get(pk=leads["Кухня на заказ"].pk).status_id == day["junk"].pk
    page.screenshot(path=shots / "04-dropped-into-junk.png")

    # Search and filters, as on the list.
    page.fill("[data-testid=lead-filters] input[name=q]", "Соколов")
    page.click("[data-testid=lead-filters] button[type=submit]")
    page.wait_for_url(re.compile(r"q=%D0%A1%D0%BE%D0%BA%D0%BE%D0%BB%D0%BE%D0%B2"))
    expect(page.locator("[data-testid=card]")).to_have_count(1)
    expect(page.locator(f"#card-{leads['Окна в дом'].pk}")).to_have_count(1)
    page.screenshot(path=shots / "05-board-searched.png")
    page.goto("/shop/leads/board/?source=web_form")
    expect(page.locator("[data-testid=filter-panel]")).to_be_visible()
    expect(page.locator("[data-testid=card]")).to_have_count(1)  # Двери (Кухня is junk now)
    expect(page.locator(f"#card-{leads['Двери'].pk}")).to_have_count(1)
    page.screenshot(path=shots / "06-board-filtered.png")


def test_the_deal_board_fits_a_laptop_and_asks_why_a_deal_is_lost(new_page, shots, day):
    tenant, manager = day["tenant"], day["manager"]
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        pipeline = Pipeline.objects.get(is_default=True)
        stages = list(pipeline.stages.filter(kind="open").order_by("position"))
        lost = pipeline.stages.get(kind="lost")
        deals = []
        for n, (title, amount) in enumerate(
            [("Поставка кресел", 48000), ("Обслуживание", 120000), ("Монтаж", 35000)]
        ):
            deal = deal_create(
                actor=admin,
                data={"title": title, "amount": amount},
                owner=manager,
                stage=stages[n % len(stages)],
            )
            activity_create(
                actor=admin,
                target=deal,
                kind=Activity.Kind.MEETING,
                subject=f"Встреча {n + 1}",
                due_at=timezone.now() + timedelta(hours=2 - 3 * n),
                owner=manager,
            )
            deals.append(deal)
    page = new_page()
    page.set_viewport_size(LAPTOP)
    _log_in(page, manager.user.email)
    page.goto("/shop/deals/board/")
    expect(page.locator(f"#card-{deals[0].pk} [data-testid=card-next]")).to_contain_text(
        "Встреча 1"
    )
    expect(page.locator(f"#card-{deals[1].pk} [data-overdue]")).to_have_count(1)
    assert _fits(page), "the deal board's open stages and won/lost zones must fit 1366 px"
    page.screenshot(path=shots / "01-deal-board-1366.png")
    page.locator(f"#card-{deals[2].pk}").drag_to(page.locator(f"[data-testid=drop-{lost.pk}]"))
    dialog = page.locator("[data-testid=reason-dialog]")
    expect(dialog).to_be_visible()
    dialog.locator("select[name=reason]").select_option(label="Дорого")
    dialog.locator("[data-testid=reason-ok]").click()
    expect(page.locator(f"[data-testid=column-{lost.pk}] [data-testid=count]")).to_have_text("1")
    expect(page.locator(f"#card-{deals[2].pk}")).to_have_count(0)
    with tenant_context(tenant):
        assert Deal.objects.get(pk=deals[2].pk).loss_reason.name == "Дорого"
    page.screenshot(path=shots / "02-deal-lost.png")
