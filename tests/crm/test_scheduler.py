"""The embedded setup's scheduler (crm.scheduler): beat's schedule run in-process.

The server of `make run` running it against a SQLite file is tests/embedded; here its
rules: due at start, then on the entry's interval; a failing job or tenant does not stop
the others; it refuses to run beside a broker (beat's job) and unknown tasks.
"""

from __future__ import annotations

import itertools
import logging
import time
from datetime import timedelta

import pytest
from celery import Celery
from celery.schedules import schedule
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from crm.celery import app
from crm.models import Membership, Notification
from crm.scheduler import MAX_SLEEP, EmbeddedScheduler, Job
from crm.services import activity_create
from crm.tenancy import current_tenant, tenant_context
from leads import services as lead_services
from leads.tasks import activities_send_reminders_all_task
from tests.leads.factories import make_lead
from tests.processes import wait_for

REMINDERS = "leads.tasks.activities_send_reminders_all_task"


def _due_reminder(member: Membership, subject: str) -> None:
    with tenant_context(member.tenant):
        activity_create(
            actor=member,
            target=make_lead(member),
            kind="call",
            subject=subject,
            due_at=timezone.now() + timedelta(hours=1),
            remind_at=timezone.now() - timedelta(minutes=1),
        )


def _reminded(member: Membership) -> list[str]:
    with tenant_context(member.tenant):
        return sorted(
            n.data["subject"]
            for n in Notification.objects.filter(recipient=member, kind="activity.reminder")
        )


def test_a_job_is_due_at_start_and_then_once_its_interval_has_passed():
    job = Job(name="j", task=REMINDERS, schedule=schedule(timedelta(seconds=60), app=app))
    assert job.due_in() == 0
    job.last_run_at = job.schedule.now()
    assert 59 < job.due_in() <= 60
    job.last_run_at = job.schedule.now() - timedelta(seconds=61)
    assert job.due_in() == 0


def test_the_scheduler_thread_runs_each_job_at_start_and_again_on_its_interval():
    # Its own app and task, off the database: the suite's in-memory SQLite database is
    # shared-cache, where SQLite does not wait for a lock held by another thread.
    runs: list[float] = []
    eager = Celery("embedded-test", set_as_current=False)
    eager.conf.task_always_eager = True

    @eager.task(name="count")
    def count() -> None:
        runs.append(time.monotonic())

    scheduler = EmbeddedScheduler(app=eager, schedule={"count": {"task": "count", "schedule": 0.3}})
    started = time.monotonic()
    scheduler.start()
    try:
        wait_for(lambda: len(runs) >= 3, "three runs", seconds=10)
    finally:
        scheduler.stop()
    assert runs[0] - started < 1  # at start
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert all(gap >= 0.25 for gap in gaps), gaps  # then on its interval, not in a busy loop
    stopped = len(runs)
    time.sleep(0.5)
    assert len(runs) == stopped  # stopped for good


def test_the_thread_survives_a_failure_of_the_schedule_itself(monkeypatch, caplog):
    eager = Celery("embedded-test", set_as_current=False)
    eager.conf.task_always_eager = True
    scheduler = EmbeddedScheduler(app=eager, schedule={})
    ticks = []

    def tick() -> float:
        ticks.append(time.monotonic())
        if len(ticks) == 1:
            raise ValueError("a schedule that cannot say when it is due")
        return 0.05

    monkeypatch.setattr(scheduler, "tick", tick)
    monkeypatch.setattr("crm.scheduler.MAX_SLEEP", 0.05)
    scheduler.start()
    try:
        wait_for(lambda: len(ticks) >= 3, "the scheduler to go on after a failure", seconds=10)
    finally:
        scheduler.stop()
    assert "schedule failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_logged_and_the_others_still_run(tenant, admin, caplog):
    _due_reminder(admin, "call")
    scheduler = EmbeddedScheduler(
        app=app,
        schedule={
            # A tenant task without its tenant_id fails (TypeError), as a broken job would.
            "broken": {"task": "leads.tasks.activities_send_reminders_task", "schedule": 60},
            "reminders": {"task": REMINDERS, "schedule": 60},
        },
    )
    with caplog.at_level(logging.ERROR, logger="crm.scheduler"):
        assert scheduler.tick() == MAX_SLEEP  # both ran; the next look in MAX_SLEEP
    assert "Periodic job broken failed" in caplog.text
    assert _reminded(admin) == ["call"]
    assert all(job.last_run_at is not None for job in scheduler.jobs)


def test_one_tenants_failure_does_not_keep_the_others_from_their_reminders(
    tenant, admin, other_tenant, other_admin, monkeypatch, caplog
):
    _due_reminder(admin, "first tenant")
    _due_reminder(other_admin, "second tenant")
    real = lead_services.activities_send_reminders

    def broken_for_the_first_tenant(**kwargs):
        if current_tenant() == tenant:
            raise RuntimeError("this tenant's data is broken")
        return real(**kwargs)

    monkeypatch.setattr(lead_services, "activities_send_reminders", broken_for_the_first_tenant)
    with caplog.at_level(logging.ERROR, logger="crm.celery"):
        assert activities_send_reminders_all_task.apply(throw=True).get() >= 2
    assert "this tenant's data is broken" in caplog.text
    assert _reminded(admin) == []
    assert _reminded(other_admin) == ["second tenant"]


def test_beside_a_broker_the_scheduler_leaves_the_jobs_to_celery_beat():
    with_broker = Celery("with-broker", broker="redis://127.0.0.1:1/0", set_as_current=False)
    with pytest.raises(ImproperlyConfigured, match="beat"):
        EmbeddedScheduler(app=with_broker, schedule={})


def test_an_unknown_task_in_the_schedule_is_refused():
    with pytest.raises(ImproperlyConfigured, match=r"no\.such\.task"):
        EmbeddedScheduler(app=app, schedule={"x": {"task": "no.such.task", "schedule": 60}})
