"""Live arrivals: open pages learn within seconds that their inbox changed, cheaply.

Every open page of a member polls `/<slug>/leads/live/?v=<versions>` every ≈1.5 s
(static/js/live.js). What a page may learn is kept in the cache (Redis in production, the
process's own memory under `make run`), per tenant, on two channels: the shared inbox
(`s`) and each member's own (`m<id>`). A change to a channel — a lead entered or left that
inbox, a notification for that member — increments the channel's version and records the
lead's id with it (`announce`, after the transaction commits). docs/decisions/014.

`LivePollMiddleware` answers a poll whose versions are still the current ones with 204
before the session, the user, the tenant or the membership are read: no SQL, one cache
round trip. It trusts a signed token (`token_for`) made when the page was rendered for an
authenticated member, bound to that member, tenant and session cookie, valid TOKEN_MAX_AGE
seconds. It tells nothing but "unchanged": any other poll (changed, no token, an expired
one, another session) goes down the whole stack to the view, which checks everything as
for any page and says what changed (leads.views.live).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare, salted_hmac

logger = logging.getLogger(__name__)

# The poll's path under /<tenant-slug>/ (leads/urls.py names it leads:live).
POLL_SUFFIX = "/leads/live/"
TOKEN_HEADER = "X-Live-Token"  # noqa: S105 - a header name
TOKEN_MAX_AGE = 12 * 60 * 60
# Events kept per channel (a page that slept longer than this many changes misses the
# older ones: the rows are still there on its next reload) and how long they are kept.
EVENTS_KEPT = 100
EVENTS_SECONDS = 24 * 60 * 60
SHARED = "s"

_SIGNER = signing.TimestampSigner(salt="crm.live")


def member_channel(member_id: int) -> str:
    return f"m{member_id}"


# --- Versions and events in the cache ------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One change on a channel: its version, the lead (0: none, e.g. a notification) and
    the member whose action it was (0: nobody's)."""

    version: int
    lead_id: int
    actor_id: int


def _key(tenant_id: int, channel: str, kind: str) -> str:
    return f"live:{kind}:{tenant_id}:{channel}"


def _parse_event(raw: str) -> Event | None:
    try:
        version, lead_id, actor_id = (int(part) for part in raw.split(":"))
    except ValueError:
        return None
    return Event(version, lead_id, actor_id)


# INCR the version and push the events with it, atomically: a reader never sees a version
# without its events.
_BUMP = """
local v = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do redis.call('LPUSH', KEYS[2], v .. ':' .. ARGV[i]) end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[1]) - 1)
redis.call('EXPIRE', KEYS[2], {seconds})
return v
""".replace("{seconds}", str(EVENTS_SECONDS))


class _RedisStore:
    """Versions as Redis counters and events as capped lists (one script per bump)."""

    def __init__(self, backend: RedisCache) -> None:
        self.backend = backend

    def _client(self) -> Any:
        return self.backend._cache.get_client(write=True)

    def _names(self, tenant_id: int, channel: str) -> tuple[str, str]:
        make = self.backend.make_key
        return make(_key(tenant_id, channel, "v")), make(_key(tenant_id, channel, "e"))

    def bump(self, tenant_id: int, channel: str, events: list[str]) -> None:
        client = self._client()
        client.eval(_BUMP, 2, *self._names(tenant_id, channel), EVENTS_KEPT, *events)

    def versions(self, tenant_id: int, channels: list[str]) -> list[int]:
        names = [self._names(tenant_id, channel)[0] for channel in channels]
        return [int(value or 0) for value in self._client().mget(names)]

    def read(self, tenant_id: int, channels: list[str]) -> tuple[list[int], list[list[Event]]]:
        pipe = self._client().pipeline(transaction=True)
        for channel in channels:
            version, events = self._names(tenant_id, channel)
            pipe.get(version)
            pipe.lrange(events, 0, EVENTS_KEPT - 1)
        replies = pipe.execute()
        versions = [int(value or 0) for value in replies[0::2]]
        events = [
            [e for raw in raws if (e := _parse_event(raw.decode())) is not None]
            for raws in replies[1::2]
        ]
        return versions, events


class _CacheStore:
    """Any other cache backend, for one process (`make run`, the tests' local memory): a
    lock makes a bump atomic within the process."""

    _lock = threading.Lock()

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def bump(self, tenant_id: int, channel: str, events: list[str]) -> None:
        cache = self.backend
        with self._lock:
            key = _key(tenant_id, channel, "v")
            version = int(cache.get(key) or 0) + 1
            kept = cache.get(_key(tenant_id, channel, "e")) or []
            kept = [f"{version}:{event}" for event in reversed(events)] + kept
            cache.set_many(
                {key: version, _key(tenant_id, channel, "e"): kept[:EVENTS_KEPT]}, timeout=None
            )

    def versions(self, tenant_id: int, channels: list[str]) -> list[int]:
        keys = [_key(tenant_id, channel, "v") for channel in channels]
        found = self.backend.get_many(keys)
        return [int(found.get(key) or 0) for key in keys]

    def read(self, tenant_id: int, channels: list[str]) -> tuple[list[int], list[list[Event]]]:
        with self._lock:
            versions = self.versions(tenant_id, channels)
            events = [
                [
                    e
                    for raw in self.backend.get(_key(tenant_id, channel, "e")) or []
                    if (e := _parse_event(raw)) is not None
                ]
                for channel in channels
            ]
        return versions, events


