"""Background tasks: the TenantTask contract, eagerly and on a real Celery worker with Redis."""

from __future__ import annotations

import os
import time

import pytest
from django.core import mail

from crm.celery import app
from crm.models import Role
from crm.services import member_invite
from crm.tasks import invitation_send_task
from crm.tenancy import tenant_context
from tests.factories import make_tenant


def test_a_tenant_task_needs_a_tenant_id(tenant):
    with pytest.raises(TypeError, match="tenant_id"):
        invitation_send_task.apply(kwargs={"invitation_id": 1}, throw=True)


def test_the_invitation_task_sends_once_and_skips_spent_invitations(
    tenant, admin, django_capture_on_commit_callbacks
):
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        invitation = member_invite(
            actor=admin, email="x@example.com", role=Role.objects.get(kind="manager"), team=None
        )
    assert len(mail.outbox) == 1
    assert "Acme" in mail.outbox[0].subject
    with tenant_context(tenant):
        invitation.revoked_at = invitation.expires_at
        invitation.save()
    invitation_send_task.apply(
        kwargs={"tenant_id": tenant.pk, "invitation_id": invitation.pk}, throw=True
    )
    assert len(mail.outbox) == 1


@pytest.fixture
def real_worker():
    """A real Celery worker thread consuming from Redis (skipped without REDIS_URL)."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL for a real broker")
    from celery.contrib.testing.worker import start_worker

    app.conf.task_always_eager = False
    app.control.purge()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = True


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_task_inside_its_tenant(real_worker):
    tenant = make_tenant("worker-co", name="Worker Co")
    with tenant_context(tenant):
        from crm.models import Membership

        admin = Membership.objects.get(role__kind="admin")
        member_invite(
            actor=admin,
            email="queued@example.com",
            role=Role.objects.get(kind="director"),
            team=None,
        )
    deadline = time.monotonic() + 20
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [m.to for m in mail.outbox] == [["queued@example.com"]]


def test_every_beat_entry_names_a_registered_task():
    """The beat schedule runs the periodic jobs the product promises (reminders, purges,
    the inbound sweeper), each by the name of a task the worker knows."""
    from django.conf import settings

    from crm.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "leads.tasks.activities_send_reminders_all_task" in scheduled
    assert "channels.tasks.events_sweep_all_task" in scheduled
    assert scheduled <= set(app.tasks)
