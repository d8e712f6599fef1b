"""Celery entry points for channels: drain a tenant's new deliveries in batches, process one
delivery alone (retries, replays, the sweeper), sweep stuck deliveries, tell admins about
channels whose deliveries keep failing."""

from __future__ import annotations

import contextlib

from celery import Task

from channels import mailbox, services
from crm.celery import TenantTask, app, long_task_limits, queue_for_every_tenant


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def process_event_task(self: Task, *, tenant_id: int, event_id: int) -> None:
    """Process one stored delivery; retried with backoff (the attempts are counted on the
    event itself, which ends `failed` after channels.services.MAX_ATTEMPTS)."""
    delay = services.event_process(tenant_id=tenant_id, event_id=event_id)
    if delay is None:
        return
    if self.request.is_eager:
        # No broker to hold a countdown (`make run` without Redis): try again at once, still
        # bounded by the attempts counted on the event.
        while delay is not None:
            delay = services.event_process(tenant_id=tenant_id, event_id=event_id)
        return
    raise self.retry(countdown=delay)


# A drain that failed (its connection lost mid-batch, the database restarted) is tried again
# this many times, with backoff, before its deliveries are left to the sweeper.
DRAIN_RETRIES = 6


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def process_events_task(self: Task, *, tenant_id: int) -> None:
    """Process a tenant's new deliveries in batches (queued once per burst by the endpoint);
    a delivery that fails is retried alone, with backoff, by process_event_task; a drain
    that fails as a whole (the database) is retried, with its claim. With more to do after
    its time, a drain hands over to one queued at the back (at most one waits per tenant);
    without a broker (`make run`) it goes on in place — a re-queue would recurse."""
    while True:
        services.forget_wake(tenant_id)
        claim = self.request.id or ""
        try:
            drained = services.events_drain(tenant_id=tenant_id, claim=claim)
        except Exception as error:  # the database went away (each delivery's errors are kept)
            with contextlib.suppress(Exception):  # the original error is what to report
                services.events_release(tenant_id=tenant_id, claim=claim)
            if self.request.is_eager:
                raise
            # The same task id, so the same claim: the retry first finishes, each alone,
            # what the rolled-back batch held. After DRAIN_RETRIES the sweeper queues them.
            raise self.retry(
                exc=error,
                countdown=services.retry_delay(self.request.retries + 1),
                max_retries=DRAIN_RETRIES,
            ) from error
        for event_id, delay in drained.retries:
            process_event_task.apply_async(
                kwargs={"tenant_id": tenant_id, "event_id": event_id}, countdown=delay
            )
        if not drained.more:
            return
        if not self.request.is_eager:
            services.wake_now(tenant_id)
            return


@app.task(base=TenantTask)
def events_sweep_task(*, tenant_id: int) -> int:
    """Queue one tenant's stuck deliveries again."""
    return services.events_sweep()


@app.task
def events_sweep_all_task() -> int:
    """Beat entry point (every 30 s): sweep every tenant, each inside its own context."""
    return queue_for_every_tenant(events_sweep_task)


@app.task(base=TenantTask, **long_task_limits())
def events_purge_task(*, tenant_id: int) -> int:
    """Delete one tenant's old deliveries that need nothing more."""
    return services.events_purge()


@app.task
def events_purge_all_task() -> int:
    """Beat entry point (daily): purge every tenant's old deliveries, each in its context."""
    return queue_for_every_tenant(events_purge_task)


@app.task(acks_late=True, **long_task_limits())
def mailboxes_poll_task(*, tenant_id: int) -> int:
    """Read the new messages of one tenant's e-mail channels (IMAP). Not a TenantTask: the
    mailbox is read outside any transaction, each message committed on its own."""
    from crm.models import Tenant

    return mailbox.tenant_poll(tenant=Tenant.objects.get(pk=tenant_id))


@app.task
def mailboxes_poll_all_task() -> int:
    """Beat entry point (every minute): poll every tenant's mailboxes."""
    return queue_for_every_tenant(mailboxes_poll_task)


@app.task(base=TenantTask)
def channels_check_failing_task(*, tenant_id: int) -> int:
    """Tell one tenant's admins about channels whose deliveries keep failing."""
    from channels.health import channels_check_failing

    return channels_check_failing()


@app.task
def channels_check_failing_all_task() -> int:
    """Beat entry point, every 5 minutes: queue the failing-channels check per tenant."""
    return queue_for_every_tenant(channels_check_failing_task)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def message_send_task(self: Task, *, tenant_id: int, message_id: int) -> None:
    """Send one reply (channels.conversations.message_deliver); a provider that did not take
    it is asked again after the backoff the message records. Without a broker (`make run`)
    the embedded scheduler's sweeper sends it when due: an eager retry cannot wait."""
    from channels.conversations import message_deliver

    delay = message_deliver(tenant_id=tenant_id, message_id=message_id)
    if delay is not None and not self.request.is_eager:
        raise self.retry(countdown=delay)


@app.task(base=TenantTask)
def messages_sweep_task(*, tenant_id: int) -> int:
    """Queue one tenant's due replies again and settle interrupted sends."""
    from channels.conversations import messages_sweep

    return messages_sweep()


@app.task
def messages_sweep_all_task() -> int:
    """Beat entry point (every 30 s): sweep every tenant's replies."""
    return queue_for_every_tenant(messages_sweep_task)


# Attempts at downloading a message's files while the provider cannot be reached.
FILE_ATTEMPTS = 5


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=FILE_ATTEMPTS)
def message_files_task(self: Task, *, tenant_id: int, message_id: int) -> None:
    """Keep the files a messenger's message brought (channels.conversations); tried again
    with backoff while the provider cannot be reached, then noted as not downloaded."""
    from channels.conversations import message_files_fetch

    last = self.request.is_eager or self.request.retries >= FILE_ATTEMPTS
    if message_files_fetch(tenant_id=tenant_id, message_id=message_id, last=last):
        raise self.retry(countdown=30 * 2**self.request.retries)
