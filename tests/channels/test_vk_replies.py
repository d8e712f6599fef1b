"""Replies to VK from the cards: a person writes to the community, a manager answers from the
lead's card through a fake VK API in its own process (messages.send with the community
token, the peer and a random_id taken from the message's key), a file goes through VK's
upload; VK's refusals and transient errors, a lost answer and a dead worker sent again with
the same random_id and delivered once, read marks, the sealed token, rights and tenants."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from channels import conversations
from channels.adapters import adapter_for
from channels.adapters.vk import random_id
from channels.models import Channel, InboundEvent, Message
from channels.services import channel_create
from crm.models import Membership, Tenant
from crm.secrets import is_sealed, unseal
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels.conftest import events_of, leads_of
from tests.channels.fakeapi import FakeApi
from tests.channels.fakeapi_vk import FORBIDDEN_PEER, PRIVATE_PEER, REVOKED_TOKEN
from tests.channels.test_vk import CONFIRMATION, GROUP_ID, SECRET_KEY, USER, message_new

# The workers write in the workspace's language: these tests read English.
pytestmark = pytest.mark.usefixtures("english_workspace")

TOKEN = "vk1.a.Zk3QmT9xW2pL8vN4bR6sY1cH5jD7fG0aK2eU9iO3tP8wX6qV4nM1zB7yC5rS0dF"
Status = Message.Status


def _community(tenant: Tenant, admin: Membership, token: str = TOKEN, name: str = "ВК") -> Channel:
    config: dict[str, Any] = {
        "group_id": GROUP_ID,
        "confirmation": CONFIRMATION,
        "secret_key": SECRET_KEY,
    }
    if token:
        config["community_token"] = token
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="vk", name=name, config=config)


@pytest.fixture
def vk(tenant: Tenant, admin: Membership, fake_vk: FakeApi) -> Channel:
    return _community(tenant, admin)


@pytest.fixture
def write(deliver, vk):
    def post(event: dict[str, Any]):
        response = deliver(vk, event)
        assert response.status_code == 200, response.content
        assert response.content == b"ok"
        return response

    return post


def _lead(tenant: Tenant) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get()


def _messages(tenant: Tenant) -> list[Message]:
    with tenant_context(tenant):
        return list(Message.objects.select_related("attachment").order_by("pk"))


def _replies(tenant: Tenant) -> list[Message]:
    return [m for m in _messages(tenant) if m.direction == "out"]


def _panel_url(tenant: Tenant, kind: str, pk: int, tail: str = "") -> str:
    return f"/{tenant.slug}/conversations/{kind}/{pk}/{tail}"


def _give(tenant: Tenant, lead: Lead, member: Membership) -> None:
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(owner=member)


def _reply(client, tenant, lead, text="Ответ", **extra):
    panel = client.get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    route = panel.context["routes"][0]
    return client.post(
        _panel_url(tenant, "lead", lead.pk, "reply/"),
        {"route": route.key, "text": text, **extra},
        HTTP_HX_REQUEST="true",
    )


def _sent_params(fake_vk: FakeApi, method: str = "messages.send") -> list[dict[str, str]]:
    """What VK received in each call of `method` (form fields)."""
    return [
        {k: v[-1] for k, v in urllib.parse.parse_qs(call["body"]).items()}
        for call in fake_vk.calls(f"/method/{method}")
    ]


def _fake(fake_vk: FakeApi, method: str, *, post: bool = False) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the local fake
        f"{fake_vk.base_url}/method/{method}", data=b"" if post else None
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())["response"]


def _delivered(fake_vk: FakeApi) -> list[dict[str, Any]]:
    """The messages the fake VK delivered (each once, whatever the retries)."""
    return _fake(fake_vk, "fake.messages")


def _delivered_to(fake_vk: FakeApi, peer: int) -> list[dict[str, Any]]:
    return [m for m in _delivered(fake_vk) if m["peer_id"] == peer]


def _asked(tenant, write, manager, user: int = USER, text: str = "Сколько стоит тур?") -> Lead:
    write(message_new(f"ev-{user}-1", text=text, from_id=user))
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    return lead


def _read_event(message_id: int, *, peer: int = USER, event_id: str = "read-1") -> dict:
    return {
        "type": "message_read",
        "object": {
            "from_id": peer,
            "peer_id": peer,
            "read_message_id": message_id,
            "conversation_message_id": 3,
        },
        "group_id": GROUP_ID,
        "event_id": event_id,
        "v": "5.199",
        "secret": SECRET_KEY,
    }


def _vk_id(reply: Message) -> int:
    prefix, peer, number = reply.external_id.split(":")
    assert (prefix, peer) == ("vk", reply.address)
    return int(number)


# --- Sending ---------------------------------------------------------------------------------


def test_a_manager_answers_a_vk_message_from_the_card_and_it_is_delivered(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager)
    [inbound] = _messages(tenant)
    assert inbound.address == str(USER)
    client = client_for(manager)
    panel = client.get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    [route] = panel.context["routes"]
    assert route.key == f"{vk.pk}:{USER}"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _panel_url(tenant, "lead", lead.pk, "reply/"),
            {"route": route.key, "text": "Здравствуйте, {client_name}! Тур — 25 000 ₽."},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200, response.content
    [reply] = _replies(tenant)
    assert reply.status == Status.DELIVERED
    assert reply.author_id == manager.pk
    [params] = _sent_params(fake_vk)
    assert params == {
        "peer_id": str(USER),
        "random_id": str(random_id(reply)),
        "message": f"Здравствуйте, VK id{USER}! Тур — 25 000 ₽.",
        "access_token": TOKEN,
        "v": "5.199",
    }
    assert 1 <= random_id(reply) <= 2**31 - 1
    [delivered] = _delivered_to(fake_vk, USER)
    assert reply.external_id == f"vk:{USER}:{delivered['id']}"
    lead = _lead(tenant)
    assert lead.waiting_since is None
    assert lead.first_response_at is not None
    # The task delivered again sends nothing more.
    with tenant_context(tenant):
        assert conversations.message_deliver(tenant_id=tenant.pk, message_id=reply.pk) is None
    assert len(_sent_params(fake_vk)) == 1


def test_random_id_is_the_same_for_a_message_and_differs_between_messages():
    first, second = Message(), Message()
    assert random_id(first) == random_id(Message(key=first.key))
    assert random_id(first) != random_id(second)


def test_a_person_who_did_not_allow_messages_fails_with_vks_reason(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager, user=FORBIDDEN_PEER)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    [reply] = _replies(tenant)
    assert reply.status == Status.FAILED
    assert "Can't send messages for users without permission" in reply.error
    assert "901" in reply.error
    assert reply.attempts == 1
    panel = client_for(manager).get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    body = panel.content.decode()
    assert "Can&#x27;t send messages for users without permission" in body
    assert 'data-testid="send-again"' in body
    assert _delivered_to(fake_vk, FORBIDDEN_PEER) == []


def test_privacy_settings_refuse_the_message(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager, user=PRIVATE_PEER)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    [reply] = _replies(tenant)
    assert reply.status == Status.FAILED
    assert "privacy settings" in reply.error


def test_a_revoked_token_fails_with_vks_reason(
    tenant, admin, fake_vk, deliver, manager, client_for, django_capture_on_commit_callbacks
):
    channel = _community(tenant, admin, token=REVOKED_TOKEN)
    assert deliver(channel, message_new()).content == b"ok"
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead)
    [reply] = _replies(tenant)
    assert reply.status == Status.FAILED
    assert "User authorization failed" in reply.error
    assert "(5)" in reply.error


@pytest.mark.parametrize(
    ("code", "text"),
    [(6, "Too many requests per second"), (9, "Flood control"), (10, "Internal server error")],
)
def test_vks_transient_errors_are_retried_later_and_sent_once(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks, code, text
):
    lead = _asked(tenant, write, manager)
    error = {"error": {"error_code": code, "error_msg": text, "request_params": []}}
    fake_vk.faults({"match": "messages.send", "status": 200, "body": error, "times": 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert _reply(client_for(manager), tenant, lead).status_code == 200
    [reply] = _replies(tenant)
    assert reply.status == Status.QUEUED
    assert text in reply.error
    assert reply.attempts == 1
    assert reply.next_attempt_at > timezone.now()
    with tenant_context(tenant):
        Message.objects.filter(pk=reply.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 1
    [reply] = _replies(tenant)
    assert reply.status == Status.DELIVERED
    assert reply.attempts == 2
    assert reply.error == ""
    assert len(_delivered_to(fake_vk, USER)) == 1


def test_an_answer_lost_after_sending_is_sent_again_with_the_same_random_id_and_arrives_once(
    tenant, vk, write, manager, client_for, fake_vk, settings, django_capture_on_commit_callbacks
):
    settings.CHANNELS_SEND_TIMEOUT = 0.5
    lead = _asked(tenant, write, manager)
    fake_vk.faults({"match": "messages.send", "hang": 2, "times": 1})
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead, text="Тур ещё есть")
    [reply] = _replies(tenant)
    # VK took it, the answer was lost: VK deduplicates, so it is simply tried again.
    assert reply.status == Status.QUEUED
    assert "did not answer" in reply.error or "не ответил" in reply.error
    assert len(_delivered_to(fake_vk, USER)) == 1
    with tenant_context(tenant):
        Message.objects.filter(pk=reply.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 1
    [reply] = _replies(tenant)
    assert reply.status == Status.DELIVERED
    first, second = _sent_params(fake_vk)
    assert first["random_id"] == second["random_id"] == str(random_id(reply))
    [delivered] = _delivered_to(fake_vk, USER)  # ONE message in the person's chat
    assert delivered["text"] == "Тур ещё есть"
    assert reply.external_id == f"vk:{USER}:{delivered['id']}"


def test_a_worker_killed_while_sending_is_sent_again_by_the_sweeper_and_arrives_once(
    tenant, vk, write, manager, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager)
    with tenant_context(tenant):
        route = conversations.reply_routes(lead, manager)[0]
        reply = conversations.reply_queue(
            actor=manager, record=Lead.objects.get(), route_key=route.key, text="Ответ"
        )
        # The worker claimed it, VK took it, and the worker died before recording VK's answer.
        adapter_for("vk").send(Channel.objects.get(pk=vk.pk), reply, None)
        Message.objects.filter(pk=reply.pk).update(
            status=Status.SENDING, sending_since=timezone.now() - timedelta(minutes=5), attempts=1
        )
        conversations.messages_sweep()  # the lease is over: queued again (VK deduplicates)
        assert Message.objects.get(pk=reply.pk).status == Status.QUEUED
        Message.objects.filter(pk=reply.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 1
    [reply] = _replies(tenant)
    assert reply.status == Status.DELIVERED
    assert reply.attempts == 2
    first, second = _sent_params(fake_vk)
    assert first["random_id"] == second["random_id"]
    [delivered] = _delivered_to(fake_vk, USER)
    assert reply.external_id == f"vk:{USER}:{delivered['id']}"


def test_a_file_is_uploaded_and_sent_as_a_document(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager)
    price = SimpleUploadedFile("прайс.pdf", b"%PDF-1.4 price", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = _reply(client_for(manager), tenant, lead, text="Прайс", file=price)
    assert response.status_code == 200
    [reply] = _replies(tenant)
    assert reply.status == Status.DELIVERED
    assert reply.attachment.filename == "прайс.pdf"
    [server] = _sent_params(fake_vk, "docs.getMessagesUploadServer")
    assert server == {"type": "doc", "peer_id": str(USER), "access_token": TOKEN, "v": "5.199"}
    [upload] = fake_vk.calls("/upload/doc")
    assert "%PDF-1.4 price" in upload["body"]
    assert 'filename="прайс.pdf"' in upload["body"]
    [saved] = _sent_params(fake_vk, "docs.save")
    assert saved["file"].startswith("upload")
    assert saved["title"] == "прайс.pdf"
    [sent] = _sent_params(fake_vk)
    assert sent["message"] == "Прайс"
    assert sent["attachment"].startswith("doc-218345671_")
    [delivered] = _delivered_to(fake_vk, USER)
    assert delivered["attachment"] == sent["attachment"]


def test_a_file_whose_upload_fails_is_tried_again(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager)
    fake_vk.faults({"match": "/upload/doc", "status": 502, "times": 1})
    price = SimpleUploadedFile("price.pdf", b"%PDF-1.4", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead, text="", file=price)
    [reply] = _replies(tenant)
    assert reply.status == Status.QUEUED
    assert _sent_params(fake_vk) == []  # nothing went to the person


# --- Read marks and the community's own messages ---------------------------------------------


def test_message_read_marks_the_reply_and_the_earlier_ones_read(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager)
    client = client_for(manager)
    for text in ("Первый ответ", "Второй ответ"):
        with django_capture_on_commit_callbacks(execute=True):
            _reply(client, tenant, lead, text=text)
    first, second = _replies(tenant)
    assert (first.status, second.status) == (Status.DELIVERED, Status.DELIVERED)
    write(_read_event(_vk_id(second)))
    first, second = _replies(tenant)
    assert (first.status, second.status) == (Status.READ, Status.READ)
    assert second.read_at is not None
    assert first.read_at is not None
    [*_, stored] = events_of(vk)
    assert stored.status == InboundEvent.Status.DONE
    panel = client.get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    assert panel.content.decode().count('data-status="read"') == 2
    assert len(leads_of(tenant)) == 1


def test_a_read_mark_of_an_earlier_message_leaves_the_later_one_delivered(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager)
    client = client_for(manager)
    for text in ("Первый", "Второй"):
        with django_capture_on_commit_callbacks(execute=True):
            _reply(client, tenant, lead, text=text)
    first, second = _replies(tenant)
    write(_read_event(_vk_id(first)))
    first, second = _replies(tenant)
    assert (first.status, second.status) == (Status.READ, Status.DELIVERED)


def test_a_read_mark_of_a_message_not_sent_from_the_crm_is_ignored(tenant, vk, write, manager):
    _asked(tenant, write, manager)
    write(_read_event(987654))
    [*_, stored] = events_of(vk)
    assert stored.status == InboundEvent.Status.IGNORED
    assert len(leads_of(tenant)) == 1


@pytest.mark.parametrize(
    "obj",
    [
        {"from_id": USER, "peer_id": USER},
        {"peer_id": USER, "read_message_id": "12"},
        {"from_id": 2000000001, "peer_id": 2000000001, "read_message_id": 5},
    ],
    ids=["no-id", "text-id", "group-chat"],
)
def test_odd_read_marks_are_answered_ok_and_change_nothing(tenant, vk, deliver, obj):
    event = _read_event(1)
    event["object"] = obj
    assert deliver(vk, event).content == b"ok"
    [stored] = events_of(vk)
    assert stored.status in (InboundEvent.Status.REJECTED, InboundEvent.Status.IGNORED)
    assert leads_of(tenant) == []


def test_the_communitys_own_message_echo_makes_no_lead(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    lead = _asked(tenant, write, manager)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(client_for(manager), tenant, lead, text="Ответ")
    [reply] = _replies(tenant)
    [params] = _sent_params(fake_vk)
    echo = {
        "type": "message_reply",
        "object": {
            "date": 1767225700,
            "from_id": -GROUP_ID,
            "id": _vk_id(reply),
            "out": 1,
            "peer_id": USER,
            "text": "Ответ",
            "random_id": int(params["random_id"]),
            "admin_author_id": 1,
        },
        "group_id": GROUP_ID,
        "event_id": "echo-1",
        "secret": SECRET_KEY,
    }
    write(echo)
    [*_, stored] = events_of(vk)
    assert stored.status == InboundEvent.Status.IGNORED
    assert len(leads_of(tenant)) == 1
    assert [m.direction for m in _messages(tenant)] == ["in", "out"]
    assert _lead(tenant).unread_messages == 0


# --- Settings: the sealed token, no token, the address --------------------------------------


def test_the_community_token_and_secret_key_are_stored_sealed(tenant, vk):
    with tenant_context(tenant):
        config = Channel.objects.get(pk=vk.pk).config
    assert is_sealed(config["community_token"])
    assert unseal(config["community_token"]) == TOKEN
    assert is_sealed(config["secret_key"])
    assert TOKEN not in json.dumps(config)
    assert SECRET_KEY not in json.dumps(config)


def test_the_settings_page_takes_the_token_sealed_and_never_shows_it(tenant, admin, client_for):
    client = client_for(admin)
    base = f"/{tenant.slug}/settings/channels/"
    fields = {
        "name": "Сообщество",
        "enabled": "on",
        "config-group_id": str(GROUP_ID),
        "config-confirmation": CONFIRMATION,
        "config-secret_key": SECRET_KEY,
    }
    bad = client.post(base + "new/vk/", {**fields, "config-community_token": "токен с пробелом"})
    assert bad.status_code == 400
    response = client.post(base + "new/vk/", {**fields, "config-community_token": TOKEN})
    assert response.status_code == 302
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Сообщество")
    assert unseal(channel.config["community_token"]) == TOKEN
    page = client.get(response["Location"]).content.decode()
    assert TOKEN not in page
    assert 'data-testid="vk-token"' in page
    edit = client.get(f"{base}{channel.pk}/edit/").content.decode()
    assert TOKEN not in edit
    kept = {k: v for k, v in fields.items() if k != "config-secret_key"}
    assert client.post(f"{base}{channel.pk}/edit/", kept).status_code == 302
    with tenant_context(tenant):
        channel.refresh_from_db()
    assert unseal(channel.config["community_token"]) == TOKEN
    assert unseal(channel.config["secret_key"]) == SECRET_KEY


def test_a_community_without_a_token_offers_no_way_to_answer(
    tenant, admin, fake_vk, deliver, manager, client_for
):
    channel = _community(tenant, admin, token="")
    assert adapter_for("vk").reply_problem(channel)
    deliver(channel, message_new())
    lead = _lead(tenant)
    _give(tenant, lead, manager)
    panel = client_for(manager).get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    assert panel.context["routes"] == []
    assert 'data-testid="no-routes"' in panel.content.decode()
    refused = client_for(manager).post(
        _panel_url(tenant, "lead", lead.pk, "reply/"),
        {"route": f"{channel.pk}:{USER}", "text": "Привет"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    assert _replies(tenant) == []


@pytest.mark.parametrize(
    ("stored", "address"),
    [
        ({"external_id": "vk:434920113:1021", "messenger_id": "id1"}, "434920113"),
        ({"messenger_id": "id434920113"}, "434920113"),
        ({"external_id": "tg:1:2", "messenger_id": "durov"}, ""),
        ({}, ""),
    ],
    ids=["external-id", "handle", "foreign", "nothing"],
)
def test_the_reply_address_is_the_peer(stored, address):
    assert adapter_for("vk").reply_address(stored) == address


# --- Rights and tenants -----------------------------------------------------------------------


def test_a_marketer_reads_the_vk_conversation_but_cannot_answer(
    tenant, vk, write, marketer, client_for, fake_vk
):
    write(message_new(text="Вопрос"))
    lead = _lead(tenant)
    client = client_for(marketer)
    panel = client.get(_panel_url(tenant, "lead", lead.pk), HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert 'data-testid="composer"' not in panel.content.decode()
    refused = client.post(
        _panel_url(tenant, "lead", lead.pk, "reply/"),
        {"route": f"{vk.pk}:{USER}", "text": "Привет"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 403
    assert _replies(tenant) == []
    assert _sent_params(fake_vk) == []


def test_another_tenant_cannot_see_or_answer_the_vk_conversation(
    tenant, vk, write, other_admin, client_for, fake_vk
):
    write(message_new(text="Вопрос"))
    lead = _lead(tenant)
    other = client_for(other_admin)
    slug = other_admin.tenant.slug
    assert other.get(f"/{slug}/conversations/lead/{lead.pk}/").status_code == 404
    response = other.post(
        f"/{slug}/conversations/lead/{lead.pk}/reply/",
        {"route": f"{vk.pk}:{USER}", "text": "x"},
    )
    assert response.status_code == 404
    assert _replies(tenant) == []
    assert _sent_params(fake_vk) == []


def test_a_read_mark_of_a_message_written_in_vk_itself_covers_the_replies_before_it(
    tenant, vk, write, manager, client_for, fake_vk, django_capture_on_commit_callbacks
):
    """The person read up to a message an admin wrote in VK's own interface (unknown to
    the CRM, numbered after ours): the replies before it are read too."""
    lead = _asked(tenant, write, manager)
    client = client_for(manager)
    for text in ("Первый", "Второй"):
        with django_capture_on_commit_callbacks(execute=True):
            _reply(client, tenant, lead, text=text)
    first, second = _replies(tenant)
    write(_read_event(_vk_id(second) + 5))
    first, second = _replies(tenant)
    assert (first.status, second.status) == (Status.READ, Status.READ)
    [*_, stored] = events_of(vk)
    assert stored.status == InboundEvent.Status.DONE
