"""The WhatsApp Cloud API channel over HTTP: the verification handshake, signatures over the
raw body, notifications in Meta's documented shapes (batches of messages and statuses, odd
message types, Click-to-WhatsApp referrals), duplicates, matching by phone, isolation."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from channels.adapters.whatsapp import signature_of
from channels.models import Channel, InboundEvent
from channels.services import channel_create
from crm.models import TimelineEvent
from crm.secrets import is_sealed, seal, unseal
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of
from tests.channels.test_webform import TILDA

APP_SECRET = "3f9c1b2a7d8e4f6a9b0c1d2e3f4a5b6c"
OTHER_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
PHONE_NUMBER_ID = "106540352242922"
WA_ID = "79991234567"
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


def _base(tenant) -> str:
    return f"/{tenant.slug}/settings/channels/"


def text_message(wamid: str, body: str = "Здравствуйте! Есть доставка в Казань?", *, sender=WA_ID):
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1767225600",
        "type": "text",
        "text": {"body": body},
    }


def notification(
    messages: list[dict] | None = None,
    *,
    statuses: list[dict] | None = None,
    contacts: list[dict] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """A notification as Meta POSTs it (Cloud API webhooks, field "messages")."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if messages is not None:
        value["contacts"] = (
            contacts
            if contacts is not None
            else [{"profile": {"name": "Анна Смирнова"}, "wa_id": m["from"]} for m in messages]
        )
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def status(wamid: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": state,
        "timestamp": "1767225700",
        "recipient_id": WA_ID,
        "conversation": {"id": "CONVERSATION_ID", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
        **extra,
    }


@pytest.fixture
def whatsapp(tenant, admin) -> Channel:
    with tenant_context(tenant):
        return channel_create(
            actor=admin,
            kind="whatsapp",
            name="WhatsApp",
            config={"app_secret": seal(APP_SECRET), "phone_number_id": PHONE_NUMBER_ID},
        )


@pytest.fixture
def send(deliver):
    """POST a notification signed with the app secret (or the given signature)."""

    def post(
        channel: Channel,
        payload: Any = None,
        *,
        body: bytes | None = None,
        secret: str = APP_SECRET,
        signature: str | None = None,
    ):
        if body is None:
            body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {}
        signature = signature_of(secret, body) if signature is None else signature
        if signature:
            headers["HTTP_X_HUB_SIGNATURE_256"] = signature
        return deliver(channel, body=body, **headers)

    return post


def _timeline(tenant, kind: str) -> list[TimelineEvent]:
    with tenant_context(tenant):
        return list(TimelineEvent.objects.filter(kind=kind).order_by("pk"))


def _url(channel: Channel, **query: str) -> str:
    url = reverse("inbound", kwargs={"token": channel.token})
    return f"{url}?{urlencode(query)}" if query else url


# --- Setting the channel up ---------------------------------------------------------------


def test_the_settings_page_sets_up_the_channel_with_a_sealed_app_secret(
    tenant, admin, client_for, settings
):
    settings.SITE_URL = "https://crm.example.com"
    client = client_for(admin)
    assert client.get(_base(tenant) + "new/whatsapp/").status_code == 200
    response = client.post(
        _base(tenant) + "new/whatsapp/",
        {"name": "WhatsApp продаж", "enabled": "on", "config-app_secret": APP_SECRET},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel = Channel.objects.get(name="WhatsApp продаж")
    assert is_sealed(channel.config["app_secret"])
    assert unseal(channel.config["app_secret"]) == APP_SECRET
    page = client.get(response["Location"]).content.decode()
    assert f"https://crm.example.com/in/{channel.token}/" in page
    assert channel.secret in page  # the verify token, to paste into Meta's console
    assert "messages" in page
    assert "Verify and save" in page
    assert APP_SECRET not in page
    edit = client.get(f"{_base(tenant)}{channel.pk}/edit/").content.decode()
    assert APP_SECRET not in edit
    assert channel.config["app_secret"] not in edit
    # Saving with the secret left empty keeps it; a number id is shown.
    response = client.post(
        f"{_base(tenant)}{channel.pk}/edit/",
        {"name": "WhatsApp продаж", "enabled": "on", "config-phone_number_id": PHONE_NUMBER_ID},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel.refresh_from_db()
    assert unseal(channel.config["app_secret"]) == APP_SECRET
    assert PHONE_NUMBER_ID in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"config-app_secret": "short"},
        {"config-app_secret": APP_SECRET, "config-phone_number_id": "12ab"},
    ],
    ids=["no-secret", "bad-secret", "bad-number-id"],
)
def test_a_bad_setup_is_a_form_error(tenant, admin, client_for, fields):
    response = client_for(admin).post(_base(tenant) + "new/whatsapp/", {"name": "WA", **fields})
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Channel.objects.exists()


