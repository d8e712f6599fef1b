"""The API channel over HTTP: token auth, idempotency, validation, limits, behaviour events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from channels import services
from channels.models import InboundEvent
from channels.services import channel_create, channel_update
from crm.models import Notification, Tenant, TimelineEvent
from crm.services import tenant_update
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.distribution import rule_save
from leads.services import lead_create
from tests.channels.conftest import events_of, leads_of
from tests.factories import add_member

LEAD = {
    "name": "Анна Смирнова",
    "phone": "8 (999) 123-45-67",
    "email": "Anna@Example.com",
    "message": "Нужна консультация по тарифам",
    "utm": {"utm_source": "partner", "utm_campaign": "winter"},
    "page_url": "https://example.com/pricing",
}


def test_a_delivery_becomes_an_unassigned_lead_with_its_inbound_story(tenant, api_channel, deliver):
    response = deliver(api_channel, LEAD)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    assert body["duplicate"] is False
    (lead,) = leads_of(tenant)
    assert lead.name == "Анна Смирнова"
    assert lead.phone_e164 == "+79991234567"
    assert lead.email_key == "anna@example.com"
    assert lead.source == "api"
    assert (lead.utm_source, lead.utm_campaign) == ("partner", "winter")
    assert lead.owner is None
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.DONE
    assert event.outcome == InboundEvent.Outcome.CREATED
    assert event.lead_id == lead.pk
    assert event.attempts == 1
    with tenant_context(tenant):
        inquiry = TimelineEvent.objects.get(kind="lead.inquiry", target_id=lead.pk)
    assert inquiry.data["message"] == "Нужна консультация по тарифам"
    assert inquiry.data["inbound"]["channel"] == "Сайт-партнёр"
    assert inquiry.data["inbound"]["page_url"] == "https://example.com/pricing"


def test_the_same_delivery_twice_makes_one_lead(tenant, api_channel, deliver):
    first = deliver(api_channel, LEAD, HTTP_IDEMPOTENCY_KEY="order-1001")
    again = deliver(api_channel, {**LEAD, "name": "changed"}, HTTP_IDEMPOTENCY_KEY="order-1001")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    # Without a key, the very same body is the same delivery.
    other = {"name": "Пётр", "email": "petr@example.com", "external_id": "crm-77"}
    deliver(api_channel, other)
    deliver(api_channel, other)
    assert len(events_of(api_channel)) == 2
    assert len(leads_of(tenant)) == 2


def test_numeric_and_long_external_ids_are_kept_as_text(tenant, api_channel, deliver):
    assert deliver(api_channel, {"phone": "+79990000021", "external_id": 12345}).status_code == 202
    long_id = "x" * 600
    assert (
        deliver(api_channel, {"phone": "+79990000022", "external_id": long_id}).status_code == 202
    )
    numeric, long = events_of(api_channel)
    assert numeric.external_id == "12345"
    assert long.external_id == long_id[:200]
    # Sent again, each is the same delivery.
    assert deliver(api_channel, {"phone": "+79990000021", "external_id": 12345}).status_code == 200
    assert len(leads_of(tenant)) == 2


@pytest.mark.parametrize(
    "headers",
    [{}, {"token": "wrong"}, {"HTTP_X_API_KEY": "wrong", "token": ""}],
)
def test_wrong_credentials_get_403_and_store_nothing(tenant, api_channel, deliver, headers):
    token = headers.pop("token", "")
    response = deliver(api_channel, LEAD, token=token or "", **headers)
    assert response.status_code == 403
    assert events_of(api_channel) == []
    assert leads_of(tenant) == []


def test_the_x_api_key_header_works_too(tenant, api_channel, deliver):
    response = deliver(api_channel, LEAD, token="", HTTP_X_API_KEY=api_channel.secret)
    assert response.status_code == 202
    assert len(leads_of(tenant)) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "JSON"),
        ("[1, 2]", "object"),
        ('{"name": "Без контактов"}', "phone"),
        ('{"phone": "+79991234567", "source": "carrier-pigeon"}', "carrier-pigeon"),
        ('{"phone": {"n": 1}}', "phone"),
        ('{"email": "a@b.c", "custom": [1]}', "custom"),
    ],
)
def test_malformed_deliveries_are_kept_as_rejected_with_the_reason(
    tenant, api_channel, deliver, body, reason
):
    response = deliver(api_channel, body=body)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.REJECTED
    assert reason in event.detail
    assert bytes(event.body) == body.encode()
    assert leads_of(tenant) == []


# The limit counts per wall-clock minute: the three deliveries must fall in one minute (a
# loaded machine once sent them across a minute's end, and the third was let through).
@time_machine.travel(datetime(2026, 12, 5, 10, 0, 1, tzinfo=UTC), tick=True)
def test_the_token_rate_limit_answers_429(tenant, admin, api_channel, deliver):
    with tenant_context(tenant):
        channel_update(actor=admin, channel=api_channel, data={"config": {"rate_limit": 2}})
    codes = [deliver(api_channel, {"phone": f"+7999000000{i}"}).status_code for i in range(3)]
    assert codes == [202, 202, 429]
    assert len(leads_of(tenant)) == 2


def test_the_channels_responsible_gets_the_lead_and_a_notification(
    tenant, admin, manager, api_channel, deliver
):
    with tenant_context(tenant):
        channel_update(actor=admin, channel=api_channel, data={"default_owner": manager})
    deliver(api_channel, LEAD)
    (lead,) = leads_of(tenant)
    assert lead.owner_id == manager.pk
    with tenant_context(tenant):
        assert Notification.objects.filter(recipient=manager, kind="lead.assigned").exists()


def test_an_away_responsible_leaves_the_lead_in_the_shared_inbox(
    tenant, admin, manager, api_channel, deliver
):
    with tenant_context(tenant):
        manager.is_away = True
        manager.save()
        channel_update(actor=admin, channel=api_channel, data={"default_owner": manager})
    deliver(api_channel, LEAD)
    assert leads_of(tenant)[0].owner is None


def test_behaviour_events_join_the_known_lead_or_are_ignored(tenant, admin, api_channel, deliver):
    with tenant_context(tenant):
        lead = lead_create(actor=admin, data={"email": "anna@example.com"}, owner=None)
    event = {"event": "pricing_viewed", "email": "ANNA@example.com", "properties": {"plan": "pro"}}
    assert deliver(api_channel, event, path="events").status_code == 202
    assert deliver(api_channel, {**event, "email": "x@y.z"}, path="events").status_code == 202
    known, unknown = events_of(api_channel)
    assert known.status == InboundEvent.Status.DONE
    assert known.lead_id == lead.pk
    assert unknown.status == InboundEvent.Status.IGNORED
    with tenant_context(tenant):
        recorded = TimelineEvent.objects.get(kind="lead.behaviour", target_id=lead.pk)
    assert recorded.data["properties"] == {"plan": "pro"}
    assert deliver(api_channel, {"event": "x"}, path="events").status_code == 400
    assert deliver(api_channel, {"email": "a@b.c"}, path="events").status_code == 400


def test_in_simple_mode_a_delivery_opens_a_deal(tenant, admin, api_channel, deliver):
    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    deliver(api_channel, LEAD)
    (event,) = events_of(api_channel)
    assert event.outcome == InboundEvent.Outcome.DEAL
    with tenant_context(tenant):
        deal = Deal.objects.select_related("contact").get(pk=event.deal_id)
        assert deal.contact.phones == ["8 (999) 123-45-67"]
        # Nobody was picked: the deal waits unassigned, visible to every manager.
        assert deal.owner_id is None


def test_unknown_disabled_and_other_paths(tenant, admin, api_channel, deliver):
    assert Client().post("/in/nope/", {}).status_code == 404
    assert deliver(api_channel, LEAD, path="other").status_code == 404
    url = reverse("inbound", kwargs={"token": api_channel.token})
    assert Client().get(url).status_code == 405
    with tenant_context(tenant):
        channel_update(actor=admin, channel=api_channel, data={"enabled": False})
    assert deliver(api_channel, LEAD).status_code == 404
    assert events_of(api_channel) == []


def test_a_channel_writes_only_into_its_own_tenant(
    tenant, admin, other_tenant, other_admin, deliver
):
    with tenant_context(other_tenant):
        theirs = channel_create(actor=other_admin, kind="api", name="Их API")
    assert deliver(theirs, LEAD).status_code == 202
    assert leads_of(tenant) == []
    assert len(leads_of(other_tenant)) == 1
    # Their API token does not open our channel: credentials are per channel.
    with tenant_context(tenant):
        ours = channel_create(actor=admin, kind="api", name="Наш API")
    assert deliver(ours, LEAD, token=theirs.secret).status_code == 403


def test_the_database_being_down_answers_503(api_channel, deliver, monkeypatch):
    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "event_accept", down)
    response = deliver(api_channel, LEAD)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"


def _channel_rule(admin, channel, members) -> None:
    """A round-robin assignment rule for the channel's inquiries among `members`."""
    rule_save(
        actor=admin,
        rule=None,
        data={
            "name": "Партнёры",
            "channel_ids": [channel.pk],
            "members": [member.pk for member in members],
            "strategy": "round_robin",
        },
    )


