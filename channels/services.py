"""Channel use cases: set channels up, accept deliveries, process, replay and sweep them.

Reliability (DESIGN §5, NOTES "Celery and Redis"): a delivery is stored before the endpoint
answers 2xx and enqueued only after that commit; a failed publish leaves it pending for the
sweeper. Processing claims the event in its own committed transaction (attempts counter),
then does the work under a row lock, so redelivery, a sweeper re-enqueue and a second
worker cannot process it twice (a duplicate finding the row locked leaves at once rather
than hold a worker process); after MAX_ATTEMPTS it ends `failed`, re-playable by admins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone
from django.utils.translation import gettext as _

from channels import pipeline
from channels.adapters import (
    Adapter,
    RawDelivery,
    Rejected,
    adapter_for,
    read_delivery,
    without_nul,
)
from channels.models import Channel, InboundEvent, new_secret
from crm.access import AccessDenied, TenantRight, has_right
from crm.errors import DomainError
from crm.memo import memo_scope
from crm.models import Membership, Tenant
from crm.secrets import is_sealed, seal
from crm.services import system_actor, timeline_batch
from crm.tenancy import TenantMismatchError, current_tenant, tenant_context
from intake.matching import inquiry_batch

logger = logging.getLogger(__name__)

Status = InboundEvent.Status
MAX_ATTEMPTS = 5
# A processing attempt owns its event this long; then the sweeper may hand it out again.
LEASE = timedelta(minutes=2)
# A delivery not picked up this long after it was stored is re-enqueued by the sweeper.
SWEEP_GRACE = timedelta(seconds=45)
# Deliveries a drain task claims and processes in one transaction (first attempts only).
BATCH = 50
# A drain task hands over (queues itself again, at the back of the queue) after the batch in
# which this much time has passed, so other tenants get a turn: a burst of one tenant holds a
# worker process for about one batch at a time, not for many (its drains run on every
# process; a small tenant's drain queued meanwhile waits for those batches, not the burst).
DRAIN_SECONDS = 1.0
# How long a queued drain task keeps others from being queued for the same tenant.
WAKE_TTL = 30
# What processing may change on an event.
PROCESSED_FIELDS = [
    "status",
    "outcome",
    "detail",
    "message",
    "external_id",
    "lead",
    "deal",
    "contact",
    "processed_at",
    "updated_at",
]


def _require_settings(actor: Membership) -> None:
    if not has_right(actor, TenantRight.SETTINGS):
        raise AccessDenied(_("Only those who manage settings may change channels."))


def _check_owner(channel: Channel) -> None:
    owner = channel.default_owner
    if owner is not None and (owner.tenant_id != channel.tenant_id or owner.is_system):
        raise DomainError(_("That person cannot own leads here."))


# --- Channels -----------------------------------------------------------------------------


def sealed_config(adapter: Adapter, config: dict[str, Any]) -> dict[str, Any]:
    """`config` with the kind's secrets sealed (those not sealed yet)."""
    config = dict(config)
    for key in adapter.sealed_keys:
        value = str(config.get(key) or "")
        if value and not is_sealed(value):
            config[key] = seal(value)
    return config


def channel_create(
    *,
    actor: Membership,
    kind: str,
    name: str,
    config: dict[str, Any] | None = None,
    default_owner: Membership | None = None,
    create_deal: bool = False,
    secret: str = "",
) -> Channel:
    """Set up a channel and its public endpoint token; the adapter may register webhooks."""
    _require_settings(actor)
    adapter = adapter_for(kind)
    name = name.strip()
    if not name:
        raise DomainError(_("Give the channel a name."))
    if Channel.objects.filter(name__iexact=name).exists():
        raise DomainError(_("A channel with this name already exists."))
    with transaction.atomic():
        channel = Channel(
            tenant=actor.tenant,
            kind=kind,
            name=name,
            config=sealed_config(adapter, config or {}),
            default_owner=default_owner,
            create_deal=create_deal,
        )
        if secret:
            channel.secret = secret
        _check_owner(channel)
        try:
            with transaction.atomic():
                channel.save()
        except IntegrityError:
            raise DomainError(_("A channel with this name already exists.")) from None
        adapter.on_save(channel)
    return channel