def test_only_settings_managers_set_it_up(tenant, manager, client_for):
    assert client_for(manager).get(_base(tenant) + "new/whatsapp/").status_code == 403


def test_create_channel_command_prints_the_endpoint_and_the_verify_token(tenant, deliver):
    out = StringIO()
    call_command(
        "create_channel",
        *("--tenant", tenant.slug, "--kind", "whatsapp", "--name", "WA"),
        *("--app-secret", APP_SECRET, "--phone-number-id", PHONE_NUMBER_ID),
        *("--secret", "my-verify-token"),
        stdout=out,
    )
    with tenant_context(tenant):
        channel = Channel.objects.get(name="WA")
    assert out.getvalue().splitlines() == [
        f"/in/{channel.token}/",
        "Verify token: my-verify-token",
    ]
    assert unseal(channel.config["app_secret"]) == APP_SECRET
    body = json.dumps(notification([text_message("wamid.CMD")])).encode()
    response = deliver(channel, body=body, HTTP_X_HUB_SIGNATURE_256=signature_of(APP_SECRET, body))
    assert response.status_code == 200
    assert len(leads_of(tenant)) == 1


# --- The verification handshake -----------------------------------------------------------


def test_the_handshake_answers_the_challenge_for_the_verify_token(whatsapp):
    query = {"hub.mode": "subscribe", "hub.verify_token": whatsapp.secret}
    response = Client().get(_url(whatsapp, **query, **{"hub.challenge": "1158201444"}))
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")
    assert events_of(whatsapp) == []


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "TOKEN", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "TOKEN"},
        {"hub.mode": "subscribe", "hub.verify_token": "TOKEN", "hub.challenge": "x" * 300},
        {},
    ],
    ids=["wrong-token", "no-token", "other-mode", "no-challenge", "huge-challenge", "nothing"],
)
def test_a_bad_handshake_is_refused(whatsapp, query):
    query = {k: (whatsapp.secret if v == "TOKEN" else v) for k, v in query.items()}
    response = Client().get(_url(whatsapp, **query))
    assert response.status_code == 403
    assert response.content != b"1"


def test_another_tenants_verify_token_does_not_verify(whatsapp, other_tenant, other_admin):
    with tenant_context(other_tenant):
        theirs = channel_create(
            actor=other_admin, kind="whatsapp", name="WA", config={"app_secret": seal(APP_SECRET)}
        )
    query = {"hub.mode": "subscribe", "hub.verify_token": theirs.secret, "hub.challenge": "7"}
    assert Client().get(_url(whatsapp, **query)).status_code == 403
    assert Client().get(_url(theirs, **query)).content == b"7"


# --- Signatures ---------------------------------------------------------------------------


def test_a_signed_message_makes_a_lead_in_the_inbox(tenant, admin, whatsapp, send, client_for):
    response = send(whatsapp, notification([text_message("wamid.HBgLNzk5OTEyMzQ1NjcVAgASGBQ")]))
    assert response.status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.name == "Анна Смирнова"
    assert lead.phone_e164 == "+79991234567"
    assert (lead.messenger, lead.messenger_id) == ("whatsapp", "+79991234567")
    assert lead.message == "Здравствуйте! Есть доставка в Казань?"
    assert lead.source == "whatsapp"
    (event,) = events_of(whatsapp)
    assert (event.status, event.outcome) == (Status.DONE, Outcome.CREATED)
    assert event.key == "wamid:wamid.HBgLNzk5OTEyMzQ1NjcVAgASGBQ"
    assert event.lead_id == lead.pk
    (received,) = _timeline(tenant, "lead.inquiry")
    assert received.data["inbound"]["channel"] == "WhatsApp"
    inbox = client_for(admin).get(f"/{tenant.slug}/leads/inbox/").content.decode()
    assert "Анна Смирнова" in inbox
    card = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert "WhatsApp" in card
    assert 'href="https://wa.me/79991234567"' in card
    # The card lists how each way to reach the person was learned: phone and WhatsApp.
    block = card[card.index('data-testid="identities"') :]
    assert 'data-kind="phone"' in block
    assert 'data-kind="whatsapp"' in block
    assert block.count('href="https://wa.me/79991234567"') == 1


