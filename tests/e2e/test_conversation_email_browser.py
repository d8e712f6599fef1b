"""End to end in a real browser: a client writes by e-mail (a real mailbox, dovecot, read
by the IMAP poller's task), a manager answers from the lead's card, the answer goes out over
SMTP (aiosmtpd in its own process) and shows "Sent" in the thread; the client's answer comes
back through the mailbox and appears in the same thread while the card stays open."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from channels.models import Message
from channels.services import channel_create
from channels.tasks import mailboxes_poll_all_task
from crm.models import Membership
from crm.secrets import seal
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels import mail_samples as m
from tests.channels.imap_server import PASSWORD, Dovecot, require_dovecot
from tests.channels.smtp_server import SmtpServer, require_aiosmtpd
from tests.e2e.pages import log_in
from tests.factories import add_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def servers(settings, tmp_path) -> Iterator[tuple[Dovecot, SmtpServer]]:
    require_dovecot()
    require_aiosmtpd()
    settings.MEDIA_ROOT = tmp_path / "media"
    imap = Dovecot()
    imap.start()
    smtp = None
    try:
        smtp = SmtpServer(password=PASSWORD).start()
        yield imap, smtp
    finally:
        if smtp is not None:
            smtp.stop()
        imap.stop()


def test_a_manager_answers_an_email_from_the_card_and_the_answer_comes_back_live(
    new_page, shots, servers
):
    imap, smtp = servers
    tenant = make_tenant("mailroom", name="Почтовый отдел")
    manager = add_member(tenant, "manager")
    user = imap.new_user()
    with tenant_context(tenant):
        admin = Membership.objects.get(role__kind="admin")
        channel_create(
            actor=admin,
            kind="email",
            name="Отдел продаж",
            default_owner=manager,
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
            },
        )
    imap.append(
        user,
        m.gmail(
            sender="anna@example.com",
            name="Анна Смирнова",
            subject="Доставка в Казань",
            text="Здравствуйте! Сколько стоит доставка стеллажей в Казань?",
            message_id="CAF1=anna@mail.gmail.com",
        ),
    )
    mailboxes_poll_all_task.delay()  # beat's minute tick, the worker eager
    with tenant_context(tenant):
        lead = Lead.objects.get()
    assert lead.owner_id == manager.pk

    page = new_page()
    log_in(page, manager.user.email, workspace="mailroom")
    page.goto(f"/mailroom/leads/{lead.pk}/")
    thread = page.locator("[data-testid=thread]")
    expect(thread.locator("[data-testid=message]")).to_have_count(1)
    expect(thread.locator("[data-testid=message][data-direction=in]")).to_contain_text(
        "Сколько стоит доставка стеллажей в Казань?"
    )
    expect(page.locator("[data-testid=reply-route]")).to_contain_text("anna@example.com")
    page.screenshot(path=shots / "01-the-clients-letter.png", full_page=True)

    page.fill("[data-testid=reply-text]", "Добрый день, {client_name}! Доставка — 4 500 ₽.")
    page.click("[data-testid=reply-send]")
    out = page.locator("[data-testid=thread] [data-testid=message][data-direction=out]")
    expect(out).to_have_count(1)
    expect(out).to_have_attribute("data-status", "sent")
    expect(out).to_contain_text("Добрый день, Анна Смирнова! Доставка — 4 500 ₽.")
    expect(out.locator("[data-testid=message-status]")).to_contain_text(
        re.compile(r"Sent|Отправлено")
    )
    [letter] = smtp.received()
    assert letter.rcpt_tos == ["anna@example.com"]
    assert str(letter.message["Subject"]) == "Re: Доставка в Казань"
    assert str(letter.message["In-Reply-To"]) == "<CAF1=anna@mail.gmail.com>"
    with tenant_context(tenant):
        sent = Message.objects.get(direction="out")
    assert str(letter.message["Message-ID"]) == f"<{sent.external_id}>"
    page.screenshot(path=shots / "02-the-reply-sent.png", full_page=True)

    # The client answers from her work address; the card stays open, never reloaded.
    page.evaluate("window.__notReloaded = true")
    imap.append(
        user,
        m.gmail(
            sender="a.smirnova@work.example.net",
            name="Anna Smirnova",
            subject="Re: Доставка в Казань",
            text="Спасибо, подходит! Оформляйте.",
            message_id="CAF2=anna-work@mail.gmail.com",
            in_reply_to=sent.external_id,
        ),
    )
    mailboxes_poll_all_task.delay()
    with tenant_context(tenant):
        assert Lead.objects.count() == 1
    messages = page.locator("[data-testid=thread] [data-testid=message]")
    expect(messages).to_have_count(3, timeout=10_000)  # the thread polls every 3 s
    expect(messages.nth(2)).to_have_attribute("data-direction", "in")
    expect(messages.nth(2)).to_contain_text("Спасибо, подходит! Оформляйте.")
    assert [messages.nth(i).get_attribute("data-direction") for i in range(3)] == [
        "in",
        "out",
        "in",
    ]
    assert page.evaluate("window.__notReloaded") is True
    page.locator("[data-testid=conversation]").scroll_into_view_if_needed()
    page.screenshot(path=shots / "03-the-answer-arrived-live.png", full_page=True)
