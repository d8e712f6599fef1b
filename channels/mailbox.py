"""The IMAP poller of e-mail channels: new messages of a mailbox's folder become deliveries.

Every minute (Celery beat, or the embedded scheduler of `make run`) each enabled e-mail
channel with an IMAP server is polled: log in (SSL, STARTTLS or plain), EXAMINE the folder
(read-only: nothing is marked read, moved or deleted), list the UIDs above the last one
read, and for each (oldest first, at most CHANNELS_EMAIL_MAX_PER_POLL) fetch the raw message
and store it as an InboundEvent through `event_accept` — committed — before the channel's
last UID moves past it. So a poller killed mid-way loses nothing (the UID did not move:
the message is read again) and stores nothing twice (its idempotency key, the Message-ID
or the message's hash, is already there).

The folder's UIDVALIDITY is kept with the last UID: when it changes (the mailbox was
rebuilt or the folder re-created, so UIDs mean other messages), the folder is read again
from the start date and the keys drop what was stored already. Messages older than a day
before the channel was set up are not read (no import of a mailbox's history).

A failure (no network, login refused, timeout, a folder that does not exist) never
escapes: it is recorded in the channel's `imap_state` (error, time, consecutive failures)
and reported as the channel's problem (channels/health.py: the page shows it, and admins
are told once per incident when it lasts); a poll that works again ends the incident.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from datetime import date, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxLoginError

from channels import health, services
from channels.adapters import RawDelivery, Rejected
from channels.adapters.email import IMAP_PATH, Security
from channels.models import Channel, ChannelKind
from crm.models import Tenant
from crm.secrets import SecretUnreadable, unseal
from crm.tenancy import tenant_context

logger = logging.getLogger(__name__)

# A poll of one channel holds this lock (a slow poll and the next tick never overlap).
LOCK_SECONDS = 300
CONTENT_HEADERS = re.compile(rb"(?im)^content-[a-z-]+:.*(\r?\n[ \t].*)*\r?\n")
FETCH_SIZES = re.compile(rb"UID (\d+).*?RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+).*?UID (\d+)")


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def mailbox_signature(config: dict[str, Any]) -> str:
    """Which mailbox and folder the UIDs belong to (a change starts over)."""
    return "{}@{}:{}/{}".format(
        config.get("imap_user", ""),
        config.get("imap_host", ""),
        config.get("imap_port", ""),
        config.get("imap_folder") or "INBOX",
    )


def connect(config: dict[str, Any]) -> BaseMailBox:
    """A logged-in mailbox client (raises on failure); every socket operation is bounded
    by CHANNELS_EMAIL_IMAP_TIMEOUT."""
    timeout = _setting("CHANNELS_EMAIL_IMAP_TIMEOUT", 30)
    host, port = str(config.get("imap_host") or ""), int(config.get("imap_port") or 993)
    security = config.get("imap_security") or Security.SSL
    if security == Security.SSL:
        box: BaseMailBox = MailBox(
            host, port, timeout=timeout, ssl_context=ssl.create_default_context()
        )
    elif security == Security.STARTTLS:
        box = MailBoxStartTls(host, port, timeout=timeout, ssl_context=ssl.create_default_context())
    else:
        box = MailBoxUnencrypted(host, port, timeout=timeout)
    password = unseal(str(config.get("imap_password") or ""))
    try:
        box.login(str(config.get("imap_user") or ""), password, initial_folder=None)
    except Exception:
        _logout(box)
        raise
    return box


def _logout(box: BaseMailBox) -> None:
    try:
        box.logout()
    except Exception:  # the connection is gone already
        try:
            box.client.shutdown()
        except Exception:
            logger.debug("IMAP connection already closed.")


def _uidvalidity(box: BaseMailBox, folder: str) -> int:
    """The selected folder's UIDVALIDITY (from the SELECT answer, else STATUS)."""
    _typ, data = box.client.response("UIDVALIDITY")
    if data and data[0]:
        return int(data[0])
    return int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])


def _sizes(box: BaseMailBox, uids: list[int]) -> dict[int, int]:
    """RFC822.SIZE of each of `uids` (one FETCH)."""
    typ, data = box.client.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
    sizes: dict[int, int] = {}
    for item in data if typ == "OK" else []:
        line = item[0] if isinstance(item, tuple) else item
        match = FETCH_SIZES.search(line or b"")
        if match:
            uid, size = (match[1], match[2]) if match[1] else (match[4], match[3])
            sizes[int(uid)] = int(size)
    return sizes


