"""The e-mail channel against a real IMAP server (dovecot on loopback, tests/channels/
imap_server.py): messages APPENDed as a mail client would, the poller as beat runs it,
the worker's processing, leads in the inbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connections

from channels import health, mailbox, services
from channels.models import Channel, InboundEvent
from channels.services import channel_create, channel_update
from channels.tasks import mailboxes_poll_all_task
from crm.models import Attachment, Membership, Notification, Role, TimelineEvent
from crm.secrets import is_sealed, seal, unseal
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels import mail_samples as m
from tests.channels.conftest import events_of, leads_of
from tests.channels.imap_server import PASSWORD, Dovecot, require_dovecot
from tests.factories import add_member, make_tenant
from tests.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]

Status = InboundEvent.Status


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    require_dovecot()
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def email_channel(admin: Membership, imap: Dovecot, user: str, **config) -> Channel:
    with tenant_context(admin.tenant):
        return channel_create(
            actor=admin,
            kind="email",
            name=f"Почта {user}",
            config={
                "imap_host": "127.0.0.1",
                "imap_port": imap.port,
                "imap_security": "none",
                "imap_user": user,
                "imap_password": seal(PASSWORD),
                "imap_folder": "INBOX",
                **config,
            },
        )


def poll(channel: Channel, django_capture_on_commit_callbacks) -> int:
    """One poll as beat runs it, with the worker's processing of what it stored."""
    with django_capture_on_commit_callbacks(execute=True):
        return mailbox.channel_poll(tenant=channel.tenant, channel_id=channel.pk)


def state(channel: Channel) -> dict:
    with tenant_context(channel.tenant):
        return Channel.objects.get(pk=channel.pk).config.get("imap_state") or {}


def timeline(lead: Lead) -> list[TimelineEvent]:
    with tenant_context(lead.tenant):
        return list(
            TimelineEvent.objects.filter(target_id=lead.pk, kind="lead.inquiry").order_by("pk")
        )