@pytest.mark.parametrize(
    "signature",
    ["", "sha256=" + "0" * 64, "sha1=abc", "sha256=", "other"],
    ids=["missing", "wrong", "sha1", "empty", "no-prefix"],
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_stored(
    tenant, whatsapp, send, signature
):
    response = send(whatsapp, notification([text_message("wamid.A")]), signature=signature)
    assert response.status_code == 403
    assert events_of(whatsapp) == []
    assert leads_of(tenant) == []


def test_a_signature_with_another_apps_secret_is_refused(tenant, whatsapp, send):
    response = send(whatsapp, notification([text_message("wamid.A")]), secret=OTHER_SECRET)
    assert response.status_code == 403
    assert events_of(whatsapp) == []


def test_the_signature_is_over_the_raw_bytes_not_a_reserialized_body(tenant, whatsapp, send):
    payload = notification([text_message("wamid.RAW", "Привет 👋")])
    # Meta escapes non-ASCII characters; the same JSON written differently is other bytes.
    sent = json.dumps(payload).encode()
    reserialized = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(sent) == json.loads(reserialized)
    response = send(whatsapp, body=reserialized, signature=signature_of(APP_SECRET, sent))
    assert response.status_code == 403
    assert events_of(whatsapp) == []
    assert send(whatsapp, body=sent).status_code == 200
    (event,) = events_of(whatsapp)
    assert bytes(event.body) == sent  # one message: stored exactly as received
    assert leads_of(tenant)[0].message == "Привет 👋"


def test_an_app_secret_that_cannot_be_unsealed_refuses_and_is_the_channels_problem(
    tenant, admin, send, settings, client_for
):
    settings.FIELD_ENCRYPTION_KEYS = ["9q3FzZC1ZmJ4bXhQdnYyS0ZyRnZ1b0t0S0lQQnhkR2s="]
    with tenant_context(tenant):
        channel = channel_create(
            actor=admin, kind="whatsapp", name="WA", config={"app_secret": seal(APP_SECRET)}
        )
    settings.FIELD_ENCRYPTION_KEYS = []  # the key that sealed it is gone
    assert send(channel, notification([text_message("wamid.K")])).status_code == 403
    assert events_of(channel) == []
    with tenant_context(tenant):
        channel.refresh_from_db()
    assert "cannot be decrypted" in channel.problem
    client = client_for(admin)
    assert "cannot be decrypted" in client.get(f"{_base(tenant)}{channel.pk}/").content.decode()
    # The admin enters the secret again: deliveries are taken, the problem is over.
    response = client.post(
        f"{_base(tenant)}{channel.pk}/edit/",
        {"name": "WA", "enabled": "on", "config-app_secret": APP_SECRET},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel.refresh_from_db()
    assert send(channel, notification([text_message("wamid.K")])).status_code == 200
    with tenant_context(tenant):
        channel.refresh_from_db()
    assert channel.problem == ""
    assert len(leads_of(tenant)) == 1


# --- Batches, statuses, duplicates --------------------------------------------------------


@pytest.mark.usefixtures("english_workspace")
def test_a_batch_is_stored_one_event_per_message_and_status(tenant, whatsapp, send):
    boris = {"profile": {"name": "Борис"}, "wa_id": "79161112233"}
    anna = {"profile": {"name": "Анна Смирнова"}, "wa_id": WA_ID}
    payload = notification(
        [
            text_message("wamid.1", "Первое"),
            text_message("wamid.2", "Я Борис", sender="79161112233"),
        ],
        contacts=[anna, boris],
        statuses=[status("wamid.OUT1", "delivered"), status("wamid.OUT1", "read")],
    )
    payload["entry"].append(
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": notification([text_message("wamid.3", "Второе")])["entry"][0][
                        "changes"
                    ][0]["value"],
                }
            ],
        }
    )
    assert send(whatsapp, payload).status_code == 200
    events = events_of(whatsapp)
    assert [e.key for e in events] == [
        "wamid:wamid.1",
        "wamid:wamid.2",
        "status:wamid.OUT1:delivered",
        "status:wamid.OUT1:read",
        "wamid:wamid.3",
    ]
    assert [e.status for e in events] == [Status.DONE] * 2 + [Status.IGNORED] * 2 + [Status.DONE]
    # Statuses of messages not sent from the CRM: recorded, ignored with the reason.
    assert events[2].message["event"] == "delivered"
    assert "not sent from the CRM" in events[2].detail
    assert all(
        e.headers["X-Voronka-Part"].startswith(f"{n}/5 sha256:") for n, e in enumerate(events, 1)
    )
    anna_lead, boris_lead = leads_of(tenant)
    assert (anna_lead.name, anna_lead.phone_e164) == ("Анна Смирнова", "+79991234567")
    assert (boris_lead.name, boris_lead.phone_e164) == ("Борис", "+79161112233")
    assert events[4].lead_id == anna_lead.pk
    assert events[4].outcome == Outcome.ATTACHED
    # The same batch again (Meta retries), then one of its messages alone: nothing new.
    assert send(whatsapp, payload).status_code == 200
    assert (
        send(
            whatsapp, notification([text_message("wamid.2", "Я Борис", sender="79161112233")])
        ).status_code
        == 200
    )
    assert len(events_of(whatsapp)) == 5
    assert len(leads_of(tenant)) == 2


