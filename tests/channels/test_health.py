"""Channel health: the page's figures (in the workspace's zone) and the admins' alerts when
deliveries keep failing or the channel itself cannot work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings

from channels.health import channel_recovered, channel_trouble, channels_check_failing
from channels.models import Channel, InboundEvent
from channels.services import channel_create
from channels.tasks import channels_check_failing_all_task
from crm.models import Notification
from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse

NOW = datetime(2026, 3, 10, 0, 30, tzinfo=UTC)  # 10:30 in Vladivostok
Status = InboundEvent.Status


def _event(channel: Channel, status: str, *, ago: timedelta, detail: str = "") -> InboundEvent:
    with tenant_context(channel.tenant):
        event = InboundEvent.objects.create(
            channel=channel,
            key=f"k{InboundEvent.objects.count()}",
            status=status,
            detail=detail,
            body=b"{}",
            next_attempt_at=NOW,
        )
        InboundEvent.objects.filter(pk=event.pk).update(created_at=NOW - ago)
        return event


def _notes(member, kind: str) -> list[Notification]:
    with tenant_context(member.tenant):
        return list(Notification.objects.filter(recipient=member, kind=kind).order_by("pk"))


@pytest.fixture
def channel(tenant, admin) -> Channel:
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save(update_fields=["time_zone"])
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="api", name="Партнёр")


@time_machine.travel(NOW, tick=False)
def test_page_shows_last_delivery_in_workspace_time_24h_counts_and_latest_errors(
    channel, admin, client_for
):
    _event(channel, Status.DONE, ago=timedelta(hours=30))  # older than a day: not counted
    _event(channel, Status.DONE, ago=timedelta(hours=2))
    _event(channel, Status.REJECTED, ago=timedelta(hours=1), detail="Нет телефона и e-mail")
    _event(channel, Status.DONE, ago=timedelta(minutes=5))
    url = tenant_reverse("channels:detail", channel.tenant, pk=channel.pk)
    page = client_for(admin, "en").get(url).content.decode()
    health = page[page.index('data-testid="channel-health"') :]
    assert "10.03.2026 10:25" in health[: health.index('data-testid="health-last"') + 200]
    assert 'data-testid="health-done">Processed: 2<' in health
    assert 'data-testid="health-rejected">Rejected: 1<' in health
    assert "Нет телефона и e-mail" in health
    assert 'data-testid="health-ok"' in health


@time_machine.travel(NOW, tick=False)
def test_a_channel_never_used_says_so(channel, admin, client_for):
    url = tenant_reverse("channels:detail", channel.tenant, pk=channel.pk)
    page = client_for(admin, "en").get(url).content.decode()
    assert "none yet" in page
    assert "no deliveries" in page
    assert 'data-testid="health-failing"' not in page


@time_machine.travel(NOW, tick=False)
def test_failing_deliveries_alert_the_admins_once_per_six_hours(channel, admin, director, manager):
    for minutes in (50, 30, 10):
        _event(channel, Status.REJECTED, ago=timedelta(minutes=minutes), detail="bad")
    _event(channel, Status.DONE, ago=timedelta(minutes=20))
    with tenant_context(channel.tenant):
        assert channels_check_failing(now=NOW) == 1
        assert channels_check_failing(now=NOW + timedelta(minutes=5)) == 0
    [note] = _notes(admin, "channel.failing")
    assert note.data["channel"] == "Партнёр"
    assert note.data["count"] == 3
    assert note.url.endswith(f"/channels/{channel.pk}/")
    assert _notes(manager, "channel.failing") == []  # no settings right
    assert _notes(director, "channel.failing") == []
    for minutes in (40, 20, 5):  # still failing six hours later: told again
        _event(channel, Status.FAILED, ago=timedelta(hours=-6, minutes=minutes))
    with tenant_context(channel.tenant):
        assert channels_check_failing(now=NOW + timedelta(hours=6, minutes=1)) == 1
    assert len(_notes(admin, "channel.failing")) == 2


@time_machine.travel(NOW, tick=False)
def test_mostly_working_or_old_failures_do_not_alert(channel, admin):
    for minutes in (50, 30, 10):
        _event(channel, Status.REJECTED, ago=timedelta(minutes=minutes))
    for minutes in (45, 25, 15, 5):
        _event(channel, Status.DONE, ago=timedelta(minutes=minutes))
    for hours in (3, 4, 5, 6):  # failures more than an hour ago
        _event(channel, Status.FAILED, ago=timedelta(hours=hours))
    with tenant_context(channel.tenant):
        assert channels_check_failing(now=NOW) == 0
    assert _notes(admin, "channel.failing") == []


@time_machine.travel(NOW, tick=False)
def test_the_periodic_check_runs_per_tenant_and_stays_in_it(
    channel, admin, other_tenant, other_admin, django_capture_on_commit_callbacks
):
    with tenant_context(other_tenant):
        theirs = channel_create(actor=other_admin, kind="api", name="Их канал")
    for minutes in (50, 30, 10):
        _event(theirs, Status.FAILED, ago=timedelta(minutes=minutes))
    with django_capture_on_commit_callbacks(execute=True):
        channels_check_failing_all_task.delay()
    assert len(_notes(other_admin, "channel.failing")) == 1
    assert _notes(admin, "channel.failing") == []
    assert "channels-failing" in settings.CELERY_BEAT_SCHEDULE


def test_trouble_is_shown_at_once_told_after_the_grace_once_per_incident(
    channel, admin, client_for
):
    start = NOW
    with tenant_context(channel.tenant):
        assert channel_trouble(channel=channel, problem="LOGIN failed", now=start) is False
    with time_machine.travel(start, tick=False):
        page = client_for(admin, "en").get(
            tenant_reverse("channels:detail", channel.tenant, pk=channel.pk)
        )
    assert 'data-testid="health-problem">LOGIN failed' in page.content.decode()
    assert 'data-testid="health-failing"' in page.content.decode()
    with tenant_context(channel.tenant):
        later = start + timedelta(minutes=11)
        assert channel_trouble(channel=channel, problem="LOGIN failed", now=later) is True
        assert channel_trouble(channel=channel, problem="LOGIN failed", now=later) is False
        channel_recovered(channel=channel)
        channel.refresh_from_db()
        assert channel.problem == ""
        again = later + timedelta(hours=1)
        assert channel_trouble(channel=channel, problem="timeout", now=again) is False
        assert channel_trouble(
            channel=channel, problem="timeout", now=again + timedelta(minutes=10)
        )
    texts = [n.data["problem"] for n in _notes(admin, "channel.trouble")]
    assert texts == ["LOGIN failed", "timeout"]


def test_health_is_for_admins_only(channel, manager, client_for, other_admin):
    url = tenant_reverse("channels:detail", channel.tenant, pk=channel.pk)
    assert client_for(manager).get(url).status_code == 403
    assert client_for(other_admin).get(url).status_code == 404


def test_saving_the_settings_from_an_old_copy_keeps_the_health(channel, admin):
    from channels.services import channel_update

    with tenant_context(channel.tenant):
        stale = Channel.objects.get(pk=channel.pk)
        channel_trouble(channel=channel, problem="LOGIN failed", now=NOW)
        channel_update(actor=admin, channel=stale, data={"name": "Партнёр 2"})
        fresh = Channel.objects.get(pk=channel.pk)
    assert (fresh.name, fresh.problem) == ("Партнёр 2", "LOGIN failed")
