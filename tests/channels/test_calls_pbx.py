"""The generic PBX JSON format, and what a finished call makes for each kind of caller:
unknown (a lead), known by a lead, a contact or a deal (a call activity), blocked, a
simple-mode workspace; provisioning from the command line."""

from __future__ import annotations

import hashlib
import hmac
import json
from io import StringIO

import pytest
from django.core.management import call_command

from channels.models import Call, Channel, InboundEvent
from channels.services import channel_create
from contacts.blocklist import blocked_sender_add
from contacts.services import contact_create
from crm.models import Tenant
from crm.services import tenant_update
from crm.tenancy import tenant_context
from deals.models import Deal
from deals.services import deal_create
from tests.channels.calls_helpers import SITE, call_activities, calls_of, endpoint, post_json
from tests.channels.conftest import events_of, leads_of

pytestmark = pytest.mark.usefixtures("english_workspace")

Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


@pytest.fixture
def pbx(tenant, admin, settings) -> Channel:
    settings.SITE_URL = SITE
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="pbx", name="Asterisk")


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def post(channel, payload, **kwargs):
        return post_json(django_capture_on_commit_callbacks, channel, payload, **kwargs)

    return post


def event(name, call_id="1700000000.42", **extra):
    return {
        "call_id": call_id,
        "event": name,
        "from": "8 (999) 123-45-67",
        "to": "+74951234567",
        **extra,
    }


def test_start_answer_end_make_one_answered_call_and_a_lead(pbx, send, tenant):
    assert send(pbx, event("start", occurred_at="2026-12-05T10:20:30+03:00")).status_code == 202
    assert send(pbx, event("answer", occurred_at="2026-12-05T10:20:40+03:00")).status_code == 202
    recording = "https://pbx.example.com/rec/42.mp3"
    end = event(
        "end",
        status="answered",
        duration=95,
        recording_url=recording,
        occurred_at="2026-12-05T10:22:20+03:00",
    )
    assert send(pbx, end).status_code == 202
    (call,) = calls_of(pbx)
    assert (call.state, call.duration, call.recording_url) == ("completed", 95, recording)
    assert call.answered_at.isoformat() == "2026-12-05T07:20:40+00:00"
    assert call.started_at.isoformat() == "2026-12-05T07:20:30+00:00"
    assert call.ended_at.isoformat() == "2026-12-05T07:22:20+00:00"
    (lead,) = leads_of(tenant)
    assert (lead.source, lead.phone_e164) == ("call", "+79991234567")
    assert lead.message == "Incoming call, 1:35"
    (activity,) = call_activities(tenant)
    assert recording in activity.note


def test_a_duplicate_event_is_one_delivery(pbx, send):
    first = send(pbx, event("end", status="missed"))
    again = send(pbx, event("end", status="missed"))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True
    assert len(events_of(pbx)) == 1


def test_an_end_alone_is_enough(pbx, send, tenant):
    send(pbx, event("end", status="busy"))
    (call,) = calls_of(pbx)
    assert (call.state, call.end_reason) == (Call.State.MISSED, "busy")
    assert leads_of(tenant)[0].message == "Missed call"


def test_a_signed_body_is_accepted_instead_of_the_bearer_token(pbx, send):
    body = json.dumps(event("end", status="missed")).encode()
    good = hmac.new(pbx.secret.encode(), body, hashlib.sha256).hexdigest()
    assert send(pbx, body, token="", HTTP_X_SIGNATURE=f"sha256={good}").status_code == 202
    assert send(pbx, body, token="", HTTP_X_SIGNATURE="sha256=" + "0" * 64).status_code == 403
    assert send(pbx, body, token="wrong").status_code == 403
    assert send(pbx, body, token="").status_code == 403
    assert len(events_of(pbx)) == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "JSON"),
        ([], "object"),
        ({"event": "end", "status": "missed"}, "call_id"),
        (event("hangup"), "event"),
        (event("end"), "status"),
        (event("end", status="missed", direction="sideways"), "direction"),
        (event("end", status="missed", duration="long"), "duration"),
        (event("end", status="missed", **{"from": {"n": 1}}), "from"),
    ],
)
def test_bad_events_are_rejected_with_the_reason(pbx, send, payload, reason):
    response = send(pbx, payload)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    (stored,) = events_of(pbx)
    assert stored.status == Status.REJECTED