def test_a_duplicate_message_makes_one_event_and_one_lead(tenant, whatsapp, send):
    payload = notification([text_message("wamid.DUP")])
    assert send(whatsapp, payload).status_code == 200
    assert send(whatsapp, payload).status_code == 200
    assert len(events_of(whatsapp)) == 1
    assert len(leads_of(tenant)) == 1


@pytest.mark.usefixtures("english_workspace")
def test_statuses_of_messages_not_sent_from_the_crm_are_recorded_and_ignored(
    tenant, whatsapp, send
):
    failed = status(
        "wamid.OUT2",
        "failed",
        errors=[
            {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}
        ],
    )
    assert send(whatsapp, notification(statuses=[status("wamid.OUT2", "sent")])).status_code == 200
    assert send(whatsapp, notification(statuses=[failed])).status_code == 200
    sent, failed_event = events_of(whatsapp)
    assert (sent.status, sent.key) == (Status.IGNORED, "status:wamid.OUT2:sent")
    assert failed_event.status == Status.IGNORED
    assert "not sent from the CRM" in failed_event.detail
    assert "Re-engagement message (131047)" in failed_event.message["properties"]["error"]
    assert leads_of(tenant) == []


def test_a_message_to_another_number_of_the_app_is_ignored(tenant, whatsapp, send):
    payload = notification([text_message("wamid.OTHER")], phone_number_id="999999999999")
    assert send(whatsapp, payload).status_code == 200
    (event,) = events_of(whatsapp)
    assert event.status == Status.IGNORED
    assert "999999999999" in event.detail
    assert leads_of(tenant) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "page", "entry": []},
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
                    ],
                }
            ],
        },
        {"object": "whatsapp_business_account", "entry": []},
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                                "errors": [{"code": 130429, "title": "Rate limit hit"}],
                            },
                        }
                    ],
                }
            ],
        },
    ],
    ids=["other-object", "other-field", "no-entries", "errors-only"],
)
def test_other_notifications_are_recorded_and_ignored(tenant, whatsapp, send, payload):
    assert send(whatsapp, payload).status_code == 200
    (event,) = events_of(whatsapp)
    assert event.status == Status.IGNORED
    assert event.detail
    assert leads_of(tenant) == []


# --- Message types, referral, matching ----------------------------------------------------