def _backend() -> Any:
    """The default cache's backend itself (`django.core.cache.cache` is a proxy to it)."""
    return caches["default"]


def _store() -> _RedisStore | _CacheStore:
    backend = _backend()
    return _RedisStore(backend) if isinstance(backend, RedisCache) else _CacheStore(backend)


def announce(
    *,
    tenant_id: int,
    members: Iterable[int | None] = (),
    lead_id: int = 0,
    actor_id: int = 0,
) -> None:
    """After the transaction commits, tell the inboxes of `members` (None: the shared
    inbox) that `lead_id` entered or left them (0: something else changed for them, e.g. a
    notification), by `actor_id`'s action. A cache failure is logged: the change itself is
    committed, and the pages see it on their next reload."""
    channels = sorted({SHARED if m is None else member_channel(m) for m in members})
    if not channels:
        return
    event = f"{lead_id}:{actor_id}"

    def bump() -> None:
        try:
            store = _store()
            for channel in channels:
                store.bump(tenant_id, channel, [event] if lead_id else [])
        except Exception:
            logger.exception("live: could not announce a change of tenant %s", tenant_id)

    transaction.on_commit(bump)


@dataclass(frozen=True)
class Changes:
    """What changed for a member since the versions their page knew."""

    versions: str
    events: list[Event]


def channels_of(member_id: int) -> list[str]:
    return [SHARED, member_channel(member_id)]


def versions_text(versions: list[int]) -> str:
    return ".".join(str(v) for v in versions)


def parse_versions(text: str) -> list[int] | None:
    try:
        versions = [int(part) for part in text.split(".")]
    except ValueError:
        return None
    return versions if len(versions) == 2 and min(versions) >= 0 else None


def current_versions(tenant_id: int, member_id: int) -> str:
    """The member's versions as a page carries them ("<shared>.<own>")."""
    return versions_text(_store().versions(tenant_id, channels_of(member_id)))


def changes_since(tenant_id: int, member_id: int, known: str) -> Changes:
    """The events on the member's channels after the versions `known` (none when `known`
    is not a pair of versions: a page just loaded); a channel whose version went back (the
    cache was emptied) gives all it keeps."""
    versions, events = _store().read(tenant_id, channels_of(member_id))
    seen = parse_versions(known)
    found: list[Event] = []
    if seen is not None:
        for current, after, channel_events in zip(versions, seen, events, strict=True):
            if current < after:
                after = 0
            found += [e for e in channel_events if after < e.version <= current]
    return Changes(versions_text(versions), found)


# --- The token a page polls with ------------------------------------------------------------


def _session_mark(session_key: str) -> str:
    return salted_hmac("crm.live.session", session_key or "").hexdigest()[:20]


def token_for(request: HttpRequest) -> str:
    """The poll token of this page: tenant, member and a mark of the session cookie."""
    tenant, member = request.tenant, request.membership
    mark = _session_mark(request.COOKIES.get(settings.SESSION_COOKIE_NAME, ""))
    return _SIGNER.sign(f"{tenant.pk}.{tenant.slug}.{member.pk}.{mark}")


def _token_member(request: HttpRequest, slug: str) -> tuple[int, int] | None:
    """(tenant id, member id) of a valid token for this slug and session, else None."""
    token = request.headers.get(TOKEN_HEADER, "")
    if not token:
        return None
    try:
        value = _SIGNER.unsign(token, max_age=TOKEN_MAX_AGE)
        tenant_id, token_slug, member_id, mark = value.split(".")
    except (signing.BadSignature, ValueError):
        return None
    cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if token_slug != slug or not cookie or not constant_time_compare(mark, _session_mark(cookie)):
        return None
    return int(tenant_id), int(member_id)


def unchanged_response(request: HttpRequest) -> HttpResponse | None:
    """204 for a poll with a valid token whose versions are current; None otherwise (the
    request then goes through the whole stack)."""
    if request.method != "GET":
        return None
    parts = request.path_info.split("/")
    # "/<slug>/leads/live/" → ["", slug, "leads", "live", ""]
    if len(parts) != 5:
        return None
    found = _token_member(request, parts[1])
    if found is None:
        return None
    known = request.GET.get("v", "")
    if known != current_versions(*found):
        return None
    response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return response


class LivePollMiddleware:
    """Answers unchanged polls (`unchanged_response`) before sessions, users and tenants;
    placed right after SecurityMiddleware, so it costs every other request one `endswith`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.endswith(POLL_SUFFIX):
            response = unchanged_response(request)
            if response is not None:
                return response
        return self.get_response(request)
