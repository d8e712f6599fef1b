"""The VK Callback API channel over HTTP: confirmation, the secret, message_new in the new
(5.103+) and old shapes, ref attribution, duplicates by event_id, ignored events, odd and
malformed bodies, matching and isolation."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from channels.models import Channel, InboundEvent
from channels.services import channel_create
from contacts.services import contact_create
from crm.models import TimelineEvent
from crm.secrets import is_sealed, seal, unseal
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of

GROUP_ID = 218345671
SECRET_KEY = "Vk0rOnkaSecret2026"
CONFIRMATION = "693d0ba9"
USER = 434920113
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


def _base(tenant) -> str:
    return f"/{tenant.slug}/settings/channels/"


def message_new(
    event_id: str = "b8a6c3a4e5f60718293a4b5c6d7e8f9a0b1c2d3e",
    *,
    text: str = "Здравствуйте! Сколько стоит тур в Казань?",
    from_id: int = USER,
    peer_id: int | None = None,
    message_id: int = 1021,
    group_id: int = GROUP_ID,
    secret: str | None = SECRET_KEY,
    **message: Any,
) -> dict[str, Any]:
    """A message_new event as VK sends it with API 5.199."""
    event: dict[str, Any] = {
        "group_id": group_id,
        "type": "message_new",
        "event_id": event_id,
        "v": "5.199",
        "object": {
            "message": {
                "date": 1767225600,
                "from_id": from_id,
                "id": message_id,
                "out": 0,
                "version": 10000456,
                "attachments": [],
                "conversation_message_id": 17,
                "fwd_messages": [],
                "important": False,
                "is_hidden": False,
                "peer_id": peer_id if peer_id is not None else from_id,
                "random_id": 0,
                "text": text,
                **message,
            },
            "client_info": {
                "button_actions": ["text", "vkpay", "open_app", "location", "open_link"],
                "keyboard": True,
                "inline_keyboard": True,
                "carousel": True,
                "lang_id": 0,
            },
        },
    }
    if secret is not None:
        event["secret"] = secret
    return event


def old_message_new(event_id: str = "old-1", **fields: Any) -> dict[str, Any]:
    """message_new with API 5.80: the object is the message itself."""
    return {
        "type": "message_new",
        "object": {
            "date": 1767225600,
            "from_id": USER,
            "id": 88,
            "out": 0,
            "peer_id": USER,
            "text": "Добрый день, старый API",
            "conversation_message_id": 5,
            "fwd_messages": [],
            "important": False,
            "random_id": 0,
            "attachments": [],
            "is_hidden": False,
            **fields,
        },
        "group_id": GROUP_ID,
        "event_id": event_id,
        "secret": SECRET_KEY,
    }


@pytest.fixture
def vk(tenant, admin) -> Channel:
    with tenant_context(tenant):
        return channel_create(
            actor=admin,
            kind="vk",
            name="ВКонтакте",
            config={
                "group_id": GROUP_ID,
                "confirmation": CONFIRMATION,
                "secret_key": seal(SECRET_KEY),
            },
        )


@pytest.fixture
def send(deliver):
    def post(channel: Channel, event: Any = None, **kwargs: Any):
        return deliver(channel, event, **kwargs)

    return post


def _timeline(tenant, kind: str) -> list[TimelineEvent]:
    with tenant_context(tenant):
        return list(TimelineEvent.objects.filter(kind=kind).order_by("pk"))


# --- Setting up, confirmation -------------------------------------------------------------


def test_the_settings_page_sets_up_the_channel_with_a_sealed_secret(
    tenant, admin, client_for, settings
):
    settings.SITE_URL = "https://crm.example.com"
    client = client_for(admin)
    assert client.get(_base(tenant) + "new/vk/").status_code == 200
    response = client.post(
        _base(tenant) + "new/vk/",
        {
            "name": "Сообщество",
            "enabled": "on",
            "config-group_id": str(GROUP_ID),
            "config-confirmation": CONFIRMATION,
            "config-secret_key": SECRET_KEY,
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Сообщество")
    assert channel.config["group_id"] == GROUP_ID
    assert is_sealed(channel.config["secret_key"])
    assert unseal(channel.config["secret_key"]) == SECRET_KEY
    page = client.get(response["Location"]).content.decode()
    assert f"https://crm.example.com/in/{channel.token}/" in page
    assert CONFIRMATION in page
    assert "message_new" in page
    assert SECRET_KEY not in page
    assert 'data-testid="channel-rotate"' not in page  # the channel's own secret is unused
    edit = client.get(f"{_base(tenant)}{channel.pk}/edit/").content.decode()
    assert SECRET_KEY not in edit
    response = client.post(
        f"{_base(tenant)}{channel.pk}/edit/",
        {
            "name": "Сообщество",
            "enabled": "on",
            "config-group_id": str(GROUP_ID),
            "config-confirmation": "a1b2c3d4",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel.refresh_from_db()
    assert unseal(channel.config["secret_key"]) == SECRET_KEY
    assert channel.config["confirmation"] == "a1b2c3d4"


@pytest.mark.parametrize(
    "fields",
    [
        {"config-confirmation": CONFIRMATION, "config-secret_key": SECRET_KEY},
        {"config-group_id": "-5", "config-confirmation": CONFIRMATION, "config-secret_key": "k"},
        {"config-group_id": "1", "config-confirmation": "a b", "config-secret_key": "k"},
        {"config-group_id": "1", "config-confirmation": CONFIRMATION, "config-secret_key": "с"},
        {"config-group_id": "1", "config-confirmation": CONFIRMATION},
    ],
    ids=["no-group", "negative-group", "bad-confirmation", "cyrillic-secret", "no-secret"],
)
def test_a_bad_setup_is_a_form_error(tenant, admin, client_for, fields):
    response = client_for(admin).post(_base(tenant) + "new/vk/", {"name": "VK", **fields})
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Channel.objects.exists()


def test_create_channel_command_takes_the_vk_options(tenant, deliver):
    out = StringIO()
    call_command(
        "create_channel",
        *("--tenant", tenant.slug, "--kind", "vk", "--name", "VK"),
        *("--group-id", str(GROUP_ID), "--confirmation", CONFIRMATION),
        *("--secret-key", SECRET_KEY),
        stdout=out,
    )
    with tenant_context(tenant):
        channel = Channel.objects.get(name="VK")
    assert out.getvalue().splitlines() == [f"/in/{channel.token}/"]
    assert unseal(channel.config["secret_key"]) == SECRET_KEY
    assert deliver(channel, message_new()).content == b"ok"
    assert len(leads_of(tenant)) == 1


def test_the_confirmation_request_gets_the_confirmation_string(vk, send):
    response = send(vk, {"type": "confirmation", "group_id": GROUP_ID})
    assert response.status_code == 200
    assert response.content == CONFIRMATION.encode()
    assert response["Content-Type"].startswith("text/plain")
    assert events_of(vk) == []


def test_a_confirmation_for_another_community_is_refused(vk, send):
    response = send(vk, {"type": "confirmation", "group_id": 1})
    assert response.status_code == 403
    assert CONFIRMATION.encode() not in response.content


# --- Messages -----------------------------------------------------------------------------


def test_a_new_message_makes_a_lead_answered_ok(tenant, admin, vk, send, client_for):
    response = send(vk, message_new())
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    (lead,) = leads_of(tenant)
    assert lead.name == f"VK id{USER}"
    assert (lead.messenger, lead.messenger_id) == ("vk", f"id{USER}")
    assert lead.message == "Здравствуйте! Сколько стоит тур в Казань?"
    assert lead.source == "vk"
    (event,) = events_of(vk)
    assert event.key == "event:b8a6c3a4e5f60718293a4b5c6d7e8f9a0b1c2d3e"
    assert (event.status, event.outcome, event.lead_id) == (Status.DONE, "created", lead.pk)
    # The secret is checked, never kept with the delivery.
    assert SECRET_KEY.encode() not in bytes(event.body)
    assert json.loads(bytes(event.body))["object"]["message"]["from_id"] == USER
    inbox = client_for(admin).get(f"/{tenant.slug}/leads/inbox/").content.decode()
    assert f"VK id{USER}" in inbox
    card = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert f'href="https://vk.com/id{USER}"' in card
    block = card[card.index('data-testid="identities"') :]
    assert 'data-kind="vk"' in block
    assert f'href="https://vk.com/id{USER}"' in block


def test_the_old_api_shape_is_accepted_too(tenant, vk, send):
    assert send(vk, old_message_new()).content == b"ok"
    (lead,) = leads_of(tenant)
    assert lead.messenger_id == f"id{USER}"
    assert lead.message == "Добрый день, старый API"


def test_a_very_old_shape_with_user_id_and_body_is_accepted(tenant, vk, send):
    event = old_message_new("older", text="")
    del event["object"]["from_id"]
    event["object"].update(user_id=USER, body="Сообщение API 5.50")
    assert send(vk, event).content == b"ok"
    (lead,) = leads_of(tenant)
    assert lead.message == "Сообщение API 5.50"


def test_the_same_event_twice_makes_one_event_and_one_lead(tenant, vk, send):
    assert send(vk, message_new("dup")).content == b"ok"
    assert send(vk, message_new("dup")).content == b"ok"
    assert len(events_of(vk)) == 1
    assert len(leads_of(tenant)) == 1


def test_an_event_without_event_id_is_deduplicated_by_its_message(tenant, vk, send):
    event = old_message_new()
    del event["event_id"]
    send(vk, event)
    send(vk, event)
    (stored,) = events_of(vk)
    assert stored.key == f"msg:{USER}:88"


def test_a_second_message_joins_the_first_lead(tenant, vk, send):
    send(vk, message_new("e1", text="Здравствуйте"))
    send(vk, message_new("e2", text="Есть туры на май?", message_id=1022))
    (lead,) = leads_of(tenant)
    assert events_of(vk)[1].outcome == Outcome.ATTACHED
    with tenant_context(tenant):
        texts = [e.data.get("message") for e in TimelineEvent.objects.filter(target_id=lead.pk)]
    assert "Есть туры на май?" in texts


def test_a_contact_with_the_vk_profile_address_is_the_same_person(
    tenant, admin, vk, send, client_for
):
    with tenant_context(tenant):
        contact = contact_create(
            actor=admin, data={"first_name": "Анна", "vk": f"https://vk.com/id{USER}"}, owner=admin
        )
    send(vk, message_new())
    (lead,) = leads_of(tenant)
    assert lead.contact_id == contact.pk
    assert lead.is_repeat
    page = client_for(admin).get(f"/{tenant.slug}/contacts/{contact.pk}/").content.decode()
    assert f'href="https://vk.com/id{USER}"' in page


def test_ref_and_ref_source_are_the_attribution(tenant, vk, send):
    send(vk, message_new(ref="yandex__cpc__spring", ref_source="banner_top"))
    (lead,) = leads_of(tenant)
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("yandex", "cpc", "spring")
    (received,) = _timeline(tenant, "lead.inquiry")
    assert received.data["inbound"]["start_param"] == "yandex__cpc__spring (banner_top)"


def test_a_single_ref_is_the_campaign_and_ref_source_the_source(tenant, vk, send):
    send(vk, message_new(ref="promo_may", ref_source="stories"))
    (lead,) = leads_of(tenant)
    assert (lead.utm_source, lead.utm_campaign) == ("stories", "promo_may")


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (
            {"attachments": [{"type": "photo", "photo": {"id": 1, "owner_id": USER, "sizes": []}}]},
            "[photo]",
        ),
        (
            {"attachments": [{"type": "doc", "doc": {"id": 2, "title": "ТЗ.pdf", "ext": "pdf"}}]},
            "[doc] ТЗ.pdf",
        ),
        (
            {"attachments": [{"type": "audio_message", "audio_message": {"duration": 4}}]},
            "[audio message]",
        ),
        (
            {"attachments": [{"type": "sticker", "sticker": {"sticker_id": 9}}, "junk"]},
            "[sticker]",
        ),
        (
            {"geo": {"type": "point", "coordinates": {"latitude": 55.75, "longitude": 37.61}}},
            "[geo] (55.75, 37.61)",
        ),
        ({"fwd_messages": [{"text": "пересланное"}]}, "[forwarded messages]"),
        ({"attachments": "not a list"}, "[message]"),
    ],
    ids=["photo", "doc", "voice", "sticker", "geo", "forwarded", "odd"],
)
def test_messages_without_text_arrive_described(tenant, vk, send, fields, text):
    assert send(vk, message_new(text="", **fields)).content == b"ok"
    (lead,) = leads_of(tenant)
    assert lead.message == text


# --- Ignored events -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        message_new("chat", peer_id=2000000007),
        message_new("out", out=1),
        message_new("community", from_id=-GROUP_ID),
        message_new("foreign", group_id=1),
        {
            "type": "message_reply",
            "object": {"id": 5, "from_id": -GROUP_ID, "peer_id": USER, "out": 1, "text": "Ответ"},
            "group_id": GROUP_ID,
            "event_id": "reply",
            "secret": SECRET_KEY,
        },
        {
            "type": "message_edit",
            "object": {"id": 5, "from_id": -GROUP_ID, "peer_id": USER, "out": 1, "text": "Ред."},
            "group_id": GROUP_ID,
            "event_id": "edit",
            "secret": SECRET_KEY,
        },
        {
            "type": "message_typing_state",
            "object": {"state": "typing", "from_id": USER, "to_id": -GROUP_ID},
            "group_id": GROUP_ID,
            "event_id": "typing",
            "secret": SECRET_KEY,
        },
        {
            "type": "group_join",
            "object": {"user_id": USER, "join_type": "join"},
            "group_id": GROUP_ID,
            "event_id": "join",
            "secret": SECRET_KEY,
        },
    ],
    ids=["group-chat", "out", "from-community", "other-group", "reply", "edit", "typing", "join"],
)
def test_other_events_are_answered_ok_recorded_and_ignored(tenant, vk, send, event):
    response = send(vk, event)
    assert response.content == b"ok"
    (stored,) = events_of(vk)
    assert stored.status == Status.IGNORED
    assert stored.detail
    assert stored.key == f"event:{event['event_id']}"
    assert leads_of(tenant) == []


# --- The secret, malformed bodies, isolation ----------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [None, "", "wrong", SECRET_KEY + "x", 12345],
    ids=["none", "empty", "wrong", "longer", "number"],
)
def test_a_wrong_or_missing_secret_stores_nothing(tenant, vk, send, secret):
    event = message_new(secret=None)
    if secret is not None:
        event["secret"] = secret
    response = send(vk, event)
    assert response.status_code == 403
    assert response.content != b"ok"
    assert events_of(vk) == []
    assert leads_of(tenant) == []


@pytest.mark.parametrize(
    "body",
    ["{not json", "[1]", '"ok"', "", "\udcff".encode("utf-8", "surrogatepass").decode("latin-1")],
    ids=["not-json", "array", "string", "empty", "not-utf8"],
)
def test_unreadable_bodies_are_refused_without_a_500(tenant, vk, send, body):
    response = send(vk, body=body)
    assert response.status_code == 403
    assert events_of(vk) == []


@pytest.mark.parametrize(
    "change",
    [
        {"type": None},
        {"object": "text"},
        {"object": {"message": {"text": "без отправителя"}}},
        {"object": {"message": {"from_id": "434920113", "text": "строкой"}}},
    ],
    ids=["no-type", "object-not-dict", "no-sender", "sender-string"],
)
def test_malformed_events_with_the_secret_are_kept_rejected_and_answered_ok(
    tenant, vk, send, change
):
    event = {**message_new(), **change}
    response = send(vk, event)
    assert response.content == b"ok"
    (stored,) = events_of(vk)
    assert stored.status == Status.REJECTED
    assert stored.detail
    assert SECRET_KEY.encode() not in bytes(stored.body)
    assert leads_of(tenant) == []


def test_a_huge_body_is_refused_without_a_500(vk, send, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = send(vk, message_new(text="ы" * 20_000))
    assert response.status_code == 413
    assert events_of(vk) == []


def test_only_posts_to_the_endpoint_path_are_taken(vk, send):
    url = reverse("inbound", kwargs={"token": vk.token})
    assert Client().get(url).status_code == 405
    assert send(vk, message_new(), path="other").status_code == 404
    assert events_of(vk) == []


def test_communities_of_two_tenants_stay_apart(
    tenant, other_tenant, other_admin, vk, send, client_for
):
    with tenant_context(other_tenant):
        theirs = channel_create(
            actor=other_admin,
            kind="vk",
            name="VK",
            config={"group_id": 555, "confirmation": "ffff0000", "secret_key": seal("TheirKey1")},
        )
    # One tenant's secret does not open the other's endpoint, nor its confirmation string.
    assert send(vk, message_new(secret="TheirKey1")).status_code == 403
    assert send(vk, {"type": "confirmation", "group_id": 555}).status_code == 403
    assert send(theirs, message_new(group_id=555, secret="TheirKey1")).content == b"ok"
    assert send(vk, message_new()).content == b"ok"  # the same event_id, another channel
    assert len(leads_of(tenant)) == 1
    assert len(leads_of(other_tenant)) == 1
    assert len(events_of(vk)) == 1
    assert len(events_of(theirs)) == 1
    client = client_for(other_admin)
    assert client.get(f"{_base(other_tenant)}{vk.pk}/").status_code == 404


def test_in_simple_mode_a_message_opens_a_deal_with_the_vk_contact(tenant, admin, vk, send):
    from crm.models import Tenant
    from crm.services import tenant_update
    from deals.models import Deal

    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    send(vk, message_new("s1"))
    send(vk, message_new("s2", text="Ещё вопрос", message_id=1030))
    with tenant_context(tenant):
        (deal,) = Deal.objects.select_related("contact")
        assert deal.contact.vk == f"id{USER}"
    assert [e.outcome for e in events_of(vk)] == [Outcome.DEAL, Outcome.ATTACHED]
