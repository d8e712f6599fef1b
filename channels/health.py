"""Channel health: how a channel's deliveries fare, and telling admins when it is broken.

The channel page shows when the last delivery came, the last 24 hours by outcome and the
latest errors (`channel_health`). Admins (the settings right) are notified, in the bell and
by e-mail:
- when deliveries keep failing: a periodic check (every 5 minutes, under beat and the
  embedded scheduler) finds channels with at least FAILING_MIN deliveries failed or rejected
  in the last hour and more of those than processed ones — at most once per ALERT_EVERY;
- when something keeps the channel itself from working (a mailbox that refuses the login,
  a provider that cannot be reached): the code that polls reports it (`channel_trouble`),
  and admins hear once per incident when it has lasted TROUBLE_GRACE — a passing network
  error is not worth a message; `channel_recovered` ends the incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone

from channels.models import Channel, InboundEvent
from crm.models import Membership, Role
from crm.notifications import notify
from crm.urlnames import tenant_reverse

Status = InboundEvent.Status
PROBLEMS = (Status.FAILED, Status.REJECTED)
WINDOW = timedelta(hours=24)
FAILING_WINDOW = timedelta(hours=1)
FAILING_MIN = 3
ALERT_EVERY = timedelta(hours=6)
TROUBLE_GRACE = timedelta(minutes=10)
LAST_ERRORS = 5


@dataclass
class Health:
    """A channel's recent deliveries: when the last came, the last 24 h by status, the
    latest failed or rejected ones, and what keeps it from working (if anything)."""

    last_delivery_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[InboundEvent] = field(default_factory=list)
    problem: str = ""
    problem_since: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failing(self) -> bool:
        """Deliveries of the last 24 h mostly end failed or rejected, or the channel has a
        problem."""
        bad = sum(self.counts.get(s, 0) for s in PROBLEMS)
        return bool(self.problem) or (bad >= FAILING_MIN and bad > self.counts.get(Status.DONE, 0))


def channel_health(*, channel: Channel, now: datetime | None = None) -> Health:
    """The channel's health for its page (three queries)."""
    now = now or timezone.now()
    events = InboundEvent.objects.filter(channel=channel)
    last = events.aggregate(at=Max("created_at"))["at"]
    rows = events.filter(created_at__gte=now - WINDOW).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    errors = list(
        events.filter(status__in=PROBLEMS)
        .defer("body", "headers", "message")
        .order_by("-created_at", "-id")[:LAST_ERRORS]
    )
    return Health(
        last_delivery_at=last,
        counts=counts,
        errors=errors,
        problem=channel.problem,
        problem_since=channel.problem_since,
    )


def _admins() -> list[Membership]:
    """The active people who may set channels up (administrators, the settings right)."""
    rights = Q(role__kind=Role.Kind.ADMIN) | Q(role__can_manage_settings=True)
    return list(
        Membership.objects.filter(rights, is_active=True, is_system=False).select_related("user")
    )


def _alert(channel: Channel, kind: str, data: dict, now: datetime) -> bool:
    """Notify the admins once: claims the alert with a conditional update, so two checks
    at the same moment send one message."""
    claimed = Channel.objects.filter(
        Q(alerted_at=None) | Q(alerted_at=channel.alerted_at), pk=channel.pk
    ).update(alerted_at=now)
    if not claimed:
        return False
    channel.alerted_at = now
    url = tenant_reverse("channels:detail", channel.tenant, pk=channel.pk)
    notify(recipients=_admins(), kind=kind, data={"channel": channel.name, **data}, url=url)
    return True


def channels_check_failing(*, now: datetime | None = None) -> int:
    """Alert the admins of the active tenant about channels whose deliveries keep failing
    (module docstring); returns how many channels were alerted."""
    now = now or timezone.now()
    recent = InboundEvent.objects.filter(created_at__gte=now - FAILING_WINDOW)
    rows = (
        recent.values("channel")
        .annotate(
            bad=Count("id", filter=Q(status__in=PROBLEMS)),
            done=Count("id", filter=Q(status=Status.DONE)),
        )
        .filter(bad__gte=FAILING_MIN)
    )
    failing = {row["channel"]: row["bad"] for row in rows if row["bad"] > row["done"]}
    alerted = 0
    quiet = Q(alerted_at=None) | Q(alerted_at__lt=now - ALERT_EVERY)
    for channel in Channel.objects.filter(quiet, pk__in=failing, enabled=True):
        alerted += _alert(
            channel,
            "channel.failing",
            {"count": failing[channel.pk], "minutes": int(FAILING_WINDOW.total_seconds() // 60)},
            now,
        )
    return alerted


def channel_trouble(*, channel: Channel, problem: str, now: datetime | None = None) -> bool:
    """Record what keeps the channel from working (shown on its page). Admins are told once
    per incident, when it has lasted TROUBLE_GRACE; returns whether this call told them."""
    now = now or timezone.now()
    problem = problem[:500]
    since = channel.problem_since or now
    Channel.objects.filter(pk=channel.pk).update(problem=problem, problem_since=since)
    channel.problem, channel.problem_since = problem, since
    told = channel.alerted_at is not None and channel.alerted_at >= since
    if told or now - since < TROUBLE_GRACE:
        return False
    return _alert(channel, "channel.trouble", {"problem": problem}, now)


def channel_recovered(*, channel: Channel) -> None:
    """The channel works again: its problem is cleared (the next one is a new incident)."""
    if channel.problem or channel.problem_since:
        Channel.objects.filter(pk=channel.pk).update(problem="", problem_since=None)
        channel.problem, channel.problem_since = "", None
