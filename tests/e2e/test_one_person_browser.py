"""End to end in a real browser: one person writes to the Telegram bot and shares their
phone, fills the site's form with that phone and their e-mail, misses a call back and
then writes an e-mail — every delivery through its channel's real endpoint on the live
server and the worker — and a manager opens one lead whose card shows the Telegram
messages, the form, the call and the e-mail on one timeline, with each way to reach the
person and how it was learned."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from channels.models import Channel
from channels.services import channel_create
from crm.models import Membership
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.e2e.pages import log_in
from tests.factories import make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANNA = {"id": 424242, "is_bot": False, "first_name": "Анна", "last_name": "Смирнова"}


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _telegram(update_id: int, **fields) -> bytes:
    message = {
        "message_id": update_id,
        "from": ANNA,
        "chat": {"id": ANNA["id"], "first_name": "Анна", "type": "private"},
        "date": 1767225600 + update_id,
        **fields,
    }
    return json.dumps({"update_id": update_id, "message": message}).encode()


def test_telegram_form_call_and_email_of_one_person_are_one_card(new_page, shots, live_server):
    tenant = make_tenant("studio", name="Студия")
    with tenant_context(tenant):
        admin = Membership.objects.select_related("user").get(role__kind="admin")
        # The bot's webhook registration with Telegram is not this test's business.
        bot = Channel.objects.create(kind="telegram", name="Бот студии", config={})
        form = channel_create(actor=admin, kind="api", name="Форма на сайте")
        pbx = channel_create(actor=admin, kind="pbx", name="Офисная АТС")
        # Mail forwarded by the provider to the raw endpoint (no mailbox to poll here).
        mailbox = Channel.objects.create(kind="email", name="Почта студии", config={})

    def url(channel: Channel) -> str:
        return f"{live_server.url}/in/{channel.token}/"

    telegram = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": bot.secret,
    }
    assert (
        _post(url(bot), _telegram(1, text="Здравствуйте! Сколько стоит съёмка?"), telegram) == 200
    )
    own = {"phone_number": "79161000001", "first_name": "Анна", "user_id": ANNA["id"]}
    assert _post(url(bot), _telegram(2, contact=own), telegram) == 200
    filled = {
        "name": "Анна Смирнова",
        "phone": "8 (916) 100-00-01",
        "email": "Anna.Smirnova@example.com",
        "message": "Хочу съёмку 12 декабря",
    }
    bearer = {"Content-Type": "application/json", "Authorization": f"Bearer {form.secret}"}
    assert _post(url(form), json.dumps(filled).encode(), bearer) == 202
    call = {
        "call_id": "1765000000.7",
        "event": "end",
        "direction": "inbound",
        "from": "+7 916 100-00-01",
        "to": "+74950000000",
        "status": "missed",
    }
    bearer = {"Content-Type": "application/json", "Authorization": f"Bearer {pbx.secret}"}
    assert _post(url(pbx), json.dumps(call).encode(), bearer) == 202

    letter = (
        b"From: =?utf-8?b?0JDQvdC90LA=?= <ANNA.SMIRNOVA@example.com>\r\n"
        b"To: hello@studio.example\r\n"
        b"Subject: =?utf-8?q?=D0=94=D0=BE=D0=B3=D0=BE=D0=B2=D0=BE=D1=80?=\r\n"
        b"Message-ID: <anna-1@example.com>\r\n"
        b"Date: Sat, 05 Dec 2026 10:00:00 +0300\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=windows-1251\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    ) + "Пришлите, пожалуйста, договор.\r\n".encode("cp1251")
    raw = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {mailbox.secret}"}
    assert _post(url(mailbox), letter, raw) == 202

    with tenant_context(tenant):
        (lead,) = Lead.objects.all()
        assert lead.phone_e164 == "+79161000001"
        assert lead.email == "Anna.Smirnova@example.com"

    page = new_page()
    log_in(page, admin.user.email, workspace="studio")
    page.goto(f"/studio/leads/{lead.pk}/")
    ways = page.locator("[data-testid=identity]")
    expect(ways).to_have_count(3)
    expect(page.locator("[data-testid=identity][data-kind=telegram]")).to_contain_text("Бот студии")
    expect(page.locator("[data-testid=identity][data-kind=email]")).to_contain_text(
        "Форма на сайте"
    )
    timeline = page.locator("#lead-card")
    expect(timeline).to_contain_text("Сколько стоит съёмка?")
    expect(timeline).to_contain_text("Хочу съёмку 12 декабря")
    expect(timeline).to_contain_text("Офисная АТС")
    expect(timeline).to_contain_text("Пришлите, пожалуйста, договор.")
    expect(timeline).to_contain_text("Почта студии")
    # The Russian top bar with a long name fits a 1280 px laptop: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=shots / "01-one-person-one-card.png", full_page=True)