def channel_update(*, actor: Membership, channel: Channel, data: dict[str, Any]) -> Channel:
    """Change a channel's name, switch, responsible, deal switch or kind options."""
    _require_settings(actor)
    for field in ("name", "enabled", "default_owner", "create_deal", "config"):
        if field in data:
            setattr(channel, field, data[field])
    channel.config = sealed_config(adapter_for(channel.kind), channel.config)
    channel.name = channel.name.strip()
    if Channel.objects.filter(name__iexact=channel.name).exclude(pk=channel.pk).exists():
        raise DomainError(_("A channel with this name already exists."))
    _check_owner(channel)
    with transaction.atomic():
        # Only what the admin changed: the health fields and the poller's state are written
        # by others meanwhile (channels.health, the IMAP poller) and must not be undone.
        fields = [f for f in ("enabled", "default_owner", "create_deal", "config") if f in data]
        channel.save(update_fields=["name", *fields, "updated_at"])
        adapter_for(channel.kind).on_save(channel)
    return channel


def channel_rotate_secret(*, actor: Membership, channel: Channel) -> Channel:
    """Issue a new secret (API token, webhook secret); the old one stops working."""
    _require_settings(actor)
    with transaction.atomic():
        channel.secret = new_secret()
        channel.save(update_fields=["secret", "updated_at"])
        adapter_for(channel.kind).on_save(channel)
    return channel


def channel_delete(*, actor: Membership, channel: Channel) -> None:
    """Remove a channel, its endpoint and its deliveries (records made from them stay)."""
    _require_settings(actor)
    with transaction.atomic():
        adapter_for(channel.kind).on_delete(channel)
        channel.events.all().delete()
        channel.delete()


# --- Deliveries ---------------------------------------------------------------------------


