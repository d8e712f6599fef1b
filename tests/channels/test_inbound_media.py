"""Files clients send in WhatsApp and VK land in the thread: downloaded after the message is
recorded (the worker, eager here) from fake Cloud and VK APIs in their own processes, kept
on the record with the delivery's id, byte for byte; a media id Meta does not know, a
checksum that does not match, a channel without an access token, an address that is not
VK's (another host, plain http, file:, a redirect away) are noted "Not downloaded" with the
reason — those addresses never requested — and the message itself is recorded every time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels import outbound
from channels.adapters.whatsapp import signature_of
from channels.models import Channel, Message
from channels.services import channel_create
from crm.models import Attachment, Membership, Tenant
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels.fakeapi import FakeApi
from tests.channels.fakeapi_vk import FILES
from tests.channels.fakeapi_whatsapp import (
    DOCUMENT_ID,
    FILE_URL_ID,
    IMAGE_ID,
    MEDIA,
    PHONE_NUMBER_ID,
    TOKEN,
    WRONG_CHECKSUM_ID,
)
from tests.channels.test_vk import CONFIRMATION, GROUP_ID, SECRET_KEY, message_new
from tests.channels.test_whatsapp import APP_SECRET, WA_ID, notification

# The workers write in the workspace's language: these tests read English; the files they
# keep go under each test's tmp_path.
pytestmark = pytest.mark.usefixtures("english_workspace", "media_root")


def _messages(tenant: Tenant) -> list[Message]:
    with tenant_context(tenant):
        return list(Message.objects.order_by("pk"))


def _files(tenant: Tenant, message: Message) -> list[Attachment]:
    with tenant_context(tenant):
        return list(Attachment.objects.filter(event_id=message.event_id).order_by("pk"))


def _content(tenant: Tenant, attachment: Attachment) -> bytes:
    with tenant_context(tenant), attachment.file.open("rb") as file:
        return file.read()


def _lead(tenant: Tenant) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get()


# --- WhatsApp ---------------------------------------------------------------------------


def _whatsapp(tenant: Tenant, admin: Membership, *, token: str = TOKEN) -> Channel:
    config = {"app_secret": APP_SECRET, "phone_number_id": PHONE_NUMBER_ID}
    if token:
        config["access_token"] = token
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="whatsapp", name="WhatsApp", config=config)


def media_message(wamid: str, kind: str, media: dict[str, Any]) -> dict[str, Any]:
    """A media message as Meta sends it (Cloud API webhooks)."""
    return {"from": WA_ID, "id": wamid, "timestamp": "1767225600", "type": kind, kind: media}


def _document(media_id: str = DOCUMENT_ID, **extra: Any) -> dict[str, Any]:
    return {
        "caption": "Our price list",
        "filename": "price list.pdf",
        "mime_type": "application/pdf",
        "sha256": "9vH1H2rmZ2Y0n8Ah0eJvRqVDEVz0jqOP4gBJ1yY6JFw=",
        "id": media_id,
        **extra,
    }


def _image(media_id: str = IMAGE_ID) -> dict[str, Any]:
    return {"mime_type": "image/jpeg", "sha256": "abc", "id": media_id}


@pytest.fixture
def notify(deliver):
    def post(channel: Channel, *messages: dict[str, Any]):
        body = json.dumps(notification(list(messages)), ensure_ascii=False).encode()
        signature = signature_of(APP_SECRET, body)
        response = deliver(channel, body=body, HTTP_X_HUB_SIGNATURE_256=signature)
        assert response.status_code == 200, response.content
        return response

    return post


def test_a_whatsapp_document_and_photo_land_in_the_thread(
    tenant, admin, manager, fake_whatsapp, notify, client_for
):
    channel = _whatsapp(tenant, admin)
    notify(channel, media_message("wamid.DOC1", "document", _document()))
    notify(channel, media_message("wamid.IMG1", "image", _image()))
    document, image = _messages(tenant)
    assert document.text == "[document] price list.pdf Our price list"
    assert image.text == "[image]"
    [kept] = _files(tenant, document)
    assert (kept.filename, kept.content_type, kept.skipped) == (
        "price list.pdf",
        "application/pdf",
        "",
    )
    assert _content(tenant, kept) == MEDIA[DOCUMENT_ID][1]
    [photo] = _files(tenant, image)
    assert (photo.filename, photo.content_type) == ("image.jpg", "image/jpeg")
    assert _content(tenant, photo) == MEDIA[IMAGE_ID][1]
    # Both requests carry the access token: the media's URL, then the file at that URL.
    paths = [(c["path"], c["headers"]["authorization"]) for c in fake_whatsapp.calls()]
    assert paths == [
        (f"/v21.0/{DOCUMENT_ID}", f"Bearer {TOKEN}"),
        (f"/whatsapp_business/attachments/?mid={DOCUMENT_ID}", f"Bearer {TOKEN}"),
        (f"/v21.0/{IMAGE_ID}", f"Bearer {TOKEN}"),
        (f"/whatsapp_business/attachments/?mid={IMAGE_ID}", f"Bearer {TOKEN}"),
    ]
    lead = _lead(tenant)
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(owner=manager)
    url = f"/{tenant.slug}/conversations/lead/{lead.pk}/"
    panel = client_for(manager).get(url).content.decode()
    assert "price list.pdf" in panel
    assert 'data-testid="message-file"' in panel


def test_a_voice_message_and_a_sticker_are_named_by_their_type(
    tenant, admin, fake_whatsapp, notify
):
    channel = _whatsapp(tenant, admin)
    voice = {"mime_type": "audio/ogg; codecs=opus", "id": "1400000099999991", "voice": True}
    sticker = {"mime_type": "image/webp", "id": "1400000099999992", "animated": False}
    notify(channel, media_message("wamid.V", "audio", voice))
    notify(channel, media_message("wamid.S", "sticker", sticker))
    voice_message, sticker_message = _messages(tenant)
    [voice_file] = _files(tenant, voice_message)
    [sticker_file] = _files(tenant, sticker_message)
    assert (voice_file.filename, voice_file.content_type) == ("voice.ogg", "audio/ogg")
    assert sticker_file.filename == "sticker.webp"


def test_a_media_id_meta_does_not_know_is_noted_with_metas_reason(
    tenant, admin, fake_whatsapp, notify
):
    channel = _whatsapp(tenant, admin)
    notify(channel, media_message("wamid.GONE", "document", _document("1400000000000999")))
    [message] = _messages(tenant)
    assert message.text == "[document] price list.pdf Our price list"
    [noted] = _files(tenant, message)
    assert noted.skipped.startswith("Not downloaded: WhatsApp did not give the file")
    assert "does not exist" in noted.skipped
    assert not noted.file


def test_without_an_access_token_the_file_is_noted_and_nothing_asked(
    tenant, admin, fake_whatsapp, notify
):
    channel = _whatsapp(tenant, admin, token="")
    notify(channel, media_message("wamid.DOC1", "document", _document()))
    [message] = _messages(tenant)
    assert message.text.startswith("[document]")
    [noted] = _files(tenant, message)
    assert noted.skipped.startswith("Not downloaded: The channel has no access token")
    assert fake_whatsapp.calls() == []


def test_a_url_that_is_not_https_or_a_wrong_checksum_is_not_kept(
    tenant, admin, fake_whatsapp, notify
):
    channel = _whatsapp(tenant, admin)
    notify(channel, media_message("wamid.F", "document", _document(FILE_URL_ID)))
    notify(channel, media_message("wamid.C", "image", _image(WRONG_CHECKSUM_ID)))
    file_url, wrong = _messages(tenant)
    [noted] = _files(tenant, file_url)
    assert "not https" in noted.skipped
    assert [c["path"] for c in fake_whatsapp.calls(FILE_URL_ID)] == [f"/v21.0/{FILE_URL_ID}"]
    [mismatch] = _files(tenant, wrong)
    assert mismatch.skipped == (
        "Not downloaded: The file WhatsApp gave does not match its checksum."
    )
    assert not mismatch.file


def test_a_whatsapp_file_over_the_limit_is_not_downloaded(
    tenant, admin, fake_whatsapp, notify, settings
):
    settings.CHANNELS_SEND_MAX_FILE_BYTES = 10  # Meta says the file's size first
    channel = _whatsapp(tenant, admin)
    notify(channel, media_message("wamid.DOC1", "document", _document()))
    [message] = _messages(tenant)
    [noted] = _files(tenant, message)
    assert noted.skipped == "Not downloaded: The file is larger than 10\xa0bytes."
    assert fake_whatsapp.calls("attachments") == []


# --- VK ---------------------------------------------------------------------------------


@pytest.fixture
def vk(tenant: Tenant, admin: Membership, fake_vk: FakeApi) -> Channel:
    config = {"group_id": GROUP_ID, "confirmation": CONFIRMATION, "secret_key": SECRET_KEY}
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="vk", name="ВК", config=config)


@pytest.fixture
def write(deliver, vk):
    def post(event_id: str, attachments: list[dict[str, Any]], text: str = ""):
        event = message_new(event_id, text=text, attachments=attachments)
        response = deliver(vk, event)
        assert response.status_code == 200, response.content
        return response

    return post


def _doc(url: str, title: str = "Реквизиты", size: int = 22) -> dict[str, Any]:
    body = {"id": 1, "owner_id": 434920113, "title": title, "size": size, "ext": "pdf"}
    return {"type": "doc", "doc": {**body, "url": url}}


def test_a_vk_document_and_the_largest_photo_land_in_the_thread(tenant, vk, fake_vk, write):
    base = fake_vk.base_url
    sizes = [
        {"type": "s", "url": f"{base}/files/photo_s.jpg", "width": 75, "height": 56},
        {"type": "w", "url": f"{base}/files/photo_w.jpg", "width": 2560, "height": 1920},
        {"type": "x", "url": f"{base}/files/photo_x.jpg", "width": 604, "height": 453},
    ]
    photo = {"type": "photo", "photo": {"id": 2, "owner_id": 434920113, "sizes": sizes}}
    write("e1", [_doc(f"{base}/files/doc1.pdf"), photo], text="Вот реквизиты и фото")
    [message] = _messages(tenant)
    assert message.text == "Вот реквизиты и фото"
    document, picture = _files(tenant, message)
    assert (document.filename, document.content_type) == ("Реквизиты.pdf", "application/pdf")
    assert _content(tenant, document) == FILES["doc1.pdf"]
    assert (picture.filename, picture.skipped) == ("photo.jpg", "")
    assert _content(tenant, picture) == FILES["photo_w.jpg"]
    assert [c["path"] for c in fake_vk.calls("/files/")] == [
        "/files/doc1.pdf",
        "/files/photo_w.jpg",
    ]


def test_a_vk_voice_message_is_kept_as_mp3(tenant, vk, fake_vk, write):
    base = fake_vk.base_url
    voice = {
        "duration": 3,
        "link_ogg": f"{base}/files/voice.ogg",
        "link_mp3": f"{base}/files/voice.mp3",
    }
    write("e1", [{"type": "audio_message", "audio_message": voice}])
    [message] = _messages(tenant)
    assert message.text == "[audio message]"
    [kept] = _files(tenant, message)
    assert kept.filename == "voice.mp3"
    assert _content(tenant, kept) == FILES["voice.mp3"]


def test_a_redirect_is_followed_only_to_vks_own_hosts(tenant, vk, fake_vk, write):
    base = fake_vk.base_url
    write("e1", [_doc(f"{base}/files/moved-home")])
    write("e2", [_doc(f"{base}/files/moved-away")])
    home, away = _messages(tenant)
    [kept] = _files(tenant, home)
    assert _content(tenant, kept) == FILES["doc1.pdf"]
    [refused] = _files(tenant, away)
    assert refused.skipped.startswith("Not downloaded: VK sent the file's download elsewhere")
    paths = [c["path"] for c in fake_vk.calls("/files/")]
    assert paths == ["/files/moved-home", "/files/doc1.pdf", "/files/moved-away"]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/files/doc1.pdf",
        "https://vk.com.evil.example/doc1.pdf",
        "https://user@vk.com/doc1.pdf",
        "http://vk.com/doc1.pdf",
        "ftp://vk.com/doc1.pdf",
        "file:///etc/passwd",
        "LOCAL",  # the fake under another host name: not the configured API's
        "not a url",
    ],
)
def test_an_address_that_is_not_vks_is_refused_without_a_request(tenant, vk, fake_vk, write, url):
    if url == "LOCAL":
        url = fake_vk.base_url.replace("127.0.0.1", "localhost") + "/files/doc1.pdf"
    write("e1", [_doc(url)], text="Посмотрите файл")
    [message] = _messages(tenant)
    assert message.text == "Посмотрите файл"
    [noted] = _files(tenant, message)
    assert noted.skipped.startswith("Not downloaded: The file's address is not VK's")
    assert not noted.file
    assert fake_vk.calls() == []


def test_a_file_vk_no_longer_has_is_noted(tenant, vk, fake_vk, write):
    write("e1", [_doc(f"{fake_vk.base_url}/files/expired.pdf")])
    [message] = _messages(tenant)
    [noted] = _files(tenant, message)
    assert noted.skipped == "Not downloaded: VK did not give the file (HTTP 404)."


def test_a_download_longer_than_the_limit_is_never_read_whole(tenant, vk, fake_vk, write, settings):
    settings.CHANNELS_SEND_MAX_FILE_BYTES = 8  # a photo's size is not told beforehand
    sizes = [{"type": "w", "url": f"{fake_vk.base_url}/files/photo_w.jpg", "width": 1, "height": 1}]
    write("e1", [{"type": "photo", "photo": {"id": 2, "sizes": sizes}}])
    [message] = _messages(tenant)
    [noted] = _files(tenant, message)
    assert noted.skipped.startswith("Not kept: larger than")


def test_a_call_reads_at_most_one_byte_over_max_bytes(fake_vk):
    url = f"{fake_vk.base_url}/files/photo_w.jpg"
    answer = outbound.call(url, provider="VK", method="GET", max_bytes=5)
    assert answer.raw == FILES["photo_w.jpg"][:6]
    assert outbound.call(url, provider="VK", method="GET").raw == FILES["photo_w.jpg"]
