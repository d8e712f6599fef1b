"""Channel use cases: set channels up, accept deliveries, process, replay and sweep them.

Reliability (DESIGN §5, NOTES "Celery and Redis"): a delivery is stored before the endpoint
answers 2xx and enqueued only after that commit; a failed publish leaves it pending for the
sweeper. Processing claims the event in its own committed transaction (attempts counter),
then does the work under a row lock, so redelivery, a sweeper re-enqueue and a second
worker cannot process it twice (a duplicate finding the row locked leaves at once rather
than hold a worker process); after MAX_ATTEMPTS it ends `failed`, re-playable by admins.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels import pipeline
from channels.adapters import RawDelivery, Rejected, adapter_for
from channels.models import Channel, ChannelRoute, InboundEvent, new_secret
from crm.access import AccessDenied, TenantRight, has_right
from crm.errors import DomainError
from crm.models import Membership, Tenant
from crm.services import system_actor
from crm.tenancy import tenant_context

logger = logging.getLogger(__name__)

Status = InboundEvent.Status
MAX_ATTEMPTS = 5
# A processing attempt owns its event this long; then the sweeper may hand it out again.
LEASE = timedelta(minutes=2)
# A delivery not picked up this long after it was stored is re-enqueued by the sweeper.
SWEEP_GRACE = timedelta(seconds=45)
# What processing may change on an event.
PROCESSED_FIELDS = [
    "status",
    "outcome",
    "detail",
    "message",
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
            config=config or {},
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
        ChannelRoute.objects.create(token=channel.token, tenant=actor.tenant, channel_id=channel.pk)
        adapter.on_save(channel)
    return channel


def channel_update(*, actor: Membership, channel: Channel, data: dict[str, Any]) -> Channel:
    """Change a channel's name, switch, responsible, deal switch or kind options."""
    _require_settings(actor)
    for field in ("name", "enabled", "default_owner", "create_deal", "config"):
        if field in data:
            setattr(channel, field, data[field])
    channel.name = channel.name.strip()
    if Channel.objects.filter(name__iexact=channel.name).exclude(pk=channel.pk).exists():
        raise DomainError(_("A channel with this name already exists."))
    _check_owner(channel)
    with transaction.atomic():
        channel.save()
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
        ChannelRoute.objects.filter(channel_id=channel.pk).delete()
        channel.events.all().delete()
        channel.delete()


# --- Deliveries ---------------------------------------------------------------------------


def _enqueue(event: InboundEvent) -> None:
    """Queue processing once the delivery is committed. A failed publish (broker down) is
    logged, not raised: the event stays pending and the sweeper queues it later."""
    from channels.tasks import process_event_task

    tenant_id, pk = event.tenant_id, event.pk

    def publish() -> None:
        try:
            process_event_task.apply_async(
                kwargs={"tenant_id": tenant_id, "event_id": pk}, retry=False
            )
        except Exception:  # the broker is down: the sweeper will pick the event up
            if settings.CELERY_TASK_ALWAYS_EAGER:
                raise
            logger.warning("Could not queue inbound event %s; the sweeper will retry.", pk)

    transaction.on_commit(publish)


def _stored(channel: Channel, raw: RawDelivery, key: str, **fields: Any) -> InboundEvent:
    return InboundEvent(
        tenant=channel.tenant,
        channel=channel,
        key=key,
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
    """Insert the event unless its (channel, key) is stored already; (event, created)."""
    existing = InboundEvent.objects.filter(channel=event.channel, key=event.key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:  # the same delivery, concurrently
        return InboundEvent.objects.get(channel=event.channel, key=event.key), False
    return event, True


def event_accept(*, channel: Channel, raw: RawDelivery) -> tuple[InboundEvent, bool]:
    """Store a delivery once and queue it (after commit); (event, created).

    Raises Rejected for a malformed delivery, after storing it as rejected.
    """
    adapter = adapter_for(channel.kind)
    try:
        delivery = adapter.read(raw, channel)
    except Rejected as error:
        event_reject(channel=channel, raw=raw, reason=error.reason)
        raise
    fields: dict[str, Any] = {}
    if delivery.message is not None:
        fields["message"] = delivery.message.as_json()
    if delivery.spam:
        fields.update(status=Status.SPAM, detail=delivery.spam)
    elif delivery.ignored or delivery.message is None:
        fields.update(status=Status.IGNORED, detail=delivery.ignored)
    event, created = _insert_once(_stored(channel, raw, delivery.key, **fields))
    if created and event.status == Status.PENDING:
        _enqueue(event)
    return event, created


def event_reject(*, channel: Channel, raw: RawDelivery, reason: str) -> InboundEvent:
    """Keep a malformed delivery as rejected, with the reason (visible to admins)."""
    event = _stored(channel, raw, raw.body_hash(), status=Status.REJECTED, detail=reason)
    return _insert_once(event)[0]


def _retry_delay(attempts: int) -> float:
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
                InboundEvent.objects.select_for_update(of=("self",), skip_locked=True)
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
        final = attempts >= MAX_ATTEMPTS
        delay = _retry_delay(attempts)
        logger.exception("Inbound event %s failed (attempt %s).", event_id, attempts)
        with tenant_context(tenant):
            InboundEvent.objects.filter(pk=event_id, status=Status.PENDING).update(
                status=Status.FAILED if final else Status.PENDING,
                detail=f"{type(error).__name__}: {error}"[:2000],
                next_attempt_at=timezone.now() + timedelta(seconds=delay) + SWEEP_GRACE,
            )
        return None if final else delay


def event_replay(*, actor: Membership, event: InboundEvent) -> InboundEvent:
    """Process a failed or rejected delivery again (admins, after fixing the cause)."""
    _require_settings(actor)
    if not event.replayable:
        raise DomainError(_("Only failed or rejected deliveries can be replayed."))
    with transaction.atomic():
        event.status, event.detail, event.attempts = Status.PENDING, "", 0
        event.next_attempt_at = timezone.now() + SWEEP_GRACE
        event.save(update_fields=["status", "detail", "attempts", "next_attempt_at", "updated_at"])
        _enqueue(event)
    return event


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
