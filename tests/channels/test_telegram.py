"""The Telegram bot channel against a local fake Bot API: webhook registration, updates in
the Bot API's real shapes, edits, ignored chats and update types, idempotency, isolation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from channels import services
from channels.adapters import RawDelivery
from channels.models import Channel, ChannelRoute, InboundEvent
from channels.services import channel_create, channel_delete, channel_update
from crm.models import Tenant, TimelineEvent
from crm.secrets import unseal
from crm.services import tenant_update
from crm.tenancy import tenant_context
from deals.models import Deal
from tests.channels.conftest import events_of, leads_of
from tests.channels.fake_telegram import FakeTelegram

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
OTHER_TOKEN = "6098765432:AAF3kZ-m9QbX7vTn2wLpYc5RsUeH8jKd1oQ"
SITE = "https://crm.example.com"
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome

ANNA = {
    "id": 5550001,
    "is_bot": False,
    "first_name": "Анна",
    "last_name": "Смирнова",
    "username": "anna_s",
    "language_code": "ru",
}


def _base(tenant: Tenant) -> str:
    return f"/{tenant.slug}/settings/channels/"


def private(update_id: int, message_id: int = 10, *, user: dict | None = None, **fields: Any):
    """An Update with a private message (text by default), as Telegram sends it."""
    user = user or ANNA
    chat = {k: user[k] for k in ("id", "first_name", "last_name", "username") if k in user}
    message = {
        "message_id": message_id,
        "from": user,
        "chat": {**chat, "type": "private"},
        "date": 1767225600,
        **fields,
    }
    if not fields:
        message["text"] = "Здравствуйте! Сколько стоит доставка в Казань?"
    return {"update_id": update_id, "message": message}


@pytest.fixture
def telegram_api(settings) -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    fake.add_bot(TOKEN, "acme_sales_bot")
    fake.add_bot(OTHER_TOKEN, "globex_help_bot")
    settings.TELEGRAM_API_BASE = fake.base_url
    settings.SITE_URL = SITE
    yield fake
    fake.stop()


@pytest.fixture
def bot(tenant, admin, telegram_api) -> Channel:
    with tenant_context(tenant):
        return channel_create(
            actor=admin, kind="telegram", name="Telegram", config={"bot_token": TOKEN}
        )


@pytest.fixture
def send(deliver):
    """POST an update to a bot channel with its secret header (or the one given)."""

    def post(channel: Channel, update: Any = None, *, secret: str | None = None, **kwargs):
        headers = {}
        secret = channel.secret if secret is None else secret
        if secret:
            headers["HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"] = secret
        return deliver(channel, update, **kwargs, **headers)

    return post


def _timeline(tenant: Tenant, kind: str) -> list[TimelineEvent]:
    with tenant_context(tenant):
        return list(TimelineEvent.objects.filter(kind=kind).order_by("pk"))


# --- Setting the channel up ---------------------------------------------------------------


def test_creating_the_channel_registers_its_webhook(tenant, admin, client_for, telegram_api):
    client = client_for(admin)
    assert client.get(_base(tenant) + "new/telegram/").status_code == 200
    response = client.post(
        _base(tenant) + "new/telegram/",
        {"name": "Бот продаж", "enabled": "on", "config-bot_token": TOKEN},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Бот продаж")
    (webhook,) = telegram_api.calls_of("setWebhook")
    assert webhook.token == TOKEN
    assert webhook.params == {
        "url": f"{SITE}/in/{channel.token}/",
        "secret_token": channel.secret,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }
    assert unseal(channel.config["bot_token"]) == TOKEN  # stored encrypted
    assert TOKEN not in json.dumps(channel.config)
    assert channel.config["bot_username"] == "acme_sales_bot"
    assert channel.config["webhook_url"] == f"{SITE}/in/{channel.token}/"
    page = client.get(response["Location"]).content.decode()
    assert "@acme_sales_bot" in page
    assert 'data-registered="yes"' in page
    assert TOKEN not in page
    edit_form = client.get(f"{_base(tenant)}{channel.pk}/edit/").content.decode()
    assert TOKEN not in edit_form
    assert TOKEN.split(":")[1] not in edit_form


@pytest.mark.parametrize(
    ("token", "called"),
    [("not-a-token", False), ("123:short", False), ("1111111111:" + "A" * 35, True)],
)
def test_a_bad_bot_token_is_a_form_error_and_nothing_is_saved(
    tenant, admin, client_for, telegram_api, token, called
):
    response = client_for(admin).post(
        _base(tenant) + "new/telegram/", {"name": "Бот", "config-bot_token": token}
    )
    assert response.status_code == 400
    if called:  # the right shape, but Telegram does not know it
        assert "Unauthorized" in response.content.decode()
        assert [c.method for c in telegram_api.calls] == ["getMe"]
    else:
        assert telegram_api.calls == []
    with tenant_context(tenant):
        assert not Channel.objects.exists()
    assert not ChannelRoute.objects.exists()


def test_telegram_refusing_the_webhook_is_a_form_error(
    tenant, admin, client_for, telegram_api, settings
):
    settings.SITE_URL = "http://crm.example.com"  # Telegram wants HTTPS
    response = client_for(admin).post(
        _base(tenant) + "new/telegram/", {"name": "Бот", "config-bot_token": TOKEN}
    )
    assert response.status_code == 400
    assert "An HTTPS URL must be provided" in response.content.decode()
    with tenant_context(tenant):
        assert not Channel.objects.exists()


def test_only_settings_managers_set_up_bots(tenant, manager, client_for, telegram_api):
    response = client_for(manager).post(
        _base(tenant) + "new/telegram/", {"name": "Бот", "config-bot_token": TOKEN}
    )
    assert response.status_code == 403
    assert telegram_api.calls == []


def test_editing_keeps_the_hidden_token_and_registers_the_webhook_again(
    tenant, admin, client_for, bot, telegram_api
):
    client = client_for(admin)
    url = f"{_base(tenant)}{bot.pk}/edit/"
    response = client.post(url, {"name": "Бот продаж", "enabled": "on", "config-bot_token": ""})
    assert response.status_code == 302
    with tenant_context(tenant):
        bot.refresh_from_db()
    assert bot.name == "Бот продаж"
    assert unseal(bot.config["bot_token"]) == TOKEN
    assert [c.token for c in telegram_api.calls_of("setWebhook")] == [TOKEN, TOKEN]
    # A new token: the other bot gets the webhook.
    response = client.post(url, {"name": "Бот", "enabled": "on", "config-bot_token": OTHER_TOKEN})
    assert response.status_code == 302
    with tenant_context(tenant):
        bot.refresh_from_db()
    assert unseal(bot.config["bot_token"]) == OTHER_TOKEN
    assert bot.config["bot_username"] == "globex_help_bot"
    assert telegram_api.calls_of("setWebhook")[-1].token == OTHER_TOKEN
    # A bad one: refused, the channel stays as it was.
    response = client.post(url, {"name": "Бот", "enabled": "on", "config-bot_token": "1:x"})
    assert response.status_code == 400
    with tenant_context(tenant):
        bot.refresh_from_db()
    assert unseal(bot.config["bot_token"]) == OTHER_TOKEN


def test_switching_the_channel_off_removes_the_webhook_and_on_restores_it(
    tenant, admin, bot, telegram_api
):
    with tenant_context(tenant):
        channel_update(actor=admin, channel=bot, data={"enabled": False})
        bot.refresh_from_db()
    assert [c.method for c in telegram_api.calls][-1] == "deleteWebhook"
    assert bot.config["webhook_url"] == ""
    with tenant_context(tenant):
        channel_update(actor=admin, channel=bot, data={"enabled": True})
        bot.refresh_from_db()
    assert telegram_api.calls[-1].method == "setWebhook"
    assert bot.config["webhook_url"] == f"{SITE}/in/{bot.token}/"


def test_deleting_the_channel_deletes_the_webhook(tenant, admin, client_for, bot, telegram_api):
    response = client_for(admin).post(f"{_base(tenant)}{bot.pk}/delete/")
    assert response.status_code == 302
    (call,) = telegram_api.calls_of("deleteWebhook")
    assert call.token == TOKEN
    assert telegram_api.bots[TOKEN].webhook == {}
    with tenant_context(tenant):
        assert not Channel.objects.exists()


def test_a_bot_whose_token_was_revoked_can_still_be_deleted(tenant, admin, bot, telegram_api):
    del telegram_api.bots[TOKEN]  # revoked in @BotFather: Telegram answers 401
    with tenant_context(tenant):
        channel_delete(actor=admin, channel=bot)
        assert not Channel.objects.exists()
    assert [c.method for c in telegram_api.calls][-1] == "deleteWebhook"


def test_rotating_the_secret_registers_the_new_one(
    tenant, admin, client_for, bot, telegram_api, send
):
    old = bot.secret
    assert client_for(admin).post(f"{_base(tenant)}{bot.pk}/rotate/").status_code == 302
    with tenant_context(tenant):
        bot.refresh_from_db()
    assert bot.secret != old
    assert telegram_api.calls_of("setWebhook")[-1].params["secret_token"] == bot.secret
    assert send(bot, private(1), secret=old).status_code == 403
    assert send(bot, private(1)).status_code == 200


def test_a_rotation_telegram_refuses_keeps_the_old_secret(
    tenant, admin, client_for, bot, telegram_api
):
    old = bot.secret
    del telegram_api.bots[TOKEN]
    response = client_for(admin).post(f"{_base(tenant)}{bot.pk}/rotate/", follow=True)
    assert response.status_code == 200
    assert "Unauthorized" in response.content.decode()
    with tenant_context(tenant):
        bot.refresh_from_db()
    assert bot.secret == old


def test_create_channel_command_takes_the_bot_token(tenant, telegram_api):
    out = StringIO()
    call_command(
        "create_channel",
        "--tenant",
        tenant.slug,
        "--kind",
        "telegram",
        "--name",
        "Бот",
        "--bot-token",
        TOKEN,
        stdout=out,
    )
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Бот")
    assert out.getvalue().splitlines() == [f"/in/{channel.token}/"]
    (call,) = telegram_api.calls_of("setWebhook")
    assert call.params["secret_token"] == channel.secret
    for token in ("nonsense", "1111111111:" + "B" * 35):
        with pytest.raises(CommandError):
            call_command(
                "create_channel",
                *("--tenant", tenant.slug, "--kind", "telegram", "--name", "Второй"),
                *("--bot-token", token),
                stdout=StringIO(),
            )
    with tenant_context(tenant):
        assert Channel.objects.count() == 1


# --- Updates ------------------------------------------------------------------------------


def test_a_first_private_message_makes_a_lead(tenant, bot, send):
    response = send(bot, private(900001))
    assert response.status_code == 200
    assert response.content == b""
    (lead,) = leads_of(tenant)
    assert lead.name == "Анна Смирнова"
    assert lead.title == "Анна Смирнова (@anna_s)"
    assert (lead.messenger, lead.messenger_id) == ("telegram", "5550001")
    assert lead.message == "Здравствуйте! Сколько стоит доставка в Казань?"
    assert lead.source == "telegram"
    assert lead.phone == ""
    (event,) = events_of(bot)
    assert (event.key, event.status, event.outcome) == ("update:900001", Status.DONE, "created")
    assert event.lead_id == lead.pk
    assert event.message["external_id"] == "tg:5550001:10"
    (received,) = _timeline(tenant, "lead.inquiry")
    assert received.target_id == lead.pk
    assert received.data["inbound"]["channel"] == "Telegram"
    # The webhook secret is checked, never stored with the delivery.
    assert bot.secret not in str(event.headers)


def test_the_start_parameter_is_the_campaign_not_the_message(tenant, bot, send):
    update = private(
        900002,
        text="/start promo_winter",
        entities=[{"offset": 0, "length": 6, "type": "bot_command"}],
    )
    assert send(bot, update).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.utm_campaign == "promo_winter"
    assert lead.message == ""
    (received,) = _timeline(tenant, "lead.inquiry")
    assert received.data["inbound"]["start_param"] == "promo_winter"


def test_a_shared_contact_of_ones_own_gives_the_phone(tenant, bot, send):
    contact = {
        "phone_number": "79991234567",
        "first_name": "Анна",
        "last_name": "Смирнова",
        "user_id": ANNA["id"],
    }
    assert send(bot, private(900003, contact=contact)).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.phone_e164 == "+79991234567"
    assert lead.message == "[contact] Анна Смирнова +79991234567"


def test_someone_elses_contact_is_not_the_senders_phone(tenant, bot, send):
    contact = {"phone_number": "+79990000000", "first_name": "Борис", "user_id": 777}
    assert send(bot, private(900004, contact=contact)).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.phone == ""
    assert lead.message == "[contact] Борис +79990000000"


def _own_contact(phone: str) -> dict[str, Any]:
    """A Contact the sender shares of themselves (Telegram's "Share my phone number")."""
    return {
        "phone_number": phone,
        "first_name": "Анна",
        "last_name": "Смирнова",
        "user_id": ANNA["id"],
    }


@pytest.mark.parametrize("phone", ["79991234567", "+79991234567"])
def test_sharing_ones_own_contact_gives_the_open_lead_its_phone(
    tenant, bot, send, deliver, api_channel, phone
):
    send(bot, private(900100, message_id=1, text="Здравствуйте, перезвоните мне"))
    assert leads_of(tenant)[0].phone == ""
    response = send(bot, private(900101, message_id=2, contact=_own_contact(phone)))
    assert response.status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.phone_e164) == ("+79991234567", "+79991234567")
    assert lead.message == "Здравствуйте, перезвоните мне"
    assert events_of(bot)[1].outcome == Outcome.ATTACHED
    (shared,) = _timeline(tenant, "lead.phone_shared")
    assert (shared.target_id, shared.data["phone"]) == (lead.pk, "+79991234567")
    # Later channels find the person by that number.
    deliver(api_channel, {"phone": "8 (999) 123-45-67", "message": "Это Анна, с сайта"})
    assert len(leads_of(tenant)) == 1
    assert events_of(api_channel)[0].outcome == Outcome.ATTACHED