def test_real_mailbox_messages_become_leads_and_the_rest_is_ignored(
    imap, admin, media, django_capture_on_commit_callbacks
):
    user = imap.new_user()
    channel = email_channel(admin, imap, user)
    first = m.gmail(
        sender="anna@example.com",
        name="Анна Смирнова",
        subject="Нужна консультация по тарифам и срокам поставки оборудования для склада",
        text="Здравствуйте!\nСколько стоит?",
        message_id="CAF1=first@mail.gmail.com",
    )
    imap.append(
        user,
        first,
        m.outlook_cp1251(message_id="DB9PR02MB7001.1@eurprd02.prod.outlook.com"),
        m.mailru_koi8(message_id="1733331850.k1@mail.ru"),
        m.GARBAGE,  # malformed: recorded, and the rest still lands
        m.yandex_html_only(message_id="y1@mail.yandex.ru"),
        m.auto_reply(sender="anna@example.com", message_id="ar1@exchange.example.com"),
        m.bounce(message_id="20261204.9F1C2A0E7B@mx.acme.test"),
        m.bounce_without_auto_header(message_id="pm1@mail.example.net"),
        m.unknown_charset(message_id="u1@example.org"),
        # The same person, the address in other letters' case: joins her lead.
        m.gmail(
            sender="ANNA@Example.COM",
            name="Анна",
            subject="Ещё вопрос",
            text="И про доставку",
            message_id="CAF2=second@mail.gmail.com",
        ),
        # A reply to her first letter from another address: joins that lead too.
        m.gmail(
            sender="a.smirnova@work.example.net",
            name="Anna Smirnova",
            subject="Re: Нужна консультация",
            text="Пишу с рабочей почты",
            message_id="CAF3=reply@mail.gmail.com",
            in_reply_to="CAF1=first@mail.gmail.com",
        ),
    )

    assert poll(channel, django_capture_on_commit_callbacks) == 11

    events = events_of(channel)
    assert len(events) == 11
    statuses = [e.status for e in events]
    assert statuses.count(Status.IGNORED) == 3  # auto-reply, two bounces
    assert statuses.count(Status.REJECTED) == 1  # the garbage
    assert all(e.detail for e in events if e.status in (Status.IGNORED, Status.REJECTED))
    assert statuses.count(Status.DONE) == 7
    leads = {lead.email.lower(): lead for lead in leads_of(channel.tenant)}
    assert set(leads) == {
        "anna@example.com",
        "ivan.petrov@romashka.ru",
        "olga.s@mail.ru",
        "petr@yandex.ru",
        "noname@example.org",
    }
    anna = leads["anna@example.com"]
    assert anna.source == "email"
    assert anna.name == "Анна Смирнова"
    assert anna.title.startswith("Нужна консультация по тарифам")
    messages = [e.data["message"] for e in timeline(anna)]
    assert "И про доставку" in messages
    assert "Пишу с рабочей почты" in messages
    reply = next(e for e in events if e.external_id == "CAF3=reply@mail.gmail.com")
    assert reply.outcome == InboundEvent.Outcome.ATTACHED
    assert reply.lead_id == anna.pk

    ivan = leads["ivan.petrov@romashka.ru"]
    assert ivan.name == "Иван Петров"
    assert ivan.title == "Запрос коммерческого предложения на поставку оборудования для склада"
    assert "ООО «Ромашка»" in ivan.message
    olga = leads["olga.s@mail.ru"]
    assert olga.name == "Ольга Сидорова"
    assert "доставка в Казань" in olga.message
    petr = leads["petr@yandex.ru"]
    assert "Нужен счёт на 10 коробок." in petr.message
    assert "alert" not in petr.message
    assert "Привет, нужна консультация" in leads["noname@example.org"].message
    with tenant_context(channel.tenant):
        files = list(Attachment.objects.all())
    assert [(f.filename, f.content_type, f.target_id) for f in files] == [
        ("Прайс-лист 2026.pdf", "application/pdf", ivan.pk)
    ]
    html = next(e for e in timeline(petr) if e.data.get("inbound", {}).get("html"))
    assert "<script" not in html.data["inbound"]["html"]
    assert "onerror" not in html.data["inbound"]["html"]

    # Nothing was marked read or deleted on the server.
    with imap.client(user) as box:
        box.folder.set("INBOX", readonly=True)
        assert len(box.uids("ALL")) == 11
        assert box.uids("SEEN") == []

    # The next poll finds nothing new; a new message is read alone.
    assert poll(channel, django_capture_on_commit_callbacks) == 0
    imap.append(user, m.mailru_koi8(message_id="k2@mail.ru"))
    assert poll(channel, django_capture_on_commit_callbacks) == 1
    assert len(events_of(channel)) == 12


def test_a_letter_over_the_size_limit_lands_by_its_headers_and_own_mail_is_ignored(
    imap, admin, media, django_capture_on_commit_callbacks, settings
):
    settings.CHANNELS_EMAIL_MAX_MESSAGE_BYTES = 3000
    user = imap.new_user()
    channel = email_channel(admin, imap, user)
    big = m.with_files(
        sender="big@example.com",
        message_id="big@example.com",
        files={"scan.pdf": ("application/pdf", b"%PDF" + b"0" * 6000)},
    )
    own = m.gmail(
        sender=user.upper(), name="Мы", subject="Копия", text="Наш ответ", message_id="own@x"
    )
    imap.append(user, big, own)
    assert poll(channel, django_capture_on_commit_callbacks) == 2
    big_event, own_event = events_of(channel)
    assert own_event.status == Status.IGNORED
    assert big_event.status == Status.DONE
    [lead] = leads_of(channel.tenant)
    assert lead.email == "big@example.com"
    assert "over the channel's limit" in lead.message
    assert len(bytes(big_event.body)) < 3000
    with tenant_context(channel.tenant):
        assert not Attachment.objects.exists()


class Killed(BaseException):
    """The poller's process dies (not an error it could record)."""


