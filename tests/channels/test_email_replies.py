"""E-mail replies from the cards against real servers: a letter comes in through dovecot
(tests/channels/imap_server.py) and the IMAP poller, a manager answers from the lead's card,
the reply goes out over SMTP to aiosmtpd in its own process (tests/channels/smtp_server.py)
threaded to the client's letter, and the client's answer — even from another address —
comes back into the same lead's thread. The server's 4xx, 5xx, silence and absence; the
password sealed at rest; a marketer and another workspace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from channels import conversations, mailbox
from channels.adapters import adapter_for
from channels.models import Channel, Message
from channels.services import channel_create
from crm.models import Membership, Tenant
from crm.secrets import is_sealed, seal, unseal
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels import mail_samples as m
from tests.channels.imap_server import PASSWORD, Dovecot, require_dovecot
from tests.channels.smtp_server import SmtpServer, require_aiosmtpd
from tests.processes import free_port

# The workers write in the workspace's language: these tests read English.
pytestmark = pytest.mark.usefixtures("english_workspace")

Status = Message.Status
CHANNEL_NAME = "Отдел продаж"
ANNA = "anna@example.com"
FIRST_ID = "CAF1=anna-first@mail.gmail.com"


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    require_dovecot()
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    require_aiosmtpd()
    # The SMTP server takes the mailbox's password: the channel leaves its SMTP login and
    # password empty and sends with the IMAP ones.
    server = SmtpServer(password=PASSWORD).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.reset()
    return smtp_server


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def mail_channel(admin: Membership, imap: Dovecot, smtp: SmtpServer, **config) -> Channel:
    user = imap.new_user()
    with tenant_context(admin.tenant):
        return channel_create(
            actor=admin,
            kind="email",
            name=CHANNEL_NAME,
            config={
                "imap_host": "127.0.0.1",
                "imap_port": imap.port,
                "imap_security": "none",
                "imap_user": user,
                "imap_password": seal(PASSWORD),
                "imap_folder": "INBOX",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "smtp_security": "none",
                "smtp_user": "",
                "smtp_password": "",
                "smtp_from": "",
                **config,
            },
        )


@pytest.fixture
def channel(admin, imap, smtp, media) -> Channel:
    return mail_channel(admin, imap, smtp)


def arrive(imap: Dovecot, channel: Channel, capture, *letters: bytes) -> int:
    """The client's letters reach the mailbox; one poll as beat runs it, and the worker."""
    imap.append(channel.config["imap_user"], *letters)
    with capture(execute=True):
        return mailbox.channel_poll(tenant=channel.tenant, channel_id=channel.pk)


def first_letter(**extra) -> bytes:
    return m.gmail(
        sender=ANNA,
        name="Анна Смирнова",
        subject="Вопрос о доставке",
        text="Здравствуйте! Сколько стоит доставка в Казань?",
        message_id=FIRST_ID,
        **extra,
    )


def the_lead(tenant: Tenant) -> Lead:
    with tenant_context(tenant):
        return Lead.objects.get()


def messages(tenant: Tenant) -> list[Message]:
    with tenant_context(tenant):
        return list(Message.objects.order_by("pk"))


def conversations_routes(lead: Lead, member: Membership) -> list[conversations.Route]:
    with tenant_context(lead.tenant):
        return conversations.reply_routes(Lead.objects.get(pk=lead.pk), member)


def panel_url(tenant: Tenant, lead: Lead, tail: str = "") -> str:
    return f"/{tenant.slug}/conversations/lead/{lead.pk}/{tail}"


def give(lead: Lead, member: Membership) -> None:
    with tenant_context(lead.tenant):
        Lead.objects.filter(pk=lead.pk).update(owner=member)


