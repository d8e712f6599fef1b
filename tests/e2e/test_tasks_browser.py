"""End to end in a real browser: a team lead's morning on the task page of a workspace in
Vladivostok — complete a call in place, move one an hour on, give one to a team mate (who is
notified), add a meeting, and see the week's calendar."""

from __future__ import annotations

import datetime as dt
import re
from functools import partial

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Activity, Membership, Notification, Team, Tenant
from crm.services import activity_create
from crm.tenancy import tenant_context
from tests.contacts.factories import make_company, make_contact
from tests.deals.factories import make_deal, sales, stage
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant
from tests.leads.factories import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def morning():
    tenant = make_tenant("okna", name="Окна Востока")
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Asia/Vladivostok")
    tenant.refresh_from_db()
    boss = add_member(tenant, "manager")
    mate = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        team = Team.objects.create(name="Продажи", lead=boss)
        Membership.objects.filter(pk__in=[boss.pk, mate.pk]).update(team=team)
        boss.refresh_from_db()
        local = timezone.localtime()
        today = local.replace(hour=0, minute=0, second=0, microsecond=0)
        lead = make_lead(admin, title="Пластиковые окна на дачу", owner=boss)
        mates_lead = make_lead(admin, title="Балкон под ключ", owner=mate)
        deal = make_deal(
            admin, data={"title": "Остекление офиса"}, owner=boss, stage=stage(sales(), "open")
        )
        contact = make_contact(admin, last_name="Соколова", first_name="Анна", owner=boss)
        company = make_company(admin, name="ООО «Ромашка»", owner=boss)
        hours = dt.timedelta(hours=1)
        plan = [
            (lead, "call", "Перезвонить по замеру", local - 3 * hours),
            (deal, "meeting", "Встреча в офисе", today + dt.timedelta(days=1, hours=11)),
            (contact, "call", "Уточнить адрес", local + 2 * hours),
            (company, "task", "Отправить счёт", today + dt.timedelta(days=9, hours=10)),
            (mates_lead, "call", "Обсудить замер балкона", local + 4 * hours),
        ]
        made = {}
        for record, kind, subject, due in plan:
            made[subject] = activity_create(
                actor=admin, target=record, kind=kind, subject=subject, due_at=due, owner=boss
            )
        # On a Sunday tomorrow's meeting is in next week's calendar.
        sunday = local.weekday() == 6
    return {
        "tenant": tenant,
        "boss": boss,
        "mate": mate,
        "lead": lead,
        "made": made,
        "sunday": sunday,
    }


_log_in = partial(log_in, workspace="okna")


def test_a_team_lead_works_through_the_day_on_the_task_page(new_page, shots, morning):
    made = morning["made"]
    page = new_page()
    _log_in(page, morning["boss"].user.email)
    page.click("[data-nav=tasks]")
    page.wait_for_url(re.compile(r"/okna/tasks/$"))
    overdue = page.locator("[data-testid=group-overdue]")
    expect(overdue).to_contain_text("Перезвонить по замеру")
    expect(overdue).to_contain_text("Пластиковые окна на дачу")
    expect(page.locator("[data-testid=group-tomorrow]")).to_contain_text("Встреча в офисе")
    page.screenshot(path=shots / "01-tasks.png", full_page=True)

    # Done, in place: the row stays, struck through, without its buttons.
    row = page.locator(f"#task-{made['Перезвонить по замеру'].pk}")
    row.locator("[data-testid=task-done]").click()
    expect(row).to_have_class(re.compile("task-row--done"))
    expect(row.locator("[data-testid=task-done]")).to_have_count(0)

    # An hour on, in place.
    call = made["Уточнить адрес"]
    row = page.locator(f"#task-{call.pk}")
    row.locator("[data-testid=task-hour]").click()
    expect(row.locator("[data-testid=task-changed]")).to_be_visible()

    # Given to the team mate, who sees it on their page; the bell tells them.
    row = page.locator(f"#task-{made['Обсудить замер балкона'].pk}")
    row.locator("[data-testid=task-give]").click()
    row.locator("select[name=owner]").select_option(str(morning["mate"].pk))
    row.locator("form[action$='/assign/'] button").click()
    expect(row.locator("[data-testid=task-owner]")).to_contain_text(str(morning["mate"].user))
    page.screenshot(path=shots / "02-acted-in-place.png", full_page=True)

    # A new meeting on a lead found by the search box.
    form = page.locator("[data-testid=task-form]")
    form.locator("[data-testid=record-search]").fill("дачу")
    expect(form.locator("#id_record option")).to_have_count(2)
    form.locator("#id_record").select_option(f"lead:{morning['lead'].pk}")
    form.locator("#id_kind").select_option("meeting")
    form.locator("#id_subject").fill("Замер на объекте")
    form.locator("#id_due_at").fill("2030-01-15T10:30")
    form.locator("[data-testid=task-add]").click()
    expect(page.locator("[data-testid=group-later]")).to_contain_text("Замер на объекте")

    # The week's calendar: calls and meetings by local hour.
    page.click("[data-testid=calendar-link]")
    if morning["sunday"]:
        page.click("[data-testid=calendar-next]")
    expect(page.locator("[data-testid=calendar]")).to_contain_text("Встреча в офисе")
    expect(page.locator("[data-testid=calendar]")).not_to_contain_text("Отправить счёт")
    page.screenshot(path=shots / "03-calendar-week.png", full_page=True)
    page.click("[data-testid=calendar-next]")
    page.click("[data-testid=calendar-today]")
    page.click("[data-testid=calendar-day]")
    expect(page.locator("[data-testid=calendar] thead th")).to_have_count(2)
    page.screenshot(path=shots / "04-calendar-day.png", full_page=True)

    tenant = morning["tenant"]
    with tenant_context(tenant):
        assert Activity.objects.get(pk=made["Перезвонить по замеру"].pk).done_at is not None
        moved = Activity.objects.get(pk=call.pk)
        assert moved.due_at == call.due_at + dt.timedelta(hours=1)
        assert Notification.objects.filter(
            recipient=morning["mate"], kind="activity.assigned"
        ).exists()
        assert Activity.objects.filter(subject="Замер на объекте", kind="meeting").exists()
