"""Calls with everything real (the stack of tests/channels/test_worker.py: gunicorn, a
Celery prefork worker on Redis, PostgreSQL with row-level security): a Twilio call's signed
callbacks become one missed call and a lead in the inbox; a PBX call's events sent at once,
out of order and repeated, are one call and one activity on the known contact."""

from __future__ import annotations

import json
import os
import signal
import threading
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from channels.models import Channel, InboundEvent
from channels.services import channel_create
from contacts.services import contact_create
from crm.tenancy import tenant_context
from tests.channels.calls_helpers import (
    TWILIO_TOKEN,
    call_activities,
    calls_of,
    twilio_signature,
)
from tests.channels.conftest import events_of, leads_of
from tests.channels.livestack import (
    Stack,
    all_finished,
    children_of,
    live_fixture,
    stack_fixture,
)
from tests.processes import wait_for

stack = stack_fixture()
live = live_fixture()

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("english_workspace"),
]

Status = InboundEvent.Status
# The address the stack's settings give as SITE_URL (tests/settings.py): what Twilio
# called, whatever loopback port gunicorn listens on.
PUBLIC = "http://testserver"
PARENT = "CA" + "3" * 32
CHILD = "CA" + "4" * 32


def _send(server: Stack, channel: Channel, path: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        server.web + reverse("inbound", kwargs={"token": channel.token}) + path,
        data=body,
        method="POST",
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def twilio_post(server: Stack, channel: Channel, path: str, params: dict, signature=None) -> int:
    url = PUBLIC + reverse("inbound", kwargs={"token": channel.token}) + path
    signature = twilio_signature(url, params) if signature is None else signature
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return _send(server, channel, path, urlencode(params).encode(), headers)


def test_a_missed_twilio_call_reaches_the_inbox_as_one_lead(live, tenant, admin):
    with tenant_context(tenant):
        twilio = channel_create(
            actor=admin, kind="twilio", name="Twilio", config={"auth_token": TWILIO_TOKEN}
        )
    caller = {"From": "+79991234567", "To": "+74951234567", "FromCity": "МОСКВА"}
    child = {"CallSid": CHILD, "ParentCallSid": PARENT, "Direction": "outbound-dial", **caller}
    parent = {"CallSid": PARENT, "Direction": "inbound", **caller}
    assert twilio_post(live, twilio, "status", {**child, "CallStatus": "no-answer"}) == 200
    dial = {**parent, "CallStatus": "in-progress", "DialCallSid": CHILD}
    assert twilio_post(live, twilio, "dial", {**dial, "DialCallStatus": "no-answer"}) == 200
    done = {**parent, "CallStatus": "completed", "CallDuration": "27"}
    assert twilio_post(live, twilio, "status", done) == 200
    assert twilio_post(live, twilio, "status", done) == 200  # Twilio retried it
    assert twilio_post(live, twilio, "status", done, signature="Zm9yZ2Vk") == 403
    wait_for(all_finished(twilio, 3), "the call's events to be processed", seconds=60)
    assert [event.status for event in events_of(twilio)] == [Status.DONE] * 3
    (call,) = calls_of(twilio)
    assert call.state == "missed"
    (lead,) = leads_of(tenant)
    assert (lead.source, lead.phone_e164, lead.message) == ("call", "+79991234567", "Missed call")
    assert lead.owner is None  # the shared inbox
    (activity,) = call_activities(tenant)
    assert activity.target_id == lead.pk


def test_a_pbx_calls_events_at_once_and_out_of_order_are_one_call(live, tenant, admin):
    with tenant_context(tenant):
        pbx = channel_create(actor=admin, kind="pbx", name="Asterisk")
        contact = contact_create(
            actor=admin, data={"first_name": "Олег", "phones": ["+7 916 555-44-33"]}
        )
    base = {"call_id": "1700000000.7", "from": "8 916 555 44 33", "to": "+74951234567"}
    events = [
        {**base, "event": "end", "status": "answered", "duration": 48},
        {**base, "event": "answer"},
        {**base, "event": "start"},
        {**base, "event": "end", "status": "answered", "duration": 48},
    ]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {pbx.secret}"}
    codes: list[int] = []

    def send(payload: dict) -> None:
        codes.append(_send(live, pbx, "", json.dumps(payload).encode(), headers))

    threads = [threading.Thread(target=send, args=(payload,)) for payload in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [200, 202, 202, 202]
    wait_for(all_finished(pbx, 3), "the call's events to be processed", seconds=60)
    (call,) = calls_of(pbx)
    assert (call.state, call.duration, call.contact_id) == ("completed", 48, contact.pk)
    assert leads_of(tenant) == []
    (activity,) = call_activities(tenant)
    assert (activity.target_id, activity.subject) == (contact.pk, "Incoming call, 0:48")


def test_a_worker_killed_while_ending_a_call_makes_its_lead_once(live, tenant, admin):
    with tenant_context(tenant):
        pbx = channel_create(actor=admin, kind="pbx", name="Asterisk")
    # The generic format ignores keys it does not know: the test worker reads this one and
    # sleeps after the outcome, before the commit, on the first attempt (worker_app.py).
    end = {
        "call_id": "1700000000.9",
        "event": "end",
        "from": "+7 999 765-43-21",
        "status": "missed",
        "test_fault": "slow-once",
    }
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {pbx.secret}"}
    assert _send(live, pbx, "", json.dumps(end).encode(), headers) == 202
    (event,) = events_of(pbx)
    marker = live.folder / f"slow-{event.pk}"
    wait_for(marker.exists, "the slow attempt to reach its sleep")
    victim = int(marker.read_text())
    assert victim in children_of(live.worker.pid)  # only our worker's own pool process
    os.kill(victim, signal.SIGKILL)
    wait_for(all_finished(pbx, 1), "the call's end to be processed again", seconds=60)
    live.drain()
    (event,) = events_of(pbx)
    assert (event.status, event.outcome, event.attempts) == ("done", "created", 2)
    (call,) = calls_of(pbx)
    (lead,) = leads_of(tenant)
    assert (call.lead_id, call.state) == (lead.pk, "missed")
    assert len(call_activities(tenant)) == 1