def test_ones_own_number_becomes_the_phone_and_an_earlier_one_is_kept(tenant, admin, bot, send):
    from leads.services import lead_update

    send(bot, private(900102, message_id=1, text="Здравствуйте"))
    with tenant_context(tenant):
        (lead,) = leads_of(tenant)
        lead_update(actor=admin, lead=lead, data={"phone": "+7 916 000-00-01"})
    send(bot, private(900103, message_id=2, contact=_own_contact("79991234567")))
    send(bot, private(900104, message_id=3, contact=_own_contact("79991234567")))  # again
    (lead,) = leads_of(tenant)
    assert (lead.phone, lead.other_phones) == ("+79991234567", ["+7 916 000-00-01"])
    assert len(_timeline(tenant, "lead.phone_shared")) == 1


def test_someone_elses_contact_card_is_noted_and_never_overwrites_the_phone(
    tenant, admin, client_for, bot, send
):
    send(bot, private(900110, message_id=1, contact=_own_contact("79991234567")))
    card = {
        "phone_number": "79990000000",
        "first_name": "Борис",
        "user_id": 777,
        "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Борис\nTEL;MOBILE:+79990000000\nEND:VCARD",
    }
    assert send(bot, private(900111, message_id=2, contact=card)).status_code == 200
    phone_book = {"phone_number": "+79990000002", "first_name": "Вера"}  # no user_id
    send(bot, private(900112, message_id=3, contact=phone_book))
    (lead,) = leads_of(tenant)
    assert (lead.phone_e164, lead.other_phones) == ("+79991234567", [])
    notes = [e.data["message"] for e in _timeline(tenant, "lead.inquiry")]
    assert notes[1:] == ["[contact] Борис +79990000000", "[contact] Вера +79990000002"]
    assert _timeline(tenant, "lead.phone_shared") == []
    page = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert "[contact] Борис +79990000000" in page


