"""The IMAP poller as its own process, killed by a fault at a given point
(tests/channels/test_imap_faults.py): `python -m tests.channels.poller_kill TENANT CHANNEL`.

It polls the channel once as beat would, and SIGKILLs itself (no exception handler, no
rollback, no cleanup runs) at `$TEST_POLLER_KILL_AT` of message number
`$TEST_POLLER_KILL_NTH`, after writing that point to `$TEST_POLLER_DIR/killed`:

- `fetched`: the message's bytes were read from the server, nothing of it stored yet;
- `inserted`: its delivery row was inserted, the transaction not yet committed.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from channels import mailbox, services  # noqa: E402
from crm.models import Tenant  # noqa: E402

AT = os.environ["TEST_POLLER_KILL_AT"]
NTH = int(os.environ["TEST_POLLER_KILL_NTH"])
MARKER = Path(os.environ["TEST_POLLER_DIR"]) / "killed"
_seen: list[str] = []


def _die_at(point: str) -> None:
    _seen.append(point)
    if point == AT and _seen.count(point) == NTH:
        MARKER.write_text(point)
        os.kill(os.getpid(), signal.SIGKILL)


def _fetch(*args: Any, **kwargs: Any) -> bytes | None:
    body = _real_fetch(*args, **kwargs)
    _die_at("fetched")
    return body


def _insert_once(*args: Any, **kwargs: Any) -> Any:
    inserted = _real_insert_once(*args, **kwargs)
    _die_at("inserted")
    return inserted


_real_fetch, mailbox._fetch = mailbox._fetch, _fetch
_real_insert_once, services._insert_once = services._insert_once, _insert_once

if __name__ == "__main__":
    tenant_id, channel_id = int(sys.argv[1]), int(sys.argv[2])
    mailbox.channel_poll(tenant=Tenant.objects.get(pk=tenant_id), channel_id=channel_id)