def _typed(kind: str, body: Any, **extra: Any) -> dict[str, Any]:
    return {
        "from": WA_ID,
        "id": f"wamid.{kind}",
        "timestamp": "1767225600",
        "type": kind,
        kind: body,
        **extra,
    }


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (
            _typed(
                "image",
                {"caption": "Вот такой", "mime_type": "image/jpeg", "sha256": "x", "id": "1"},
            ),
            "[image] Вот такой",
        ),
        (
            _typed("audio", {"mime_type": "audio/ogg; codecs=opus", "id": "2", "voice": True}),
            "[voice message]",
        ),
        (
            _typed("document", {"filename": "ТЗ.pdf", "mime_type": "application/pdf", "id": "3"}),
            "[document] ТЗ.pdf",
        ),
        (
            _typed(
                "location",
                {"latitude": 55.75, "longitude": 37.61, "name": "Офис", "address": "Тверская, 1"},
            ),
            "[location] Офис, Тверская, 1 (55.75, 37.61)",
        ),
        (
            {
                "from": WA_ID,
                "id": "wamid.contacts",
                "timestamp": "1",
                "type": "contacts",
                "contacts": [
                    {
                        "name": {"formatted_name": "Иван Петров", "first_name": "Иван"},
                        "phones": [{"phone": "+7 916 000-00-00", "type": "CELL"}],
                    }
                ],
            },
            "[contacts] Иван Петров +7 916 000-00-00",
        ),
        (
            _typed(
                "interactive",
                {"type": "button_reply", "button_reply": {"id": "yes", "title": "Да, интересно"}},
            ),
            "[button] Да, интересно",
        ),
        (
            _typed(
                "interactive",
                {
                    "type": "list_reply",
                    "list_reply": {"id": "1", "title": "Доставка", "description": "по Москве"},
                },
            ),
            "[reply] Доставка — по Москве",
        ),
        (_typed("button", {"payload": "STOP", "text": "Отписаться"}), "[button] Отписаться"),
        (_typed("reaction", {"message_id": "wamid.OUT", "emoji": "👍"}), "[reaction] 👍"),
        (_typed("sticker", {"mime_type": "image/webp", "id": "4", "animated": False}), "[sticker]"),
        (
            {
                "from": WA_ID,
                "id": "wamid.u",
                "timestamp": "1",
                "type": "unsupported",
                "errors": [{"code": 131051, "title": "Message type unknown"}],
            },
            "[unsupported] Message type unknown",
        ),
        (_typed("image", "not an object"), "[image]"),
        ({"from": WA_ID, "id": "wamid.notype", "timestamp": "1"}, "[message]"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("[") else None,
)
def test_messages_of_other_types_arrive_as_readable_text(tenant, whatsapp, send, message, text):
    assert send(whatsapp, notification([message])).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.message == text
    (event,) = events_of(whatsapp)
    assert event.status == Status.DONE


def test_a_click_to_whatsapp_ad_is_the_leads_attribution(tenant, whatsapp, send):
    message = text_message("wamid.AD", "Хочу узнать про тур")
    message["referral"] = {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": "120208463475380123",
        "source_type": "ad",
        "headline": "Туры в Казань -20%",
        "body": "Напишите нам в WhatsApp",
        "media_type": "image",
        "image_url": "https://scontent.xx.fbcdn.net/v/t45.1600-4/1.png",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4N",
    }
    assert send(whatsapp, notification([message])).status_code == 200
    (lead,) = leads_of(tenant)
    assert (lead.utm_source, lead.utm_medium) == ("facebook", "ad")
    assert lead.utm_campaign == "Туры в Казань -20%"
    assert lead.utm_content == "120208463475380123"
    (received,) = _timeline(tenant, "lead.inquiry")
    inbound = received.data["inbound"]
    assert inbound["page_url"] == "https://fb.me/3cr4Wqqkv"
    assert "Туры в Казань -20%" in inbound["ad"]
    assert "ctwa_clid ARAkLkA8rmlFeiCktEJQ" in inbound["ad"]


def test_an_instagram_ad_is_named_so(tenant, whatsapp, send):
    message = text_message("wamid.IG")
    message["referral"] = {
        "source_url": "https://www.instagram.com/p/C1a2b3/",
        "source_type": "post",
        "source_id": "1",
    }
    send(whatsapp, notification([message]))
    (lead,) = leads_of(tenant)
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("instagram", "post", "")