def test_known_people_get_a_call_activity_on_their_record(pbx, send, tenant, manager):
    with tenant_context(tenant):
        contact = contact_create(
            actor=manager,
            data={"first_name": "Олег", "phones": ["+7 916 555-44-33"]},
            owner=manager,
        )
        deal = deal_create(
            actor=manager, data={"title": "Поставка", "contact": contact}, owner=manager
        )
        contact_only = contact_create(
            actor=manager, data={"first_name": "Ира", "phones": ["89031112233"]}, owner=manager
        )
    # The contact's open deal takes the call; a contact without one takes it itself.
    send(
        pbx, event("end", call_id="c1", status="answered", duration=20, **{"from": "+79165554433"})
    )
    send(pbx, event("end", call_id="c2", status="missed", **{"from": "+7 903 111 22 33"}))
    assert leads_of(tenant) == []
    on_deal, on_contact = call_activities(tenant)
    assert (on_deal.target_id, on_deal.owner_id) == (deal.pk, manager.pk)
    assert on_contact.target_id == contact_only.pk
    first, second = calls_of(pbx)
    assert (first.deal_id, first.contact_id) == (deal.pk, contact.pk)
    assert second.contact_id == contact_only.pk
    assert [e.outcome for e in events_of(pbx)] == [Outcome.ATTACHED] * 2


def test_outbound_calls_never_make_leads(pbx, send, tenant, manager):
    with tenant_context(tenant):
        contact = contact_create(
            actor=manager, data={"first_name": "Олег", "phones": ["+79165554433"]}, owner=manager
        )
    out = {"direction": "outbound", "from": "101", "status": "answered", "duration": 61}
    send(pbx, event("end", call_id="o1", **out, to="8 916 555-44-33"))
    send(pbx, event("end", call_id="o2", **out, to="+7 916 000-00-01"))
    assert leads_of(tenant) == []
    (activity,) = call_activities(tenant)
    assert activity.target_id == contact.pk
    assert activity.subject == "Outgoing call, 1:01"
    assert len(calls_of(pbx)) == 2


def test_a_blocked_number_is_recorded_as_spam(pbx, send, tenant, admin):
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="phone", value="+79991234567", reason="спам-обзвон")
    send(pbx, event("end", status="missed"))
    assert leads_of(tenant) == []
    (stored,) = events_of(pbx)
    assert stored.status == Status.SPAM
    assert calls_of(pbx)[0].state == Call.State.MISSED


def test_in_simple_mode_an_unknown_caller_gets_a_deal(pbx, send, tenant, admin):
    with tenant_context(tenant):
        tenant_update(actor=admin, tenant=tenant, data={"mode": Tenant.Mode.SIMPLE})
    send(pbx, event("end", status="missed"))
    assert leads_of(tenant) == []
    with tenant_context(tenant):
        (deal,) = Deal.objects.all()
    (call,) = calls_of(pbx)
    assert call.deal_id == deal.pk
    (activity,) = call_activities(tenant)
    assert activity.target_id == deal.pk
    assert events_of(pbx)[0].outcome == Outcome.DEAL


def test_another_tenants_secret_and_people_do_not_count(
    pbx, send, tenant, other_tenant, other_admin
):
    with tenant_context(other_tenant):
        theirs = channel_create(actor=other_admin, kind="pbx", name="Asterisk")
        contact_create(actor=other_admin, data={"first_name": "Чужой", "phones": ["+79991234567"]})
    assert send(pbx, event("end", status="missed"), token=theirs.secret).status_code == 403
    send(pbx, event("end", status="missed"))
    (lead,) = leads_of(tenant)  # unknown here: their contact does not make it known
    assert lead.source == "call"
    assert call_activities(other_tenant) == []
    assert calls_of(theirs) == []