def _unsent(what: str, key: Any) -> None:
    """Log a publish that did not happen, from its `except` block. With a broker, the broker
    is down; without one (the embedded setup runs tasks in-process), the processing itself
    failed after the delivery was committed (e.g. SQLite stayed locked too long). Either way
    the delivery stays pending for the sweeper, and the endpoint's answer stays what is
    true: the delivery is stored."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        logger.exception("Processing %s %s in-process failed; the sweeper will retry.", what, key)
    else:
        logger.warning("Could not queue %s %s; the sweeper will.", what, key)


def _enqueue(event: InboundEvent) -> None:
    """Queue one event's processing once it is committed (replays, the sweeper, retries:
    an event that needs another attempt is processed alone). A failed publish is logged,
    not raised (`_unsent`): the event stays pending and the sweeper queues it later."""
    from channels.tasks import process_event_task

    tenant_id, pk = event.tenant_id, event.pk

    def publish() -> None:
        try:
            process_event_task.apply_async(
                kwargs={"tenant_id": tenant_id, "event_id": pk}, retry=False
            )
        except Exception:
            _unsent("inbound event", pk)

    transaction.on_commit(publish)


def _wake_key(tenant_id: int) -> str:
    return f"channels:wake:{tenant_id}"


def _wake(tenant_id: int) -> None:
    """Make sure a drain task will look at the tenant's new deliveries, once committed.

    One task per tenant is queued at a time (a key in the shared cache, cleared when the
    task starts), so a burst of deliveries costs one publish, not one each, and the worker
    processes them in batches (`events_drain`). A failed publish is logged (`_unsent`):
    the sweeper queues the deliveries later.
    """
    transaction.on_commit(lambda: wake_now(tenant_id))


def wake_now(tenant_id: int) -> None:
    """Queue a drain task for the tenant unless one is queued and not started yet (a
    delivery's wake-up after commit; a drain handing over at the back of the queue): so a
    tenant has at most one drain waiting, and a burst cannot crowd the others out."""
    from channels.tasks import process_events_task

    key = _wake_key(tenant_id)
    try:
        if not cache.add(key, 1, timeout=WAKE_TTL):
            return  # a drain task is queued and has not started yet: it will see them
    except Exception:  # the cache is down: publish anyway
        logger.warning("Wake-up of tenant %s not de-duplicated: no cache.", tenant_id)
    try:
        process_events_task.apply_async(kwargs={"tenant_id": tenant_id}, retry=False)
    except Exception:
        with contextlib.suppress(Exception):
            cache.delete(key)
        _unsent("the deliveries of tenant", tenant_id)


def _stored(channel: Channel, raw: RawDelivery, key: str, **fields: Any) -> InboundEvent:
    # A reason may quote the delivery: no U+0000 (the message is clean, `read_delivery`).
    if "detail" in fields:
        fields["detail"] = without_nul(fields["detail"])
    return InboundEvent(
        tenant=channel.tenant,
        channel=channel,
        key=without_nul(key),
        body=raw.body,
        content_type=raw.content_type[:200],
        headers=raw.headers,
        path=raw.path[:200],
        query=raw.query,
        remote_addr=raw.remote_addr,
        next_attempt_at=timezone.now() + SWEEP_GRACE,
        **fields,
    )


def _insert_once(event: InboundEvent) -> tuple[InboundEvent, bool]:
    """Insert the event unless its (channel, key) is stored already; (event, created).

    One `INSERT … ON CONFLICT DO NOTHING RETURNING id` (SQLite: `INSERT OR IGNORE`): no
    look-up first and no savepoint, which the endpoint would pay on every delivery.
    """
    active = current_tenant()
    if active is None or event.tenant_id != active.pk:
        raise TenantMismatchError("An inbound event is stored inside its own tenant only.")
    fields = [f for f in InboundEvent._meta.concrete_fields if not f.primary_key]
    rows = InboundEvent.objects._insert(  # the insert Model.save() and bulk_create() use
        [event],
        fields=fields,
        returning_fields=[InboundEvent._meta.pk],
        on_conflict=OnConflict.IGNORE,
    )
    if rows and rows[0]:  # [None] when the row was there already
        event.pk = rows[0][0]
        event._state.adding = False
        return event, True
    return InboundEvent.objects.get(channel=event.channel, key=event.key), False


def event_accept(*, channel: Channel, raw: RawDelivery) -> tuple[InboundEvent, bool]:
    """Store a delivery once and queue it (after commit); (event, created).

    Raises Rejected for a malformed delivery, after storing it as rejected. A request the
    adapter splits into parts (`Adapter.parts`: WhatsApp sends several messages in one
    POST) is stored as one event per part, each once under its own key (the message id),
    in one transaction; a malformed part is stored as rejected and the others go on, and
    the first part taken is returned (Rejected when none was).
    """
    adapter = adapter_for(channel.kind)
    try:
        parts = adapter.parts(raw, channel)
    except Rejected as error:
        event_reject(channel=channel, raw=raw, reason=error.reason)
        raise
    if len(parts) == 1:
        return _accept_part(adapter, channel, parts[0])
    accepted = []
    for part in parts:
        try:
            accepted.append(_accept_part(adapter, channel, part))
        except Rejected:  # stored as rejected, with its reason
            continue
    if not accepted:
        raise Rejected(_("No part of the delivery could be read."))
    return accepted[0]


def _accept_part(adapter: Adapter, channel: Channel, raw: RawDelivery) -> tuple[InboundEvent, bool]:
    try:
        delivery = read_delivery(adapter, raw, channel)
    except Rejected as error:
        event_reject(channel=channel, raw=raw, reason=error.reason)
        raise
    fields: dict[str, Any] = {}
    if delivery.message is not None:
        fields["message"] = delivery.message.as_json()
        fields["external_id"] = delivery.message.external_id[:200]
    if delivery.spam:
        fields.update(status=Status.SPAM, detail=delivery.spam)
    elif delivery.ignored or delivery.message is None:
        fields.update(status=Status.IGNORED, detail=delivery.ignored)
    event, created = _insert_once(_stored(channel, raw, delivery.key, **fields))
    if created and event.status == Status.PENDING:
        _wake(event.tenant_id)
    return event, created


def event_reject(*, channel: Channel, raw: RawDelivery, reason: str) -> InboundEvent:
    """Keep a malformed delivery as rejected, with the reason (visible to admins)."""
    event = _stored(channel, raw, raw.body_hash(), status=Status.REJECTED, detail=reason)
    return _insert_once(event)[0]


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from
    CHANNELS_RETRY_DELAY, at most a minute."""
    base = float(getattr(settings, "CHANNELS_RETRY_DELAY", 2.0))
    return min(base * 2 ** (attempts - 1), 60.0)


def event_process(*, tenant_id: int, event_id: int) -> float | None:
    """Process one delivery (worker). Returns the delay before a retry, or None when the
    event is finished (done, rejected, ignored, spam, failed) or not ours to process."""
    tenant = Tenant.objects.get(pk=tenant_id)
    now = timezone.now()
    with tenant_context(tenant):
        # A locked event is being claimed or processed by another attempt (a duplicate
        # message): leave it to that one instead of waiting for it with a worker process.
        attempts = (
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, status=Status.PENDING)
            .values_list("attempts", flat=True)
            .first()
        )
        if attempts is None:
            return None
        attempts += 1
        if attempts > MAX_ATTEMPTS:  # killed mid-task again and again: give up, visibly
            InboundEvent.objects.filter(pk=event_id).update(
                status=Status.FAILED,
                detail=_("Gave up after %(count)s attempts.") % {"count": MAX_ATTEMPTS},
            )
            return None
        InboundEvent.objects.filter(pk=event_id).update(
            attempts=attempts, next_attempt_at=now + LEASE
        )
        # Committed with the claim, before the work: made inside a delivery's (long)
        # transaction, the robot's uncommitted row held the tenant's other deliveries.
        system_actor(tenant)
    try:
        with tenant_context(tenant):
            event = (
                InboundEvent.objects.select_for_update(of=("self",))
                .select_related("channel", "channel__tenant", "channel__default_owner")
                .filter(pk=event_id, status=Status.PENDING)
                .first()
            )
            if event is None:
                return None
            pipeline.process(event)
            event.processed_at = timezone.now()
            event.save(update_fields=PROCESSED_FIELDS)
        return None
    except Exception as error:
        with tenant_context(tenant):
            return _record_failure(event_id, attempts, error)