def test_in_simple_mode_ones_own_contact_goes_to_the_contact(tenant, admin, bot, send):
    from deals.models import Outcome as DealOutcome

    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    send(bot, private(900115, message_id=1, text="Хочу заказать"))
    send(bot, private(900116, message_id=2, contact=_own_contact("79991234567")))
    with tenant_context(tenant):
        (deal,) = Deal.objects.select_related("contact")
    assert deal.contact.phones == ["+79991234567"]
    # A known contact without an open deal (a repeat deal) gets a new number too.
    with tenant_context(tenant):
        Deal.objects.filter(pk=deal.pk).update(outcome=DealOutcome.LOST)
    send(bot, private(900117, message_id=3, contact=_own_contact("+79161234567")))
    with tenant_context(tenant):
        deal.contact.refresh_from_db()
        assert Deal.objects.count() == 2
    assert deal.contact.phones == ["+79991234567", "+79161234567"]


def test_a_shared_phone_the_contact_cannot_take_keeps_the_inquiry(tenant, admin, bot, send):
    """A contact holding a number written before phones were read strictly cannot be saved
    again as it is: the own number is then noted, and the message still counts."""
    from contacts.models import Contact

    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    send(bot, private(900118, message_id=1, text="Хочу заказать"))
    with tenant_context(tenant):
        Contact.objects.update(phones=["12"])  # a legacy value the reader refuses
    shared = private(900119, message_id=2, contact=_own_contact("79991234567"))
    assert send(bot, shared).status_code == 200
    with tenant_context(tenant):
        event = InboundEvent.objects.order_by("pk").last()
        assert event.status == InboundEvent.Status.DONE
        with translation.override(tenant.language):  # the detail is in the workspace's
            assert gettext("The shared phone was not taken: %(reason)s").split(":")[0] in (
                event.detail
            )
        assert Contact.objects.get().phones == ["12"]