def test_a_poller_killed_mid_way_loses_nothing_and_reads_nothing_twice(
    imap, admin, media, django_capture_on_commit_callbacks, monkeypatch
):
    user = imap.new_user()
    channel = email_channel(admin, imap, user)
    imap.append(
        user,
        *(
            m.gmail(
                sender=f"client{n}@example.com",
                name=f"Клиент {n}",
                subject=f"Заявка {n}",
                text="Текст",
                message_id=f"kill{n}@example.com",
            )
            for n in range(5)
        ),
    )
    stored = []
    real_store = mailbox._store

    def store_then_die(channel, raw):
        real_store(channel, raw)
        stored.append(raw)
        if len(stored) == 3:  # killed after storing the third, before its UID is saved
            raise Killed

    monkeypatch.setattr(mailbox, "_store", store_then_die)
    with pytest.raises(Killed):
        poll(channel, django_capture_on_commit_callbacks)
    assert len(events_of(channel)) == 3
    assert state(channel)["last_uid"] == 2

    monkeypatch.setattr(mailbox, "_store", real_store)  # "restarted"
    assert poll(channel, django_capture_on_commit_callbacks) == 3  # the third again, then 2
    events = events_of(channel)
    assert len(events) == 5
    assert {e.external_id for e in events} == {f"kill{n}@example.com" for n in range(5)}
    assert len(leads_of(channel.tenant)) == 5
    assert state(channel)["last_uid"] == 5


def test_a_rebuilt_folder_new_uidvalidity_is_read_again_without_duplicates(
    imap, admin, media, django_capture_on_commit_callbacks, settings
):
    settings.CHANNELS_EMAIL_MAX_PER_POLL = 2  # bounded: several polls catch up
    user = imap.new_user()
    with imap.client(user) as box:
        box.folder.create("Leads")
    channel = email_channel(admin, imap, user, imap_folder="Leads")
    letters = [
        m.gmail(
            sender=f"p{n}@example.com",
            name="Пётр",
            subject=f"Письмо {n}",
            text="Текст",
            message_id=f"rebuild{n}@example.com",
        )
        for n in range(4)
    ]
    imap.append(user, *letters[:3], folder="Leads")
    assert poll(channel, django_capture_on_commit_callbacks) == 2
    assert poll(channel, django_capture_on_commit_callbacks) == 1
    before = state(channel)["uidvalidity"]

    imap.recreate(user, "Leads", letters[2], letters[0], letters[3], letters[1])
    assert imap.uidvalidity(user, "Leads") != before
    for _ in range(3):
        poll(channel, django_capture_on_commit_callbacks)
    after = state(channel)
    assert after["uidvalidity"] == imap.uidvalidity(user, "Leads")
    assert after["last_uid"] == 4
    events = events_of(channel)
    assert sorted(e.external_id for e in events) == [f"rebuild{n}@example.com" for n in range(4)]
    assert len(leads_of(channel.tenant)) == 4