def _record_failure(event_id: int, attempts: int, error: Exception) -> float | None:
    """Note a failed attempt on its (pending) event, inside its tenant: `failed` after
    MAX_ATTEMPTS, else pending until its retry. Returns the retry's delay, or None."""
    final = attempts >= MAX_ATTEMPTS
    delay = retry_delay(attempts)
    logger.exception("Inbound event %s failed (attempt %s).", event_id, attempts)
    InboundEvent.objects.filter(pk=event_id, status=Status.PENDING).update(
        status=Status.FAILED if final else Status.PENDING,
        detail=f"{type(error).__name__}: {error}"[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=delay) + SWEEP_GRACE,
    )
    return None if final else delay


def forget_wake(tenant_id: int) -> None:
    """A drain task has started: the next delivery may queue another one."""
    try:
        cache.delete(_wake_key(tenant_id))
    except Exception:  # the cache is down: deliveries publish without de-duplication
        logger.warning("Wake-up key of tenant %s not cleared: no cache.", tenant_id)


def _claim(tenant: Tenant, claim: str) -> list[int]:
    """Claim up to BATCH never-attempted deliveries (committed: attempts 1, leased, marked
    with the claiming task) — the first attempt, which a later retry makes alone."""
    with tenant_context(tenant):
        ids = list(
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, attempts=0)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if ids:
            InboundEvent.objects.filter(pk__in=ids).update(
                attempts=1, next_attempt_at=timezone.now() + LEASE, claimed_by=claim
            )
            system_actor(tenant)  # committed with the claim (see event_process)
    return ids


def _process_batch(tenant: Tenant, ids: list[int]) -> list[tuple[int, float]]:
    """Process claimed deliveries in one transaction, a savepoint each (the people's keys
    locked and looked up once for the batch: intake.matching.inquiry_batch); what fails is
    recorded on its event and returned as (event id, delay before its retry)."""
    retries: list[tuple[int, float]] = []
    with tenant_context(tenant), memo_scope(savepoints=False):
        # Waits for a lock rather than skipping: another drain's claim query may hold these
        # rows for a moment (PostgreSQL keeps the lock of a row it re-checked and passed
        # over), and a claimed event skipped here would wait for the sweeper.
        events = list(
            InboundEvent.objects.select_for_update(of=("self",))
            .select_related("channel", "channel__tenant", "channel__default_owner")
            .filter(pk__in=ids, status=Status.PENDING)
            .order_by("pk")
        )
        keys = [pipeline.inquiry_keys_of(event) for event in events]
        with inquiry_batch(tenant, keys):
            for event in events:
                try:
                    with transaction.atomic():
                        with timeline_batch():
                            pipeline.process(event)
                        event.processed_at = timezone.now()
                        event.save(update_fields=PROCESSED_FIELDS)
                except Exception as error:
                    delay = _record_failure(event.pk, 1, error)  # the claim's attempt
                    if delay is not None:
                        retries.append((event.pk, delay))
    return retries


@dataclass
class Drained:
    """What a drain did: deliveries to retry alone (event id, delay) and whether it handed
    over with more possibly waiting."""

    retries: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    more: bool = False


