"""The Zadarma channel: the zd_echo check, signed notifications in Zadarma's real shapes
(form-encoded, numbers without "+", Cyrillic), one call per pbx_call_id."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from channels.models import Call, Channel, InboundEvent
from channels.services import channel_create
from crm.secrets import is_sealed, unseal
from crm.tenancy import tenant_context
from leads.services import lead_create
from tests.channels.calls_helpers import (
    FORM,
    SITE,
    ZADARMA_KEY,
    ZADARMA_SECRET,
    call_activities,
    calls_of,
    endpoint,
    post_form,
    zadarma_signature,
)
from tests.channels.conftest import events_of, leads_of

pytestmark = pytest.mark.usefixtures("english_workspace")

Status = InboundEvent.Status
CALL_ID = "in_1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
CALLER = "79991234567"  # Zadarma sends international numbers without "+"
DID = "74951234567"
START = "2026-12-05 10:20:30"


@pytest.fixture
def zadarma(tenant, admin, settings) -> Channel:
    settings.SITE_URL = SITE
    with tenant_context(tenant):
        return channel_create(
            actor=admin,
            kind="zadarma",
            name="Задарма",
            config={"api_key": ZADARMA_KEY, "api_secret": ZADARMA_SECRET},
        )


SIGNED = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


@pytest.fixture
def notify(django_capture_on_commit_callbacks):
    def post(channel, params, *, signature=None):
        if signature is None:
            text = "".join(params.get(name, "") for name in SIGNED[params["event"]])
            signature = zadarma_signature(text)
        headers = {"HTTP_SIGNATURE": signature} if signature else {}
        return post_form(django_capture_on_commit_callbacks, channel, "", params, **headers)

    return post


def start(**extra):
    return {
        "event": "NOTIFY_START",
        "call_start": START,
        "pbx_call_id": CALL_ID,
        "caller_id": CALLER,
        "called_did": DID,
        **extra,
    }


def end(disposition, **extra):
    return {
        "event": "NOTIFY_END",
        "call_start": START,
        "pbx_call_id": CALL_ID,
        "caller_id": CALLER,
        "called_did": DID,
        "internal": "100",
        "duration": "0",
        "disposition": disposition,
        "status_code": "16",
        "is_recorded": "0",
        "call_id_with_rec": "",
        **extra,
    }


def test_the_zd_echo_check_is_answered_with_its_value(zadarma):
    response = Client().get(endpoint(zadarma) + "?zd_echo=f0a1b2c3d4")
    assert response.status_code == 200
    assert response.content == b"f0a1b2c3d4"
    assert response["Content-Type"].startswith("text/plain")
    assert events_of(zadarma) == []


def test_the_keys_are_sealed_at_rest(zadarma, tenant, admin, client_for):
    response = client_for(admin).post(
        f"/{tenant.slug}/settings/channels/new/zadarma/",
        {
            "name": "Задарма 2",
            "enabled": "on",
            "config-api_key": ZADARMA_KEY,
            "config-api_secret": ZADARMA_SECRET,
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        saved = Channel.objects.get(name="Задарма 2")
    assert is_sealed(saved.config["api_secret"])
    assert is_sealed(saved.config["api_key"])
    assert unseal(saved.config["api_secret"]) == ZADARMA_SECRET
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{saved.pk}/").content
    assert ZADARMA_SECRET.encode() not in page
    assert f"{SITE}/in/{saved.token}/".encode() in page


@pytest.mark.parametrize("signature", ["", "d3Jvbmc=", zadarma_signature("x")])
def test_an_unsigned_or_wrongly_signed_notification_is_refused(zadarma, notify, signature):
    assert notify(zadarma, start(), signature=signature).status_code == 403
    assert events_of(zadarma) == []


def test_the_signature_of_a_raw_digest_is_not_accepted(zadarma, notify):
    """Zadarma signs the hex digest (base64 of hash_hmac's hex output), not the raw one."""
    text = CALLER + DID + START
    raw = hmac.new(ZADARMA_SECRET.encode(), text.encode(), hashlib.sha1).digest()
    assert notify(zadarma, start(), signature=base64.b64encode(raw).decode()).status_code == 403


def test_a_missed_call_from_an_unknown_number_makes_a_lead(zadarma, notify, tenant):
    assert notify(zadarma, start()).status_code == 200
    internal = {**start(), "event": "NOTIFY_INTERNAL", "internal": "100"}
    assert notify(zadarma, internal).status_code == 200
    assert notify(zadarma, end("no answer")).status_code == 200
    (call,) = calls_of(zadarma)
    assert (call.state, call.end_reason) == (Call.State.MISSED, "no answer")
    assert call.from_e164 == "+79991234567"
    assert call.to_e164 == "+74951234567"
    # call_start is in the workspace's time zone (Moscow here).
    assert call.started_at == datetime(2026, 12, 5, 10, 20, 30, tzinfo=ZoneInfo(tenant.time_zone))
    (lead,) = leads_of(tenant)
    assert (lead.source, lead.phone_e164, lead.message) == ("call", "+79991234567", "Missed call")
    assert [e.status for e in events_of(zadarma)] == [Status.DONE] * 3


def test_an_answered_call_with_a_recording(zadarma, notify, tenant):
    notify(zadarma, start())
    answer = {
        "event": "NOTIFY_ANSWER",
        "caller_id": CALLER,
        "destination": "100",
        "call_start": START,
        "pbx_call_id": CALL_ID,
        "internal": "100",
    }
    notify(zadarma, answer)
    notify(
        zadarma,
        end("answered", duration="75", is_recorded="1", call_id_with_rec="1702912345.123"),
    )
    record = {
        "event": "NOTIFY_RECORD",
        "pbx_call_id": CALL_ID,
        "call_id_with_rec": "1702912345.123",
    }
    notify(zadarma, record)
    (call,) = calls_of(zadarma)
    assert (call.state, call.duration) == (Call.State.COMPLETED, 75)
    assert call.recording_id == "1702912345.123"
    (lead,) = leads_of(tenant)
    assert lead.message == "Incoming call, 1:15"
    (activity,) = call_activities(tenant)
    assert "1702912345.123" in activity.note


def test_end_before_start_and_repeats_give_one_right_call(zadarma, notify, tenant):
    notify(zadarma, end("busy"))
    notify(zadarma, end("busy"))
    notify(zadarma, start())
    (call,) = calls_of(zadarma)
    assert (call.state, call.end_reason) == (Call.State.MISSED, "busy")
    assert len(events_of(zadarma)) == 2
    assert len(leads_of(tenant)) == 1


def test_a_known_caller_gets_a_call_activity(zadarma, notify, tenant, manager):
    with tenant_context(tenant):
        known = lead_create(
            actor=manager, data={"name": "Анна", "phone": "+7 999 123-45-67"}, owner=manager
        )
    notify(zadarma, end("answered", duration="30"))
    assert [lead.pk for lead in leads_of(tenant)] == [known.pk]
    (activity,) = call_activities(tenant)
    assert activity.target_id == known.pk
    assert activity.subject == "Incoming call, 0:30"


def test_an_outgoing_call_is_logged_without_a_lead(zadarma, notify, tenant):
    out = {
        "event": "NOTIFY_OUT_START",
        "call_start": START,
        "pbx_call_id": "out_77",
        "internal": "101",
        "destination": "89165554433",
    }
    notify(zadarma, out)
    notify(
        zadarma,
        {
            **out,
            "event": "NOTIFY_OUT_END",
            "caller_id": DID,
            "duration": "12",
            "disposition": "answered",
            "status_code": "16",
            "is_recorded": "0",
        },
    )
    (call,) = calls_of(zadarma)
    assert (call.direction, call.state, call.to_e164) == ("outbound", "completed", "+79165554433")
    # The extension first, then the number the call went out from.
    assert (call.from_raw, call.from_e164) == (DID, "+74951234567")
    assert leads_of(tenant) == []


def test_odd_values_and_unknown_types_never_fail(zadarma, notify, tenant):
    # An anonymous caller with a Cyrillic name in a field the CRM does not use.
    params = start(caller_id="anonymous", caller_name="Иван Петров")
    assert notify(zadarma, params).status_code == 200
    assert notify(zadarma, end("cancel", caller_id="anonymous")).status_code == 200
    assert leads_of(tenant) == []
    (call,) = calls_of(zadarma)
    assert call.state == Call.State.MISSED
    # Types the CRM does not use are answered and not stored; bodies it cannot read too.
    with_unknown = {"event": "SMS", "caller_id": CALLER, "text": "Привет"}
    client = Client()
    assert (
        client.post(endpoint(zadarma), urlencode(with_unknown), content_type=FORM).status_code
        == 200
    )
    assert client.post(endpoint(zadarma), b"\xff\x00", content_type=FORM).status_code == 200
    assert client.post(endpoint(zadarma), b"{}", content_type="application/json").status_code == 200
    # A signed notification without its call id is kept as rejected.
    assert notify(zadarma, start(pbx_call_id="")).status_code == 400
    assert events_of(zadarma)[-1].status == Status.REJECTED