@pytest.mark.parametrize(
    ("parameter", "utm"),
    [
        (
            "utm_yandex__cpc__spring",
            {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "spring"},
        ),
        ("google__cpc", {"utm_source": "google", "utm_medium": "cpc"}),
        (
            "vk__social__black-friday__banner_2__sofas__beds",
            {
                "utm_source": "vk",
                "utm_medium": "social",
                "utm_campaign": "black-friday",
                "utm_content": "banner_2",
                "utm_term": "sofas__beds",
            },
        ),
        ("telegram____spring", {"utm_source": "telegram", "utm_campaign": "spring"}),
        ("promo_winter", {"utm_campaign": "promo_winter"}),
    ],
)
def test_a_deep_link_fills_the_utm_tags_and_keeps_its_parameter(
    tenant, admin, client_for, bot, send, parameter, utm
):
    update = private(
        900120,
        text=f"/start {parameter}",
        entities=[{"offset": 0, "length": 6, "type": "bot_command"}],
    )
    assert send(bot, update).status_code == 200
    (lead,) = leads_of(tenant)
    fields = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
    assert {f: getattr(lead, f) for f in fields if getattr(lead, f)} == utm
    assert lead.message == ""
    (received,) = _timeline(tenant, "lead.inquiry")
    assert received.data["inbound"]["start_param"] == parameter
    page = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert f"<code>{parameter}</code>" in page


def test_start_followed_by_words_is_a_message_not_a_deep_link(tenant, bot, send):
    send(bot, private(900121, text="/start привет, нужна доставка"))
    (lead,) = leads_of(tenant)
    assert lead.message == "/start привет, нужна доставка"
    assert lead.utm_campaign == ""


BOT = {"id": 7012345678, "is_bot": True, "first_name": "Acme", "username": "acme_sales_bot"}
KEYBOARD = {
    "inline_keyboard": [
        [
            {"text": "Базовый", "callback_data": "tariff_basic"},
            {"text": "Про", "callback_data": "tariff_pro"},
        ],
        [{"text": "Сайт", "url": "https://example.com"}],
    ]
}


def button_press(
    update_id: int, *, data: str = "tariff_basic", user: dict | None = None, inline: bool = False
) -> dict[str, Any]:
    """An Update with a CallbackQuery, as Telegram sends it (inline: an inline-mode
    message, for which the query has no `message`)."""
    user = user or ANNA
    query: dict[str, Any] = {
        "id": f"4382{update_id}",
        "from": user,
        "chat_instance": "-8734568654",
        "data": data,
    }
    if inline:
        query["inline_message_id"] = "AAAAAGh8"
    else:
        query["message"] = {
            "message_id": 77,
            "from": BOT,
            "chat": {"id": user["id"], "first_name": user["first_name"], "type": "private"},
            "date": 1767225600,
            "text": "Какой тариф вам интересен?",
            "reply_markup": KEYBOARD,
        }
    return {"update_id": update_id, "callback_query": query}


def test_a_button_press_of_a_known_person_goes_to_their_leads_timeline(
    tenant, admin, client_for, bot, send
):
    send(bot, private(900130, message_id=1, text="Здравствуйте"))
    response = send(bot, button_press(900131))
    assert response.status_code == 200
    # The answer stops the button's progress indicator in the person's app.
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": "4382900131"}
    (lead,) = leads_of(tenant)
    assert lead.message == "Здравствуйте"  # the bot's text is not the person's message
    (press,) = _timeline(tenant, "inbound.button")
    assert press.target_id == lead.pk
    assert press.data["label"] == "Базовый"
    assert press.data["data"] == "tariff_basic"
    assert press.data["question"] == "Какой тариф вам интересен?"
    assert len(_timeline(tenant, "lead.inquiry")) == 1
    event = events_of(bot)[1]
    assert (event.status, event.outcome, event.lead_id) == (Status.DONE, Outcome.ATTACHED, lead.pk)
    page = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert "Базовый" in page
    assert "tariff_basic" in page