def _fetch(box: BaseMailBox, uid: int, headers_only: bool) -> bytes | None:
    """The raw bytes of one message (or its header section), without marking it read."""
    part = "BODY.PEEK[HEADER]" if headers_only else "BODY.PEEK[]"
    typ, data = box.client.uid("FETCH", str(uid), f"(UID {part})")
    if typ != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) > 1 and isinstance(item[1], bytes):
            return item[1]
    return None


def _too_large_note(body: bytes, size: int) -> bytes:
    """A header section, with a text saying the message was too large to download."""
    note = _(
        "The message is %(size)s bytes, over the channel's limit: only its headers were "
        "read. Open it in the mailbox."
    ) % {"size": size}
    head = CONTENT_HEADERS.sub(b"", body)
    head = head.rstrip(b"\r\n") + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    return head + note.encode()


def _store(channel: Channel, raw: RawDelivery) -> None:
    """Store one message as a delivery (committed when this returns)."""
    with tenant_context(channel.tenant):
        try:
            services.event_accept(channel=channel, raw=raw)
        except Rejected:
            pass  # stored as rejected, with the reason: the channel page shows it
        except (DatabaseError, SoftTimeLimitExceeded):
            raise  # not the message's fault: it is read again by the next poll
        except Exception as error:  # a message that trips the reader must not stop the rest
            logger.exception("Channel %s: a message could not be read.", channel.pk)
            reason = _("The message could not be read (%(error)s).") % {
                "error": type(error).__name__
            }
            services.event_reject(channel=channel, raw=raw, reason=reason)


def _state_update(channel: Channel, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge `changes` into the channel's stored `imap_state` under a row lock (the settings
    page may save the channel meanwhile); the last UID never goes back within one folder
    generation. Returns the state stored."""
    with tenant_context(channel.tenant):
        row = Channel.objects.select_for_update().filter(pk=channel.pk).first()
        if row is None:
            return changes
        state = dict(row.config.get("imap_state") or {})
        same = all(state.get(k) == changes.get(k, state.get(k)) for k in ("mailbox", "uidvalidity"))
        if same and "last_uid" in changes:
            changes = {**changes, "last_uid": max(changes["last_uid"], state.get("last_uid", 0))}
        state.update(changes)
        row.config = {**row.config, "imap_state": state}
        row.save(update_fields=["config", "updated_at"])
        channel.config = row.config
        return state


def _poll(channel: Channel, box: BaseMailBox) -> int:
    """Store the folder's new messages; how many were read."""
    config = channel.config
    folder = str(config.get("imap_folder") or "INBOX")
    state = dict(config.get("imap_state") or {})
    signature = mailbox_signature(config)
    box.folder.set(folder, readonly=True)
    uidvalidity = _uidvalidity(box, folder)
    if state.get("mailbox") != signature or state.get("uidvalidity") != uidvalidity:
        if state.get("mailbox") == signature:
            logger.warning(
                "Channel %s: UIDVALIDITY changed (%s → %s); reading the folder again.",
                channel.pk,
                state.get("uidvalidity"),
                uidvalidity,
            )
        since = (channel.created_at - timedelta(days=1)).date().isoformat()
        state = _state_update(
            channel,
            {
                "mailbox": signature,
                "uidvalidity": uidvalidity,
                "last_uid": 0,
                "since": state.get("since") if state.get("mailbox") == signature else since,
            },
        )
        state.setdefault("since", since)
    last_uid = int(state.get("last_uid") or 0)
    since = date.fromisoformat(str(state["since"]))
    found = box.uids(AND(uid=f"{last_uid + 1}:*", date_gte=since))
    uids = sorted(u for u in (int(x) for x in found if x.isdigit()) if u > last_uid)
    uids = uids[: _setting("CHANNELS_EMAIL_MAX_PER_POLL", 50)]
    if not uids:
        return 0
    limit = _setting("CHANNELS_EMAIL_MAX_MESSAGE_BYTES", 25 * 1024 * 1024)
    sizes = _sizes(box, uids)
    for uid in uids:
        size = sizes.get(uid, 0)
        body = _fetch(box, uid, headers_only=size > limit)
        if body is not None:
            if size > limit:
                body = _too_large_note(body, size)
            raw = RawDelivery(
                body=body,
                content_type="message/rfc822",
                headers={"X-Imap-Uid": str(uid), "X-Imap-Uidvalidity": str(uidvalidity)},
                path=IMAP_PATH,
            )
            with override(channel.tenant.language):
                _store(channel, raw)
        # Only now, the message stored: the next poll starts after it.
        _state_update(channel, {"mailbox": signature, "uidvalidity": uidvalidity, "last_uid": uid})
    return len(uids)


