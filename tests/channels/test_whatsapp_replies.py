"""Replies to WhatsApp clients from the cards, through a fake Cloud API in its own process:
the exact request Meta receives (our key as biz_opaque_callback_data), statuses that move
the reply forward and never back, a failed status's reason, a send whose worker died settled
by the echoed key and never sent twice, retries (503, 429, throttling codes), an expired
token, the 24-hour window and approved templates, documents, the sealed access token, rights
and other tenants."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from channels import conversations
from channels.adapters import adapter_for
from channels.adapters.whatsapp import signature_of
from channels.models import Channel, InboundEvent, Message, ReplyTemplate
from channels.services import channel_create
from crm.models import Membership, Tenant
from crm.secrets import is_sealed, unseal
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels.fakeapi import FakeApi
from tests.channels.fakeapi_whatsapp import (
    EXPIRED_TOKEN,
    NOT_ON_WHATSAPP,
    OUTSIDE_WINDOW,
    PHONE_NUMBER_ID,
    TOKEN,
)
from tests.channels.providers import SITE_URL
from tests.channels.test_whatsapp import APP_SECRET, WA_ID, notification, status, text_message

# The workers write in the workspace's language: these tests read English.
pytestmark = pytest.mark.usefixtures("english_workspace")

Status = Message.Status
EventStatus = InboundEvent.Status
MESSAGES_PATH = f"/v21.0/{PHONE_NUMBER_ID}/messages"


@pytest.fixture
def fake_whatsapp(fake_whatsapp: FakeApi, settings) -> FakeApi:
    """The shared fake (tests/channels/providers.py), with SITE_URL set too."""
    settings.SITE_URL = SITE_URL
    return fake_whatsapp


def _channel(tenant: Tenant, admin: Membership, **config: str) -> Channel:
    with tenant_context(tenant):
        return channel_create(
            actor=admin,
            kind="whatsapp",
            name="WhatsApp продаж",
            config={
                "app_secret": APP_SECRET,
                "phone_number_id": PHONE_NUMBER_ID,
                "access_token": TOKEN,
                **config,
            },
        )


@pytest.fixture
def whatsapp(tenant: Tenant, admin: Membership, fake_whatsapp: FakeApi) -> Channel:
    return _channel(tenant, admin)


@pytest.fixture
def notify(deliver):
    """POST a notification to a channel, signed with the app secret as Meta signs it."""

    def post(channel: Channel, payload: dict[str, Any]):
        body = json.dumps(payload, ensure_ascii=False).encode()
        signature = signature_of(APP_SECRET, body)
        response = deliver(channel, body=body, HTTP_X_HUB_SIGNATURE_256=signature)
        assert response.status_code == 200, response.content
        return response

    return post


@pytest.fixture
def write(notify, whatsapp):
    """The client (wa_id `sender`) writes to the channel."""

    def post(wamid: str, text: str = "Здравствуйте! Есть доставка в Казань?", sender=WA_ID):
        return notify(whatsapp, notification([text_message(wamid, text, sender=sender)]))

    return post


def _lead(tenant: Tenant) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get()


def _messages(tenant: Tenant) -> list[Message]:
    with tenant_context(tenant):
        return list(Message.objects.select_related("template", "attachment").order_by("pk"))


def _reply_of(tenant: Tenant) -> Message:
    [reply] = [m for m in _messages(tenant) if m.direction == "out"]
    return reply


def _panel_url(tenant: Tenant, pk: int, tail: str = "") -> str:
    return f"/{tenant.slug}/conversations/lead/{pk}/{tail}"


def _give(tenant: Tenant, lead: Lead, member: Membership) -> None:
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(owner=member)


def _answer(client, tenant, lead, text="Ответ", **extra):
    panel = client.get(_panel_url(tenant, lead.pk), HTTP_HX_REQUEST="true")
    route = panel.context["routes"][0]
    return client.post(
        _panel_url(tenant, lead.pk, "reply/"),
        {"route": route.key, "text": text, **extra},
        HTTP_HX_REQUEST="true",
    )


def _sent(fake_whatsapp: FakeApi, path: str = MESSAGES_PATH) -> list[dict[str, Any]]:
    return [call for call in fake_whatsapp.calls(path) if call["status"] == 200]


@pytest.fixture
def asked(tenant, write, manager) -> Lead:
    """The client wrote; the lead is the manager's."""
    write("wamid.IN1")
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    return lead