def reply(client, tenant: Tenant, lead: Lead, capture, text: str = "Добрый день!", **extra):
    """Answer from the card through the route the panel offers (sent after the commit)."""
    panel = client.get(panel_url(tenant, lead), HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    route = panel.context["routes"][0]  # the address the client last wrote from
    with capture(execute=True):
        return client.post(
            panel_url(tenant, lead, "reply/"),
            {"route": route.key, "text": text, **extra},
            HTTP_HX_REQUEST="true",
        )


@pytest.fixture
def lead_of_anna(tenant, channel, imap, manager, django_capture_on_commit_callbacks) -> Lead:
    assert arrive(imap, channel, django_capture_on_commit_callbacks, first_letter()) == 1
    lead = the_lead(tenant)
    give(lead, manager)
    return lead


def test_a_reply_goes_out_threaded_and_the_clients_answer_joins_the_same_lead(
    tenant,
    channel,
    imap,
    smtp,
    manager,
    client_for,
    lead_of_anna,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    client = client_for(manager)
    panel = client.get(panel_url(tenant, lead_of_anna), HTTP_HX_REQUEST="true")
    [route] = panel.context["routes"]
    assert route.key == f"{channel.pk}:{ANNA}"
    assert "Сколько стоит доставка в Казань?" in panel.content.decode()

    response = reply(client, tenant, lead_of_anna, capture, text="Добрый день, {client_name}!")
    assert response.status_code == 200, response.content
    [incoming, sent] = messages(tenant)
    assert incoming.direction == "in"
    assert incoming.external_id == FIRST_ID
    assert sent.direction == "out"
    assert sent.status == Status.SENT, sent.error
    assert sent.attempts == 1
    assert sent.author_id == manager.pk

    [letter] = smtp.received()
    user = channel.config["imap_user"]
    assert letter.login == user  # no SMTP login given: the mailbox's
    assert letter.mail_from == user
    assert letter.rcpt_tos == [ANNA]
    mail = letter.message
    assert mail["From"].addresses[0].display_name == CHANNEL_NAME
    assert mail["From"].addresses[0].addr_spec == user
    assert str(mail["To"]) == ANNA
    assert str(mail["Subject"]) == "Re: Вопрос о доставке"
    assert str(mail["Message-ID"]) == f"<{sent.external_id}>"
    assert str(mail["In-Reply-To"]) == f"<{FIRST_ID}>"
    assert f"<{FIRST_ID}>" in str(mail["References"]).split()
    assert mail["Date"] is not None
    assert mail["Auto-Submitted"] is None
    body = mail.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert body.get_content().strip() == "Добрый день, Анна Смирнова!"
    lead = the_lead(tenant)
    assert lead.waiting_since is None
    assert lead.first_response_at is not None

    # Anna answers from her work address: In-Reply-To names our Message-ID.
    answer = m.gmail(
        sender="a.smirnova@work.example.net",
        name="Anna Smirnova",
        subject="Re: Re: Вопрос о доставке",
        text="Спасибо! А до Уфы?",
        message_id="CAF2=anna-answer@mail.gmail.com",
        in_reply_to=sent.external_id,
    )
    assert arrive(imap, channel, capture, answer) == 1
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
        thread = conversations.thread(Lead.objects.get(), manager)
    assert [(m.direction, m.text) for m in thread] == [
        ("in", "Здравствуйте! Сколько стоит доставка в Казань?"),
        ("out", "Добрый день, Анна Смирнова!"),
        ("in", "Спасибо! А до Уфы?"),
    ]
    assert the_lead(tenant).waiting_since is not None  # her answer waits for ours
    panel = client.get(panel_url(tenant, lead_of_anna), HTTP_HX_REQUEST="true")
    body = panel.content.decode()
    assert body.count('data-testid="message"') == 3
    assert "Спасибо! А до Уфы?" in body


def test_the_next_reply_carries_the_whole_thread_in_references(
    tenant,
    channel,
    imap,
    smtp,
    manager,
    client_for,
    lead_of_anna,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    client = client_for(manager)
    reply(client, tenant, lead_of_anna, capture, text="Первый ответ")
    first = messages(tenant)[-1]
    answer = m.gmail(
        sender=ANNA,
        name="Анна",
        subject="Re: Вопрос о доставке",
        text="А ещё вопрос",
        message_id="CAF3=anna-more@mail.gmail.com",
        in_reply_to=first.external_id,
    )
    arrive(imap, channel, capture, answer)
    reply(client, tenant, lead_of_anna, capture, text="Второй ответ")
    second = smtp.received()[-1].message
    assert str(second["In-Reply-To"]) == "<CAF3=anna-more@mail.gmail.com>"
    references = str(second["References"]).split()
    assert references[-2:] == [f"<{first.external_id}>", "<CAF3=anna-more@mail.gmail.com>"]
    assert str(second["Subject"]) == "Re: Вопрос о доставке"  # never "Re: Re:"


def test_the_reply_goes_to_the_reply_to_address_when_the_client_gave_one(
    tenant, channel, imap, smtp, manager, client_for, django_capture_on_commit_callbacks
):
    letter = m.crlf(
        f"""Message-ID: <rt1@example.org>
From: Shop Robot <noreply@shop.example.org>
Reply-To: Пётр <petr@example.org>
To: {channel.config["imap_user"]}
Subject: Заказ звонка
Content-Type: text/plain; charset=utf-8

Перезвоните мне, пожалуйста.
"""
    )
    capture = django_capture_on_commit_callbacks
    assert arrive(imap, channel, capture, letter) == 1
    lead = the_lead(tenant)
    give(lead, manager)
    routes = conversations_routes(lead, manager)
    assert routes[0].address == "petr@example.org"
    reply(client_for(manager), tenant, lead, capture, text="Перезвоним")
    [sent] = smtp.received()
    assert sent.rcpt_tos == ["petr@example.org"]


def test_a_451_keeps_the_reply_queued_and_it_goes_later_with_the_same_message_id(
    tenant, smtp, manager, client_for, lead_of_anna, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    smtp.faults(once=[{"stage": "rcpt", "reply": "451 4.7.1 Greylisted, try again later"}])
    assert reply(client_for(manager), tenant, lead_of_anna, capture).status_code == 200
    queued = messages(tenant)[-1]
    assert queued.status == Status.QUEUED
    assert "451 4.7.1 Greylisted" in queued.error
    assert queued.attempts == 1
    assert queued.next_attempt_at > timezone.now()
    assert smtp.received() == []
    with tenant_context(tenant):
        Message.objects.filter(pk=queued.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
    with capture(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 1
    sent = messages(tenant)[-1]
    assert sent.status == Status.SENT
    assert sent.attempts == 2
    assert sent.error == ""
    [letter] = smtp.received()
    assert str(letter.message["Message-ID"]) == f"<{queued.external_id}>"


def test_a_4xx_after_the_data_is_tried_again_too(
    tenant, smtp, manager, client_for, lead_of_anna, django_capture_on_commit_callbacks
):
    smtp.faults(once=[{"stage": "data", "reply": "452 4.3.1 Insufficient system storage"}])
    reply(client_for(manager), tenant, lead_of_anna, django_capture_on_commit_callbacks)
    queued = messages(tenant)[-1]
    assert queued.status == Status.QUEUED
    assert "452" in queued.error


def test_an_unknown_recipient_fails_with_the_servers_words(
    tenant, smtp, manager, client_for, lead_of_anna, django_capture_on_commit_callbacks
):
    refusal = "550 5.1.1 <anna@example.com>: Recipient address rejected: User unknown"
    smtp.faults(refuse={ANNA: refusal})
    client = client_for(manager)
    reply(client, tenant, lead_of_anna, django_capture_on_commit_callbacks)
    failed = messages(tenant)[-1]
    assert failed.status == Status.FAILED
    assert "Recipient address rejected: User unknown" in failed.error
    assert "550" in failed.error
    assert smtp.received() == []
    panel = client.get(panel_url(tenant, lead_of_anna), HTTP_HX_REQUEST="true").content.decode()
    assert "Recipient address rejected" in panel
    assert 'data-testid="send-again"' in panel


def test_a_refused_login_fails_with_the_servers_words(
    tenant, channel, smtp, manager, client_for, lead_of_anna, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        Channel.objects.filter(pk=channel.pk).update(
            config={**channel.config, "smtp_password": seal("wrong")}
        )
    reply(client_for(manager), tenant, lead_of_anna, django_capture_on_commit_callbacks)
    failed = messages(tenant)[-1]
    assert failed.status == Status.FAILED
    assert "535" in failed.error
    assert smtp.received() == []


def test_an_smtp_server_that_is_down_keeps_the_reply_queued_with_the_reason(
    tenant, channel, manager, client_for, lead_of_anna, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        Channel.objects.filter(pk=channel.pk).update(
            config={**channel.config, "smtp_port": free_port()}
        )
    reply(client_for(manager), tenant, lead_of_anna, django_capture_on_commit_callbacks)
    queued = messages(tenant)[-1]
    assert queued.status == Status.QUEUED
    assert "cannot be reached" in queued.error or "недоступ" in queued.error
    assert "refused" in queued.error.lower()
    assert queued.next_attempt_at > timezone.now()


def test_no_answer_after_the_data_is_uncertain_and_never_sent_again(
    tenant, smtp, manager, client_for, lead_of_anna, settings, django_capture_on_commit_callbacks
):
    settings.CHANNELS_SEND_TIMEOUT = 0.5
    smtp.faults(hang=2)
    capture = django_capture_on_commit_callbacks
    reply(client_for(manager), tenant, lead_of_anna, capture)
    uncertain = messages(tenant)[-1]
    assert uncertain.status == Status.UNCERTAIN
    assert "may have received" in uncertain.error or "мог" in uncertain.error
    with capture(execute=True), tenant_context(tenant):
        assert conversations.messages_sweep() == 0
    # Nothing went out again (this server drops a letter whose client hung up).
    assert messages(tenant)[-1].status == Status.UNCERTAIN
    assert messages(tenant)[-1].attempts == 1
    assert len(smtp.received()) <= 1


def test_a_file_goes_as_an_attachment(
    tenant, smtp, manager, client_for, lead_of_anna, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    price = SimpleUploadedFile("прайс.pdf", b"%PDF-1.4 price", content_type="application/pdf")
    reply(
        client_for(manager),
        tenant,
        lead_of_anna,
        django_capture_on_commit_callbacks,
        text="Прайс во вложении",
        file=price,
    )
    assert messages(tenant)[-1].status == Status.SENT
    mail = smtp.received()[0].message
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "прайс.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 price"
    assert mail.get_body(("plain",)).get_content().strip() == "Прайс во вложении"


def test_a_channel_without_an_smtp_server_only_receives(
    tenant, admin, imap, smtp, manager, client_for, media, django_capture_on_commit_callbacks
):
    channel = mail_channel(admin, imap, smtp, smtp_host="", smtp_port=None)
    assert "SMTP" in adapter_for("email").reply_problem(channel)
    assert arrive(imap, channel, django_capture_on_commit_callbacks, first_letter()) == 1
    lead = the_lead(tenant)
    give(lead, manager)
    panel = client_for(manager).get(panel_url(tenant, lead), HTTP_HX_REQUEST="true")
    assert panel.context["routes"] == []
    assert 'data-testid="no-routes"' in panel.content.decode()
    assert [m.direction for m in messages(tenant)] == ["in"]
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{channel.pk}/")
    assert 'data-testid="email-no-outgoing"' in page.content.decode()


def test_the_smtp_password_is_sealed_at_rest_and_never_shown(tenant, admin, client_for):
    client = client_for(admin)
    fields = {
        "name": "Почта продаж",
        "enabled": "on",
        "config-imap_host": "imap.yandex.ru",
        "config-imap_port": "993",
        "config-imap_security": "ssl",
        "config-imap_user": "sales@acme.test",
        "config-imap_password": "imap-app-password",
        "config-imap_folder": "INBOX",
        "config-smtp_host": "smtp.yandex.ru",
        "config-smtp_port": "",
        "config-smtp_security": "starttls",
        "config-smtp_user": "",
        "config-smtp_password": "smtp-app-password",
        "config-smtp_from": "Sales@Acme.test",
    }
    answer = client.post(f"/{tenant.slug}/settings/channels/new/email/", fields)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Почта продаж")
    config = channel.config
    assert is_sealed(config["smtp_password"])
    assert unseal(config["smtp_password"]) == "smtp-app-password"
    assert config["smtp_port"] == 587  # STARTTLS's port when none is given
    assert config["smtp_from"] == "sales@acme.test"
    assert adapter_for("email").reply_problem(channel) == ""
    edit = f"/{tenant.slug}/settings/channels/{channel.pk}/edit/"
    form = client.get(edit).content.decode()
    assert "smtp-app-password" not in form
    assert config["smtp_password"] not in form
    assert 'type="password" name="config-smtp_password"' in form
    answer = client.post(edit, {**fields, "config-imap_password": "", "config-smtp_password": ""})
    assert answer.status_code == 302
    with tenant_context(tenant):
        saved = Channel.objects.get(pk=channel.pk).config
    assert unseal(saved["smtp_password"]) == "smtp-app-password"  # empty keeps it
    page = client.get(f"/{tenant.slug}/settings/channels/{channel.pk}/").content.decode()
    assert 'data-testid="email-outgoing"' in page
    assert "smtp.yandex.ru:587" in page
    assert "smtp-app-password" not in page


def test_an_smtp_server_without_a_from_address_is_refused_in_the_form(tenant, admin, client_for):
    answer = client_for(admin).post(
        f"/{tenant.slug}/settings/channels/new/email/",
        {
            "name": "Почта",
            "enabled": "on",
            "config-imap_host": "imap.example.org",
            "config-imap_port": "993",
            "config-imap_security": "ssl",
            "config-imap_user": "sales",  # a login, not an address
            "config-imap_password": "x",
            "config-imap_folder": "INBOX",
            "config-smtp_host": "smtp.example.org",
            "config-smtp_port": "465",
            "config-smtp_security": "ssl",
            "config-smtp_from": "",
        },
    )
    assert answer.status_code == 400
    with tenant_context(tenant):
        assert not Channel.objects.filter(name="Почта").exists()


def test_a_marketer_reads_the_thread_but_cannot_reply(
    tenant, channel, smtp, marketer, client_for, lead_of_anna
):
    client = client_for(marketer)
    panel = client.get(panel_url(tenant, lead_of_anna), HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert 'data-testid="composer"' not in panel.content.decode()
    refused = client.post(
        panel_url(tenant, lead_of_anna, "reply/"),
        {"route": f"{channel.pk}:{ANNA}", "text": "Привет"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 403
    assert [m.direction for m in messages(tenant)] == ["in"]
    assert smtp.received() == []


def test_another_workspace_gets_404(tenant, channel, smtp, other_admin, client_for, lead_of_anna):
    other = client_for(other_admin)
    slug = other_admin.tenant.slug
    assert other.get(f"/{slug}/conversations/lead/{lead_of_anna.pk}/").status_code == 404
    response = other.post(
        f"/{slug}/conversations/lead/{lead_of_anna.pk}/reply/",
        {"route": f"{channel.pk}:{ANNA}", "text": "x"},
    )
    assert response.status_code == 404
    assert [m.direction for m in messages(tenant)] == ["in"]
    assert smtp.received() == []


def test_a_relay_without_a_login_takes_the_reply_without_one(
    tenant, channel, manager, client_for, lead_of_anna, django_capture_on_commit_callbacks
):
    relay = SmtpServer().start()  # no AUTH offered: a relay on a trusted network
    try:
        with tenant_context(tenant):
            Channel.objects.filter(pk=channel.pk).update(
                config={**channel.config, "smtp_port": relay.port}
            )
        reply(client_for(manager), tenant, lead_of_anna, django_capture_on_commit_callbacks)
        assert messages(tenant)[-1].status == Status.SENT, messages(tenant)[-1].error
        [letter] = relay.received()
        assert letter.login == ""
        # An SMTP login given explicitly is not dropped silently.
        with tenant_context(tenant):
            Channel.objects.filter(pk=channel.pk).update(
                config={**channel.config, "smtp_port": relay.port, "smtp_user": "robot"}
            )
        reply(client_for(manager), tenant, lead_of_anna, django_capture_on_commit_callbacks)
        refused = messages(tenant)[-1]
        assert refused.status == Status.FAILED
        assert "login" in refused.error
    finally:
        relay.stop()