def _server_text(result: object) -> str:
    """The server's words in an IMAP command result (`(typ, [b"…"])`), as text."""
    if not isinstance(result, tuple) or len(result) < 2 or not isinstance(result[1], list):
        return ""
    parts = (p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in result[1])
    return " ".join(parts).strip()


def describe_error(error: BaseException) -> str:
    """A failure as admins read it (never with the password)."""
    if isinstance(error, SecretUnreadable):
        return _("The stored password cannot be decrypted (FIELD_ENCRYPTION_KEYS changed?).")
    if isinstance(error, MailboxLoginError):
        text = _server_text(getattr(error, "command_result", None)) or str(error)
        return _("The server refused the login: %(detail)s") % {"detail": text[:300]}
    if isinstance(error, ImapToolsError | imaplib.IMAP4.error):
        return _("The IMAP server refused: %(detail)s") % {"detail": str(error)[:300]}
    if isinstance(error, TimeoutError):
        return _("The IMAP server did not answer in time.")
    if isinstance(error, OSError):
        return _("Cannot connect to the IMAP server: %(detail)s") % {"detail": str(error)[:300]}
    return _("The mailbox could not be read: %(detail)s") % {"detail": type(error).__name__}


def _record_failure(channel: Channel, error: BaseException) -> None:
    with override(channel.tenant.language):
        message = describe_error(error)
    logger.warning("Channel %s: IMAP poll failed: %s", channel.pk, message)
    now = timezone.now().isoformat()
    with tenant_context(channel.tenant):
        state = dict(Channel.objects.get(pk=channel.pk).config.get("imap_state") or {})
    changes: dict[str, Any] = {
        "failures": int(state.get("failures") or 0) + 1,
        "last_error": message,
        "last_error_at": now,
        "last_poll_at": now,
    }
    _state_update(channel, changes)
    with tenant_context(channel.tenant):
        fresh = Channel.objects.select_related("tenant").get(pk=channel.pk)
        health.channel_trouble(channel=fresh, problem=message)


def channel_poll(*, tenant: Tenant, channel_id: int) -> int:
    """Poll one e-mail channel's mailbox; how many messages were read (0 on failure, which
    is recorded on the channel, never raised)."""
    with tenant_context(tenant):
        channel = (
            Channel.objects.select_related("tenant")
            .filter(pk=channel_id, kind=ChannelKind.EMAIL, enabled=True)
            .first()
        )
    if channel is None or not channel.config.get("imap_host"):
        return 0
    lock = f"channels:imap:{channel.pk}"
    try:
        if not cache.add(lock, 1, timeout=LOCK_SECONDS):
            return 0  # another poll of this mailbox is under way
    except Exception:  # no cache: poll anyway (the keys still de-duplicate)
        lock = ""
    try:
        box = connect(channel.config)
        try:
            count = _poll(channel, box)
        finally:
            _logout(box)
    except (DatabaseError, SoftTimeLimitExceeded):
        raise  # not the mailbox's fault: the next poll goes on from the last stored UID
    except Exception as error:
        _record_failure(channel, error)
        return 0
    finally:
        if lock:
            cache.delete(lock)
    now = timezone.now().isoformat()
    _state_update(channel, {"failures": 0, "last_poll_at": now, "last_ok_at": now})
    with tenant_context(channel.tenant):
        health.channel_recovered(channel=channel)
    return count


def tenant_poll(*, tenant: Tenant) -> int:
    """Poll every enabled e-mail channel of the tenant that has a mailbox; messages read."""
    with tenant_context(tenant):
        ids = list(
            Channel.objects.filter(kind=ChannelKind.EMAIL, enabled=True)
            .exclude(config__imap_host="")
            .values_list("pk", flat=True)
        )
    return sum(channel_poll(tenant=tenant, channel_id=pk) for pk in ids)
