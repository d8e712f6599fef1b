"""End to end in a real browser: a manager answers a Telegram lead from its card, sees the
answer delivered in the thread, and the client's next message arrives in the same thread
while the card is open. The Bot API is a fake in a process of its own."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from channels.models import Message
from channels.services import channel_create
from crm.models import Membership
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
CLIENT = {"id": 5550001, "is_bot": False, "first_name": "Анна", "username": "anna_s"}


@pytest.fixture
def desk(fake_telegram):
    tenant = make_tenant("chat", name="Отдел продаж")
    manager = add_member(tenant, "manager")
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        bot = channel_create(
            actor=admin,
            kind="telegram",
            name="Бот продаж",
            config={"bot_token": TOKEN},
            default_owner=manager,
        )
    return {"tenant": tenant, "manager": manager, "bot": bot}


def _write(live_server, bot, update_id: int, text: str) -> None:
    """The client writes to the bot: Telegram posts the update to the channel's endpoint."""
    chat = {"id": CLIENT["id"], "first_name": CLIENT["first_name"], "type": "private"}
    update = {
        "update_id": update_id,
        "message": {
            "message_id": update_id + 100,
            "from": CLIENT,
            "chat": chat,
            "date": 1767225600,
            "text": text,
        },
    }
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        f"{live_server.url}/in/{bot.token}/",
        data=json.dumps(update, ensure_ascii=False).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": bot.secret,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


def test_a_manager_answers_a_telegram_lead_and_the_reply_comes_back_live(
    new_page, shots, live_server, desk, fake_telegram
):
    _write(live_server, desk["bot"], 1, "Здравствуйте! Сколько стоит доставка в Казань?")
    with tenant_context(desk["tenant"]):
        lead = Lead.objects.get()
    page = new_page()
    log_in(page, desk["manager"].user.email, workspace="chat")
    page.goto(f"{live_server.url}/chat/leads/{lead.pk}/")
    thread = page.locator("[data-testid=thread]")
    expect(thread).to_contain_text("Сколько стоит доставка в Казань?")
    expect(page.locator("[data-testid=conversation-waiting]")).to_be_visible()
    page.screenshot(path=shots / "01-card-with-message.png", full_page=True)

    page.fill("[data-testid=reply-text]", "Добрый день, {client_name}! Доставка — 1 500 ₽.")
    page.click("[data-testid=reply-send]")
    reply = thread.locator("[data-testid=message][data-direction=out]")
    expect(reply).to_contain_text("Добрый день, Анна! Доставка — 1 500 ₽.")
    expect(reply).to_have_attribute("data-status", "delivered")
    expect(reply.locator("[data-testid=message-status]")).to_contain_text(
        re.compile("Доставлено|Delivered")
    )
    expect(page.locator("[data-testid=conversation-waiting]")).to_have_count(0)
    expect(page.locator("[data-testid=reply-text]")).to_have_value("")
    [call] = fake_telegram.calls("sendMessage")
    assert json.loads(call["body"]) == {
        "chat_id": str(CLIENT["id"]),
        "text": "Добрый день, Анна! Доставка — 1 500 ₽.",
    }
    page.screenshot(path=shots / "02-reply-delivered.png", full_page=True)

    page.evaluate("window.__notReloaded = true")
    _write(live_server, desk["bot"], 2, "Спасибо! А завтра успеете?")
    answer = thread.locator("[data-testid=message][data-direction=in]").last
    expect(answer).to_contain_text("А завтра успеете?", timeout=8_000)
    assert page.evaluate("window.__notReloaded") is True
    with tenant_context(desk["tenant"]):
        assert Lead.objects.count() == 1
        assert [m.direction for m in Message.objects.order_by("pk")] == ["in", "out", "in"]
    page.screenshot(path=shots / "03-client-answered-live.png", full_page=True)


def test_a_marketer_reads_the_thread_without_a_composer(new_page, live_server, desk, shots):
    _write(live_server, desk["bot"], 1, "Есть ли скидки?")
    marketer = add_member(desk["tenant"], "marketer")
    with tenant_context(desk["tenant"]):
        lead = Lead.objects.get()
    page = new_page()
    log_in(page, marketer.user.email, workspace="chat")
    page.goto(f"{live_server.url}/chat/leads/{lead.pk}/")
    expect(page.locator("[data-testid=thread]")).to_contain_text("Есть ли скидки?")
    expect(page.locator("[data-testid=composer]")).to_have_count(0)
    page.screenshot(path=shots / "01-marketer-reads.png", full_page=True)
