"""The e-mail channel's raw-mail endpoint (providers that forward mail over HTTP) and the
files that come with mail: stored, listed on the timeline, downloadable only by those who
may see the record."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels.models import Channel, InboundEvent
from channels.services import channel_create
from crm.models import Attachment, Membership, Role
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels import mail_samples as m
from tests.channels.conftest import events_of, leads_of
from tests.factories import add_member

Status = InboundEvent.Status


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def channel(tenant, admin) -> Channel:
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="email", name="Входящая почта")


def post(channel, body, *, content_type="message/rfc822", secret=None, capture=None, **extra):
    url = reverse("inbound", kwargs={"token": channel.token})
    if secret is None:
        secret = channel.secret
    if secret:
        extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {secret}")
    with capture(execute=True):
        return Client().post(url, data=body, content_type=content_type, **extra)


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def sender(channel, body, **kwargs):
        return post(channel, body, capture=django_capture_on_commit_callbacks, **kwargs)

    return sender


LETTER = m.gmail(
    sender="Maria@Example.com",
    name="Мария",
    subject="Заказ",
    text="Хочу заказать",
    message_id="raw1@mail.gmail.com",
)


@pytest.mark.parametrize(
    "auth",
    [
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"voronka:wrong").decode()},
        {"HTTP_AUTHORIZATION": "Basic ???"},
        {"HTTP_X_VORONKA_SECRET": "wrong"},
        {},
    ],
)
def test_a_wrong_or_missing_secret_gets_403_and_stores_nothing(channel, send, auth):
    answer = send(channel, LETTER, secret="", **auth)
    assert answer.status_code == 403
    assert events_of(channel) == []


def test_raw_mail_is_stored_processed_and_a_repeat_is_a_duplicate(tenant, channel, send):
    answer = send(channel, LETTER)
    assert answer.status_code == 202
    assert answer.json()["duplicate"] is False
    [event] = events_of(channel)
    assert event.status == Status.DONE
    assert event.key == "mid:raw1@mail.gmail.com"
    [lead] = leads_of(tenant)
    assert lead.email == "Maria@Example.com"
    assert lead.source == "email"
    assert lead.message == "Хочу заказать"

    again = send(channel, LETTER)  # the provider retries
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert len(events_of(channel)) == 1
    assert len(leads_of(tenant)) == 1


def test_providers_forms_and_basic_auth_are_understood(
    tenant, channel, send, django_capture_on_commit_callbacks
):
    basic = "Basic " + base64.b64encode(f"voronka:{channel.secret}".encode()).decode()
    sendgrid = m.mailru_koi8(message_id="sg@mail.ru")
    url = reverse("inbound", kwargs={"token": channel.token})
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            url, {"email": sendgrid.decode("ascii"), "to": "x"}, HTTP_AUTHORIZATION=basic
        )
    assert answer.status_code == 202
    mailgun = m.yandex_html_only(message_id="mg@yandex.ru")
    answer = send(
        channel,
        urlencode({"body-mime": mailgun.decode("ascii"), "recipient": "sales@acme.test"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            f"{url}?secret={channel.secret}",
            data=m.outlook_cp1251(message_id="q@outlook.com"),
            content_type="message/rfc822",
        )
    assert answer.status_code == 202
    keys = {e.key for e in events_of(channel)}
    assert keys == {"mid:sg@mail.ru", "mid:mg@yandex.ru", "mid:q@outlook.com"}
    assert len(leads_of(tenant)) == 3


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "message/rfc822"),
        (m.GARBAGE, "message/rfc822"),
        (m.huge_headers(), "message/rfc822"),
        (m.without_sender(message_id="nf@x"), "text/plain"),
        (b'{"To": "x"}', "application/json"),
        (b"[1, 2", "application/json"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"to=x&subject=y", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00" * 1000, "application/octet-stream"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason_never_a_500(channel, send, body, content_type):
    answer = send(channel, body, content_type=content_type)
    assert answer.status_code == 400
    assert answer.json()["error"]
    [event] = events_of(channel)
    assert event.status == Status.REJECTED
    assert event.detail


def test_auto_replies_and_bounces_are_recorded_and_ignored(tenant, channel, send):
    for body in (
        m.auto_reply(sender="maria@example.com", message_id="oof@x"),
        m.bounce(message_id="dsn@x"),
        m.bounce_without_auto_header(message_id="pm@x"),
    ):
        assert send(channel, body).status_code == 202
    events = events_of(channel)
    assert [e.status for e in events] == [Status.IGNORED] * 3
    assert all(e.detail for e in events)
    assert leads_of(tenant) == []


def test_a_delivery_over_the_size_limit_gets_413(channel, send, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    answer = send(channel, LETTER + b"x" * 5000)
    assert answer.status_code == 413


def files_letter(message_id: str = "files@x") -> bytes:
    return m.with_files(
        sender="client@example.com",
        message_id=message_id,
        files={
            "договор.txt": ("text/plain", "Договор №1".encode()),
            "page.html": ("text/html", b"<script>alert(1)</script>"),
            "huge.bin": ("application/octet-stream", b"\x00" * 5000),
        },
    )


def test_a_card_reads_its_letters_files_in_one_query_however_many_letters(
    tenant, channel, send, settings, client_for, admin
):
    settings.CHANNELS_EMAIL_MAX_ATTACHMENT_BYTES = 4000
    url = None
    counts = []
    for number in range(1, 4):
        assert send(channel, files_letter(f"files-{number}@x")).status_code == 202
        [lead] = leads_of(tenant)
        url = f"/{tenant.slug}/leads/{lead.pk}/"
        client = client_for(admin, "en")
        client.get(url)  # caches warmed
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url).content.decode()
        assert page.count('data-testid="attachment"') == 3 * number
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2]


@pytest.mark.usefixtures("english_workspace")  # the note of a file not kept is written then
def test_files_are_kept_within_limits_and_listed_on_the_timeline(
    tenant, channel, send, settings, client_for, admin
):
    settings.CHANNELS_EMAIL_MAX_ATTACHMENT_BYTES = 4000
    assert send(channel, files_letter()).status_code == 202
    [lead] = leads_of(tenant)
    with tenant_context(tenant):
        files = {a.filename: a for a in Attachment.objects.all()}
    assert set(files) == {"договор.txt", "page.html", "huge.bin"}
    assert files["huge.bin"].skipped
    assert not files["huge.bin"].file
    assert files["huge.bin"].size == 5000
    assert files["договор.txt"].file
    assert files["договор.txt"].target_id == lead.pk

    page = client_for(admin, "en").get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert page.count('data-testid="attachment"') == 3
    assert f"/{tenant.slug}/attachments/{files['договор.txt'].pk}/" in page
    assert f"/{tenant.slug}/attachments/{files['huge.bin'].pk}/" not in page
    assert "Not kept: larger than" in page
    assert "subject: <bdi>Files</bdi>" in page


def test_a_file_is_served_only_to_those_who_may_see_the_record(
    tenant, admin, other_admin, client_for, send, settings
):
    settings.CHANNELS_EMAIL_MAX_ATTACHMENT_BYTES = 4000
    with tenant_context(tenant):
        owner = add_member(tenant, Role.Kind.MANAGER)
        stranger = add_member(tenant, Role.Kind.MANAGER)
        channel = channel_create(
            actor=admin, kind="email", name="Почта менеджера", default_owner=owner
        )
    assert send(channel, files_letter()).status_code == 202
    with tenant_context(tenant):
        files = {a.filename: a for a in Attachment.objects.all()}
    contract, html = files["договор.txt"], files["page.html"]
    url = f"/{tenant.slug}/attachments/{contract.pk}/"

    answer = client_for(owner).get(url)
    assert answer.status_code == 200
    assert answer["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''" in answer["Content-Disposition"]
    assert answer["Content-Type"] == "text/plain"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert b"".join(answer.streaming_content) == "Договор №1".encode()

    served = client_for(owner).get(f"/{tenant.slug}/attachments/{html.pk}/")
    assert served["Content-Type"] == "application/octet-stream"  # never HTML inline
    assert served["Content-Disposition"].startswith("attachment;")

    assert client_for(stranger).get(url).status_code == 404
    assert client_for(admin).get(url).status_code == 200
    # Another workspace: neither under this one's address nor under its own.
    assert client_for(other_admin).get(url).status_code in (403, 404)
    own = f"/{other_admin.tenant.slug}/attachments/{contract.pk}/"
    assert client_for(other_admin).get(own).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page
    skipped = f"/{tenant.slug}/attachments/{files['huge.bin'].pk}/"
    assert client_for(owner).get(skipped).status_code == 404


def test_the_channel_page_shows_the_endpoint_and_the_provider_steps(
    tenant, channel, client_for, admin
):
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{channel.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert f"/in/{channel.token}/" in text
    assert f"voronka:{channel.secret}@" in text
    assert 'data-testid="email-no-mailbox"' in text
    assert "imap.yandex.ru" in text


def test_a_mailbox_form_needs_its_login_and_password(tenant, client_for, admin):
    answer = client_for(admin).post(
        f"/{tenant.slug}/settings/channels/new/email/",
        {
            "name": "Ящик",
            "enabled": "on",
            "config-imap_host": "imap.yandex.ru",
            "config-imap_port": "993",
            "config-imap_security": "ssl",
            "config-imap_user": "",
            "config-imap_password": "",
            "config-imap_folder": "",
        },
    )
    assert answer.status_code == 400
    with tenant_context(tenant):
        assert not Channel.objects.filter(name="Ящик").exists()


def test_members_without_settings_rights_never_see_the_mailbox(tenant, channel, client_for):
    manager: Membership = add_member(tenant, Role.Kind.MANAGER)
    page = client_for(manager).get(f"/{tenant.slug}/settings/channels/{channel.pk}/")
    assert page.status_code in (403, 404)


def test_an_html_only_letter_shows_as_text_and_sanitized_html(
    tenant, channel, send, client_for, admin
):
    assert send(channel, m.yandex_html_only(message_id="html@yandex.ru")).status_code == 202
    [lead] = leads_of(tenant)
    assert lead.message.startswith("Здравствуйте!")
    page = client_for(admin, "en").get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    start = page.index('data-testid="mail-html"')
    html = page[start : page.index("</details>", start)]
    assert "<b>счёт</b>" in html
    for unsafe in ("<script", "onerror", "javascript:", "<style", "<img"):
        assert unsafe not in html


def test_the_new_mailbox_form_asks_for_the_imap_settings(tenant, client_for, admin):
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/new/email/")
    text = page.content.decode()
    assert page.status_code == 200
    for name in ("imap_host", "imap_port", "imap_security", "imap_user", "imap_folder"):
        assert f'name="config-{name}"' in text
    assert 'type="password" name="config-imap_password"' in text


def test_a_reply_to_a_deleted_lead_is_matched_by_its_sender_instead(tenant, admin, channel, send):
    from leads.services import lead_delete

    assert send(channel, LETTER).status_code == 202
    [first] = leads_of(tenant)
    with tenant_context(tenant):
        lead_delete(actor=admin, lead=first)
    reply = m.gmail(
        sender="colleague@example.com",
        name="Коллега",
        subject="Re: Заказ",
        text="Отвечаю за Марию",
        message_id="raw2@mail.gmail.com",
        in_reply_to="raw1@mail.gmail.com",
    )
    assert send(channel, reply).status_code == 202
    event = events_of(channel)[-1]
    assert event.status == Status.DONE
    assert event.lead_id != first.pk
    with tenant_context(tenant):
        assert Lead.objects.get(pk=event.lead_id).email == "colleague@example.com"