@pytest.mark.usefixtures("english_workspace")
def test_a_failing_login_is_recorded_and_admins_are_told_once(
    imap, admin, tenant, django_capture_on_commit_callbacks, client_for, monkeypatch
):
    monkeypatch.setattr(health, "TROUBLE_GRACE", timedelta(0))  # told at the first failure
    user = imap.new_user()
    channel = email_channel(admin, imap, user)
    config = {**channel.config, "imap_password": seal("wrong")}
    with tenant_context(tenant):
        channel = channel_update(actor=admin, channel=channel, data={"config": config})
        manager = add_member(tenant, Role.Kind.MANAGER)

    for _ in range(4):
        assert poll(channel, django_capture_on_commit_callbacks) == 0
    failing = state(channel)
    assert failing["failures"] == 4
    assert "login" in failing["last_error"].lower()
    assert "wrong" not in failing["last_error"]
    assert "AUTHENTICATIONFAILED" in failing["last_error"]
    assert "b'" not in failing["last_error"]
    assert failing["last_error_at"]
    with tenant_context(tenant):
        notes = list(Notification.objects.filter(kind="channel.trouble"))
        problem = Channel.objects.get(pk=channel.pk).problem
    assert [n.recipient_id for n in notes] == [admin.pk]  # once, to who manages channels
    assert "login" in problem.lower()
    assert manager.pk not in {n.recipient_id for n in notes}

    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{channel.pk}/")
    assert page.status_code == 200
    assert 'data-state="failing"' in page.content.decode()

    # Fixed: it reads again, and a later failure streak is told again.
    with tenant_context(tenant):
        config = {**config, "imap_password": seal(PASSWORD)}
        channel = channel_update(actor=admin, channel=channel, data={"config": config})
    imap.append(user, m.mailru_koi8(message_id="after-fix@mail.ru"))
    assert poll(channel, django_capture_on_commit_callbacks) == 1
    assert state(channel)["failures"] == 0
    with tenant_context(tenant):
        assert Channel.objects.get(pk=channel.pk).problem == ""
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{channel.pk}/")
    assert 'data-state="ok"' in page.content.decode()


def test_an_unreachable_server_never_crashes_the_periodic_task(
    admin, tenant, django_capture_on_commit_callbacks, settings
):
    settings.CHANNELS_EMAIL_IMAP_TIMEOUT = 2
    with tenant_context(tenant):
        channel = channel_create(
            actor=admin,
            kind="email",
            name="Нет сервера",
            config={
                "imap_host": "127.0.0.1",
                "imap_port": 9,  # nothing listens
                "imap_security": "ssl",
                "imap_user": "x",
                "imap_password": seal("y"),
            },
        )
    with django_capture_on_commit_callbacks(execute=True):
        assert mailboxes_poll_all_task.apply().get() >= 1
    assert "connect" in state(channel)["last_error"].lower()


