"""The Twilio channel: signed voice status and <Dial> action callbacks in Twilio's real
shapes, legs collapsed into one call, misses told by the child leg or DialCallStatus, and
what a call makes (a lead from an unknown number, an activity for a known one)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from django.test import Client

from channels.models import Call, Channel, InboundEvent
from channels.services import channel_create
from crm.models import Notification, TimelineEvent
from crm.secrets import is_sealed, unseal
from crm.tenancy import tenant_context
from intake.identities import identities_of
from leads.services import lead_create
from tests.channels.calls_helpers import (
    ACCOUNT,
    SITE,
    TWILIO_TOKEN,
    call_activities,
    calls_of,
    endpoint,
    post_form,
    twilio_signature,
)
from tests.channels.conftest import events_of, leads_of

pytestmark = pytest.mark.usefixtures("english_workspace")

Status, Outcome = InboundEvent.Status, InboundEvent.Outcome
PARENT = "CA" + "1" * 32
CHILD = "CA" + "2" * 32
CALLER = "+79991234567"
OUR_NUMBER = "+74951234567"
AGENT = "+79160000001"


@pytest.fixture
def twilio(tenant, admin, settings) -> Channel:
    settings.SITE_URL = SITE
    settings.PUBLIC_URL = ""
    with tenant_context(tenant):
        return channel_create(
            actor=admin,
            kind="twilio",
            name="Twilio",
            config={"auth_token": TWILIO_TOKEN, "account_sid": ACCOUNT},
        )


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """POST a callback signed as Twilio signs it (over SITE + the path), or as told."""

    def post(channel, path, params, *, signature=None, base=SITE, **headers):
        params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", **params}
        if signature is None:
            signature = twilio_signature(base + endpoint(channel, path), params)
        if signature:
            headers["HTTP_X_TWILIO_SIGNATURE"] = signature
        return post_form(django_capture_on_commit_callbacks, channel, path, params, **headers)

    return post


def parent(status: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": PARENT,
        "CallStatus": status,
        "Direction": "inbound",
        "From": CALLER,
        "To": OUR_NUMBER,
        "Caller": CALLER,
        "Called": OUR_NUMBER,
        "FromCity": "МОСКВА",
        "CallerName": "",
        **extra,
    }


def child(status: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": CHILD,
        "ParentCallSid": PARENT,
        "CallStatus": status,
        "Direction": "outbound-dial",
        "From": CALLER,
        "To": AGENT,
        "Timestamp": "Sat, 05 Dec 2026 07:00:05 +0000",
        "SequenceNumber": "0",
        **extra,
    }


def dial(status: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": PARENT,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "From": CALLER,
        "To": OUR_NUMBER,
        "DialCallSid": CHILD,
        "DialCallStatus": status,
        **extra,
    }


# --- Signatures -----------------------------------------------------------------------------


def test_a_signed_status_callback_is_stored_and_answered_with_empty_twiml(twilio, send):
    response = send(twilio, "status", parent("ringing"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response/>" in response.content
    (event,) = events_of(twilio)
    assert event.status == Status.DONE
    (call,) = calls_of(twilio)
    assert (call.call_id, call.state, call.direction) == (PARENT, "ringing", "inbound")
    assert (call.from_e164, call.to_e164) == (CALLER, OUR_NUMBER)


@pytest.mark.parametrize(
    "signature", ["", "bm90IHRoZSBzaWduYXR1cmU=", "ÿ-not-base64", twilio_signature("x", {})]
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(twilio, send, signature):
    response = send(twilio, "status", parent("completed"), signature=signature)
    assert response.status_code == 403
    assert events_of(twilio) == []
    assert calls_of(twilio) == []


def test_a_signature_over_other_fields_or_another_token_is_refused(twilio, send):
    params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", **parent("completed")}
    url = SITE + endpoint(twilio, "status")
    forged = {**params, "From": "+79990000000"}
    signed = twilio_signature(url, params)
    assert send(twilio, "status", forged, signature=signed).status_code == 403
    other_token = twilio_signature(url, params, token="f" * 32)
    assert send(twilio, "status", params, signature=other_token).status_code == 403
    assert events_of(twilio) == []


def test_behind_a_proxy_the_signature_is_over_public_url(twilio, send, settings):
    settings.PUBLIC_URL = "https://hooks.example.net/crm/"
    public = "https://hooks.example.net/crm"
    # Signed over the address Twilio called (the proxy's), not the app's own.
    assert send(twilio, "status", parent("ringing"), base=SITE).status_code == 403
    assert send(twilio, "status", parent("ringing"), base=public).status_code == 200
    # Twilio signs with or without the default port, as the URL was configured.
    assert send(twilio, "status", parent("completed"), base=public.replace(".net", ".net:443"))
    assert len(events_of(twilio)) == 2


def test_the_request_address_is_used_without_site_and_public_url(twilio, send, settings):
    settings.SITE_URL = ""
    settings.PUBLIC_URL = ""
    assert send(twilio, "status", parent("ringing"), base="http://testserver").status_code == 200


def test_the_query_string_is_part_of_the_signed_url(twilio, send):
    assert send(twilio, "status?team=sales", parent("ringing")).status_code == 200
    params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", **parent("completed")}
    without_query = twilio_signature(SITE + endpoint(twilio, "status"), params)
    response = send(twilio, "status?team=sales", parent("completed"), signature=without_query)
    assert response.status_code == 403


def test_without_an_auth_token_every_callback_is_refused(tenant, admin, send, settings):
    settings.SITE_URL = SITE
    with tenant_context(tenant):
        bare = channel_create(actor=admin, kind="twilio", name="Без токена", config={})
    assert send(bare, "status", parent("ringing")).status_code == 403
    assert events_of(bare) == []


def test_the_auth_token_is_sealed_at_rest_and_never_shown(twilio, tenant, admin, client_for):
    token = twilio.config["auth_token"]
    # Sealed when saved from the form (the fixture passes config straight to the service).
    client = client_for(admin)
    base = f"/{tenant.slug}/settings/channels/"
    response = client.post(
        base + "new/twilio/",
        {"name": "Twilio 2", "enabled": "on", "config-auth_token": TWILIO_TOKEN},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        saved = Channel.objects.get(name="Twilio 2")
    assert is_sealed(saved.config["auth_token"])
    assert TWILIO_TOKEN not in saved.config["auth_token"]
    assert unseal(saved.config["auth_token"]) == TWILIO_TOKEN
    page = client.get(base + f"{saved.pk}/edit/").content.decode()
    assert TWILIO_TOKEN not in page
    assert saved.config["auth_token"] not in page
    # Saving the form without a token keeps the saved one.
    response = client.post(base + f"{saved.pk}/edit/", {"name": "Twilio 2", "enabled": "on"})
    assert response.status_code == 302
    with tenant_context(tenant):
        saved.refresh_from_db()
    assert unseal(saved.config["auth_token"]) == TWILIO_TOKEN
    assert token  # the fixture's token is kept as given


def test_the_channel_page_shows_both_urls_under_public_url(
    twilio, tenant, admin, client_for, settings
):
    settings.PUBLIC_URL = "https://hooks.example.net"
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{twilio.pk}/")
    text = page.content.decode()
    assert f"https://hooks.example.net/in/{twilio.token}/status" in text
    assert f"https://hooks.example.net/in/{twilio.token}/dial" in text
    assert "with a &lt;Dial&gt; whose action" in text  # the verb shows as text, not a tag
    assert TWILIO_TOKEN not in text


# --- Calls ----------------------------------------------------------------------------------


def test_an_unanswered_call_completed_on_the_parent_leg_is_missed_and_makes_a_lead(
    twilio, send, tenant
):
    send(twilio, "status", child("initiated"))
    send(twilio, "status", child("ringing"))
    send(twilio, "status", child("no-answer"))
    assert send(twilio, "dial", dial("no-answer")).content.endswith(b"<Response/>")
    send(twilio, "status", parent("completed", CallDuration="31"))
    (call,) = calls_of(twilio)
    assert call.state == Call.State.MISSED
    assert call.end_reason == "no-answer"
    assert call.answered_at is None
    assert call.ended_at is not None
    assert list(call.legs) == [CHILD]
    (lead,) = leads_of(tenant)
    assert (lead.source, lead.phone_e164, lead.message) == ("call", CALLER, "Missed call")
    assert call.lead_id == lead.pk
    (activity,) = call_activities(tenant)
    assert activity.target_id == lead.pk
    assert activity.done_at is not None
    assert activity.subject == "Missed call"
    assert "no-answer" in activity.note
    with tenant_context(tenant):
        (identity,) = identities_of(lead=lead)
    assert (identity.kind, identity.value, identity.source, identity.via) == (
        "phone",
        CALLER,
        "call",
        "Twilio",
    )
    events = events_of(twilio)
    assert [e.status for e in events] == [Status.DONE] * 5
    assert events[-1].outcome == Outcome.CREATED
    assert events[-1].lead_id == lead.pk


def test_the_channel_and_delivery_pages_show_call_events(twilio, send, tenant, admin, client_for):
    send(twilio, "status", child("ringing"))
    send(twilio, "status", parent("completed", CallerName="Иванов Пётр"))
    client = client_for(admin)
    base = f"/{tenant.slug}/settings/channels/{twilio.pk}/"
    page = client.get(base).content.decode()
    assert "+7 999 123-45-67" in page
    # One row per call, linking the lead it made.
    assert page.count('data-testid="call-row"') == 1
    assert 'data-state="missed"' in page
    assert f"/leads/{leads_of(tenant)[0].pk}/" in page
    event = events_of(twilio)[-1]
    detail = client.get(base + f"events/{event.pk}/")
    assert detail.status_code == 200
    assert "Иванов Пётр" in detail.content.decode()


def test_dial_call_status_busy_alone_marks_the_call_missed(twilio, send, tenant):
    send(twilio, "dial", dial("busy"))
    send(twilio, "status", parent("completed", CallDuration="4"))
    (call,) = calls_of(twilio)
    assert (call.state, call.end_reason) == (Call.State.MISSED, "busy")
    assert leads_of(tenant)[0].message == "Missed call"


def test_an_answered_call_records_talk_time_and_recording(twilio, send, tenant):
    send(twilio, "status", child("in-progress"))
    send(
        twilio,
        "dial",
        dial(
            "completed",
            DialCallDuration="125",
            RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
        ),
    )
    send(twilio, "status", parent("completed", CallDuration="140"))
    (call,) = calls_of(twilio)
    assert call.state == Call.State.COMPLETED
    assert call.duration == 125
    assert call.recording_url.endswith("/Recordings/RE1")
    (lead,) = leads_of(tenant)
    assert lead.message == "Incoming call, 2:05"
    (activity,) = call_activities(tenant)
    assert "2:05" in activity.subject
    assert "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1" in activity.note


def test_events_out_of_order_and_twice_give_the_same_single_call(twilio, send, tenant):
    # The parent's end first, then the leg that says it was answered, each twice.
    for _ in range(2):
        send(twilio, "status", parent("completed", CallDuration="60"))
    for _ in range(2):
        send(twilio, "status", child("completed", CallDuration="42"))
    send(twilio, "status", child("ringing"))
    (call,) = calls_of(twilio)
    assert call.state == Call.State.COMPLETED
    assert call.duration == 42
    assert len(events_of(twilio)) == 3  # the repeats were the same deliveries
    (lead,) = leads_of(tenant)
    # The lead and its activity were made at the end, then corrected by the late answer.
    assert lead.message == "Incoming call, 0:42"
    (activity,) = call_activities(tenant)
    assert activity.subject == "Incoming call, 0:42"


def test_a_known_number_in_another_format_gets_an_activity_not_a_lead(
    twilio, send, tenant, manager
):
    with tenant_context(tenant):
        known = lead_create(
            actor=manager, data={"name": "Анна", "phone": "8 (999) 123-45-67"}, owner=manager
        )
    send(twilio, "dial", dial("no-answer"))
    send(twilio, "status", parent("completed"))
    assert [lead.pk for lead in leads_of(tenant)] == [known.pk]
    (activity,) = call_activities(tenant)
    assert (activity.target_id, activity.owner_id) == (known.pk, manager.pk)
    assert activity.subject == "Missed call"
    (call,) = calls_of(twilio)
    assert call.lead_id == known.pk
    assert events_of(twilio)[-1].outcome == Outcome.ATTACHED
    with tenant_context(tenant):
        assert TimelineEvent.objects.filter(
            kind="activity.created", target_id=known.pk, data__kind="call"
        ).exists()
        (notice,) = Notification.objects.filter(kind="call.missed")
    assert notice.recipient_id == manager.pk
    assert notice.data["number"] == "+7 999 123-45-67"
    assert notice.url.endswith(f"/leads/{known.pk}/")


def test_an_answered_call_with_a_known_person_notifies_nobody(twilio, send, tenant, manager):
    with tenant_context(tenant):
        lead_create(actor=manager, data={"phone": "+7 999 123 45 67"}, owner=manager)
    send(twilio, "dial", dial("completed", DialCallDuration="9"))
    send(twilio, "status", parent("completed"))
    assert call_activities(tenant)[0].subject == "Incoming call, 0:09"
    with tenant_context(tenant):
        assert not Notification.objects.filter(kind="call.missed").exists()


def test_an_outbound_api_call_is_logged_and_never_makes_a_lead(twilio, send, tenant):
    outbound = {
        "CallSid": PARENT,
        "Direction": "outbound-api",
        "From": OUR_NUMBER,
        "To": "+7 (916) 555-44-33",
    }
    send(twilio, "status", {**outbound, "CallStatus": "in-progress"})
    send(twilio, "status", {**outbound, "CallStatus": "completed", "CallDuration": "65"})
    (call,) = calls_of(twilio)
    assert (call.direction, call.state, call.duration) == ("outbound", "completed", 65)
    assert call.to_e164 == "+79165554433"
    assert leads_of(tenant) == []
    assert call_activities(tenant) == []
    assert "outgoing" in events_of(twilio)[-1].detail.lower()


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", "Restricted", ""])
def test_a_withheld_caller_id_is_recorded_without_a_lead(twilio, send, tenant, caller):
    params = {**parent("completed"), "From": caller, "Caller": caller}
    assert send(twilio, "status", params).status_code == 200
    (call,) = calls_of(twilio)
    assert call.state == Call.State.MISSED
    assert call.from_e164 == ""
    assert leads_of(tenant) == []
    (event,) = events_of(twilio)
    assert event.status == Status.DONE
    assert "hidden" in event.detail


def test_a_softphone_calling_out_through_twilio_is_outbound(twilio, send, tenant):
    params = {
        **parent("completed"),
        "From": "sip:anna@acme.sip.twilio.com",
        "To": "sip:+79165554433@acme.sip.twilio.com",
    }
    send(twilio, "status", params)
    (call,) = calls_of(twilio)
    assert (call.direction, call.to_e164) == ("outbound", "+79165554433")
    assert leads_of(tenant) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"CallStatus=completed",
        b"CallSid=" + b"x" * 100,
        b"\xff\xfe\x00garbage=%ZZ&&==",
        "CallSid=CA1&CallStatus=completed&From=Иван+Петров&To=%2B7".encode(),
    ],
)
def test_bad_bodies_are_never_a_server_error(
    twilio, tenant, django_capture_on_commit_callbacks, body
):
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    url = SITE + endpoint(twilio, "status")
    signature = twilio_signature(url, fields)
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            endpoint(twilio, "status"),
            data=body,
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=signature,
        )
    assert response.status_code in (200, 400, 403)
    for event in events_of(twilio):
        assert event.status in (Status.DONE, Status.REJECTED, Status.IGNORED)


def test_a_rejected_dial_callback_still_gets_twiml(twilio, send):
    params = {"CallSid": PARENT, "Direction": "inbound"}  # no DialCallStatus
    response = send(twilio, "dial", params)
    assert response.status_code == 200
    assert b"<Response/>" in response.content
    (event,) = events_of(twilio)
    assert event.status == Status.REJECTED


def test_an_unknown_path_is_404(twilio, send):
    assert send(twilio, "voice", parent("ringing")).status_code == 404


def test_callbacks_of_another_account_are_ignored(twilio, send, tenant):
    params = {**parent("completed"), "AccountSid": "AC" + "b2" * 16}
    assert send(twilio, "status", params).status_code == 200
    (event,) = events_of(twilio)
    assert event.status == Status.IGNORED
    assert calls_of(twilio) == []
    assert leads_of(tenant) == []


def test_another_tenants_call_stays_in_its_tenant(
    twilio, send, tenant, other_tenant, other_admin, settings
):
    with tenant_context(other_tenant):
        theirs = channel_create(
            actor=other_admin, kind="twilio", name="Twilio", config={"auth_token": "f" * 32}
        )
        lead_create(actor=other_admin, data={"phone": CALLER}, owner=other_admin)
    # Their token does not open our endpoint; our call does not see their lead.
    sig = twilio_signature(
        SITE + endpoint(twilio, "status"),
        {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", **parent("completed")},
        token="f" * 32,
    )
    assert send(twilio, "status", parent("completed"), signature=sig).status_code == 403
    send(twilio, "status", parent("completed"))
    (lead,) = leads_of(tenant)
    assert lead.source == "call"
    assert lead.tenant_id == tenant.pk
    assert len(leads_of(other_tenant)) == 1
    assert calls_of(theirs) == []


def test_the_call_activity_shows_on_the_lead_card_with_a_recording_link(
    twilio, send, tenant, admin, client_for
):
    recording = "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE2"
    send(twilio, "dial", dial("completed", DialCallDuration="61", RecordingUrl=recording))
    send(twilio, "status", parent("completed"))
    (lead,) = leads_of(tenant)
    page = client_for(admin).get(f"/{tenant.slug}/leads/{lead.pk}/").content.decode()
    assert "Incoming call, 1:01" in page
    assert f'href="{recording}"' in page
    assert "Duration: 1:01<br>" in page


def test_a_later_calls_correction_leaves_the_message_of_a_lead_it_did_not_make(
    twilio, send, tenant
):
    send(twilio, "status", parent("completed"))  # call 1: missed, makes the lead
    second = "CA" + "5" * 32
    send(twilio, "status", {**parent("completed"), "CallSid": second})  # call 2: missed…
    late = {**child("completed", CallDuration="15"), "CallSid": "CA" + "6" * 32}
    send(twilio, "status", {**late, "ParentCallSid": second})  # …then its answer comes
    (lead,) = leads_of(tenant)
    assert lead.message == "Missed call"
    first_activity, second_activity = call_activities(tenant)
    assert first_activity.subject == "Missed call"
    assert second_activity.subject == "Incoming call, 0:15"


def test_a_token_no_key_opens_refuses_callbacks_and_shows_on_the_channel_page(
    twilio, send, tenant, admin, client_for
):
    with tenant_context(tenant):
        Channel.objects.filter(pk=twilio.pk).update(
            config={"auth_token": "sealed:gAAAAAB-sealed-with-a-key-gone"}
        )
    assert send(twilio, "status", parent("ringing")).status_code == 403
    assert events_of(twilio) == []
    with tenant_context(tenant):
        twilio.refresh_from_db()
    assert "FIELD_ENCRYPTION_KEYS" in twilio.problem
    page = client_for(admin).get(f"/{tenant.slug}/settings/channels/{twilio.pk}/")
    assert "FIELD_ENCRYPTION_KEYS" in page.content.decode()
    # Entered again, it works and the problem is gone.
    with tenant_context(tenant):
        Channel.objects.filter(pk=twilio.pk).update(config={"auth_token": TWILIO_TOKEN})
    assert send(twilio, "status", parent("ringing")).status_code == 200
    with tenant_context(tenant):
        twilio.refresh_from_db()
    assert twilio.problem == ""
