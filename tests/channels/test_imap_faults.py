"""The IMAP poller killed (SIGKILL, its own process: tests/channels/poller_kill.py) after it
fetched a message and before the message was recorded — before anything was stored, or with
the delivery inserted but not committed (issue 19). The next poll makes one lead of it: not
two, not zero; nothing half-written stays behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connections

from channels import mailbox
from channels.models import InboundEvent
from crm.models import Membership, Role
from crm.tenancy import tenant_context
from tests.channels import mail_samples as m
from tests.channels.conftest import events_of, leads_of
from tests.channels.imap_server import Dovecot, require_dovecot
from tests.channels.livestack import inquiry_records
from tests.channels.test_email_imap import email_channel, state
from tests.factories import make_tenant
from tests.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]
Status = InboundEvent.Status

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    require_dovecot()
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _environment(folder: Path, at: str, nth: int) -> dict[str, str]:
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
        MEDIA_ROOT=str(folder / "media"),
        TEST_POLLER_KILL_AT=at,
        TEST_POLLER_KILL_NTH=str(nth),
        TEST_POLLER_DIR=str(folder),
    )
    return env


@pytest.mark.parametrize("at", ["fetched", "inserted"])
def test_a_poller_killed_between_fetching_and_recording_a_message_makes_one_lead_of_it(
    dovecot, tmp_path, settings, at
):
    settings.MEDIA_ROOT = tmp_path / "media"
    tenant = make_tenant(f"kill-{at}", name="Mail kill")
    with tenant_context(tenant):
        admin = Membership.objects.filter(role__kind=Role.Kind.ADMIN).first()
    user = dovecot.new_user()
    channel = email_channel(admin, dovecot, user)
    dovecot.append(
        user,
        *(
            m.gmail(
                sender=f"buyer{n}@example.com",
                name=f"Покупатель {n}",
                subject=f"Заказ {n}",
                text="Текст",
                message_id=f"{at}{n}@example.com",
            )
            for n in range(3)
        ),
    )
    with (tmp_path / "poller.log").open("wb") as log:
        poller = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "tests.channels.poller_kill", str(tenant.pk), str(channel.pk)],
            cwd=ROOT,
            env=_environment(tmp_path, at, 2),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: poller.poll() is not None, "the poller to die", seconds=60)
        finally:
            if poller.poll() is None:  # not dead: end our own process, by its PID
                os.kill(poller.pid, signal.SIGKILL)
                poller.wait(timeout=30)
    assert poller.returncode == -signal.SIGKILL, (tmp_path / "poller.log").read_text()
    assert (tmp_path / "killed").read_text() == at
    # The first message was recorded (and processed); of the second, nothing stayed.
    (first,) = events_of(channel)
    assert (first.external_id, first.status) == (f"{at}0@example.com", Status.DONE)
    assert state(channel)["last_uid"] == 1
    assert len(leads_of(tenant)) == 1

    # The next poll (beat's next tick) reads from the second message on: one lead each.
    assert mailbox.channel_poll(tenant=tenant, channel_id=channel.pk) == 2
    assert mailbox.channel_poll(tenant=tenant, channel_id=channel.pk) == 0
    events = events_of(channel)
    assert [e.external_id for e in events] == [f"{at}{n}@example.com" for n in range(3)]
    assert [e.status for e in events] == [Status.DONE] * 3
    leads = leads_of(tenant)
    assert sorted(lead.email for lead in leads) == [f"buyer{n}@example.com" for n in range(3)]
    assert {e.lead_id for e in events} == {lead.pk for lead in leads}
    assert inquiry_records(tenant) == 3
    assert state(channel)["last_uid"] == 3