def _finish_claimed(tenant: Tenant, claim: str, drained: Drained) -> None:
    """Process alone, through event_process, what `claim` holds and left pending (its
    process died, or a batch missed it) — not the failures waiting for their retry."""
    waiting = {event_id for event_id, _delay in drained.retries}
    with tenant_context(tenant):
        leftovers = list(
            InboundEvent.objects.filter(status=Status.PENDING, claimed_by=claim)
            .exclude(pk__in=waiting)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for event_id in leftovers:
        delay = event_process(tenant_id=tenant.pk, event_id=event_id)
        if delay is not None:
            drained.retries.append((event_id, delay))


def events_drain(*, tenant_id: int, claim: str) -> Drained:
    """Process the tenant's new deliveries in batches (worker; `claim` is the task's id).

    First what this task had claimed before its process died (each alone, through
    `event_process`), then batches of never-attempted deliveries until none is left or
    DRAIN_SECONDS have passed (`more`: queue another drain so other tenants get a turn),
    then anything of its own still pending.
    """
    tenant = Tenant.objects.get(pk=tenant_id)
    drained = Drained()
    deadline = time.monotonic() + DRAIN_SECONDS
    _finish_claimed(tenant, claim, drained)
    while ids := _claim(tenant, claim):
        drained.retries += _process_batch(tenant, ids)
        if time.monotonic() > deadline:
            drained.more = True
            break
    _finish_claimed(tenant, claim, drained)
    return drained


def events_release(*, tenant_id: int, claim: str) -> int:
    """A drain that failed (e.g. the database was unavailable) gives back the deliveries
    `claim` holds and did not finish: due now, so the sweeper's next round queues them
    instead of waiting out the lease. Returns how many."""
    if not claim:
        return 0
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        return InboundEvent.objects.filter(status=Status.PENDING, claimed_by=claim).update(
            next_attempt_at=timezone.now()
        )


def event_replay(*, actor: Membership, event: InboundEvent) -> InboundEvent:
    """Process a delivery again (admins): a failed or rejected one once its cause is fixed,
    with fresh attempts; a waiting one now, instead of after its retry delay or the sweeper.

    Each is a conditional UPDATE, so a replay that meets a delivery finished meanwhile (or a
    double click) changes nothing; processing re-checks that the delivery is still pending,
    so a replay cannot make a second lead. Raises AccessDenied without the settings right,
    DomainError for a delivery that is done (or ignored, spam). Returns the event, pending;
    its processing is queued for when the transaction commits.
    """
    _require_settings(actor)
    now = timezone.now()
    events = InboundEvent.objects.filter(pk=event.pk)
    with transaction.atomic():
        if event.status == Status.PENDING:
            changed = events.filter(status=Status.PENDING).update(
                next_attempt_at=now + LEASE, updated_at=now
            )
        else:
            changed = events.filter(status__in=(Status.FAILED, Status.REJECTED)).update(
                status=Status.PENDING,
                detail="",
                attempts=0,
                next_attempt_at=now + SWEEP_GRACE,
                claimed_by="",
                updated_at=now,
            )
        if not changed:
            raise DomainError(_("Only waiting, failed or rejected deliveries can be replayed."))
        _enqueue(event)
    event.refresh_from_db()
    return event


PURGE_CHUNK = 5000


def events_purge(*, now: datetime | None = None) -> int:
    """Delete the current tenant's deliveries older than CHANNELS_EVENTS_KEEP_DAYS that need
    nothing more (processed, ignored, spam, rejected), in chunks; pending and failed ones
    stay until they are handled. The records made from them stay. Returns how many."""
    days = settings.CHANNELS_EVENTS_KEEP_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    for channel_id in Channel.objects.values_list("pk", flat=True):
        old = InboundEvent.objects.filter(channel_id=channel_id, created_at__lt=cutoff).exclude(
            status__in=(Status.PENDING, Status.FAILED)
        )
        while ids := list(old.order_by("created_at").values_list("pk", flat=True)[:PURGE_CHUNK]):
            InboundEvent.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
    return deleted


def events_sweep(*, now: datetime | None = None) -> int:
    """Queue again the current tenant's pending deliveries nobody is working on (lost
    publish, broker restarted empty, worker killed); returns how many."""
    now = now or timezone.now()
    stuck = list(
        InboundEvent.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by(
            "next_attempt_at"
        )[:500]
    )
    for event in stuck:
        InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=now + LEASE)
        _enqueue(event)
    return len(stuck)