def test_assignment_rules_route_a_channels_leads(tenant, admin, manager, api_channel, deliver):
    other = add_member(tenant, "manager")
    with tenant_context(tenant):
        _channel_rule(admin, api_channel, [manager, other])
        elsewhere = channel_create(actor=admin, kind="api", name="Другой API")
    deliver(api_channel, {"phone": "+79990000001"})
    deliver(api_channel, {"phone": "+79990000002"})
    deliver(elsewhere, {"phone": "+79990000003"})
    owners = [lead.owner_id for lead in leads_of(tenant)]
    assert set(owners[:2]) == {manager.pk, other.pk}
    assert owners[2] is None


def test_escalation_reassigns_by_the_rule_of_the_leads_channel(
    tenant, admin, manager, api_channel, deliver
):
    from datetime import timedelta

    from django.utils import timezone

    from leads.models import Lead
    from leads.tasks import leads_escalate_overdue_task

    partner, other = add_member(tenant, "manager"), add_member(tenant, "manager")
    Tenant.objects.filter(pk=tenant.pk).update(sla_reassign=True, response_sla_minutes=15)
    with tenant_context(tenant):
        _channel_rule(admin, api_channel, [manager, partner])
        # The rule's members are busier than `other`: the least-loaded fallback would pick
        # `other`, the rule picks its next member.
        for member in (manager, partner):
            for n in range(2):
                lead_create(
                    actor=admin, data={"phone": f"+7999{member.pk:04d}{n:03d}"}, owner=member
                )
    deliver(api_channel, {"phone": "+79990000011"})
    (lead,) = [lead for lead in leads_of(tenant) if lead.channel_id is not None]
    assert lead.channel_id == api_channel.pk
    first, lead_pk = lead.owner_id, lead.pk
    assert first in (manager.pk, partner.pk)
    # Nobody answered for 20 minutes: the lead goes to the next member of its channel's
    # rule, not to just any available manager (`other`).
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    assert leads_escalate_overdue_task(tenant_id=tenant.pk) == 1
    lead = next(lead for lead in leads_of(tenant) if lead.pk == lead_pk)
    assert lead.owner_id == ({manager.pk, partner.pk} - {first}).pop()
    assert lead.owner_id != other.pk


