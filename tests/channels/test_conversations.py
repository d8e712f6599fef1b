"""Conversations on the cards: a Telegram message lands in the lead's thread (unread,
waiting), a manager answers from the card through a fake Bot API in its own process, the
answer is delivered, attributed and never sent twice; the provider's errors, the rights, a
marketer, other tenants, templates with placeholders, the thread's constant queries."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels import conversations, outbound
from channels.models import Channel, Message, ReplyTemplate
from channels.services import channel_create
from crm.errors import DomainError
from crm.models import Attachment, Membership, Notification, Tenant
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.conversion import lead_convert_to_deal
from leads.models import Lead
from tests.channels.fakeapi import FakeApi
from tests.channels.fakeapi_telegram import BLOCKED_CHAT
from tests.factories import add_member

# The workers write in the workspace's language: these tests read English.
pytestmark = pytest.mark.usefixtures("english_workspace")

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
Status = Message.Status
ANNA = {"id": 5550001, "is_bot": False, "first_name": "Анна", "username": "anna_s"}


def update(update_id: int, text: str, *, user: dict | None = None, message_id: int = 10) -> dict:
    user = user or ANNA
    chat = {"id": user["id"], "first_name": user["first_name"], "type": "private"}
    message = {"message_id": message_id, "from": user, "chat": chat, "date": 1767225600}
    return {"update_id": update_id, "message": {**message, "text": text}}


@pytest.fixture
def bot(tenant: Tenant, admin: Membership, fake_telegram: FakeApi) -> Channel:
    with tenant_context(tenant):
        return channel_create(
            actor=admin, kind="telegram", name="Бот продаж", config={"bot_token": TOKEN}
        )


@pytest.fixture
def write(deliver, bot):
    def post(payload: dict):
        response = deliver(bot, payload, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=bot.secret)
        assert response.status_code == 200, response.content
        return response

    return post


def _lead(tenant: Tenant) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get()


def _messages(tenant: Tenant) -> list[Message]:
    with tenant_context(tenant):
        return list(Message.objects.select_related("attachment").order_by("pk"))


def _panel_url(tenant: Tenant, kind: str, pk: int, tail: str = "") -> str:
    return f"/{tenant.slug}/conversations/{kind}/{pk}/{tail}"


def _give(tenant: Tenant, lead: Lead, member: Membership) -> None:
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(owner=member)


def test_a_telegram_message_is_in_the_thread_unread_and_waiting(tenant, bot, write):
    write(update(1, "Здравствуйте! Сколько стоит доставка?"))
    lead = _lead(tenant)
    [message] = _messages(tenant)
    assert message.direction == "in"
    assert message.status == Status.RECEIVED
    assert message.text == "Здравствуйте! Сколько стоит доставка?"
    assert message.address == str(ANNA["id"])
    assert message.lead_id == lead.pk
    assert lead.unread_messages == 1
    assert lead.waiting_since is not None
    write(update(2, "Алло?", message_id=11))
    assert _lead(tenant).unread_messages == 2
    assert _lead(tenant).waiting_since == lead.waiting_since  # the oldest unanswered


def test_the_same_delivery_twice_is_one_message(tenant, bot, write):
    write(update(1, "Привет"))
    write(update(1, "Привет"))
    assert len(_messages(tenant)) == 1
    assert _lead(tenant).unread_messages == 1


def test_an_edit_changes_the_message_in_the_thread(tenant, bot, write):
    write(update(1, "Нужна доставка в Казань"))
    edit = update(2, "Нужна доставка в Казань и Уфу")
    edit["edited_message"] = edit.pop("message")
    edit["edited_message"]["edit_date"] = 1767225700
    write(edit)
    [message] = _messages(tenant)
    assert message.text == "Нужна доставка в Казань и Уфу"


def test_a_manager_replies_from_the_card_and_it_is_delivered(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    write(update(1, "Сколько стоит?"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    client = client_for(manager)
    panel = client.get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert "Сколько стоит?" in panel.content.decode()
    assert _lead(tenant).unread_messages == 0  # the responsible has read it
    assert _lead(tenant).waiting_since is not None  # still waiting for an answer
    [route] = panel.context["routes"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _panel_url(tenant, "lead", lead.pk, "reply/"),
            {"route": route.key, "text": "Добрый день, {client_name}! 1 500 ₽."},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200, response.content
    sent = [m for m in _messages(tenant) if m.direction == "out"]
    assert len(sent) == 1
    reply = sent[0]
    assert reply.status == Status.DELIVERED
    assert reply.author_id == manager.pk
    assert reply.text == "Добрый день, Анна! 1 500 ₽."
    assert reply.external_id.startswith(f"tg:{ANNA['id']}:")
    [call] = fake_telegram.calls("sendMessage")
    assert TOKEN in call["path"]
    assert '"chat_id": "5550001"' in call["body"]
    lead = _lead(tenant)
    assert lead.waiting_since is None
    assert lead.first_response_at is not None  # a reply in the channel is a first response
    # Delivering the task again sends nothing more.
    with tenant_context(tenant):
        assert conversations.message_deliver(tenant_id=tenant.pk, message_id=reply.pk) is None
    assert len(fake_telegram.calls("sendMessage")) == 1


def test_the_bot_token_is_stored_encrypted(tenant, bot):
    with tenant_context(tenant):
        stored = Channel.objects.get(pk=bot.pk).config["bot_token"]
    assert stored.startswith("sealed:")
    assert TOKEN not in stored


def _reply(client, tenant, lead, text="Ответ", **extra):
    panel = client.get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    route = panel.context["routes"][0]
    return client.post(
        _panel_url(tenant, "lead", lead.pk, "reply/"),
        {"route": route.key, "text": text, **extra},
        HTTP_HX_REQUEST="true",
    )


def test_a_provider_down_delays_the_message_and_the_sweeper_sends_it(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    write(update(1, "Есть кто?"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    fake_telegram.faults({"match": "sendMessage", "status": 502, "times": 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert _reply(client_for(manager), tenant, lead).status_code == 200
    reply = _messages(tenant)[-1]
    assert reply.status == Status.QUEUED
    assert "502" in reply.error
    assert reply.attempts == 1
    assert reply.next_attempt_at > timezone.now()
    # Due: the sweeper queues it (without a broker it is sent at once).
    with tenant_context(tenant):
        Message.objects.filter(pk=reply.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 1
    reply = _messages(tenant)[-1]
    assert reply.status == Status.DELIVERED
    assert reply.attempts == 2
    assert reply.error == ""
    assert len([c for c in fake_telegram.calls("sendMessage") if c["status"] == 200]) == 1


def test_a_429_waits_as_long_as_telegram_says(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    write(update(1, "Есть кто?"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    too_many = {"ok": False, "error_code": 429, "parameters": {"retry_after": 42}}
    fake_telegram.faults({"match": "sendMessage", "status": 429, "times": 1, "body": too_many})
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    reply = _messages(tenant)[-1]
    assert reply.status == Status.QUEUED
    wait = (reply.next_attempt_at - before).total_seconds()
    assert 41 <= wait <= 44


def test_a_blocked_bot_fails_with_telegrams_reason(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    user = {**ANNA, "id": int(BLOCKED_CHAT)}
    write(update(1, "Пишу и блокирую", user=user))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    reply = _messages(tenant)[-1]
    assert reply.status == Status.FAILED
    assert "bot was blocked by the user" in reply.error
    panel = client_for(manager).get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    assert "bot was blocked by the user" in panel.content.decode()
    assert 'data-testid="send-again"' in panel.content.decode()


def test_an_answer_lost_after_sending_is_not_sent_again(
    tenant,
    bot,
    write,
    manager,
    client_for,
    fake_telegram,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.CHANNELS_SEND_TIMEOUT = 0.5
    write(update(1, "Жду ответа"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    fake_telegram.faults({"match": "sendMessage", "hang": 2, "times": 1})
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    reply = _messages(tenant)[-1]
    assert reply.status == Status.UNCERTAIN
    assert "may have received" in reply.error or "мог" in reply.error
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 0
    assert len(fake_telegram.calls("sendMessage")) == 1


def test_a_worker_killed_while_sending_leaves_it_uncertain_never_sent_twice(
    tenant, bot, write, manager, client_for, fake_telegram, settings
):
    write(update(1, "Жду ответа"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with tenant_context(tenant):
        route = conversations.reply_routes(lead, manager)[0]
        reply = conversations.reply_queue(
            actor=manager, record=Lead.objects.get(), route_key=route.key, text="Ответ"
        )
        # The worker claimed it and died before recording what Telegram said.
        Message.objects.filter(pk=reply.pk).update(
            status=Status.SENDING, sending_since=timezone.now() - timedelta(minutes=5), attempts=1
        )
        conversations.messages_sweep()
        assert Message.objects.get(pk=reply.pk).status == Status.UNCERTAIN
    assert fake_telegram.calls("sendMessage") == []


def test_an_empty_reply_is_refused_in_place_and_nothing_is_written(
    tenant, bot, write, manager, client_for
):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    response = _reply(client_for(manager), tenant, lead, text="   ")
    assert response.status_code == 400
    assert 'data-testid="reply-error"' in response.content.decode()
    assert [m.direction for m in _messages(tenant)] == ["in"]


def test_a_too_long_message_and_a_bad_route_are_refused(tenant, bot, write, manager, client_for):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    client = client_for(manager)
    assert _reply(client, tenant, lead, text="я" * 4097).status_code == 400
    response = client.post(
        _panel_url(tenant, "lead", lead.pk, "reply/"),
        {"route": "999:zzz", "text": "Привет"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    response = client.post(
        _panel_url(tenant, "lead", lead.pk, "reply/"),
        {"route": "x", "text": "Привет", "template": "abc"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert [m.direction for m in _messages(tenant)] == ["in"]


def test_a_file_is_sent_as_a_document(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    write(update(1, "Пришлите прайс"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    price = SimpleUploadedFile("прайс.pdf", b"%PDF-1.4 price", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = _reply(client_for(manager), tenant, lead, text="Прайс", file=price)
    assert response.status_code == 200
    reply = _messages(tenant)[-1]
    assert reply.status == Status.DELIVERED
    assert reply.attachment.filename == "прайс.pdf"
    [call] = fake_telegram.calls("sendDocument")
    assert "%PDF-1.4 price" in call["body"]
    assert 'name="caption"\r\n\r\nПрайс' in call["body"]


def test_a_marketer_reads_the_conversation_but_cannot_reply(
    tenant, bot, write, marketer, client_for
):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    client = client_for(marketer)
    panel = client.get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    body = panel.content.decode()
    assert "Вопрос" in body
    assert 'data-testid="composer"' not in body
    assert _lead(tenant).unread_messages == 1  # not theirs to read
    refused = client.post(
        _panel_url(tenant, "lead", lead.pk, "reply/"),
        {"route": f"{bot.pk}:{ANNA['id']}", "text": "Привет"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 403
    assert 'data-testid="refusal"' in refused.content.decode()
    assert [m.direction for m in _messages(tenant)] == ["in"]


def test_another_managers_lead_is_not_theirs_to_answer(
    tenant, bot, write, manager, client_for, admin
):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, admin)
    response = client_for(manager).get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    assert response.status_code == 404


def test_another_tenant_sees_nothing(tenant, bot, write, other_admin, client_for):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    other = client_for(other_admin)
    slug = other_admin.tenant.slug
    assert other.get(f"/{slug}/conversations/lead/{lead.pk}/").status_code == 404
    response = other.post(
        f"/{slug}/conversations/lead/{lead.pk}/reply/", {"route": "1:1", "text": "x"}
    )
    assert response.status_code == 404


def test_a_template_fills_the_composer_with_the_clients_and_managers_names(
    tenant, bot, write, manager, client_for
):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(amount=150000, currency="RUB")
        template = ReplyTemplate.objects.create(
            name="Приветствие",
            text="Здравствуйте, {имя_клиента}! Я {manager_name}, сумма {deal_amount}. {other}",
        )
    manager.user.full_name = "Иван Петров"
    manager.user.save()
    response = client_for(manager).get(
        _panel_url(tenant, "lead", lead.pk, "template/"),
        {"template": template.pk},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "Здравствуйте, Анна! Я Иван Петров, сумма 150\u00a0000 RUB. {other}" in body


def test_unknown_kinds_and_bad_versions_never_give_500(tenant, bot, write, manager, client_for):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    client = client_for(manager)
    assert client.get(f"/{tenant.slug}/conversations/company/{lead.pk}/").status_code == 404
    url = _panel_url(tenant, "lead", lead.pk)
    assert client.get(url, {"part": "thread", "v": "x" * 500}).status_code == 200
    version = client.get(url).context["version"]
    assert client.get(url, {"part": "thread", "v": version}).status_code == 204
    assert (
        client.get(_panel_url(tenant, "lead", lead.pk, "template/"), {"template": "ab"}).status_code
        == 200
    )


def test_the_thread_reads_in_constant_queries(tenant, bot, write, manager, client_for):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    client = client_for(manager)
    url = _panel_url(tenant, "lead", lead.pk)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for number in range(2, 30):
        write(update(number, f"Сообщение {number}", message_id=number + 10))
    client.get(url)  # reads them
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_no_reply_needed_stops_the_waiting(tenant, bot, write, manager, client_for):
    write(update(1, "Спасибо, всё понятно"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    response = client_for(manager).post(
        _panel_url(tenant, "lead", lead.pk, "answered/"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    lead = _lead(tenant)
    assert lead.waiting_since is None
    assert lead.unread_messages == 0


def test_admins_keep_the_reply_templates(tenant, admin, client_for):
    client = client_for(admin)
    base = f"/{tenant.slug}/settings/channels/templates/"
    response = client.post(
        base,
        {
            "name": "Повторный контакт",
            "text": "{client_name}, это {manager_name}. Сумма: {сумма_сделки}",
            "language": "ru",
            "whatsapp_name": "follow_up",
            "whatsapp_language": "ru",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        template = ReplyTemplate.objects.get()
    assert template.whatsapp_name == "follow_up"
    assert "Повторный контакт" in client.get(base).content.decode()
    bad = client.post(base, {"name": "Другой", "text": "Привет, {имя}!", "language": ""})
    assert bad.status_code == 400
    assert "{имя}" in bad.content.decode()
    clash = client.post(base, {"name": "повторный КОНТАКТ", "text": "x", "language": ""})
    assert clash.status_code == 400
    half = client.post(
        base, {"name": "WA", "text": "x", "language": "", "whatsapp_name": "Bad Name!"}
    )
    assert half.status_code == 400
    edit = client.post(
        f"{base}{template.pk}/",
        {"name": "Повторный контакт", "text": "Новый текст", "language": ""},
    )
    assert edit.status_code == 302
    with tenant_context(tenant):
        assert ReplyTemplate.objects.get().text == "Новый текст"
    assert client.post(f"{base}{template.pk}/delete/").status_code == 302
    with tenant_context(tenant):
        assert not ReplyTemplate.objects.exists()


def test_managers_and_other_tenants_do_not_edit_templates(tenant, manager, other_admin, client_for):
    with tenant_context(tenant):
        template = ReplyTemplate.objects.create(name="Привет", text="Привет!")
    base = f"/{tenant.slug}/settings/channels/templates/"
    assert client_for(manager).get(base).status_code == 403
    assert client_for(manager).post(base, {"name": "x", "text": "y"}).status_code == 403
    other = f"/{other_admin.tenant.slug}/settings/channels/templates/{template.pk}/"
    assert client_for(other_admin).get(other).status_code == 404


def test_the_navigation_counts_conversations_with_unread_messages(
    tenant, bot, write, manager, client_for
):
    write(update(1, "Вопрос"))
    write(update(2, "Другой человек", user={**ANNA, "id": 5550002}, message_id=20))
    with tenant_context(tenant):
        Lead.objects.update(owner=manager)
    client = client_for(manager)
    badge = client.get(f"/{tenant.slug}/conversations/unread/", {"section": "inbox"})
    assert 'data-testid="nav-unread-inbox">2<' in badge.content.decode()
    lead = _first_lead(tenant)
    client.get(_panel_url(tenant, "lead", lead.pk))
    badge = client.get(f"/{tenant.slug}/conversations/unread/", {"section": "inbox"})
    assert 'data-testid="nav-unread-inbox">1<' in badge.content.decode()
    nothing = client.get(f"/{tenant.slug}/conversations/unread/", {"section": "settings"})
    assert nothing.content == b""
    inbox = client.get(f"/{tenant.slug}/leads/inbox/")
    assert 'data-testid="conversation-badge"' in inbox.content.decode()


def _first_lead(tenant: Tenant) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.order_by("pk").first()


def test_a_client_waiting_past_the_response_time_is_told_to_the_responsible_once(
    tenant, bot, write, manager, client_for, django_capture_on_commit_callbacks
):
    write(update(1, "Алло, ответьте"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(
            waiting_since=timezone.now() - timedelta(minutes=tenant.response_sla_minutes - 1)
        )
        conversations.messages_sweep()
        assert not Notification.objects.filter(kind="conversation.waiting").exists()
        Lead.objects.filter(pk=lead.pk).update(
            waiting_since=timezone.now() - timedelta(minutes=tenant.response_sla_minutes + 1)
        )
        conversations.messages_sweep()
        conversations.messages_sweep()
        [alert] = Notification.objects.filter(kind="conversation.waiting")
    assert alert.recipient_id == manager.pk
    assert alert.url.endswith(f"/leads/{lead.pk}/")
    # The answer measures the wait and ends it; a new wait may be told again.
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    reply = _messages(tenant)[-1]
    assert reply.waited_seconds >= (tenant.response_sla_minutes + 1) * 60
    assert _lead(tenant).waiting_alerted_at is None


def test_the_thread_follows_the_person_to_their_deal_and_contact(
    tenant, bot, write, admin, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    write(update(1, "Хочу заказать"))
    lead = _lead(tenant)
    with tenant_context(tenant):
        conversion = lead_convert_to_deal(actor=admin, lead=Lead.objects.get())
    deal, contact = conversion.deal, conversion.contact
    client = client_for(admin)
    for kind, pk in (("deal", deal.pk), ("contact", contact.pk), ("lead", lead.pk)):
        panel = client.get(_panel_url(tenant, kind, pk), HTTP_HX_REQUEST="true")
        assert panel.status_code == 200, kind
        assert "Хочу заказать" in panel.content.decode(), kind
        assert panel.context["routes"], kind  # answered in Telegram from any of the cards
    # The client writes again: the deal's card shows it in the same thread.
    write(update(2, "Когда доставка?", message_id=11))
    with tenant_context(tenant):
        [later] = Message.objects.filter(text="Когда доставка?")
    # A repeat lead of the known person (classic mode): on the deal's card through the contact.
    assert later.contact_id == contact.pk
    assert later.lead_id not in (None, lead.pk)
    panel = client.get(_panel_url(tenant, "deal", deal.pk), HTTP_HX_REQUEST="true")
    route = panel.context["routes"][0]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _panel_url(tenant, "deal", deal.pk, "reply/"),
            {"route": route.key, "text": "Завтра, {client_name}. Сумма {deal_amount}"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    reply = _messages(tenant)[-1]
    assert (reply.deal_id, reply.contact_id, reply.status) == (deal.pk, contact.pk, "delivered")
    contact_panel = client.get(_panel_url(tenant, "contact", contact.pk)).content.decode()
    assert "Когда доставка?" in contact_panel
    assert "Завтра, Анна" in contact_panel


def test_a_contact_card_shows_only_the_conversations_the_viewer_may_see(
    tenant, bot, write, admin, manager, client_for
):
    """Managers see every contact but only their own leads: another manager's lead's
    messages stay off the shared contact's card."""
    other = add_member(tenant, "manager")
    write(update(1, "Личный вопрос менеджеру"))
    lead = _lead(tenant)
    _give(tenant, lead, other)
    with tenant_context(tenant):
        conversion = lead_convert_to_deal(actor=admin, lead=Lead.objects.get())
        Deal.objects.filter(pk=conversion.deal.pk).update(owner=other)
    contact = conversion.contact
    theirs = client_for(other).get(_panel_url(tenant, "contact", contact.pk)).content.decode()
    assert "Личный вопрос менеджеру" in theirs
    mine = client_for(manager).get(_panel_url(tenant, "contact", contact.pk))
    assert mine.status_code == 200
    assert "Личный вопрос менеджеру" not in mine.content.decode()