# --- Sending ------------------------------------------------------------------------------


def test_a_reply_from_the_card_reaches_meta_as_the_cloud_api_expects(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    client = client_for(manager)
    panel = client.get(_panel_url(tenant, asked.pk), HTTP_HX_REQUEST="true")
    [route] = panel.context["routes"]
    assert route.key == f"{whatsapp.pk}:{WA_ID}"
    assert not route.needs_template
    assert 'data-template-only="0"' in panel.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _panel_url(tenant, asked.pk, "reply/"),
            {"route": route.key, "text": "Добрый день, {client_name}! Да, доставляем."},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200, response.content
    reply = _reply_of(tenant)
    assert reply.status == Status.SENT  # delivered when Meta says so
    assert reply.address == WA_ID
    assert reply.external_id.startswith("wa:wamid.")
    [call] = fake_whatsapp.calls()
    assert call["path"] == MESSAGES_PATH
    assert call["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert call["headers"]["content-type"] == "application/json"
    assert json.loads(call["body"]) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"preview_url": False, "body": "Добрый день, Анна Смирнова! Да, доставляем."},
        "biz_opaque_callback_data": str(reply.key),
    }
    lead = _lead(tenant)
    assert lead.waiting_since is None
    assert lead.first_response_at is not None
    # The task delivered again sends nothing more.
    assert conversations.message_deliver(tenant_id=tenant.pk, message_id=reply.pk) is None
    assert len(fake_whatsapp.calls()) == 1


def _status(reply: Message, state: str, *, at: str = "1767225700", **extra: Any) -> dict:
    found = status(reply.external_id.removeprefix("wa:"), state, **extra)
    found["timestamp"] = at
    found["biz_opaque_callback_data"] = str(reply.key)
    return notification(statuses=[found])