@pytest.mark.parametrize(
    ("kind", "options", "paths"),
    [
        ("twilio", ["--auth-token", "0123456789abcdef0123456789abcdef"], ["status", "dial"]),
        (
            "zadarma",
            ["--api-key", "a248a6a984459935b569", "--api-secret", "8a8e91d214fb7288"],
            [""],
        ),
        ("pbx", [], [""]),
    ],
)
def test_create_channel_prints_the_endpoint_paths(tenant, kind, options, paths):
    out = StringIO()
    call_command(
        "create_channel",
        "--tenant",
        tenant.slug,
        "--kind",
        kind,
        "--name",
        kind,
        *options,
        stdout=out,
    )
    with tenant_context(tenant):
        channel = Channel.objects.get(name=kind)
    lines = out.getvalue().splitlines()
    base = endpoint(channel)
    assert lines[0] == base
    for path in paths:
        assert any(line.endswith(": " + base + path) for line in lines[1:])
    secret_option = {"twilio": "auth_token", "zadarma": "api_secret"}.get(kind)
    if secret_option:
        assert channel.config[secret_option].startswith("sealed:")
    else:
        assert f"API token: {channel.secret}" in lines


def test_the_channel_pages_show_the_urls_to_admins_only(pbx, tenant, admin, manager, client_for):
    base = f"/{tenant.slug}/settings/channels/"
    page = client_for(admin).get(base + f"{pbx.pk}/").content.decode()
    assert f"{SITE}/in/{pbx.token}/" in page
    assert "No calls yet." in page
    assert pbx.secret in page
    for kind in ("twilio", "zadarma", "pbx"):
        assert client_for(admin).get(base + f"new/{kind}/").status_code == 200
    assert client_for(manager).get(base + f"{pbx.pk}/").status_code in (403, 404)
    assert client_for(manager).get(base + "new/pbx/").status_code in (403, 404)


@pytest.mark.parametrize(
    "occurred_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "вчера", "2026-13-45"]
)
def test_odd_times_fall_back_to_when_the_event_came(pbx, send, tenant, occurred_at):
    assert send(pbx, event("end", status="missed", occurred_at=occurred_at)).status_code == 202
    (call,) = calls_of(pbx)
    (stored,) = events_of(pbx)
    assert stored.status == Status.DONE
    assert call.ended_at == call.started_at == stored.created_at


def test_uris_and_odd_recording_links(pbx, send, tenant):
    odd = {"from": "tel:+79991234567;phone-context=example", "recording_url": "javascript:alert(1)"}
    send(pbx, event("end", status="answered", duration=3, **odd))
    (call,) = calls_of(pbx)
    assert call.from_e164 == "+79991234567"
    assert call.recording_url == ""
    (lead,) = leads_of(tenant)
    assert lead.phone == "+7 999 123-45-67"


def test_a_caller_who_then_writes_through_the_api_stays_one_lead(
    pbx, send, tenant, api_channel, deliver
):
    send(pbx, event("end", status="missed"))
    (lead,) = leads_of(tenant)
    # The same person, the number written another way, asks through the site's API.
    answer = deliver(
        api_channel, {"name": "Анна", "phone": "+7 999 1234567", "message": "Перезвоните"}
    )
    assert answer.status_code == 202
    assert [found.pk for found in leads_of(tenant)] == [lead.pk]
    assert events_of(api_channel)[0].outcome == Outcome.ATTACHED
    # …and calls again: the call joins the same lead.
    send(pbx, event("end", call_id="second", status="answered", duration=40))
    assert [found.pk for found in leads_of(tenant)] == [lead.pk]
    assert [a.target_id for a in call_activities(tenant)] == [lead.pk, lead.pk]