def test_a_blocked_senders_button_press_is_spam_and_not_on_the_timeline(tenant, admin, bot, send):
    from contacts.blocklist import blocked_sender_add

    send(bot, private(900135, message_id=1, text="Здравствуйте"))
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="messenger", value=f"telegram:{ANNA['id']}")
    assert send(bot, button_press(900136)).status_code == 200
    assert _timeline(tenant, "inbound.button") == []
    assert events_of(bot)[1].status == Status.SPAM


def test_an_inline_mode_button_press_is_noted_with_its_data(tenant, bot, send):
    send(bot, private(900132, message_id=1, text="Здравствуйте"))
    assert send(bot, button_press(900133, data="tariff_pro", inline=True)).status_code == 200
    (press,) = _timeline(tenant, "inbound.button")
    assert (press.data["label"], press.data["data"]) == ("tariff_pro", "tariff_pro")
    assert "question" not in press.data


def test_a_button_press_on_a_closed_lead_or_in_simple_mode_is_still_noted(tenant, admin, bot, send):
    from leads.models import LeadStatus
    from leads.services import lead_move

    send(bot, private(900134, message_id=1, text="Здравствуйте"))
    with tenant_context(tenant):
        (lead,) = leads_of(tenant)
        lead_move(actor=admin, lead=lead, status=LeadStatus.objects.filter(state="junk").first())
    send(bot, button_press(900135))
    assert [e.target_id for e in _timeline(tenant, "inbound.button")] == [lead.pk]
    assert len(leads_of(tenant)) == 1
    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    send(bot, private(900136, message_id=2, user={**ANNA, "id": 5550002}, text="Добрый день"))
    send(bot, button_press(900137, user={**ANNA, "id": 5550002}))
    with tenant_context(tenant):
        (deal,) = Deal.objects.all()
    assert _timeline(tenant, "inbound.button")[-1].target_id == deal.contact_id


def test_a_button_press_from_someone_unknown_makes_no_lead(tenant, bot, send):
    response = send(bot, button_press(900140))
    assert response.status_code == 200
    (event,) = events_of(bot)
    assert event.status == Status.IGNORED
    assert event.detail
    assert leads_of(tenant) == []
    with tenant_context(tenant):
        assert not TimelineEvent.objects.filter(kind="inbound.button").exists()


def test_a_button_press_reaches_only_its_own_bots_tenant(
    tenant, other_tenant, other_admin, bot, telegram_api, send
):
    with tenant_context(other_tenant):
        theirs = channel_create(
            actor=other_admin, kind="telegram", name="Telegram", config={"bot_token": OTHER_TOKEN}
        )
    send(bot, private(900141, message_id=1, text="Здравствуйте"))
    assert send(theirs, button_press(900142)).status_code == 200
    assert events_of(theirs)[0].status == Status.IGNORED
    assert _timeline(tenant, "inbound.button") == []
    assert leads_of(other_tenant) == []


@pytest.mark.parametrize(
    "query",
    [{"from": ANNA, "data": "x"}, {"id": "1", "data": "x"}, "not an object"],
    ids=["no-id", "no-sender", "not-an-object"],
)
def test_a_malformed_button_press_is_rejected_and_kept(tenant, bot, send, query):
    assert send(bot, {"update_id": 900150, "callback_query": query}).status_code == 400
    (event,) = events_of(bot)
    assert event.status == Status.REJECTED
    assert leads_of(tenant) == []


def test_invisible_characters_leave_telegram_names_but_not_the_message(tenant, bot, send):
    user = {**ANNA, "first_name": "\u2067Анна\u2069", "last_name": "Смир\u200bнова\ufeff"}
    text = "Цена \u202eвыше\u202c, чем на сайте?"
    send(bot, private(900160, user=user, text=text))
    (lead,) = leads_of(tenant)
    assert (lead.name, lead.title) == ("Анна Смирнова", "Анна Смирнова (@anna_s)")
    assert lead.message == text


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (
            {
                "photo": [
                    {"file_id": "AgAD1", "file_unique_id": "u1", "width": 90, "height": 67},
                    {"file_id": "AgAD2", "file_unique_id": "u2", "width": 1280, "height": 960},
                ],
                "caption": "Вот такой шкаф нужен",
            },
            "[photo] Вот такой шкаф нужен",
        ),
        (
            {"document": {"file_id": "BQAD", "file_unique_id": "u3", "file_name": "ТЗ.pdf"}},
            "[document] ТЗ.pdf",
        ),
        (
            {"voice": {"file_id": "AwAD", "file_unique_id": "u4", "duration": 7}},
            "[voice]",
        ),
        (
            {
                "sticker": {
                    "file_id": "CAAC",
                    "file_unique_id": "u5",
                    "emoji": "👍",
                    "type": "regular",
                }
            },
            "[sticker] 👍",
        ),
    ],
)
def test_messages_without_text_reach_the_timeline_described(tenant, bot, send, fields, text):
    assert send(bot, private(900005, **fields)).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.message == text
    (received,) = _timeline(tenant, "lead.inquiry")
    assert received.data["message"] == text