def test_the_wa_id_matches_a_web_form_lead_with_the_phone_written_otherwise(
    tenant, admin, whatsapp, send, deliver
):
    with tenant_context(tenant):
        site = channel_create(actor=admin, kind="web_form", name="Сайт")
    form = {**TILDA, "Phone": "8 (999) 123-45-67"}
    response = deliver(site, body=urlencode(form), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    (lead,) = leads_of(tenant)
    assert (
        send(
            whatsapp, notification([text_message("wamid.MATCH", "Это я, Анна, с сайта")])
        ).status_code
        == 200
    )
    assert leads_of(tenant) == [lead]
    (event,) = events_of(whatsapp)
    assert (event.outcome, event.lead_id) == (Outcome.ATTACHED, lead.pk)
    with tenant_context(tenant):
        texts = [e.data.get("message") for e in TimelineEvent.objects.filter(target_id=lead.pk)]
    assert "Это я, Анна, с сайта" in texts


def test_a_foreign_number_is_read_as_international_in_any_region(tenant, whatsapp, send):
    payload = notification([text_message("wamid.DE", "Hallo", sender="4915123456789")])
    assert send(whatsapp, payload).status_code == 200
    (lead,) = leads_of(tenant)
    assert lead.phone_e164 == "+4915123456789"
    # Their next message joins the lead by the same key.
    send(whatsapp, notification([text_message("wamid.DE2", "Noch da?", sender="4915123456789")]))
    assert len(leads_of(tenant)) == 1
    assert events_of(whatsapp)[1].outcome == Outcome.ATTACHED


def test_a_lead_converted_to_a_contact_is_found_by_the_whatsapp_key(tenant, admin, whatsapp, send):
    from contacts.services import contact_create

    with tenant_context(tenant):
        contact = contact_create(
            actor=admin, data={"first_name": "Анна", "whatsapp": "+7 999 123 45 67"}, owner=admin
        )
    send(whatsapp, notification([text_message("wamid.C")]))
    (lead,) = leads_of(tenant)
    assert lead.contact_id == contact.pk
    assert lead.is_repeat


# --- Malformed input, isolation -----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        b'{"object": "whatsapp_business_account", "entry": "x"}',
        json.dumps(
            notification([{"from": WA_ID, "type": "text", "text": {"body": "без id"}}])
        ).encode(),
        json.dumps(notification([{"id": "wamid.X", "from": "+7 999", "type": "text"}])).encode(),
        json.dumps(notification(statuses=[{"status": "read"}])).encode(),
        b'{"a":' * 40 + b"1" + b"}" * 40,
    ],
    ids=[
        "not-json",
        "not-object",
        "not-utf8",
        "entry-not-list",
        "no-id",
        "bad-from",
        "status-no-id",
        "deep",
    ],
)
def test_malformed_bodies_are_answered_200_and_never_make_leads(tenant, whatsapp, send, body):
    response = send(whatsapp, body=body)
    assert response.status_code == 200
    for event in events_of(whatsapp):
        assert event.status in (Status.REJECTED, Status.IGNORED)
    assert leads_of(tenant) == []


def test_a_malformed_message_in_a_batch_does_not_lose_the_others(tenant, whatsapp, send):
    payload = notification([{"from": WA_ID, "type": "text"}, text_message("wamid.OK")])
    assert send(whatsapp, payload).status_code == 200
    rejected, done = events_of(whatsapp)
    assert rejected.status == Status.REJECTED
    assert done.status == Status.DONE
    assert len(leads_of(tenant)) == 1


def test_a_body_over_the_size_limit_is_refused_without_a_500(tenant, whatsapp, send, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    payload = notification([text_message("wamid.BIG", "ы" * 20_000)])
    response = send(whatsapp, payload)
    assert response.status_code == 413
    assert events_of(whatsapp) == []


def test_only_the_endpoint_path_receives(whatsapp):
    url = reverse("inbound", kwargs={"token": whatsapp.token}) + "other"
    assert Client().get(url).status_code == 404
    assert Client().post(url, data=b"{}", content_type="application/json").status_code == 404


def test_channels_of_two_tenants_stay_apart(
    tenant, other_tenant, other_admin, whatsapp, send, client_for
):
    with tenant_context(other_tenant):
        theirs = channel_create(
            actor=other_admin, kind="whatsapp", name="WA", config={"app_secret": seal(OTHER_SECRET)}
        )
    payload = notification([text_message("wamid.SAME")])
    # One tenant's app secret does not sign for the other's endpoint.
    assert send(whatsapp, payload, secret=OTHER_SECRET).status_code == 403
    assert send(theirs, payload, secret=OTHER_SECRET).status_code == 200
    assert send(whatsapp, payload).status_code == 200  # the same message id, another channel
    assert len(leads_of(tenant)) == 1
    assert len(leads_of(other_tenant)) == 1
    assert len(events_of(whatsapp)) == 1
    assert len(events_of(theirs)) == 1
    client = client_for(other_admin)
    assert client.get(f"{_base(other_tenant)}{whatsapp.pk}/").status_code == 404


def test_in_simple_mode_messages_open_a_deal_and_a_contact_known_by_phone(
    tenant, admin, whatsapp, send
):
    from crm.models import Tenant
    from crm.services import tenant_update
    from deals.models import Deal

    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    send(whatsapp, notification([text_message("wamid.S1", "Хочу заказать")]))
    send(whatsapp, notification([text_message("wamid.S2", "И ещё вопрос")]))
    with tenant_context(tenant):
        (deal,) = Deal.objects.select_related("contact")
        assert deal.contact.whatsapp == "+79991234567"
        assert deal.contact.phones == ["+79991234567"]
    first, second = events_of(whatsapp)
    assert (first.outcome, second.outcome) == (Outcome.DEAL, Outcome.ATTACHED)
    assert second.deal_id == deal.pk
