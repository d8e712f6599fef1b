"""Channel reads: the endpoint's route lookup, the settings pages' lists and counts."""

from __future__ import annotations

import copy
import time

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from channels.models import TELEPHONY_KINDS, Call, Channel, ChannelRoute, InboundEvent

RECENT_EVENTS = 50
RECENT_CALLS = 20


# Routes by token, kept per process: a route never changes (a channel's token is its
# route's key; deleting the channel deletes the route, and then the channel look-up finds
# nothing). Its tenant row is reused for TENANT_CACHE_SECONDS, like the pages' tenant rows.
_ROUTES: dict[str, tuple[float, ChannelRoute]] = {}
_ROUTES_KEPT = 10_000


def route_get(*, token: str) -> ChannelRoute | None:
    """The tenant and channel of a public endpoint token (global table), or None."""
    known = _ROUTES.get(token)
    if known is not None and known[0] > time.monotonic():
        return known[1]
    route = ChannelRoute.objects.select_related("tenant").filter(token=token).first()
    seconds = settings.TENANT_CACHE_SECONDS
    if route is not None and seconds > 0:
        if len(_ROUTES) >= _ROUTES_KEPT:
            _ROUTES.clear()
        _ROUTES[token] = (time.monotonic() + seconds, route)
    return route


def channel_for_route(*, route: ChannelRoute) -> Channel | None:
    """The enabled channel behind a route, in the route tenant's context, or None.

    Read on every delivery (a rotated secret or a switched-off channel counts at once),
    without joins: the tenant is the route's, the responsible is read by the worker.
    """
    channel = Channel.objects.filter(pk=route.channel_id, enabled=True).first()
    if channel is None:
        _ROUTES.pop(route.token, None)
        return None
    channel.tenant = copy.copy(route.tenant)
    return channel


def channel_list() -> QuerySet[Channel]:
    """The tenant's channels with their delivery counts by outcome."""
    s = InboundEvent.Status
    return Channel.objects.select_related("default_owner__user").annotate(
        event_count=Count("events"),
        done_count=Count("events", filter=Q(events__status=s.DONE)),
        spam_count=Count("events", filter=Q(events__status=s.SPAM)),
        problem_count=Count("events", filter=Q(events__status__in=(s.FAILED, s.REJECTED))),
    )


def channel_get(*, channel_id: int) -> Channel:
    """A channel of the current tenant, or 404 (also for another tenant's id)."""
    channel = Channel.objects.select_related("default_owner__user").filter(pk=channel_id).first()
    if channel is None:
        raise Http404
    return channel


def status_counts(*, channel: Channel) -> dict[str, int]:
    """How many of the channel's deliveries ended in each status."""
    rows = InboundEvent.objects.filter(channel=channel).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(InboundEvent.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def recent_events(*, channel: Channel, status: str = "") -> QuerySet[InboundEvent]:
    """The channel's latest deliveries (without their bodies), newest first."""
    events = InboundEvent.objects.filter(channel=channel).defer("body", "headers")
    if status in InboundEvent.Status.values:
        events = events.filter(status=status)
    return events.select_related("lead", "deal", "contact").order_by("-created_at", "-id")[
        :RECENT_EVENTS
    ]


def recent_calls(*, channel: Channel) -> list[Call] | None:
    """A telephony channel's latest calls with the records they reached, newest first;
    None for other kinds."""
    if channel.kind not in TELEPHONY_KINDS:
        return None
    calls = Call.objects.filter(channel=channel).select_related("lead", "deal", "contact")
    return list(calls.order_by("-created_at", "-id")[:RECENT_CALLS])


def events_needing_attention(*, channel: Channel) -> QuerySet[InboundEvent]:
    """The channel's deliveries still waiting to be processed or failed (each may be
    replayed), oldest first, without their bodies."""
    s = InboundEvent.Status
    return (
        InboundEvent.objects.filter(channel=channel, status__in=(s.PENDING, s.FAILED))
        .defer("body", "headers", "message")
        .order_by("created_at", "id")[:RECENT_EVENTS]
    )


def event_get(*, channel: Channel, event_id: int) -> InboundEvent:
    """One delivery of the channel, or 404."""
    event = (
        InboundEvent.objects.select_related("lead", "deal", "contact", "channel")
        .filter(channel=channel, pk=event_id)
        .first()
    )
    if event is None:
        raise Http404
    return event