def test_an_edited_message_updates_the_message(tenant, bot, send):
    send(bot, private(900010, message_id=42, text="Нужна доставка в Казань"))
    edit = private(900011, message_id=42, text="Нужна доставка в Самару", edit_date=1767225700)
    edit["edited_message"] = edit.pop("message")
    assert send(bot, edit).status_code == 200
    again = private(900012, message_id=42, text="Нужна доставка в Самару, срочно")
    again["edited_message"] = again.pop("message")
    send(bot, again)
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару, срочно"
    _first, edited, edited_again = events_of(bot)
    assert (edited.status, edited.outcome, edited.lead_id) == (
        Status.DONE,
        Outcome.UPDATED,
        lead.pk,
    )
    assert edited_again.outcome == Outcome.UPDATED
    edits = _timeline(tenant, "inbound.edited")
    assert [(e.data["old"], e.data["message"]) for e in edits] == [
        ("Нужна доставка в Казань", "Нужна доставка в Самару"),
        ("Нужна доставка в Самару", "Нужна доставка в Самару, срочно"),
    ]
    assert all(e.target_id == lead.pk for e in edits)


def test_an_edit_finds_a_message_stored_before_the_indexed_column(tenant, bot, send):
    """Messages stored before `external_id` was a column get it from the migration."""
    import importlib

    from django.apps import apps

    send(bot, private(900013, message_id=43, text="Нужна доставка в Казань"))
    (original,) = events_of(bot)
    assert original.external_id == original.message["external_id"]
    migration = importlib.import_module("channels.migrations.0003_event_external_id")
    with tenant_context(tenant):  # today's models are scoped (migrations get plain managers)
        InboundEvent.objects.filter(pk=original.pk).update(external_id="")
        migration.copy_external_ids(apps, None)
    edit = private(900014, message_id=43, text="Нужна доставка в Самару")
    edit["edited_message"] = edit.pop("message")
    send(bot, edit)
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару"
    assert events_of(bot)[-1].outcome == Outcome.UPDATED


def test_an_edit_processed_before_its_message_waits_for_it(tenant, bot):
    edit = private(900015, message_id=8, text="Нужна доставка в Самару")
    edit["edited_message"] = edit.pop("message")
    with tenant_context(tenant):  # stored, not processed yet (nothing runs on commit here)
        original, _created = services.event_accept(
            channel=bot, raw=RawDelivery(body=json.dumps(private(900014, message_id=8)).encode())
        )
        edited, _created = services.event_accept(
            channel=bot, raw=RawDelivery(body=json.dumps(edit).encode())
        )
    assert services.event_process(tenant_id=tenant.pk, event_id=edited.pk) is not None
    assert services.event_process(tenant_id=tenant.pk, event_id=original.pk) is None
    assert services.event_process(tenant_id=tenant.pk, event_id=edited.pk) is None
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару"
    assert [e.outcome for e in events_of(bot)] == [Outcome.CREATED, Outcome.UPDATED]


def test_an_edit_that_came_before_its_message_is_applied_when_the_message_comes(tenant, bot, send):
    first = private(900016, message_id=9, text="Нужна доставка в Самару")
    first["edited_message"] = first.pop("message")
    second = private(900017, message_id=9, text="Нужна доставка в Самару, срочно")
    second["edited_message"] = second.pop("message")
    send(bot, first)
    send(bot, second)
    assert [e.status for e in events_of(bot)] == [Status.IGNORED] * 2  # nothing to edit yet
    send(bot, private(900015, message_id=9, text="Нужна доставка в Казань"))
    send(bot, first)  # a retry of an edit applied meanwhile: nothing new
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару, срочно"
    events = events_of(bot)
    assert [(e.status, e.outcome, e.lead_id, e.detail) for e in events] == [
        (Status.DONE, Outcome.UPDATED, lead.pk, ""),
        (Status.DONE, Outcome.UPDATED, lead.pk, ""),
        (Status.DONE, Outcome.CREATED, lead.pk, ""),
    ]
    edits = _timeline(tenant, "inbound.edited")
    assert [(e.data["old"], e.data["message"]) for e in edits] == [
        ("Нужна доставка в Казань", "Нужна доставка в Самару"),
        ("Нужна доставка в Самару", "Нужна доставка в Самару, срочно"),
    ]


def _edit(update_id: int, message_id: int, text: str, edit_date: int) -> dict:
    update = private(update_id, message_id=message_id, text=text, edit_date=edit_date)
    update["edited_message"] = update.pop("message")
    return update


def test_edits_in_reverse_order_leave_the_newest_text(tenant, bot, send):
    send(bot, private(900030, message_id=51, text="Нужна доставка в Казань"))
    send(bot, _edit(900032, 51, "Нужна доставка в Самару, срочно", 1767225800))
    send(bot, _edit(900031, 51, "Нужна доставка в Самару", 1767225700))  # older, late
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару, срочно"
    assert [e.outcome for e in events_of(bot)] == [Outcome.CREATED] + [Outcome.UPDATED] * 2
    assert len(_timeline(tenant, "inbound.edited")) == 2  # both versions on the history


def test_early_edits_in_reverse_order_are_applied_in_the_senders_order(tenant, bot, send):
    send(bot, _edit(900035, 52, "Нужна доставка в Самару, срочно", 1767225800))
    send(bot, _edit(900034, 52, "Нужна доставка в Самару", 1767225700))
    send(bot, private(900033, message_id=52, text="Нужна доставка в Казань"))
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару, срочно"