def test_send_again_twice_at_once_queues_it_once(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    user = {**ANNA, "id": int(BLOCKED_CHAT)}
    write(update(1, "Блок", user=user))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    reply = _messages(tenant)[-1]
    assert reply.status == Status.FAILED
    with tenant_context(tenant):
        record = Lead.objects.get()
        conversations.reply_again(actor=manager, record=record, message_id=reply.pk)
        with pytest.raises(DomainError):  # the second click finds it queued already
            conversations.reply_again(actor=manager, record=record, message_id=reply.pk)


def test_answering_from_the_deal_answers_the_person_on_the_lead_too(
    tenant, bot, write, admin, client_for, django_capture_on_commit_callbacks
):
    write(update(1, "Вопрос до конверсии"))
    lead = _lead(tenant)
    with tenant_context(tenant):
        deal = lead_convert_to_deal(actor=admin, lead=Lead.objects.get()).deal
    assert _lead(tenant).waiting_since is not None
    client = client_for(admin)
    route = client.get(_panel_url(tenant, "deal", deal.pk)).context["routes"][0]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            _panel_url(tenant, "deal", deal.pk, "reply/"),
            {"route": route.key, "text": "Ответ из сделки"},
            HTTP_HX_REQUEST="true",
        )
    lead = _lead(tenant)
    assert lead.waiting_since is None
    assert lead.unread_messages == 0