def test_a_known_person_is_attached_or_repeated_and_a_blocked_one_is_spam(
    tenant, admin, api_channel, deliver
):
    from contacts.blocklist import blocked_sender_add

    deliver(api_channel, LEAD)
    deliver(api_channel, {**LEAD, "message": "Ещё вопрос", "phone": "+7 999 123 4567"})
    first, again = events_of(api_channel)
    assert again.outcome == InboundEvent.Outcome.ATTACHED
    assert again.lead_id == first.lead_id
    assert len(leads_of(tenant)) == 1
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="domain", value="spammer.example")
    response = deliver(api_channel, {"email": "bot@SPAMMER.example", "message": "buy"})
    assert response.status_code == 202  # accepted, then recorded as spam: no lead
    spam = events_of(api_channel)[-1]
    assert spam.status == InboundEvent.Status.SPAM
    assert len(leads_of(tenant)) == 1


def test_behaviour_events_score_the_lead_at_the_time_they_happened(
    tenant, english_workspace, admin, api_channel, deliver
):
    from leads.models import Lead, LeadEvent, ScoringRule

    with tenant_context(tenant):
        ScoringRule.objects.create(
            tenant=tenant,
            name="Pricing",
            subject="event",
            values=["pricing_page"],
            points=10,
            max_times=5,
            half_life_days=7,
        )
        lead = lead_create(actor=admin, data={"email": "anna@example.com"}, owner=None)
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        sent = {"event": "pricing_page", "email": "anna@example.com"}
        assert deliver(api_channel, sent, path="events").status_code == 202
        week_ago = {**sent, "occurred_at": "2026-11-28T12:00:00Z"}
        assert deliver(api_channel, week_ago, path="events").status_code == 202
        unix = {**sent, "occurred_at": int(datetime(2026, 12, 5, 11, 0, tzinfo=UTC).timestamp())}
        assert deliver(api_channel, unix, path="events").status_code == 202
        # Without an offset it is the workspace's time (Moscow: 10:30 is 07:30 UTC).
        local = {**sent, "occurred_at": "2026-12-05T10:30:00"}
        assert deliver(api_channel, local, path="events").status_code == 202
        # An unreadable time does not lose the event: it counts from its receipt.
        garbled = {**sent, "occurred_at": "вчера вечером"}
        assert deliver(api_channel, garbled, path="events").status_code == 202
    with tenant_context(tenant):
        events = list(LeadEvent.objects.filter(lead=lead).order_by("occurred_at", "pk"))
        assert [e.occurred_at.isoformat() for e in events] == [
            "2026-11-28T12:00:00+00:00",
            "2026-12-05T07:30:00+00:00",
            "2026-12-05T11:00:00+00:00",
            "2026-12-05T12:00:00+00:00",
            "2026-12-05T12:00:00+00:00",
        ]
        assert events[-1].properties == {"occurred_at": "вчера вечером"}
        scored = Lead.objects.get(pk=lead.pk)
    # 5 (a week old, halved) + 10 × 4 (hours old: 9.8 + 10 + 10 + 10); recomputed by the
    # worker after each event.
    assert scored.engagement_score == 45
    assert scored.score_parts[0]["why"].startswith("Visited the pricing page ×5")