def test_an_edit_processed_after_its_later_stored_message_applies_to_it(tenant, bot):
    edit = private(900019, message_id=11, text="Нужна доставка в Самару")
    edit["edited_message"] = edit.pop("message")
    with tenant_context(tenant):  # the edit stored first, its message processed first
        edited, _created = services.event_accept(
            channel=bot, raw=RawDelivery(body=json.dumps(edit).encode())
        )
        original, _created = services.event_accept(
            channel=bot, raw=RawDelivery(body=json.dumps(private(900018, message_id=11)).encode())
        )
    assert services.event_process(tenant_id=tenant.pk, event_id=edited.pk) is not None  # waits
    assert services.event_process(tenant_id=tenant.pk, event_id=original.pk) is None
    assert services.event_process(tenant_id=tenant.pk, event_id=edited.pk) is None
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару"
    assert [(e.outcome, e.lead_id) for e in events_of(bot)] == [
        (Outcome.UPDATED, lead.pk),
        (Outcome.CREATED, lead.pk),
    ]


def test_an_edit_of_an_unknown_message_is_ignored(tenant, bot, send):
    edit = private(900013, message_id=7, text="исправлено")
    edit["edited_message"] = edit.pop("message")
    assert send(bot, edit).status_code == 200
    (event,) = events_of(bot)
    assert event.status == Status.IGNORED
    assert leads_of(tenant) == []


def test_in_simple_mode_a_message_opens_a_deal_and_its_edit_goes_to_the_deal(
    tenant, admin, bot, send
):
    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    send(bot, private(900020, message_id=5, text="Хочу заказать"))
    edit = private(900021, message_id=5, text="Хочу заказать два")
    edit["edited_message"] = edit.pop("message")
    send(bot, edit)
    with tenant_context(tenant):
        (deal,) = Deal.objects.select_related("contact")
        assert deal.contact.telegram == "5550001"
    assert events_of(bot)[1].outcome == Outcome.UPDATED
    (edited,) = _timeline(tenant, "inbound.edited")
    assert edited.target_id == deal.pk


@pytest.mark.parametrize(
    "update",
    [
        {
            "update_id": 900030,
            "message": {
                "message_id": 3,
                "from": ANNA,
                "chat": {"id": -1001234567890, "title": "Клиенты", "type": "supergroup"},
                "date": 1767225600,
                "text": "Всем привет",
            },
        },
        {
            "update_id": 900031,
            "message": {
                "message_id": 4,
                "from": ANNA,
                "chat": {"id": -4012345, "title": "Отдел", "type": "group"},
                "date": 1767225600,
                "text": "Привет",
            },
        },
        {
            "update_id": 900033,
            "my_chat_member": {
                "chat": {"id": 5550001, "first_name": "Анна", "type": "private"},
                "from": ANNA,
                "date": 1767225600,
                "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True}},
                "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True}},
            },
        },
        {
            "update_id": 900034,
            "channel_post": {
                "message_id": 9,
                "sender_chat": {"id": -100777, "title": "Новости", "type": "channel"},
                "chat": {"id": -100777, "title": "Новости", "type": "channel"},
                "date": 1767225600,
                "text": "Анонс",
            },
        },
        {
            "update_id": 900035,
            "edited_channel_post": {
                "message_id": 9,
                "sender_chat": {"id": -100777, "title": "Новости", "type": "channel"},
                "chat": {"id": -100777, "title": "Новости", "type": "channel"},
                "date": 1767225600,
                "edit_date": 1767225700,
                "text": "Анонс (исправлено)",
            },
        },
        {
            "update_id": 900036,
            "message_reaction": {
                "chat": {"id": 5550001, "first_name": "Анна", "type": "private"},
                "message_id": 10,
                "user": ANNA,
                "date": 1767225600,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            },
        },
        {
            "update_id": 900037,
            "edited_message": {
                "message_id": 3,
                "from": ANNA,
                "chat": {"id": -1001234567890, "title": "Клиенты", "type": "supergroup"},
                "date": 1767225600,
                "edit_date": 1767225700,
                "text": "Всем привет!",
            },
        },
        {
            "update_id": 900038,
            "callback_query": {
                "id": "4382bfdwdsb323b2d8",
                "from": ANNA,
                "message": {
                    "message_id": 3,
                    "from": {"id": 7012345678, "is_bot": True, "first_name": "Bot"},
                    "chat": {"id": -1001234567890, "title": "Клиенты", "type": "supergroup"},
                    "date": 1767225600,
                    "text": "Голосуем",
                },
                "chat_instance": "-8734568654",
                "data": "yes",
            },
        },
    ],
    ids=[
        "supergroup",
        "group",
        "my_chat_member",
        "channel_post",
        "edited_channel_post",
        "message_reaction",
        "edited_group_message",
        "group_button",
    ],
)
def test_group_chats_and_other_update_types_are_recorded_and_ignored(tenant, bot, send, update):
    assert send(bot, update).status_code == 200
    (event,) = events_of(bot)
    assert event.status == Status.IGNORED
    assert event.detail
    assert event.key == f"update:{update['update_id']}"
    assert leads_of(tenant) == []


def test_the_same_update_twice_makes_one_event_and_one_lead(tenant, bot, send):
    assert send(bot, private(900040)).status_code == 200
    assert send(bot, private(900040)).status_code == 200
    assert len(events_of(bot)) == 1
    assert len(leads_of(tenant)) == 1


