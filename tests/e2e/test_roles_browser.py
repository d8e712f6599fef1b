"""End to end in a real browser: sign up, invite a manager, change a right, see its effect."""

from __future__ import annotations

import re
from functools import partial

import pytest
from django.core import mail

from tests.e2e.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "owner@romashka.example"
MANAGER_EMAIL = "ivan@romashka.example"
PASSWORD = "a-long-passphrase-42"


_log_in = partial(log_in, workspace="romashka", password=PASSWORD)


def _log_out(page) -> None:
    page.click("nav .dropdown-toggle >> nth=-1")
    page.click(
        "text=" + ("Выйти" if page.locator("html").get_attribute("lang") == "ru" else "Log out")
    )
    page.wait_for_url(re.compile(r"/accounts/login/"))


def test_admin_grants_a_right_and_the_manager_sees_it(new_page, shots):
    admin = new_page()
    admin.goto("/accounts/signup/")
    admin.fill("input[name=full_name]", "Анна Основатель")
    admin.fill("input[name=email]", ADMIN_EMAIL)
    admin.fill("input[name=company]", "ООО «Ромашка»")
    admin.fill("input[name=slug]", "romashka")
    admin.select_option("main select[name=language]", "ru")
    admin.screenshot(path=shots / "01-signup.png", full_page=True)
    admin.click("main form button[type=submit]")
    admin.wait_for_selector("[data-testid=signup-sent]")
    # The e-mailed link finishes sign-up: choose the password, the workspace opens.
    confirm = re.search(r"https?://[^/\s]+(/accounts/signup/confirm/\S+/)", mail.outbox[-1].body)
    admin.goto(confirm.group(1))
    admin.fill("input[name=password1]", PASSWORD)
    admin.fill("input[name=password2]", PASSWORD)
    admin.click("main form button[type=submit]")
    admin.wait_for_url(re.compile(r"/romashka/$"))
    assert "Добро пожаловать" in admin.inner_text("[data-testid=flash]")

    _log_out(admin)
    _log_in(admin, ADMIN_EMAIL)
    admin.screenshot(path=shots / "02-admin-overview.png", full_page=True)

    # Invite a manager; the e-mail carries the link.
    admin.click("[data-nav=settings]")
    admin.click("text=Пользователи")
    form = admin.locator("[data-testid=invite-form]")
    form.locator("input[name=email]").fill(MANAGER_EMAIL)
    form.locator("select[name=role]").select_option(label="Менеджер")
    form.locator("button[type=submit]").click()
    admin.wait_for_selector("[data-testid=flash]")
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", mail.outbox[-1].body).group(1)

    manager = new_page()
    manager.goto(link)
    manager.fill("input[name=full_name]", "Иван Менеджеров")
    manager.fill("input[name=password1]", PASSWORD)
    manager.fill("input[name=password2]", PASSWORD)
    manager.click("main form button[type=submit]")
    manager.wait_for_url(re.compile(r"/romashka/$"))
    manager.screenshot(path=shots / "03-manager-joined.png", full_page=True)
    _log_out(manager)
    _log_in(manager, MANAGER_EMAIL)
    assert manager.locator("[data-nav=settings]").count() == 0
    manager.click("[data-testid=my-access] summary")  # the rights are folded on the home page
    assert manager.inner_text("[data-testid=my-rights] tbody tr >> nth=0").split()[1] == "Свои"
    manager.screenshot(path=shots / "03-manager-before.png", full_page=True)
    assert manager.goto("/romashka/settings/users/").status == 403
    manager.screenshot(path=shots / "03-manager-denied.png", full_page=True)
    manager.goto("/romashka/")

    # The admin opens Settings → Roles and rights → Менеджер and changes two rights.
    admin.goto("/romashka/")
    admin.click("[data-nav=settings]")
    admin.click("[data-testid=settings-roles]")
    admin.click("text=Менеджер")
    admin.select_option("select[name=lead__view]", "all")
    admin.check("input[name=tenant_rights][value=users]")
    admin.screenshot(path=shots / "04-role-matrix.png", full_page=True)
    admin.click("[data-testid=rights-form] button[type=submit]")
    admin.wait_for_selector("[data-testid=saved]")  # saved in place by htmx
    assert admin.locator("select[name=lead__view]").input_value() == "all"
    assert admin.locator("[data-testid=timeline] li").count() >= 1

    # The manager logs in again and sees the effect.
    _log_out(manager)
    _log_in(manager, MANAGER_EMAIL)
    manager.click("[data-testid=my-access] summary")
    assert manager.inner_text("[data-testid=my-rights] tbody tr >> nth=0").split()[1] == "Все"
    manager.click("[data-nav=settings]")
    manager.wait_for_url(re.compile(r"/romashka/settings/users/$"))
    assert MANAGER_EMAIL in manager.inner_text("[data-testid=members]")
    manager.screenshot(path=shots / "05-manager-after.png", full_page=True)