def test_create_channel_takes_the_mailbox_options_and_the_form_keeps_the_password(
    imap, tenant, admin, client_for, capsys, django_capture_on_commit_callbacks
):
    user = imap.new_user()
    call_command(
        "create_channel",
        "--tenant",
        tenant.slug,
        "--kind",
        "email",
        "--name",
        "Отдел продаж",
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        str(imap.port),
        "--imap-security",
        "none",
        "--imap-user",
        user,
        "--imap-password",
        PASSWORD,
        "--folder",
        "INBOX",
    )
    out = capsys.readouterr().out
    with tenant_context(tenant):
        channel = Channel.objects.get(name="Отдел продаж")
    assert out.splitlines()[0] == f"/in/{channel.token}/"
    assert channel.secret in out
    assert PASSWORD not in out
    assert is_sealed(channel.config["imap_password"])
    assert unseal(channel.config["imap_password"]) == PASSWORD
    assert channel.config["imap_folder"] == "INBOX"
    imap.append(user, m.mailru_koi8(message_id="cmd@mail.ru"))
    assert poll(channel, django_capture_on_commit_callbacks) == 1

    client = client_for(admin)
    edit = f"/{tenant.slug}/settings/channels/{channel.pk}/edit/"
    form = client.get(edit).content.decode()
    assert PASSWORD not in form
    assert channel.config["imap_password"] not in form
    answer = client.post(
        edit,
        {
            "name": "Отдел продаж",
            "enabled": "on",
            "config-imap_host": "127.0.0.1",
            "config-imap_port": str(imap.port),
            "config-imap_security": "none",
            "config-imap_user": user,
            "config-imap_password": "",  # empty: the stored one stays
            "config-imap_folder": "INBOX",
        },
    )
    assert answer.status_code == 302
    with tenant_context(tenant):
        saved = Channel.objects.get(pk=channel.pk)
    assert unseal(saved.config["imap_password"]) == PASSWORD
    assert saved.config["imap_state"]["last_uid"] == 1  # the poller's place is kept
    page = client.get(f"/{tenant.slug}/settings/channels/{channel.pk}/").content.decode()
    assert f"/in/{channel.token}/" in page
    assert 'data-state="ok"' in page
    assert "imap.gmail.com" in page  # the providers' steps


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_poller_process_killed_with_sigkill_loses_and_doubles_nothing(imap, tmp_path, settings):
    """The real thing: the poller in its own process, SIGKILLed right after a message's
    delivery was committed and before its UID was saved; the next poll finishes the job."""
    settings.MEDIA_ROOT = tmp_path / "media"
    tenant = make_tenant("mailkill", name="Mail kill")
    with tenant_context(tenant):
        admin = Membership.objects.filter(role__kind=Role.Kind.ADMIN).first()
    user = imap.new_user()
    channel = email_channel(admin, imap, user)
    imap.append(
        user,
        *(
            m.gmail(
                sender=f"buyer{n}@example.com",
                name=f"Покупатель {n}",
                subject=f"Заказ {n}",
                text="Текст",
                message_id=f"sigkill{n}@example.com",
            )
            for n in range(4)
        ),
    )
    db = connections["default"].settings_dict
    credentials = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'] or '', safe='')}"
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        ENV_FILE="/nonexistent",
        DATABASE_URL=(
            f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
            f"{db['NAME']}"
        ),
        MEDIA_ROOT=str(tmp_path / "media"),
        TEST_POLLER_DIE_AFTER="2",
        TEST_POLLER_DIR=str(tmp_path),
    )
    log = (tmp_path / "poller.log").open("wb")
    poller = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "tests.channels.poller_app", str(tenant.pk), str(channel.pk)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: (tmp_path / "stored").exists() or poller.poll() is not None,
            "the poller to store two messages",
            seconds=90,
        )
        assert (tmp_path / "stored").exists(), (tmp_path / "poller.log").read_text()
    finally:
        poller.send_signal(signal.SIGKILL)
        poller.wait(timeout=30)
        log.close()
    assert [e.external_id for e in events_of(channel)] == [
        "sigkill0@example.com",
        "sigkill1@example.com",
    ]
    assert state(channel)["last_uid"] == 1  # the second one's UID was never saved

    # The next poll (a killed poller's lock in a shared cache expires after LOCK_SECONDS).
    assert mailbox.channel_poll(tenant=tenant, channel_id=channel.pk) == 3
    events = events_of(channel)
    assert sorted(e.external_id for e in events) == [f"sigkill{n}@example.com" for n in range(4)]
    assert all(e.status == Status.DONE for e in events)
    assert len(leads_of(tenant)) == 4


def test_a_poll_past_its_time_limit_stops_without_rejecting_or_skipping_a_message(
    imap, admin, media, django_capture_on_commit_callbacks, monkeypatch
):
    """The worker's soft time limit lands while a message is read: not the message's fault
    (it is not stored as unreadable, its UID not passed) nor the mailbox's (no failure)."""
    from celery.exceptions import SoftTimeLimitExceeded

    user = imap.new_user()
    channel = email_channel(admin, imap, user)
    imap.append(
        user,
        *(
            m.gmail(
                sender=f"late{n}@example.com",
                name=f"Клиент {n}",
                subject=f"Заявка {n}",
                text="Текст",
                message_id=f"late{n}@example.com",
            )
            for n in range(3)
        ),
    )
    real_accept = services.event_accept
    calls = []

    def accept_until_the_limit(*, channel, raw):
        calls.append(raw)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded
        return real_accept(channel=channel, raw=raw)

    monkeypatch.setattr(services, "event_accept", accept_until_the_limit)
    with pytest.raises(SoftTimeLimitExceeded):
        poll(channel, django_capture_on_commit_callbacks)
    assert [e.status for e in events_of(channel)] == ["done"]
    assert state(channel)["last_uid"] == 1
    assert "last_error" not in state(channel)
    monkeypatch.setattr(services, "event_accept", real_accept)
    assert poll(channel, django_capture_on_commit_callbacks) == 2
    assert len(leads_of(channel.tenant)) == 3
