"""Telephony: provider call events collapsed into one `Call` per call, and what a call
means for the CRM once it has ended.

The adapters (channels/adapters/twilio.py, zadarma.py, pbx.py) read each provider event
into a provider-neutral `CallEvent`, carried to the worker in the delivery's message
(`call_message`). The worker applies it to the call's row (`call_event_record`), locked,
so two events of one call never interleave. Facts only grow — the earliest start, the
first answer, the end, the longest talk time — so a duplicate or an event arriving late
leaves the same record.

When the call has ended (the call as a whole: Twilio's parent leg, Zadarma's NOTIFY_END or
NOTIFY_OUT_END, the generic "end"), its outcome is made once:

- someone the tenant knows by this number (an open lead, else their contact's open deal,
  else the contact, else their closed lead) gets a done call activity on that record —
  duration and recording in its note; no new lead; a missed incoming call also notifies
  the record's owner;
- an incoming call (answered or missed) from an unknown number becomes a lead with source
  "Call" (handed to intake like any inquiry, so the blocklist, the channel's responsible,
  the assignment rules and the deal switch apply), with the call activity on it;
- an outgoing call to an unknown number, and a call whose caller withheld the number, stay
  call records only (nobody to match, nobody to call back).

An answer learnt after the outcome (a leg's event arriving after the end) corrects the
call, its activity and the lead's message in place.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from channels.adapters import InboundMessage
from channels.models import Call, Channel, InboundEvent
from contacts.normalize import phone_display, phone_e164
from crm.activities import DETAIL_URLS
from crm.models import Activity, Membership, Tenant
from crm.notifications import notify
from crm.services import activity_create
from crm.tenancy import tenant_zone
from crm.urlnames import tenant_reverse
from deals.models import Deal, Outcome
from intake.matching import inquiry_keys, matches_for
from intake.services import Inquiry, inquiry_receive, sender_blocked
from leads.models import Lead, LeadSource, LeadState

Status = InboundEvent.Status
EventOutcome = InboundEvent.Outcome
State, Direction = Call.State, Call.Direction

# What callers with a withheld number show as: the words providers use, and Twilio's
# stand-ins, ANONYMOUS, UNKNOWN, RESTRICTED and BLOCKED spelled on a keypad.
WITHHELD = {
    "anonymous",
    "restricted",
    "unknown",
    "unavailable",
    "private",
    "blocked",
    "withheld",
    "266696687",
    "+266696687",
    "86282452253",
    "+86282452253",
    "7378742833",
    "+7378742833",
    "2562533",
    "+2562533",
}
# Ends that are the line's failure rather than nobody answering (Twilio "failed"; Zadarma's
# "failed", "no money", "unallocated number", "no limit"…).
FAILED_REASONS = (
    "failed",
    "no money",
    "unallocated number",
    "no limit",
    "no day limit",
    "line limit",
    "no money, no limit",
)
SIP_USER = re.compile(r"^sips?:([^@;]+)", re.IGNORECASE)
LINK = re.compile(r"^https?://\S+$", re.IGNORECASE)


@dataclass
class CallEvent:
    """One provider event about a call, in the CRM's terms.

    `leg` names a leg of the call (Twilio's child call, Zadarma's extension) when the event
    is about that leg only; its parties are not the call's. `ended` is the call as a whole.
    Times are ISO 8601 ("" when the provider gave none: the time it was received counts).
    """

    provider: str = ""
    call_id: str = ""
    name: str = ""  # start | ringing | answer | end | leg | dial, as shown in the log
    leg: str = ""
    direction: str = ""  # inbound | outbound | ""
    from_raw: str = ""
    to_raw: str = ""
    caller_name: str = ""
    at: str = ""
    started_at: str = ""
    answered: bool = False
    answered_at: str = ""
    ended: bool = False
    leg_ended: bool = False
    end_reason: str = ""
    duration: int | None = None
    recording_url: str = ""
    recording_id: str = ""

    def as_properties(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None, False)}

    @classmethod
    def from_properties(cls, data: dict[str, Any]) -> CallEvent:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def remote_raw(self) -> str:
        """The other party's number as sent: the caller of an incoming call, the number
        dialled by an outgoing one ("" for a leg, or an unknown direction)."""
        if self.leg:
            return ""
        if self.direction == Direction.INBOUND:
            return self.from_raw
        if self.direction == Direction.OUTBOUND:
            return self.to_raw
        return ""


def usable_number(raw: str) -> str:
    """A party's number as it can be read: a SIP URI's user part (`sip:+7999…@trunk`);
    "" for a withheld caller ID, a client or queue name, or no digits at all."""
    value = (raw or "").strip()
    sip = SIP_USER.match(value)
    if sip:
        value = sip.group(1)
    elif value[:4].lower() == "tel:":
        value = value[4:].partition(";")[0]
    if value.casefold() in WITHHELD or value.replace(" ", "") in WITHHELD:
        return ""
    if ":" in value or sum(ch.isdigit() for ch in value) < 3:
        return ""
    return value[:64]


def number_e164(raw: str, region: str) -> str:
    """A party's number as E.164: read with the tenant's region first (`8 (999) …`), then,
    for digits only, as international without its "+" (`79991234567`, as Zadarma and
    many PBXs send numbers), or ""."""
    value = usable_number(raw)
    if not value:
        return ""
    found = phone_e164(value, region)
    digits = re.sub(r"\D", "", value)
    if not found and digits == value.lstrip("+") and len(digits) >= 10:
        found = phone_e164("+" + digits, region)
    return found


def call_message(event: CallEvent) -> InboundMessage:
    """The delivery's message for a call event: the other party's number as its phone (the
    blocklist and intake's locks read it), the event itself in `properties`."""
    return InboundMessage(
        kind="call",
        source=LeadSource.CALL,
        phone=usable_number(event.remote_raw),
        name=event.caller_name[:200],
        event=event.name,
        external_id=f"call:{event.call_id}"[:200],
        properties=event.as_properties(),
    )


def parse_time(value: str, tz: Any = None) -> datetime | None:
    """An ISO 8601 or "YYYY-MM-DD HH:MM:SS" time; a naive one is in `tz` (the workspace's
    zone); None when unreadable."""
    if not value:
        return None
    try:
        moment = parse_datetime(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    if moment is None or not 2000 <= moment.year <= 2200:  # a year no call is from
        return None
    if timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment, tz or timezone.get_current_timezone())
        except (ValueError, OverflowError):
            return None
    return moment


def duration_text(seconds: int | None) -> str:
    """Talk time as 1:05 or 1:02:05."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- The call record ----------------------------------------------------------------------


def _locked_call(channel: Channel, call_id: str) -> Call:
    """The call's row, created if new, locked until the transaction ends."""
    Call.objects.bulk_create(
        [Call(tenant=channel.tenant, channel=channel, call_id=call_id)], ignore_conflicts=True
    )
    return Call.objects.select_for_update(of=("self",)).get(channel=channel, call_id=call_id)


def _earliest(current: datetime | None, new: datetime | None) -> datetime | None:
    if current is None:
        return new
    return current if new is None else min(current, new)


def _state(call: Call) -> str:
    if call.ended_at is None:
        return State.ANSWERED if call.answered_at is not None else State.RINGING
    if call.answered_at is not None:
        return State.COMPLETED
    if call.end_reason.casefold() in FAILED_REASONS:
        return State.FAILED
    return State.MISSED


def _take_party(call: Call, side: str, raw: str, region: str) -> None:
    """A party's number: the first one given, unless it reads as no number (an extension,
    a client name) and a later event names one that does."""
    current = getattr(call, f"{side}_raw")
    if not raw or (current and (getattr(call, f"{side}_e164") or not number_e164(raw, region))):
        return
    setattr(call, f"{side}_raw", raw[:200])
    setattr(call, f"{side}_e164", number_e164(raw, region))


def _apply(call: Call, event: CallEvent, *, received: datetime, tz: Any, region: str) -> None:
    """Add what `event` says to the call (facts only grow: order and repeats do not matter)."""
    at = parse_time(event.at, tz) or received
    call.started_at = _earliest(call.started_at, parse_time(event.started_at, tz) or at)
    if event.leg:
        leg = dict(call.legs.get(event.leg) or {})
        leg.update(
            {k: v for k, v in (("name", event.name), ("to", event.to_raw)) if v},
            answered=bool(leg.get("answered") or event.answered),
        )
        if event.end_reason:
            leg["end_reason"] = event.end_reason[:64]
        call.legs = {**call.legs, event.leg: leg}
    else:
        if event.direction and not call.direction:
            call.direction = event.direction
        _take_party(call, "from", event.from_raw, region)
        _take_party(call, "to", event.to_raw, region)
    if event.caller_name and not call.caller_name:
        call.caller_name = event.caller_name[:200]
    if event.answered:
        answered = parse_time(event.answered_at, tz)
        if answered is None and event.duration and (event.ended or event.leg_ended):
            answered = at - timedelta(seconds=event.duration)
        call.answered_at = _earliest(call.answered_at, answered or at)
    if event.ended:
        call.ended_at = at if call.ended_at is None else max(call.ended_at, at)
    if event.end_reason and (event.ended or not call.end_reason):
        call.end_reason = event.end_reason[:64]
    if event.duration is not None and event.answered:
        call.duration = max(call.duration or 0, event.duration)
    if LINK.match(event.recording_url) and len(event.recording_url) <= 1000:
        call.recording_url = event.recording_url
    if event.recording_id:
        call.recording_id = event.recording_id[:200]
    call.state = _state(call)


# --- What it reads like -------------------------------------------------------------------


def _remote(call: Call) -> tuple[str, str]:
    """(raw, E.164) of the other party."""
    if call.direction == Direction.OUTBOUND:
        return call.to_raw, call.to_e164
    return call.from_raw, call.from_e164


def _shown(raw: str, e164: str) -> str:
    return phone_display(e164) if e164 else (usable_number(raw) or _("a hidden number"))


def call_subject(call: Call) -> str:
    """The call in a few words: "Missed call", "Incoming call, 2:05"…"""
    talk = duration_text(call.duration)
    answered = call.state in (State.COMPLETED, State.ANSWERED)
    if call.direction == Direction.OUTBOUND:
        if answered:
            return (
                _("Outgoing call, %(duration)s") % {"duration": talk}
                if talk
                else _("Outgoing call")
            )
        return _("Outgoing call, not answered")
    if answered:
        return _("Incoming call, %(duration)s") % {"duration": talk} if talk else _("Incoming call")
    return _("Missed call")


def call_note(call: Call) -> str:
    """The call's details for its activity: parties, times, talk time, recording."""
    lines = [
        _("From %(from)s to %(to)s")
        % {
            "from": _shown(call.from_raw, call.from_e164),
            "to": _shown(call.to_raw, call.to_e164),
        }
    ]
    if call.caller_name:
        lines.append(_("Caller: %(name)s") % {"name": call.caller_name})
    if call.duration:
        lines.append(_("Duration: %(duration)s") % {"duration": duration_text(call.duration)})
    if call.end_reason and call.answered_at is None:
        lines.append(_("Not answered: %(reason)s") % {"reason": call.end_reason})
    if call.recording_url:
        lines.append(_("Recording: %(url)s") % {"url": call.recording_url})
    elif call.recording_id:
        lines.append(_("Recording at the provider: %(id)s") % {"id": call.recording_id})
    lines.append(_("Channel: %(channel)s") % {"channel": call.channel.name})
    return "\n".join(lines)


# --- The outcome --------------------------------------------------------------------------


def _open_deal(contact: Any) -> Deal | None:
    return (
        Deal.objects.filter(contact=contact, outcome=Outcome.OPEN)
        .order_by("-created_at", "-pk")
        .first()
    )


def _known_record(actor: Membership, e164: str) -> tuple[Any, Any]:
    """(record, contact): who the tenant knows by this number, and where their calls go."""
    tenant: Tenant = actor.tenant
    keys = inquiry_keys({"phone": e164}, tenant.default_region)
    found = matches_for(actor=actor, keys=keys, leads=tenant.mode == Tenant.Mode.CLASSIC)
    if found.open_lead is not None:
        return found.open_lead, found.contact
    if found.contact is not None:
        return _open_deal(found.contact) or found.contact, found.contact
    return found.closed_lead, None


def _link(call: Call, record: Any) -> None:
    if isinstance(record, Lead):
        call.lead = record
    elif isinstance(record, Deal):
        call.deal = record
        call.contact_id = call.contact_id or record.contact_id
    elif record is not None:
        call.contact = record


def _log_activity(actor: Membership, call: Call, record: Any) -> Activity:
    """A done call activity on `record`, its owner's when they are active."""
    owner = getattr(record, "owner", None)
    if owner is None or not owner.is_active or owner.tenant_id != actor.tenant_id:
        owner = None
    activity = activity_create(
        actor=actor,
        target=record,
        kind=Activity.Kind.CALL,
        subject=call_subject(call)[:200],
        note=call_note(call),
        owner=owner,
    )
    activity.done_at = call.ended_at or timezone.now()
    activity.save(update_fields=["done_at", "updated_at"])
    return activity


def _notify_missed(actor: Membership, call: Call, record: Any) -> None:
    """Tell the record's owner that someone they deal with called and nobody answered."""
    owner = getattr(record, "owner", None)
    if owner is None or owner.pk == actor.pk:
        return
    url = tenant_reverse(DETAIL_URLS[record.access_entity], actor.tenant, pk=record.pk)
    data = {"number": _shown(*_remote(call)), "title": str(record)}
    notify(recipients=[owner], kind="call.missed", data=data, url=url)


def _outcome(call: Call, event: InboundEvent, actor: Membership) -> None:
    """What the ended call means for the CRM (module docstring); notes it on the event."""
    e164 = _remote(call)[1]
    if not e164:
        event.detail = _("The number is hidden or unreadable: the call is recorded, nothing else.")
        return
    if blocked := sender_blocked(actor=actor, data={"phone": e164}):
        event.status, event.detail = Status.SPAM, blocked
        return
    record, contact = _known_record(actor, e164)
    if record is not None:
        call.contact = contact
        _link(call, record)
        call.activity = _log_activity(actor, call, record)
        event.outcome = EventOutcome.ATTACHED
        if call.direction == Direction.INBOUND and call.state in (State.MISSED, State.FAILED):
            _notify_missed(actor, call, record)
        return
    if call.direction != Direction.INBOUND:
        event.detail = _("An outgoing call to a number not known here: recorded only.")
        return
    channel = call.channel
    receipt = inquiry_receive(
        actor=actor,
        inquiry=Inquiry(
            data={
                "phone": phone_display(e164),
                "name": call.caller_name,
                "message": call_subject(call),
            },
            source=LeadSource.CALL,
            inbound={"channel": channel.name, "channel_id": channel.pk, "event_id": event.pk},
            channel_id=channel.pk,
            default_owner=channel.default_owner,
            create_deal=channel.create_deal,
        ),
    )
    event.status, event.outcome = receipt.status, receipt.outcome
    if receipt.detail:
        event.detail = receipt.detail
    call.lead, call.deal, call.contact = receipt.lead, receipt.deal, receipt.contact
    call.made_lead = receipt.lead is not None and receipt.outcome in (
        EventOutcome.CREATED,
        EventOutcome.REPEAT,
    )
    record = receipt.lead or receipt.deal or receipt.contact
    if record is not None:
        call.activity = _log_activity(actor, call, record)


def _correct(call: Call, old_subject: str) -> None:
    """A fact learnt after the outcome (an answer, the talk time, a recording): the call's
    activity and, while it still says what the call said, the message of the lead the call
    made follow."""
    subject, note = call_subject(call)[:200], call_note(call)
    activity = call.activity
    if activity is not None and (activity.subject, activity.note) != (subject, note):
        activity.subject, activity.note = subject, note
        activity.save(update_fields=["subject", "note", "updated_at"])
    lead = call.lead if call.made_lead else None
    if (
        lead is not None
        and subject != old_subject
        and lead.message == old_subject
        and lead.state != LeadState.CONVERTED
    ):
        lead.message = subject
        lead.save(update_fields=["message", "updated_at"])


def call_event_record(*, event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    """Apply one stored call event to its call (worker, inside the event's transaction, as
    the tenant's robot); make the call's outcome once it has ended. Sets the event's
    status, outcome, detail and links (the caller saves it)."""
    channel = event.channel
    tenant = channel.tenant
    call_event = CallEvent.from_properties(message.properties)
    if not call_event.call_id:
        event.status, event.detail = Status.REJECTED, _("A call event needs its call's id.")
        return
    with transaction.atomic(savepoint=False):  # the event's transaction (worker)
        call = _locked_call(channel, call_event.call_id[:200])
        call.channel = channel
        old_subject = call_subject(call)
        _apply(
            call,
            call_event,
            received=event.created_at or timezone.now(),
            tz=tenant_zone(tenant),
            region=tenant.default_region,
        )
        event.status = Status.DONE
        event.detail = _("Call %(number)s: %(state)s") % {
            "number": _shown(*_remote(call)),
            "state": call.get_state_display().lower(),
        }
        if call.ended_at is not None and call.outcome_at is None:
            _outcome(call, event, actor)
            if event.status != Status.REJECTED:  # else a later event (or a replay) retries
                call.outcome_at = timezone.now()
        elif call.outcome_at is not None:
            _correct(call, old_subject)
        call.save()
    event.lead, event.deal, event.contact = call.lead, call.deal, call.contact