def test_statuses_move_the_reply_to_delivered_and_read_and_never_back(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    notify,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    notify(whatsapp, _status(reply, "sent", at="1767225700"))
    assert _reply_of(tenant).status == Status.SENT
    notify(whatsapp, _status(reply, "delivered", at="1767225710"))
    delivered = _reply_of(tenant)
    assert delivered.status == Status.DELIVERED
    assert delivered.delivered_at.timestamp() == 1767225710
    notify(whatsapp, _status(reply, "read", at="1767225720"))
    read = _reply_of(tenant)
    assert read.status == Status.READ
    assert read.read_at.timestamp() == 1767225720
    panel = client_for(manager).get(_panel_url(tenant, asked.pk), HTTP_HX_REQUEST="true")
    assert 'data-direction="out" data-status="read"' in panel.content.decode()
    with tenant_context(tenant):
        events = list(
            InboundEvent.objects.filter(key__startswith="status:")
            .order_by("pk")
            .values_list("key", "status")
        )
    wamid = reply.external_id.removeprefix("wa:")
    assert events == [
        (f"status:{wamid}:sent", EventStatus.DONE),
        (f"status:{wamid}:delivered", EventStatus.DONE),
        (f"status:{wamid}:read", EventStatus.DONE),
    ]


def test_statuses_out_of_order_end_read(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    notify,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    notify(whatsapp, _status(reply, "read", at="1767225720"))
    notify(whatsapp, _status(reply, "delivered", at="1767225710"))
    notify(whatsapp, _status(reply, "sent", at="1767225700"))
    notify(whatsapp, _status(reply, "failed", errors=[{"code": 131000, "title": "late"}]))
    final = _reply_of(tenant)
    assert final.status == Status.READ
    assert final.error == ""
    assert final.delivered_at is not None


def test_a_failed_status_shows_metas_reason(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    notify,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    error = {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {
            "details": "Message failed to send because more than 24 hours have passed since "
            "the customer last replied to this number."
        },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }
    notify(whatsapp, _status(reply, "failed", errors=[error]))
    failed = _reply_of(tenant)
    assert failed.status == Status.FAILED
    assert "Re-engagement message (131047)" in failed.error
    assert "more than 24 hours have passed" in failed.error
    panel = client_for(manager).get(_panel_url(tenant, asked.pk), HTTP_HX_REQUEST="true")
    body = panel.content.decode()
    assert 'data-testid="message-error"' in body
    assert "Re-engagement message" in body
    assert 'data-testid="send-again"' in body


def test_a_status_of_a_message_not_sent_from_the_crm_is_ignored_with_a_reason(
    tenant, whatsapp, notify
):
    payload = notification(statuses=[status("wamid.FROM-THE-PHONE", "delivered")])
    notify(whatsapp, payload)
    with tenant_context(tenant):
        event = InboundEvent.objects.get()
    assert event.status == EventStatus.IGNORED
    assert event.detail
    assert event.message["kind"] == "status"
    assert event.external_id == "wa:wamid.FROM-THE-PHONE"


def test_a_worker_that_died_after_meta_took_the_message_is_settled_by_the_echoed_key(
    tenant, whatsapp, asked, manager, fake_whatsapp, notify
):
    with tenant_context(tenant):
        route = conversations.reply_routes(asked, manager)[0]
        reply = conversations.reply_queue(
            actor=manager, record=Lead.objects.get(), route_key=route.key, text="Ответ"
        )
        # The worker claimed it, Meta took it, and the worker died before recording it.
        Message.objects.filter(pk=reply.pk).update(
            status=Status.SENDING, sending_since=timezone.now(), attempts=1
        )
        reply.refresh_from_db()
    sent = adapter_for("whatsapp").send(whatsapp, reply, None)
    assert _reply_of(tenant).status == Status.SENDING
    wamid = sent.external_id.removeprefix("wa:")
    failed_over = status(wamid, "sent", biz_opaque_callback_data=str(reply.key))
    notify(whatsapp, notification(statuses=[failed_over]))
    settled = _reply_of(tenant)
    assert settled.status == Status.SENT
    assert settled.external_id == sent.external_id
    assert settled.sending_since is None
    # The sweeper and a late copy of the task: nothing is sent again.
    with tenant_context(tenant):
        assert conversations.messages_sweep() == 0
    assert conversations.message_deliver(tenant_id=tenant.pk, message_id=reply.pk) is None
    assert len(fake_whatsapp.calls()) == 1
    assert _reply_of(tenant).status == Status.SENT


def test_an_answer_lost_after_meta_took_it_is_uncertain_until_the_status_names_our_key(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    notify,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.CHANNELS_SEND_TIMEOUT = 0.5
    fake_whatsapp.faults({"match": "/messages", "hang": 2, "times": 1})
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    assert reply.status == Status.UNCERTAIN
    assert reply.external_id == ""
    echoed = status("wamid.HBgLLOSTANSWER", "delivered", biz_opaque_callback_data=str(reply.key))
    notify(whatsapp, notification(statuses=[echoed]))
    settled = _reply_of(tenant)
    assert settled.status == Status.DELIVERED
    assert settled.error == ""
    assert settled.external_id == "wa:wamid.HBgLLOSTANSWER"
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 0
    assert len(fake_whatsapp.calls("/messages")) == 1


# --- Meta's refusals and delays ----------------------------------------------------------


def test_a_503_is_tried_again_and_sent_once(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    fake_whatsapp.faults({"match": "/messages", "status": 503, "times": 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert _answer(client_for(manager), tenant, asked).status_code == 200
    reply = _reply_of(tenant)
    assert reply.status == Status.QUEUED
    assert "503" in reply.error
    assert reply.next_attempt_at > timezone.now()
    with tenant_context(tenant):
        Message.objects.filter(pk=reply.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 1
    reply = _reply_of(tenant)
    assert (reply.status, reply.attempts, reply.error) == (Status.SENT, 2, "")
    assert len(_sent(fake_whatsapp)) == 1


def test_a_429_waits_as_long_as_meta_says(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    throttled = {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException"}}
    throttled["error"]["code"] = 130429
    fake_whatsapp.faults(
        {"match": "/messages", "status": 429, "retry_after": 42, "times": 1, "body": throttled}
    )
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    assert reply.status == Status.QUEUED
    assert 41 <= (reply.next_attempt_at - before).total_seconds() <= 44


@pytest.mark.parametrize("code", [4, 80007, 130429, 131048, 131056])
def test_metas_throttling_codes_are_tried_again(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    django_capture_on_commit_callbacks,
    code,
):
    body = {"error": {"message": f"(#{code}) limit", "type": "OAuthException", "code": code}}
    fake_whatsapp.faults({"match": "/messages", "status": 400, "times": 1, "body": body})
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    assert reply.status == Status.QUEUED
    assert f"(#{code}) limit" in reply.error


def test_an_expired_token_fails_with_the_reason(
    tenant, admin, fake_whatsapp, notify, manager, client_for, django_capture_on_commit_callbacks
):
    channel = _channel(tenant, admin, access_token=EXPIRED_TOKEN)
    notify(channel, notification([text_message("wamid.IN1")]))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, lead)
    reply = _reply_of(tenant)
    assert reply.status == Status.FAILED
    assert "access token" in reply.error
    assert "Session has expired" in reply.error
    assert reply.attempts == 1  # never tried again by itself
    panel = client_for(manager).get(_panel_url(tenant, lead.pk), HTTP_HX_REQUEST="true")
    assert "Session has expired" in panel.content.decode()


@pytest.mark.parametrize(
    ("sender", "reason"),
    [(OUTSIDE_WINDOW, "approved template"), (NOT_ON_WHATSAPP, "cannot deliver")],
    ids=["re-engagement-131047", "undeliverable-131026"],
)
def test_metas_refusals_for_the_recipient_fail_with_a_clear_reason(
    tenant,
    write,
    manager,
    client_for,
    fake_whatsapp,
    django_capture_on_commit_callbacks,
    sender,
    reason,
):
    write("wamid.IN1", sender=sender)
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, lead)
    reply = _reply_of(tenant)
    assert reply.status == Status.FAILED
    assert reason in reply.error
    assert "Meta: (#1310" in reply.error


# --- The 24-hour window and templates -------------------------------------------------------


def _long_ago(tenant: Tenant) -> None:
    """The client's message came 25 hours ago."""
    with tenant_context(tenant):
        Message.objects.filter(direction="in").update(
            created_at=timezone.now() - timedelta(hours=25)
        )


def test_after_24_hours_free_text_is_refused_and_nothing_is_written(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp
):
    _long_ago(tenant)
    client = client_for(manager)
    panel = client.get(_panel_url(tenant, asked.pk), HTTP_HX_REQUEST="true")
    [route] = panel.context["routes"]
    assert route.needs_template
    body = panel.content.decode()
    assert 'data-template-only="1"' in body
    assert "approved template only" in body
    response = client.post(
        _panel_url(tenant, asked.pk, "reply/"),
        {"route": route.key, "text": "Вы ещё здесь?"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert 'data-testid="reply-error"' in response.content.decode()
    assert "only an approved template" in response.content.decode()
    assert [m.direction for m in _messages(tenant)] == ["in"]
    # A saved reply without a Meta template is no way out either.
    with tenant_context(tenant):
        plain = ReplyTemplate.objects.create(name="Просто текст", text="Вы ещё здесь?")
    response = client.post(
        _panel_url(tenant, asked.pk, "reply/"),
        {"route": route.key, "text": "Вы ещё здесь?", "template": plain.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert [m.direction for m in _messages(tenant)] == ["in"]
    assert fake_whatsapp.calls() == []


def test_after_24_hours_an_approved_template_goes_with_its_parameters(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    _long_ago(tenant)
    manager.user.full_name = "Иван Петров"
    manager.user.save()
    with tenant_context(tenant):
        template = ReplyTemplate.objects.create(
            name="Напоминание",
            text="Здравствуйте, {имя_клиента}! Это {manager_name}, вы спрашивали о доставке.",
            whatsapp_name="follow_up",
            whatsapp_language="ru",
        )
    with django_capture_on_commit_callbacks(execute=True):
        response = _answer(
            client_for(manager), tenant, asked, text="ignored free text", template=template.pk
        )
    assert response.status_code == 200, response.content
    reply = _reply_of(tenant)
    assert reply.status == Status.SENT
    assert reply.text == "Здравствуйте, Анна Смирнова! Это Иван Петров, вы спрашивали о доставке."
    assert reply.template_params == ["Анна Смирнова", "Иван Петров"]
    [call] = fake_whatsapp.calls()
    assert json.loads(call["body"]) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "template",
        "template": {
            "name": "follow_up",
            "language": {"code": "ru"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Анна Смирнова"},
                        {"type": "text", "text": "Иван Петров"},
                    ],
                }
            ],
        },
        "biz_opaque_callback_data": str(reply.key),
    }


def test_a_template_without_placeholders_goes_without_components(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    _long_ago(tenant)
    with tenant_context(tenant):
        template = ReplyTemplate.objects.create(
            name="Hello", text="Hello World", whatsapp_name="hello_world", whatsapp_language="en_US"
        )
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked, text="", template=template.pk)
    assert _reply_of(tenant).status == Status.SENT
    [call] = fake_whatsapp.calls()
    assert json.loads(call["body"])["template"] == {
        "name": "hello_world",
        "language": {"code": "en_US"},
    }


def test_a_template_meta_does_not_know_fails_with_the_reason(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    _long_ago(tenant)
    with tenant_context(tenant):
        template = ReplyTemplate.objects.create(
            name="Новый",
            text="Привет, {client_name}",
            whatsapp_name="not_approved_yet",
            whatsapp_language="ru",
        )
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked, template=template.pk)
    reply = _reply_of(tenant)
    assert reply.status == Status.FAILED
    assert "template" in reply.error
    assert "132001" in reply.error


def test_within_24_hours_an_edited_saved_reply_goes_as_text(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        template = ReplyTemplate.objects.create(
            name="Напоминание",
            text="Здравствуйте, {client_name}!",
            whatsapp_name="follow_up",
            whatsapp_language="ru",
        )
    with django_capture_on_commit_callbacks(execute=True):
        _answer(
            client_for(manager),
            tenant,
            asked,
            text="Здравствуйте, Анна! Доставка завтра.",
            template=template.pk,
        )
    assert _reply_of(tenant).status == Status.SENT
    [call] = fake_whatsapp.calls()
    sent = json.loads(call["body"])
    assert sent["type"] == "text"
    assert sent["text"]["body"] == "Здравствуйте, Анна! Доставка завтра."


# --- Files ----------------------------------------------------------------------------------


def test_a_file_is_uploaded_then_sent_as_a_document(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    price = SimpleUploadedFile("прайс.pdf", b"%PDF-1.4 price", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = _answer(client_for(manager), tenant, asked, text="Прайс", file=price)
    assert response.status_code == 200
    reply = _reply_of(tenant)
    assert reply.status == Status.SENT
    assert reply.attachment.filename == "прайс.pdf"
    upload, send = fake_whatsapp.calls()
    assert upload["path"] == f"/v21.0/{PHONE_NUMBER_ID}/media"
    assert upload["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert upload["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="messaging_product"\r\n\r\nwhatsapp\r\n' in upload["body"]
    assert 'name="type"\r\n\r\napplication/pdf\r\n' in upload["body"]
    assert 'filename="прайс.pdf"\r\nContent-Type: application/pdf' in upload["body"]
    assert "%PDF-1.4 price" in upload["body"]
    body = json.loads(send["body"])
    assert body["type"] == "document"
    assert body["document"]["filename"] == "прайс.pdf"
    assert body["document"]["caption"] == "Прайс"
    assert body["document"]["id"].isdigit()
    assert body["biz_opaque_callback_data"] == str(reply.key)


def test_a_failed_upload_fails_the_message_with_metas_reason(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    refused = {"error": {"message": "(#131053) Media upload error", "code": 131053}}
    fake_whatsapp.faults({"match": "/media", "status": 400, "times": 1, "body": refused})
    price = SimpleUploadedFile("a.exe", b"MZ", content_type="application/x-msdownload")
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked, text="", file=price)
    reply = _reply_of(tenant)
    assert reply.status == Status.FAILED
    assert "Media upload error" in reply.error
    assert fake_whatsapp.calls("/messages") == []


# --- Settings -------------------------------------------------------------------------------


def test_the_access_token_is_stored_sealed(tenant, whatsapp):
    with tenant_context(tenant):
        config = Channel.objects.get(pk=whatsapp.pk).config
    assert is_sealed(config["access_token"])
    assert TOKEN not in json.dumps(config)
    assert unseal(config["access_token"]) == TOKEN
    assert is_sealed(config["app_secret"])  # given in the clear to the service: sealed too


def test_the_settings_form_takes_the_access_token_and_never_shows_it_back(
    tenant, admin, client_for
):
    client = client_for(admin)
    base = f"/{tenant.slug}/settings/channels/"
    response = client.post(
        base + "new/whatsapp/",
        {
            "name": "WA",
            "enabled": "on",
            "config-app_secret": APP_SECRET,
            "config-phone_number_id": PHONE_NUMBER_ID,
            "config-access_token": TOKEN,
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel = Channel.objects.get(name="WA")
    assert unseal(channel.config["access_token"]) == TOKEN
    assert adapter_for("whatsapp").reply_problem(channel) == ""
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="whatsapp-access-token"' in page
    assert TOKEN not in page
    edit = client.get(f"{base}{channel.pk}/edit/").content.decode()
    assert TOKEN not in edit
    assert channel.config["access_token"] not in edit
    # Saved again with the fields left empty: both secrets kept.
    response = client.post(
        f"{base}{channel.pk}/edit/",
        {"name": "WA", "enabled": "on", "config-phone_number_id": PHONE_NUMBER_ID},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel.refresh_from_db()
    assert unseal(channel.config["access_token"]) == TOKEN
    assert unseal(channel.config["app_secret"]) == APP_SECRET
    # A token that is not one is a form error.
    response = client.post(
        f"{base}{channel.pk}/edit/",
        {"name": "WA", "enabled": "on", "config-access_token": "not a token!"},
    )
    assert response.status_code == 400


def test_without_a_token_or_a_number_id_the_channel_says_what_is_missing_and_offers_no_route(
    tenant, admin, fake_whatsapp, notify, manager, client_for
):
    channel = _channel(tenant, admin, access_token="", phone_number_id="")
    problem = adapter_for("whatsapp").reply_problem(channel)
    assert "no phone number ID" in problem
    assert "no access token" in problem
    notify(channel, notification([text_message("wamid.IN1")]))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    panel = client_for(manager).get(_panel_url(tenant, lead.pk), HTTP_HX_REQUEST="true")
    assert panel.context["routes"] == []
    assert 'data-testid="no-routes"' in panel.content.decode()


# --- Rights and tenants ----------------------------------------------------------------------


def test_a_marketer_cannot_reply(tenant, whatsapp, asked, marketer, client_for, fake_whatsapp):
    refused = client_for(marketer).post(
        _panel_url(tenant, asked.pk, "reply/"),
        {"route": f"{whatsapp.pk}:{WA_ID}", "text": "Привет"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 403
    assert [m.direction for m in _messages(tenant)] == ["in"]
    assert fake_whatsapp.calls() == []


def test_another_tenant_gets_404(tenant, whatsapp, asked, other_admin, client_for, fake_whatsapp):
    other = client_for(other_admin)
    slug = other_admin.tenant.slug
    assert other.get(f"/{slug}/conversations/lead/{asked.pk}/").status_code == 404
    response = other.post(
        f"/{slug}/conversations/lead/{asked.pk}/reply/",
        {"route": f"{whatsapp.pk}:{WA_ID}", "text": "x"},
    )
    assert response.status_code == 404
    assert [m.direction for m in _messages(tenant)] == ["in"]
    assert fake_whatsapp.calls() == []


def test_a_get_on_the_reply_address_is_405(tenant, whatsapp, asked, manager, client_for):
    response = client_for(manager).get(_panel_url(tenant, asked.pk, "reply/"))
    assert response.status_code == 405


# --- Odd answers and reports ----------------------------------------------------------------


def test_an_answer_without_the_messages_id_leaves_it_uncertain_until_its_status(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    notify,
    django_capture_on_commit_callbacks,
):
    fake_whatsapp.faults({"match": "/messages", "status": 200, "times": 1, "body": {"ok": True}})
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    assert reply.status == Status.UNCERTAIN
    assert "without the message's id" in reply.error
    echoed = status("wamid.HBgLLATE", "sent", biz_opaque_callback_data=str(reply.key))
    notify(whatsapp, notification(statuses=[echoed]))
    assert _reply_of(tenant).status == Status.SENT
    assert len(fake_whatsapp.calls("/messages")) == 1


@pytest.mark.parametrize(
    "odd",
    [
        {"biz_opaque_callback_data": "not-a-uuid"},
        {"timestamp": "yesterday"},
        {"timestamp": "99999999999999999999"},
        {"status": "deleted"},
        {"errors": "x"},
    ],
    ids=["bad-key", "bad-time", "huge-time", "unknown-state", "errors-not-list"],
)
def test_odd_statuses_never_fail_the_delivery(tenant, whatsapp, notify, odd):
    notify(whatsapp, notification(statuses=[{**status("wamid.ODD", "delivered"), **odd}]))
    with tenant_context(tenant):
        event = InboundEvent.objects.get()
    assert event.status == EventStatus.IGNORED
    assert event.detail


def test_create_channel_takes_the_access_token_sealed(tenant):
    from django.core.management import call_command

    call_command(
        "create_channel",
        *("--tenant", tenant.slug, "--kind", "whatsapp", "--name", "WA"),
        *("--app-secret", APP_SECRET, "--phone-number-id", PHONE_NUMBER_ID),
        *("--access-token", TOKEN),
        stdout=None,
    )
    with tenant_context(tenant):
        channel = Channel.objects.get(name="WA")
    assert is_sealed(channel.config["access_token"])
    assert unseal(channel.config["access_token"]) == TOKEN
    assert adapter_for("whatsapp").reply_problem(channel) == ""


def test_a_saved_reply_with_a_file_inside_the_window_goes_as_a_document(
    tenant, whatsapp, asked, manager, client_for, fake_whatsapp, django_capture_on_commit_callbacks
):
    """A template cannot carry a file: the saved text unchanged with a file attached goes
    as the document with its caption, not as the template (which would lose the file)."""
    with tenant_context(tenant):
        template = ReplyTemplate.objects.create(
            name="Hello", text="Hello World", whatsapp_name="hello_world", whatsapp_language="en_US"
        )
    price = SimpleUploadedFile("price.pdf", b"%PDF-1.4 price", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        _answer(
            client_for(manager), tenant, asked, text="Hello World", template=template.pk, file=price
        )
    assert _reply_of(tenant).status == Status.SENT
    upload, send = fake_whatsapp.calls()
    assert upload["path"].endswith("/media")
    assert json.loads(send["body"])["type"] == "document"


def test_a_lost_answer_to_the_upload_is_tried_again_not_uncertain(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.CHANNELS_SEND_TIMEOUT = 0.5
    fake_whatsapp.faults({"match": "/media", "hang": 2, "times": 1})
    price = SimpleUploadedFile("price.pdf", b"%PDF-1.4 price", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked, text="Price", file=price)
    reply = _reply_of(tenant)
    assert reply.status == Status.QUEUED  # nothing reached the client: simply again
    assert [c["path"].rsplit("/", 1)[-1] for c in fake_whatsapp.calls()] == ["media"]


def test_a_sent_status_naming_our_key_while_a_retry_waits_settles_it_and_nothing_goes_again(
    tenant,
    whatsapp,
    asked,
    manager,
    client_for,
    fake_whatsapp,
    notify,
    django_capture_on_commit_callbacks,
):
    """Meta took the message, but its answer was a 503 (a front end's): the reply waits for
    a retry, then the status webhook names our key — the retry sends nothing."""
    fake_whatsapp.faults({"match": "/messages", "status": 503, "times": 1})
    with django_capture_on_commit_callbacks(execute=True):
        _answer(client_for(manager), tenant, asked)
    reply = _reply_of(tenant)
    assert reply.status == Status.QUEUED
    echo = status("wamid.FROM_META", "sent")
    echo["timestamp"] = "1767225700"
    echo["biz_opaque_callback_data"] = str(reply.key)
    notify(whatsapp, notification(statuses=[echo]))
    settled = _reply_of(tenant)
    assert (settled.status, settled.external_id) == (Status.SENT, "wa:wamid.FROM_META")
    with tenant_context(tenant):
        Message.objects.filter(pk=reply.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        conversations.messages_sweep()
        assert conversations.message_deliver(tenant_id=tenant.pk, message_id=reply.pk) is None
    assert _sent(fake_whatsapp) == []  # only the refused attempt reached /messages