@pytest.mark.parametrize("secret", ["", "wrong-secret"])
def test_a_wrong_or_missing_secret_header_is_refused(tenant, bot, send, secret):
    response = send(bot, private(900050), secret=secret)
    assert response.status_code == 403
    assert events_of(bot) == []
    assert leads_of(tenant) == []


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        '["update_id", 1]',
        '{"message": {"message_id": 1}}',
        '{"update_id": "12", "message": {}}',
        '{"update_id": 12, "message": {"message_id": 1, "text": "нет чата"}}',
    ],
    ids=["not-json", "not-object", "no-update-id", "string-update-id", "no-chat"],
)
def test_a_malformed_update_is_rejected_and_kept(tenant, bot, send, body):
    response = send(bot, body=body)
    assert response.status_code == 400
    (event,) = events_of(bot)
    assert event.status == Status.REJECTED
    assert event.detail
    assert leads_of(tenant) == []


def test_only_the_webhook_path_receives(bot, send):
    url = reverse("inbound", kwargs={"token": bot.token})
    assert Client().get(url).status_code == 405
    assert send(bot, private(1), path="other").status_code == 404
    assert events_of(bot) == []


def test_a_second_message_from_the_same_person_joins_the_first_lead(tenant, bot, send):
    send(bot, private(900060, message_id=1, text="Здравствуйте"))
    send(bot, private(900061, message_id=2, text="Есть доставка в Казань?"))
    (lead,) = leads_of(tenant)
    _first, second = events_of(bot)
    assert second.lead_id == lead.pk
    assert second.outcome == Outcome.ATTACHED
    with tenant_context(tenant):  # the second text is on the lead's timeline
        texts = [e.data.get("message") for e in TimelineEvent.objects.filter(target_id=lead.pk)]
    assert "Есть доставка в Казань?" in texts


def test_bots_of_two_tenants_stay_apart(
    tenant, other_tenant, other_admin, client_for, bot, telegram_api, send
):
    with tenant_context(other_tenant):
        theirs = channel_create(
            actor=other_admin, kind="telegram", name="Telegram", config={"bot_token": OTHER_TOKEN}
        )
    # One tenant's secret does not open the other's endpoint.
    assert send(bot, private(900070), secret=theirs.secret).status_code == 403
    assert send(theirs, private(900070)).status_code == 200
    assert send(bot, private(900070)).status_code == 200  # the same update_id, another bot
    assert len(leads_of(tenant)) == 1
    assert len(leads_of(other_tenant)) == 1
    assert len(events_of(bot)) == 1
    assert len(events_of(theirs)) == 1
    client = client_for(other_admin)
    assert client.get(f"{_base(tenant)}{bot.pk}/").status_code in (403, 404)
    assert client.get(f"{_base(other_tenant)}{bot.pk}/").status_code == 404
    assert client.post(f"{_base(other_tenant)}{bot.pk}/rotate/").status_code == 404
    assert [c.token for c in telegram_api.calls_of("setWebhook")] == [TOKEN, OTHER_TOKEN]


def test_telegram_out_of_reach_keeps_the_channel_and_registers_on_the_next_save(
    tenant, admin, telegram_api, settings, send, client_for
):
    reachable = settings.TELEGRAM_API_BASE
    settings.TELEGRAM_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused
    with tenant_context(tenant):
        channel = channel_create(
            actor=admin, kind="telegram", name="Бот", config={"bot_token": TOKEN}
        )
    assert channel.config["webhook_url"] == ""
    assert "Telegram" in channel.config["webhook_error"]
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{channel.pk}/")
    assert 'data-testid="telegram-webhook-error"' in page.content.decode()
    # Updates sent with the channel's secret are taken all the same.
    assert send(channel, private(900900, text="Здравствуйте")).status_code == 200
    assert len(leads_of(tenant)) == 1
    settings.TELEGRAM_API_BASE = reachable
    with tenant_context(tenant):
        channel_update(actor=admin, channel=channel, data={"name": "Бот продаж"})
    assert channel.config["webhook_url"].endswith(f"/in/{channel.token}/")
    assert channel.config["webhook_error"] == ""
    assert len(telegram_api.calls_of("setWebhook")) == 1


def test_create_channel_says_when_the_webhook_waits(tenant, telegram_api, settings):
    settings.TELEGRAM_API_BASE = "http://127.0.0.1:9"
    out, err = StringIO(), StringIO()
    call_command(
        "create_channel",
        "--tenant", tenant.slug, "--kind", "telegram", "--name", "Бот",
        "--bot-token", TOKEN, "--secret", "my_secret_123",
        stdout=out, stderr=err,
    )  # fmt: skip
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Бот")
    assert out.getvalue().strip() == f"/in/{channel.token}/"
    assert channel.secret == "my_secret_123"
    assert "Webhook not registered yet" in err.getvalue()


def test_edits_within_one_second_are_ordered_by_the_update_number(tenant, bot, send):
    send(bot, private(900040, message_id=53, text="Нужна доставка в Казань"))
    send(bot, _edit(900042, 53, "Нужна доставка в Самару, срочно", 1767225800))
    send(bot, _edit(900041, 53, "Нужна доставка в Самару", 1767225800))  # same second, older
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару, срочно"


def test_an_edit_that_failed_waiting_is_applied_when_its_message_comes(tenant, bot, send):
    send(bot, _edit(900044, 54, "Нужна доставка в Самару", 1767225800))
    with tenant_context(tenant):  # it had waited for a pending original until it gave up
        InboundEvent.objects.filter(channel=bot).update(status=Status.FAILED, detail="gave up")
    send(bot, private(900043, message_id=54, text="Нужна доставка в Казань"))
    (lead,) = leads_of(tenant)
    assert lead.message == "Нужна доставка в Самару"
    assert [e.status for e in events_of(bot)] == [Status.DONE, Status.DONE]