def test_a_card_that_lost_its_lead_stops_polling(tenant, bot, write, manager, admin, client_for):
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    client = client_for(manager)
    _give(tenant, lead, admin)  # handed to someone else while the card is open
    poll = client.get(
        _panel_url(tenant, "lead", lead.pk), {"part": "thread", "v": "0"}, HTTP_HX_REQUEST="true"
    )
    assert poll.status_code == 286


def test_a_caption_longer_than_telegram_takes_is_refused_with_a_file(
    tenant, bot, write, manager, client_for
):
    write(update(1, "Пришлите договор"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    contract = SimpleUploadedFile("договор.pdf", b"%PDF-1.4", content_type="application/pdf")
    response = _reply(client_for(manager), tenant, lead, text="я" * 1025, file=contract)
    assert response.status_code == 400
    assert "1024" in response.content.decode()
    assert [m.direction for m in _messages(tenant)] == ["in"]


def _document(update_id: int, file_id: str, *, size: int = 40, name: str = "реквизиты.pdf"):
    sent = update(update_id, "", message_id=update_id + 50)
    message = sent["message"]
    del message["text"]
    message["caption"] = "Наши реквизиты"
    message["document"] = {
        "file_id": file_id,
        "file_unique_id": "u" + file_id,
        "file_name": name,
        "mime_type": "application/pdf",
        "file_size": size,
    }
    return sent


def test_a_file_the_client_sends_in_telegram_is_kept_in_the_thread(
    tenant, bot, write, manager, client_for, fake_telegram, media_root
):
    write(_document(1, "DOC1"))
    [message] = _messages(tenant)
    assert message.text == "[document] реквизиты.pdf Наши реквизиты"
    with tenant_context(tenant):
        [kept] = Attachment.objects.filter(event_id=message.event_id)
        assert kept.filename == "реквизиты.pdf"
        assert kept.file.read() == b"%PDF-1.4 the client's requisites"
    assert [c["path"] for c in fake_telegram.calls("getFile")] == [f"/bot{TOKEN}/getFile"]
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    panel = client_for(manager).get(_panel_url(tenant, "lead", lead.pk)).content.decode()
    assert "реквизиты.pdf" in panel
    assert 'data-testid="message-file"' in panel


def test_a_photo_is_kept_in_its_largest_size_and_a_file_telegram_lost_is_noted(
    tenant, bot, write, fake_telegram, media_root
):
    photo = update(1, "", message_id=60)
    del photo["message"]["text"]
    photo["message"]["photo"] = [
        {
            "file_id": "PHOTO_SMALL",
            "file_unique_id": "a",
            "width": 90,
            "height": 90,
            "file_size": 9,
        },
        {
            "file_id": "PHOTO_BIG",
            "file_unique_id": "b",
            "width": 800,
            "height": 800,
            "file_size": 99,
        },
    ]
    write(photo)
    write(_document(2, "UNKNOWN"))
    first, second = _messages(tenant)
    with tenant_context(tenant):
        [kept] = Attachment.objects.filter(event_id=first.event_id)
        [noted] = Attachment.objects.filter(event_id=second.event_id)
    assert (kept.filename, kept.skipped) == ("photo.jpg", "")
    assert noted.skipped.startswith("Not downloaded")
    assert "invalid file_id" in noted.skipped


def test_a_file_over_the_limit_is_noted_not_downloaded(tenant, bot, write, fake_telegram, settings):
    settings.CHANNELS_SEND_MAX_FILE_BYTES = 1000
    write(_document(1, "DOC1", size=5000))
    [message] = _messages(tenant)
    with tenant_context(tenant):
        [noted] = Attachment.objects.filter(event_id=message.event_id)
    assert noted.skipped.startswith("Not kept: larger than")
    assert fake_telegram.calls("getFile") == []


def test_a_reply_goes_out_while_the_channel_has_a_problem_noted(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    """The worker reads the channel's secrets outside the tenant: a problem noted on the
    channel (a poller's timeout) neither stops the reply nor gets cleared by it."""
    write(update(1, "Вопрос"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with tenant_context(tenant):
        Channel.objects.filter(pk=bot.pk).update(problem="Telegram did not answer in time.")
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    assert _messages(tenant)[-1].status == Status.DELIVERED
    with tenant_context(tenant):
        assert Channel.objects.get(pk=bot.pk).problem == "Telegram did not answer in time."


def test_an_email_naming_a_telegram_message_id_does_not_join_that_lead(
    tenant, admin, bot, write, manager, client_for, django_capture_on_commit_callbacks
):
    write(update(1, "Вопрос в Telegram"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    sent = _messages(tenant)[-1]
    assert sent.external_id.startswith("tg:")
    with tenant_context(tenant):
        mailbox = channel_create(actor=admin, kind="email", name="Почта")
    letter = (
        "From: Someone <someone@example.org>\r\nTo: sales@acme.test\r\n"
        f"Subject: Re: hello\r\nMessage-ID: <forged-1@example.org>\r\n"
        f"In-Reply-To: <{sent.external_id}>\r\n\r\nЯ не тот клиент.\r\n"
    ).encode()
    url = reverse("inbound", kwargs={"token": mailbox.token})
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            url,
            data=letter,
            content_type="message/rfc822",
            HTTP_AUTHORIZATION=f"Bearer {mailbox.secret}",
        )
    assert response.status_code == 202
    with tenant_context(tenant):
        assert Lead.objects.count() == 2  # a lead of its own, not the Telegram client's
        assert not Message.objects.filter(lead=lead, text__contains="не тот клиент").exists()


def test_a_redirect_to_another_host_drops_the_providers_token():
    handler = outbound._CheckedRedirects(lambda url: True)
    request = urllib.request.Request(
        "https://graph.example.com/v21.0/123", headers={"Authorization": "Bearer secret"}
    )
    moved = handler.redirect_request(request, None, 302, "Found", {}, "https://cdn.example.net/f")
    assert moved.get_header("Authorization") is None
    same = handler.redirect_request(request, None, 302, "Found", {}, "https://graph.example.com/f")
    assert same.get_header("Authorization") == "Bearer secret"


def test_the_thread_shows_times_in_the_workspaces_zone(
    tenant, bot, write, manager, client_for, django_capture_on_commit_callbacks
):
    """Vladivostok (UTC+10): a message written at 14:30 UTC on Dec 5 reads 00:30 on Dec 6,
    and so does the waiting badge."""
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Asia/Vladivostok")
    write(update(1, "Доброй ночи"))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    written = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
    with tenant_context(tenant):
        Message.objects.update(created_at=written)
        Lead.objects.filter(pk=lead.pk).update(waiting_since=written)
    body = client_for(manager).get(_panel_url(tenant, "lead", lead.pk)).content.decode()
    # The message's time, and the waiting badge (English formats: an English workspace).
    assert body.count("12/06/2026 12:30 a.m.") == 2
    assert "Waiting for our answer since 12/06/2026 12:30 a.m." in body
    assert "12/05/2026" not in body


def test_a_reply_that_fails_leaves_the_client_waiting_and_unanswered(
    tenant, bot, write, manager, client_for, fake_telegram, django_capture_on_commit_callbacks
):
    user = {**ANNA, "id": int(BLOCKED_CHAT)}
    write(update(1, "Ответьте", user=user))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    waiting = _lead(tenant).waiting_since
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    assert _messages(tenant)[-1].status == Status.FAILED
    lead = _lead(tenant)
    assert lead.first_response_at is None  # a reply nobody got is no response
    # Waiting again since then (the wait is kept in whole seconds).
    assert abs((lead.waiting_since - waiting).total_seconds()) < 1


def test_the_navigation_counts_open_deals_with_unread_messages(
    tenant, bot, write, admin, manager, client_for
):
    write(update(1, "Вопрос по сделке"))
    with tenant_context(tenant):
        deal = lead_convert_to_deal(actor=admin, lead=Lead.objects.get()).deal
        Deal.objects.filter(pk=deal.pk).update(owner=manager, unread_messages=2)
    client = client_for(manager)
    badge = client.get(f"/{tenant.slug}/conversations/unread/", {"section": "deals"})
    assert 'data-testid="nav-unread-deals">1<' in badge.content.decode()
    board = client.get(f"/{tenant.slug}/deals/board/").content.decode()
    assert 'data-testid="conversation-badge"' in board
    with tenant_context(tenant):
        Deal.objects.filter(pk=deal.pk).update(outcome="won")
    badge = client.get(f"/{tenant.slug}/conversations/unread/", {"section": "deals"})
    assert badge.content.decode().strip() == ""
