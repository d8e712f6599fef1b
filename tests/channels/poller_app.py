"""The IMAP poller as its own process, for the test that kills it mid-way
(tests/channels/test_email_imap.py): `python -m tests.channels.poller_app TENANT CHANNEL`.

It polls the channel once as beat would, but after storing the message number
`$TEST_POLLER_DIE_AFTER` (committed, its UID not yet saved) it writes its PID to
`$TEST_POLLER_DIR/stored` and sleeps: the test kills it there with SIGKILL.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from channels import mailbox  # noqa: E402
from crm.models import Tenant  # noqa: E402

DIE_AFTER = int(os.environ["TEST_POLLER_DIE_AFTER"])
MARKER = Path(os.environ["TEST_POLLER_DIR"]) / "stored"
_store = mailbox._store
_stored = []


def _store_then_hang(channel, raw) -> None:
    _store(channel, raw)
    _stored.append(raw)
    if len(_stored) == DIE_AFTER:
        MARKER.write_text(str(os.getpid()))
        time.sleep(120)  # killed here


mailbox._store = _store_then_hang

if __name__ == "__main__":
    tenant_id, channel_id = int(sys.argv[1]), int(sys.argv[2])
    mailbox.channel_poll(tenant=Tenant.objects.get(pk=tenant_id), channel_id=channel_id)
