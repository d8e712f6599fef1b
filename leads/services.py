"""Write use cases for leads: create, edit, move through statuses, take, assign, trash.

`lead_move` is the one entry point for status changes (card, kanban, bulk actions);
conversion lives in its own service. Every change is a TimelineEvent; notifications and
e-mail go out after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from contacts.blocklist import sender_pairs, senders_block
from contacts.normalize import (
    email_key,
    phone_e164,
    phone_field,
    phones_merged,
    unreadable_phone,
)
from crm import live, periods
from crm.access import (
    AccessDenied,
    Action,
    Entity,
    Scope,
    can,
    check_entity,
    check_object,
    scope_for,
)
from crm.attachments import attachments_purge
from crm.bulk import insert_many, insert_rows, update_many
from crm.errors import DomainError
from crm.history import Changes
from crm.lineitems import ProductLine, replace_lines, same_lines
from crm.memo import memoized, nested_savepoints
from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.ordering import name_taken
from crm.services import ACTOR, _Actor, timeline_record, timeline_record_many
from crm.tenancy import current_tenant
from crm.text import clean_line, clean_text
from crm.urlnames import tenant_reverse
from leads.models import (
    OPEN_STATES,
    STATE_MOVES,
    Lead,
    LeadProduct,
    LeadState,
    LeadStatus,
    LeadWord,
    StatusStay,
)
from leads.rescoring import rescore_later
from leads.words import SOURCE_FIELDS, text_words

# Statuses every tenant starts with: (state, colour, Russian name, English name, default).
DEFAULT_STATUSES = (
    (LeadState.NEW, "#0d6efd", "Новый", "New", True),
    (LeadState.IN_PROGRESS, "#fd7e14", "В работе", "In progress", True),
    (LeadState.IN_PROGRESS, "#ffc107", "Уточняется информация", "Clarifying details", False),
    (LeadState.CONVERTED, "#198754", "Сконвертирован", "Converted", True),
    (LeadState.JUNK, "#6c757d", "Некачественный: нецелевой", "Junk: not our client", True),
    (LeadState.JUNK, "#dc3545", "Некачественный: спам", "Junk: spam", False),
    (LeadState.JUNK, "#adb5bd", "Некачественный: неверные контакты", "Junk: wrong contacts", False),
    (LeadState.JUNK, "#6f42c1", "Некачественный: дубль", "Junk: duplicate", False),
)

EDITABLE_FIELDS = (
    "title",
    "name",
    "company_name",
    "phone",
    "other_phones",
    "email",
    "messenger",
    "messenger_id",
    "message",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "amount",
    "currency",
    "temperature",
    "custom",
)


class InvalidTransition(DomainError):  # noqa: N818 - the domain's name for it (STYLE.md)
    """A status move the state machine does not allow (HTTP 409)."""

    status_code = 409


def lead_statuses_seed(tenant: Tenant) -> None:
    """Create the default statuses of a new tenant, named in the tenant's language."""
    for position, (state, color, ru, en, default) in enumerate(DEFAULT_STATUSES):
        LeadStatus.objects.create(
            tenant=tenant,
            state=state,
            color=color,
            name=ru if tenant.language == "ru" else en,
            is_default=default,
            position=position,
        )


def default_status(state: str) -> LeadStatus:
    """The status a lead gets when it enters `state` and nobody named one."""
    status = memoized(
        ("leads.default_status", getattr(current_tenant(), "pk", None), state),
        lambda: LeadStatus.objects.filter(state=state, is_default=True).first(),
    )
    if status is None:
        raise DomainError(_("No status is set up for this stage: ask an administrator."))
    return status


# --- Create and edit ----------------------------------------------------------------------


# One-line values cleaned of invisible and direction characters (crm/text.py).
LINE_FIELDS = (
    "title",
    "name",
    "company_name",
    "phone",
    "email",
    "messenger_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
)


def with_note(message: str, note: str) -> str:
    """A message with a line added at its end (a value kept beside the lead's fields)."""
    return "\n\n".join(part for part in (message.rstrip(), note) if part)


def intake_fields(data: dict[str, Any], region: str, *, read_phone: bool = True) -> dict[str, Any]:
    """A lead's or an inquiry's values as intake keeps them: one-line values (LINE_FIELDS)
    without invisible and direction characters, the message without control characters
    (crm/text.py), and — unless `read_phone` is off — the phone field read: its first
    number becomes `phone` (with its extension), further numbers go to `other_phones`, and
    the field as given is added to the message when it said more than its numbers or held
    none that can be read (then `phone` is empty).

    Raises DomainError (saying how to write a phone) when an unreadable phone is the only
    way to reach the person.
    """
    values = dict(data)
    for field in LINE_FIELDS:
        if field in values:
            values[field] = clean_line(str(values[field] or ""))
    if "message" in values:
        values["message"] = clean_text(str(values["message"] or ""))
    if read_phone and values.get("phone"):
        field = phone_field(values["phone"], region)
        if field.note:
            if not field.phone and not (values.get("email") or values.get("messenger_id")):
                raise DomainError(unreadable_phone(field.note, region))
            note = _("Phone: %(text)s") % {"text": field.note}
            values["message"] = with_note(str(values.get("message") or ""), note)
        values["phone"] = field.phone
        values["other_phones"] = [*field.others, *(values.get("other_phones") or [])]
    return values


def _normalize(
    lead: Lead, tenant: Tenant, *, read_phone: bool = True, cleaned: bool = False
) -> None:
    region = tenant.default_region
    if not cleaned:
        fields = (*LINE_FIELDS, "message", "other_phones")
        values = intake_fields(
            {field: getattr(lead, field) for field in fields}, region, read_phone=read_phone
        )
        for field, value in values.items():
            setattr(lead, field, value)
    lead.phone_e164 = phone_e164(lead.phone, region)
    lead.other_phones = phones_merged(
        [], lead.other_phones or [], besides=lead.phone_e164, region=region
    )
    lead.email_key = email_key(lead.email)
    if lead.messenger_id and not lead.messenger:
        raise DomainError(_("Choose the messenger of the handle."))
    if not lead.has_contact_way:
        raise DomainError(
            _("Give at least one way to reach the person: a phone, an e-mail or a messenger.")
        )
    lead.currency = lead.currency or tenant.currency


def _check_owner(actor: Membership, owner: Membership | None, scope: str) -> None:
    """Whom a lead may be given to: anyone with scope all, own team with team, only me with own."""
    if owner is None or owner.pk == actor.pk:
        return
    if owner.tenant_id != actor.tenant_id or not owner.is_active:
        raise DomainError(_("That person cannot own leads here."))
    if scope == Scope.ALL:
        return
    if scope == Scope.TEAM and owner.team_id is not None and owner.team_id == actor.team_id:
        return
    raise AccessDenied(_("Your role does not allow giving leads to that person."))


def _replace_products(lead: Lead, products: Iterable[ProductLine]) -> None:
    total = replace_lines(LeadProduct, tenant_id=lead.tenant_id, lines=products, lead=lead)
    if total is not None:
        lead.amount = total


def _index_words(lead: Lead, *, replace: bool) -> None:
    """Write the lead's search words (leads/words.py), replacing the old ones if asked."""
    if replace:
        LeadWord.objects.filter(lead=lead).delete()
    words = text_words(*(getattr(lead, field) for field in SOURCE_FIELDS))
    LeadWord.objects.bulk_create(
        LeadWord(
            tenant_id=lead.tenant_id,
            lead=lead,
            word=word,
            created_at=lead.created_at,
            owner_id=lead.owner_id,
        )
        for word in sorted(words)
    )


def inbox_changed(lead: Lead, *, actor: Membership, owners: Iterable[int | None]) -> None:
    """After commit, tell the open inboxes of `owners` (member ids; None: the shared inbox)
    that `lead` entered or left them (crm.live): every change of who owns a lead or of
    whether it is open goes through here."""
    live.announce(tenant_id=lead.tenant_id, members=owners, lead_id=lead.pk, actor_id=actor.pk)


def _index_owner(lead: Lead) -> None:
    """Copy the lead's owner to its search words (they filter visibility in the index)."""
    LeadWord.objects.filter(lead=lead).update(owner_id=lead.owner_id)


def lead_create(
    *,
    actor: Membership,
    data: dict[str, Any],
    owner: Membership | _Actor | None = ACTOR,
    products: Iterable[ProductLine] = (),
    channel_id: int | None = None,
) -> Lead:
    """Create a lead in the default "new" status, owned by `owner` (default: the actor;
    None leaves it unassigned in the shared inbox); `channel_id`: the inbound channel it
    came through. The values are read as `intake_fields` says (the phone field into the
    first number, other phones and a note in the message).

    Raises AccessDenied without the create right, DomainError when there is no way to
    reach the person (or only a phone in which no number can be read).
    """
    scope = check_entity(actor=actor, entity=Entity.LEAD, action=Action.CREATE)
    if isinstance(owner, _Actor):
        owner = actor
    _check_owner(actor, owner, scope)
    products = list(products)
    with transaction.atomic(savepoint=nested_savepoints()):
        lead = Lead(
            tenant=actor.tenant,
            owner=owner,
            created_by=actor,
            status=default_status(LeadState.NEW),
            channel_id=channel_id,
            **{k: v for k, v in data.items() if k in EDITABLE_FIELDS},
        )
        _normalize(lead, actor.tenant)
        lead.temperature_by_hand = bool(lead.temperature)
        if not lead.title:
            lead.title = lead.name or lead.company_name or lead.phone or lead.email or _("New lead")
        lead.save()
        enter_status(lead, lead.status, at=lead.created_at, first=True)
        _index_words(lead, replace=False)
        if products:
            _replace_products(lead, products)
            lead.save(update_fields=["amount"])
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.created",
            data={"title": lead.title, "source": lead.source},
        )
        if owner is not None and owner.pk != actor.pk:
            timeline_record(
                actor=actor, target=lead, kind="lead.assigned", data={"to": str(owner.user)}
            )
            _notify_owner(lead, owner)
        inbox_changed(lead, actor=actor, owners=[lead.owner_id])
        rescore_later(lead)
    return lead


def _notify_owner(lead: Lead, owner: Membership) -> None:
    notify(
        recipients=[owner],
        kind="lead.assigned",
        data={"title": lead.title},
        url=tenant_reverse("leads:detail", lead.tenant, pk=lead.pk),
    )


def lead_update(
    *,
    actor: Membership,
    lead: Lead,
    data: dict[str, Any],
    products: Iterable[ProductLine] | None = None,
) -> Lead:
    """Change a lead's fields (those in `data`); each changed field goes to the timeline.
    A converted lead is kept as it was (DomainError)."""
    check_object(lead, actor=actor, action=Action.EDIT)
    if lead.state == LeadState.CONVERTED:
        raise DomainError(_("A converted lead is kept as it was: edit its contact or deal."))
    changes = Changes()
    amount = lead.amount
    with transaction.atomic():
        changes.set_fields(lead, data, EDITABLE_FIELDS, Entity.LEAD)
        _normalize(lead, actor.tenant, read_phone="phone" in changes)
        if products is not None:
            before = list(lead.products.all())
            products = list(products)
            if not same_lines(before, products):
                _replace_products(lead, products)
                changes.add("products", len(before), len(products))
                if products:
                    changes.add_default("amount", amount, lead.amount)
        if not changes:
            return lead
        if "temperature" in changes:  # set by a person: the score no longer moves it
            lead.temperature_by_hand = bool(lead.temperature)
        _record_first_response(lead, actor)
        lead.save()
        rescore_later(lead)
        if changes.keys() & set(SOURCE_FIELDS):
            _index_words(lead, replace=True)
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.changed",
            data=changes.event_data(currency=lead.currency or actor.tenant.currency),
        )
    return lead


def lead_learn_ways(*, actor: Membership, lead: Lead, data: dict[str, Any]) -> bool:
    """Fill the ways to reach the person the open `lead` lacks from a later inquiry of
    theirs (`data` as intake_fields reads it): the phone (or, when it has one, a new number
    joins the other phones), the e-mail, the messenger account — so their next message from
    there finds this lead — and the name, when it has none (a missed call's lead). What it
    has is never overwritten. Recorded as a change of the lead; returns whether it changed.
    Nothing for a converted lead or an actor who may not edit it (the inquiry still joins
    it)."""
    if lead.state == LeadState.CONVERTED or not can(lead, actor=actor, action=Action.EDIT):
        return False
    region = actor.tenant.default_region
    changes = Changes()
    phones = [p for p in (data.get("phone") or "", *(data.get("other_phones") or [])) if p]
    known = {lead.phone_e164, *(phone_e164(p, region) for p in lead.other_phones or [])}
    new_phones = [p for p in phones if phone_e164(p, region) not in known]
    if new_phones and not lead.phone:
        changes.add("phone", lead.phone, new_phones[0])
        lead.phone, new_phones = new_phones[0], new_phones[1:]
    if new_phones:
        others = phones_merged(
            lead.other_phones or [],
            new_phones,
            besides=phone_e164(lead.phone, region),
            region=region,
        )
        changes.add("other_phones", lead.other_phones or [], others)
        lead.other_phones = others
    if not lead.email and (email := str(data.get("email") or "").strip()):
        changes.add("email", "", email)
        lead.email = email
    if not lead.name and (name := str(data.get("name") or "").strip()):
        changes.add("name", "", name)  # a missed call's lead learns who called
        lead.name = name
    messenger, handle = data.get("messenger") or "", str(data.get("messenger_id") or "").strip()
    if not lead.messenger_id and messenger and handle:
        changes.add("messenger", lead.messenger, messenger)
        changes.add("messenger_id", "", handle)
        lead.messenger, lead.messenger_id = messenger, handle
    if not changes:
        return False
    with transaction.atomic(savepoint=nested_savepoints()):
        _normalize(lead, actor.tenant, read_phone=False)
        lead.save()
        if changes.keys() & set(SOURCE_FIELDS):
            _index_words(lead, replace=True)
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.changed",
            data=changes.event_data(currency=lead.currency or actor.tenant.currency),
        )
    return True


def lead_take_phone(*, actor: Membership, lead: Lead, phone: str, channel: str = "") -> bool:
    """Make `phone` — the person's own number, as their messenger confirms it (a Telegram
    contact they shared of themselves) — the lead's phone, so a manager can call and later
    inquiries match it; a different previous phone moves to the other phones. Recorded as
    "lead.phone_shared" (`channel`: where it came from). Returns whether the lead changed:
    not for the number it has, an unreadable one, or a converted lead (kept as it was).

    Raises AccessDenied without the right to edit the lead.
    """
    check_object(lead, actor=actor, action=Action.EDIT)
    region = actor.tenant.default_region
    field = phone_field(phone, region)
    key = phone_e164(field.phone, region)
    if not key or key == lead.phone_e164 or lead.state == LeadState.CONVERTED:
        return False
    previous = lead.phone
    with transaction.atomic(savepoint=nested_savepoints()):
        lead.other_phones = phones_merged(
            [previous] if previous else [], lead.other_phones or [], besides=key, region=region
        )
        lead.phone, lead.phone_e164 = field.phone, key
        lead.save(update_fields=["phone", "phone_e164", "other_phones", "updated_at"])
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.phone_shared",
            data={"phone": lead.phone, "previous": previous, "channel": channel},
        )
    return True


# --- Status moves -------------------------------------------------------------------------

# States in which a lead has gone into work: the funnel's "in progress" step (Lead.taken_at).
TAKEN_STATES = (LeadState.IN_PROGRESS, LeadState.CONVERTED)


def mark_taken(lead: Lead, at: datetime) -> None:
    """Note `at` as when the lead went into work, the first time it is in progress (or
    converted straight away); never cleared by junk or reopen. Assigns only: the caller
    saves the lead."""
    if lead.taken_at is None and lead.state in TAKEN_STATES:
        lead.taken_at = at


def enter_status(lead: Lead, status: LeadStatus, *, at: datetime, first: bool = False) -> None:
    """Record that the lead is in `status` from `at`: its open stay (StatusStay) ends at
    `at` and a new one begins (`first`: the lead has none yet, it was just created).

    Call it after the lead's row is saved in the same transaction: that UPDATE holds the
    row until commit, so two concurrent moves of one lead close and open stays one after
    the other and the lead keeps exactly one open stay.
    """
    if not first:
        StatusStay.objects.filter(lead=lead, left_at=None).update(left_at=at, updated_at=at)
    StatusStay.objects.create(tenant_id=lead.tenant_id, lead=lead, status=status, entered_at=at)


def _record_first_response(lead: Lead, actor: Membership) -> None:
    """A person's first action on the lead is its first response (the robot's is not)."""
    if lead.first_response_at is None and not actor.is_system:
        lead.first_response_at = timezone.now()


def _moved(old: LeadStatus, new: LeadStatus) -> dict[str, str]:
    """What a status move records on the lead's timeline."""
    return {"from": old.name, "to": new.name, "from_state": old.state, "to_state": new.state}


def lead_move(*, actor: Membership, lead: Lead, status: LeadStatus) -> Lead:
    """Move a lead to `status`: a stage move inside its state, or a state transition.

    Raises InvalidTransition (409) for a move the state machine refuses (including any
    move into "converted": only conversion does that) and AccessDenied without the right.
    """
    if status.tenant_id != lead.tenant_id:
        raise DomainError(_("That record belongs to another workspace."))
    check_object(lead, actor=actor, action=Action.EDIT)
    if lead.status_id == status.pk:
        return lead
    old_status = lead.status
    old_state = lead.state
    unarchived = False
    if status.state == LeadState.CONVERTED:
        raise InvalidTransition(_("A lead becomes converted only through conversion."))
    now = timezone.now()
    with transaction.atomic():
        if status.state != old_state:
            name = STATE_MOVES.get((old_state, status.state))
            method = getattr(lead, name) if name else None
            if method is None:
                raise InvalidTransition(
                    _("A lead cannot move from “%(from)s” to “%(to)s”.")
                    % {"from": old_status.name, "to": status.name}
                )
            try:
                method(status=status)
            except TransitionNotAllowed as error:
                raise InvalidTransition(
                    _("A lead cannot move from “%(from)s” to “%(to)s”.")
                    % {"from": old_status.name, "to": status.name}
                ) from error
            lead.closed_at = now if status.state == LeadState.JUNK else None
            mark_taken(lead, now)
            # Archived leads are junk: reopened, one is back at work, so back in the lists.
            unarchived = lead.archived_at is not None and status.state != LeadState.JUNK
            if unarchived:
                lead.archived_at = None
        else:
            lead.status = status
        _record_first_response(lead, actor)
        try:
            lead.save()
        except ConcurrentTransition as error:
            raise InvalidTransition(
                _("Someone moved this lead a moment ago: reload and try again.")
            ) from error
        enter_status(lead, status, at=now)
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.moved",
            data=_moved(old_status, status),
        )
        if unarchived:
            timeline_record(actor=actor, target=lead, kind="lead.unarchived", data={})
        if status.state != old_state:
            inbox_changed(lead, actor=actor, owners=[lead.owner_id])
    return lead


def lead_may_take(actor: Membership) -> bool:
    """Whether the actor may take leads from the shared inbox at all (the lists show "Take"
    only then). No query: the role is loaded with the membership."""
    return (
        scope_for(actor, Entity.LEAD, Action.EDIT) != Scope.NONE
        and scope_for(actor, Entity.LEAD, Action.VIEW) != Scope.NONE
    )


class AlreadyTaken(DomainError):  # noqa: N818 - the domain's name for it (STYLE.md)
    """Someone else got the lead first (HTTP 409): the message names them."""

    status_code = 409


def _taken_by_other(lead_id: int, actor: Membership) -> AlreadyTaken | None:
    """Why a lead cannot be taken now: who owns it, or that it was deleted (None: the
    actor owns it already, e.g. a second press of their own button)."""
    row = (
        Lead.objects.filter(pk=lead_id)
        .values("owner_id", "owner__user__full_name", "owner__user__email", "deleted_at")
        .first()
    )
    if row is None or row["deleted_at"] is not None:
        return AlreadyTaken(_("This lead was deleted a moment ago."))
    if row["owner_id"] == actor.pk:
        return None
    name = row["owner__user__full_name"] or row["owner__user__email"] or ""
    if not name:
        return AlreadyTaken(_("Someone else has already taken this lead."))
    return AlreadyTaken(_("Already taken by %(name)s.") % {"name": name})


def lead_take(*, actor: Membership, lead: Lead) -> Lead:
    """Assign an unassigned lead to the actor, atomically: of two at once, one wins.

    A new lead also moves to "in progress". Taking one's own lead again changes nothing.
    Raises AccessDenied without the right (`lead_may_take`), AlreadyTaken (409, naming the
    winner) when someone else was faster or the lead was deleted.
    """
    if not lead_may_take(actor):
        raise AccessDenied(_("Your role does not allow taking leads."))
    if lead.owner_id is not None:
        error = _taken_by_other(lead.pk, actor)
        if error is None:
            return lead
        raise error
    if not can(lead, actor=actor, action=Action.VIEW):
        raise AccessDenied(_("Your role does not allow this action on this record."))
    with transaction.atomic():
        claimed = Lead.objects.filter(pk=lead.pk, owner__isnull=True, deleted_at=None).update(
            owner=actor, updated_at=timezone.now()
        )
        if claimed != 1:
            error = _taken_by_other(lead.pk, actor)
            if error is not None:
                raise error
            lead.refresh_from_db()
            return lead
        if not actor.is_system:
            Lead.objects.filter(pk=lead.pk, first_response_at=None).update(
                first_response_at=timezone.now()
            )
        lead.refresh_from_db()
        _index_owner(lead)
        timeline_record(actor=actor, target=lead, kind="lead.taken", data={"by": str(actor.user)})
        inbox_changed(lead, actor=actor, owners=[None, actor.pk])
        if lead.state == LeadState.NEW:
            lead_move(actor=actor, lead=lead, status=default_status(LeadState.IN_PROGRESS))
    return lead


def lead_assign(*, actor: Membership, lead: Lead, owner: Membership | None) -> Lead:
    """Give a lead to `owner` (or back to the shared inbox with None); giving it to whom it
    belongs already changes nothing."""
    check_object(lead, actor=actor, action=Action.EDIT)
    scope = check_entity(actor=actor, entity=Entity.LEAD, action=Action.EDIT)
    if lead.owner_id == (owner.pk if owner else None):
        return lead
    _check_owner(actor, owner, scope)
    with transaction.atomic():
        owner_change(actor=actor, lead=lead, owner=owner)
    return lead


def owner_change(
    *, actor: Membership, lead: Lead, owner: Membership | None, rule: str = ""
) -> None:
    """Give the lead to `owner` (None: the shared inbox), recorded, the new owner told —
    the rights are the caller's to check (lead_assign; a handover's assignment `rule`
    decides by itself). Call inside a transaction."""
    previous = lead.owner
    lead.owner = owner
    lead.save(update_fields=["owner", "updated_at"])
    _index_owner(lead)
    data = {"from": str(previous.user) if previous else "", "to": str(owner.user) if owner else ""}
    if rule:
        data["rule"] = rule
    timeline_record(actor=actor, target=lead, kind="lead.assigned", data=data)
    if owner is not None and owner.pk != actor.pk:
        _notify_owner(lead, owner)
    inbox_changed(lead, actor=actor, owners=[previous.pk if previous else None, lead.owner_id])


# --- Trash and archive --------------------------------------------------------------------

TRASH_DAYS = 30


def lead_delete(*, actor: Membership, lead: Lead) -> None:
    """Move a lead to the trash (restorable by admins for TRASH_DAYS days)."""
    check_object(lead, actor=actor, action=Action.DELETE)
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(deleted_at=timezone.now())
        timeline_record(actor=actor, target=lead, kind="lead.deleted", data={"title": lead.title})
        inbox_changed(lead, actor=actor, owners=[lead.owner_id])


def lead_restore(*, actor: Membership, lead: Lead) -> None:
    """Bring a lead back from the trash."""
    check_object(lead, actor=actor, action=Action.DELETE)
    if lead.deleted_at is None:
        return
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(deleted_at=None)
        timeline_record(actor=actor, target=lead, kind="lead.restored", data={"title": lead.title})
        inbox_changed(lead, actor=actor, owners=[lead.owner_id])


def lead_archive(*, actor: Membership, lead: Lead) -> None:
    """Take a junk lead out of the lists (kept for analytics)."""
    check_object(lead, actor=actor, action=Action.EDIT)
    if lead.state != LeadState.JUNK:
        raise DomainError(_("Only junk leads can be archived."))
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(archived_at=timezone.now())
        timeline_record(actor=actor, target=lead, kind="lead.archived", data={})


def lead_unarchive(*, actor: Membership, lead: Lead) -> None:
    """Bring an archived (junk) lead back to the lists, still junk.

    Raises AccessDenied without the edit right, DomainError when it is not archived.
    """
    check_object(lead, actor=actor, action=Action.EDIT)
    if lead.archived_at is None:
        raise DomainError(_("This lead is not archived."))
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(archived_at=None, updated_at=timezone.now())
        lead.archived_at = None
        timeline_record(actor=actor, target=lead, kind="lead.unarchived", data={})


# --- Postponement ---------------------------------------------------------------------------

# How far ahead a lead may be postponed.
POSTPONE_MAX_DAYS = 366


def postpone_moment(until: date | datetime) -> datetime:
    """The instant a postponement ends: a date is the start of that day on the workspace's
    clock (the active zone), a naive date and time is read on that clock too."""
    if isinstance(until, datetime):
        return until if timezone.is_aware(until) else timezone.make_aware(until)
    return periods.day_start(until)


def lead_postpone(*, actor: Membership, lead: Lead, until: date | datetime, reason: str) -> Lead:
    """Take an open lead out of the working lists until `until` (a date: that day's start
    in the workspace's zone), for `reason`; a periodic job brings it back
    (leads/postponement.py). Postponing a postponed lead moves the date.

    Raises AccessDenied without the edit right, DomainError for a closed lead, no reason,
    or a moment that is not in the future (or more than POSTPONE_MAX_DAYS ahead).
    """
    check_object(lead, actor=actor, action=Action.EDIT)
    if lead.state not in OPEN_STATES:
        raise DomainError(_("Only an open lead can be postponed."))
    reason = clean_line(reason or "")[:200]
    if not reason:
        raise DomainError(_("Say why the lead is postponed."))
    moment = postpone_moment(until)
    now = timezone.now()
    if moment <= now:
        raise DomainError(_("Choose a date in the future."))
    if moment > now + timedelta(days=POSTPONE_MAX_DAYS):
        raise DomainError(
            _("A lead can be postponed by at most %(days)s days.") % {"days": POSTPONE_MAX_DAYS}
        )
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(
            postponed_until=moment, postpone_reason=reason, updated_at=now
        )
        lead.postponed_until, lead.postpone_reason = moment, reason
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.postponed",
            data={"until": moment.isoformat(), "reason": reason},
        )
    return lead


def lead_unpostpone(*, actor: Membership, lead: Lead) -> Lead:
    """Bring a postponed lead back to the working lists now.

    Raises AccessDenied without the edit right, DomainError when it is not postponed.
    """
    check_object(lead, actor=actor, action=Action.EDIT)
    if lead.postponed_until is None:
        raise DomainError(_("This lead is not postponed."))
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(
            postponed_until=None, postpone_reason="", updated_at=timezone.now()
        )
        lead.postponed_until, lead.postpone_reason = None, ""
        timeline_record(actor=actor, target=lead, kind="lead.unpostponed", data={})
    return lead


def leads_purge_trash(*, tenant: Tenant, older_than_days: int = TRASH_DAYS) -> int:
    """Delete for good the leads that stayed in the trash longer than the limit."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    with transaction.atomic():
        stale = Lead.objects.filter(deleted_at__lt=cutoff)
        ids = list(stale.values_list("pk", flat=True))
        LeadProduct.objects.filter(lead__in=stale).delete()
        attachments_purge(model=Lead, ids=ids)
        stale.delete()
    return len(ids)


# --- Activities on a lead -----------------------------------------------------------------

# The first of these on a lead counts as the first response to the person.
RESPONSE_KINDS = {"call", "email", "message", "meeting"}


def lead_activity_add(*, actor: Membership, lead: Lead, **fields: Any) -> Any:
    """Plan or log an activity on a lead; a person's call, e-mail, message or meeting is a
    first response."""
    from crm.services import activity_create

    check_object(lead, actor=actor, action=Action.EDIT)
    with transaction.atomic():
        activity = activity_create(actor=actor, target=lead, **fields)
        if (
            fields.get("kind") in RESPONSE_KINDS
            and lead.first_response_at is None
            and not actor.is_system
        ):
            Lead.objects.filter(pk=lead.pk, first_response_at=None).update(
                first_response_at=timezone.now()
            )
    return activity


# --- Statuses (admin settings) ------------------------------------------------------------


def status_save(
    *, actor: Membership, status: LeadStatus | None, data: dict[str, Any]
) -> LeadStatus:
    """Create a status, or rename/recolour/reorder one. Its stage may change only while no
    lead (live or in the trash) uses it, and never away from being its stage's default."""
    name = data["name"].strip()
    if name_taken(LeadStatus.objects.all(), name, exclude_pk=status.pk if status else None):
        raise DomainError(_("A status with this name already exists."))
    with transaction.atomic():
        if status is None:
            status = LeadStatus.objects.create(
                name=name,
                color=data["color"],
                state=data["state"],
                position=data.get("position") or 0,
                is_default=not LeadStatus.objects.filter(state=data["state"]).exists(),
            )
            kind = "status.created"
        else:
            new_state = data.get("state") or status.state
            if new_state != status.state:
                if Lead.objects.filter(status=status).exists():
                    raise DomainError(
                        _(
                            "Leads use this status, so its stage cannot change: "
                            "add a new status instead."
                        )
                    )
                if status.is_default:
                    raise DomainError(_("Make another status the default of this stage first."))
            status.name, status.color, status.state = name, data["color"], new_state
            status.position = data.get("position", status.position) or 0
            status.save(update_fields=["name", "color", "state", "position", "updated_at"])
            kind = "status.changed"
        timeline_record(actor=actor, target=status, kind=kind, data={"status": status.name})
    return status


def status_make_default(*, actor: Membership, status: LeadStatus) -> None:
    """Make `status` the one its state's leads get when nobody names a status."""
    with transaction.atomic():
        LeadStatus.objects.filter(state=status.state, is_default=True).update(is_default=False)
        LeadStatus.objects.filter(pk=status.pk).update(is_default=True)
        timeline_record(
            actor=actor, target=status, kind="status.default", data={"status": status.name}
        )


def status_delete(*, actor: Membership, status: LeadStatus, replacement: LeadStatus) -> int:
    """Delete a status, moving its leads to `replacement` (same state); returns how many moved.
    Their open stays end now and new ones begin in `replacement`; the stays in the deleted
    status go with it (StatusStay.status cascades)."""
    if replacement.tenant_id != status.tenant_id or replacement.pk == status.pk:
        raise DomainError(_("Choose another status to move the leads to."))
    if replacement.state != status.state:
        raise DomainError(_("Leads can only move to a status of the same stage."))
    now = timezone.now()
    with transaction.atomic():
        moved_ids = list(Lead.objects.filter(status=status).values_list("pk", flat=True))
        Lead.objects.filter(pk__in=moved_ids).update(status=replacement, updated_at=now)
        # Their stays move as the leads do, in two statements whatever their number.
        StatusStay.objects.filter(lead_id__in=moved_ids, left_at=None).update(
            left_at=now, updated_at=now
        )
        StatusStay.objects.bulk_create(
            StatusStay(tenant_id=status.tenant_id, lead_id=pk, status=replacement, entered_at=now)
            for pk in moved_ids
        )
        timeline_record_many(
            actor=actor,
            model=Lead,
            target_ids=moved_ids,
            kind="lead.moved",
            data=_moved(status, replacement),
        )
        if status.is_default:
            LeadStatus.objects.filter(pk=status.pk).update(is_default=False)
            LeadStatus.objects.filter(pk=replacement.pk).update(is_default=True)
        timeline_record(
            actor=actor,
            target=status,
            kind="status.deleted",
            data={"status": status.name, "moved": len(moved_ids), "to": replacement.name},
        )
        status.delete()
    return len(moved_ids)


# --- Spam ---------------------------------------------------------------------------------

SPAM_WORDS = ("spam", "спам")


def spam_status() -> LeadStatus:
    """The junk status spam goes to: the first one named so ("спам"/"spam"), else the
    default junk status."""
    for status in LeadStatus.objects.filter(state=LeadState.JUNK).order_by("position", "pk"):
        if any(word in status.name.casefold() for word in SPAM_WORDS):
            return status
    return default_status(LeadState.JUNK)


def lead_mark_spam(*, actor: Membership, lead: Lead) -> list[str]:
    """Move a lead to the spam junk status (if not there) and block its phone, e-mail and
    messenger identity; returns the values blocked now (those blocked already are skipped).

    Needs the right to edit the lead (the blocklist itself is not a settings matter here:
    managers flag spam). Raises DomainError for a converted lead, InvalidTransition as
    lead_move does.
    """
    check_object(lead, actor=actor, action=Action.EDIT)
    if lead.state == LeadState.CONVERTED:
        raise DomainError(_("A converted lead is a customer, not spam."))
    with transaction.atomic():
        status = spam_status()
        if lead.status_id != status.pk:
            lead_move(actor=actor, lead=lead, status=status)
        senders = sender_pairs(
            phone_e164=lead.phone_e164,
            email_key=lead.email_key,
            messenger=lead.messenger,
            messenger_id=lead.messenger_id,
        )
        reason = _("Spam: lead #%(id)s “%(title)s”") % {"id": lead.pk, "title": lead.title}
        added = senders_block(actor=actor, senders=senders, reason=reason)
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.spam",
            data={"blocked": ", ".join(value for _kind, value in senders) or "—"},
        )
    return [entry.value for entry in added]


# --- Bulk actions -------------------------------------------------------------------------


@dataclass
class BulkResult:
    """What a bulk action did: how many leads changed and which were skipped, with why."""

    done: int = 0
    skipped: list[tuple[str, str]] | None = None

    def skip(self, lead: Lead, reason: str) -> None:
        self.skipped = [*(self.skipped or []), (lead.title, reason)]


# Each bulk action and the right it needs (on each lead; the bar offers only actions the
# role may do on some leads: bulk_actions_for).
BULK_ACTIONS = {
    "assign": Action.EDIT,
    "move": Action.EDIT,
    "archive": Action.EDIT,
    "unarchive": Action.EDIT,
    "delete": Action.DELETE,
    "convert": Action.CONVERT,
    "spam": Action.EDIT,
}


def bulk_actions_for(actor: Membership) -> list[str]:
    """The bulk actions the actor's role allows on some leads (none: no bar, no ticks)."""
    return [
        action
        for action, right in BULK_ACTIONS.items()
        if scope_for(actor, Entity.LEAD, right) != Scope.NONE
    ]


def leads_bulk(
    *,
    actor: Membership,
    leads: Iterable[Lead],
    action: str,
    owner: Membership | None = None,
    status: LeadStatus | None = None,
) -> BulkResult:
    """Apply one action to many leads, each under its own rights check and savepoint.

    A lead the actor may not change, or that cannot make the move, is skipped with the
    reason; the others go through. Nothing is half-done for any single lead. "convert"
    makes each lead a deal with its contact (leads.conversion.lead_convert_to_deal).
    """
    from leads.conversion import lead_convert_to_deal

    if action not in BULK_ACTIONS:
        raise DomainError(_("Unknown action."))
    result = BulkResult()
    for lead in leads:
        try:
            with transaction.atomic():
                if action == "assign":
                    lead_assign(actor=actor, lead=lead, owner=owner)
                elif action == "move":
                    if status is None:
                        raise DomainError(_("Choose a status."))
                    lead_move(actor=actor, lead=lead, status=status)
                elif action == "archive":
                    lead_archive(actor=actor, lead=lead)
                elif action == "unarchive":
                    lead_unarchive(actor=actor, lead=lead)
                elif action == "convert":
                    lead_convert_to_deal(actor=actor, lead=lead)
                elif action == "spam":
                    lead_mark_spam(actor=actor, lead=lead)
                else:
                    lead_delete(actor=actor, lead=lead)
        except (DomainError, AccessDenied) as error:
            result.skip(lead, getattr(error, "message", None) or str(error))
        else:
            result.done += 1
    return result


# --- Reminders ----------------------------------------------------------------------------


def activities_send_reminders(*, now: Any = None) -> int:
    """Notify owners of activities whose reminder (or, without one, due) time has come.

    Each activity is claimed with a conditional UPDATE first, so a reminder goes out once
    even when two workers run this at the same moment.
    """
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Q

    from crm.models import Activity

    now = now or timezone.now()
    due = (
        Activity.objects.filter(done_at=None, reminded_at=None)
        .filter(Q(remind_at__lte=now) | Q(remind_at=None, due_at__lte=now))
        .select_related("owner__user")
    )
    lead_type = ContentType.objects.get_for_model(Lead)
    sent = 0
    for activity in due[:500]:
        with transaction.atomic():
            if (
                Activity.objects.filter(pk=activity.pk, reminded_at=None).update(reminded_at=now)
                != 1
            ):
                continue
            url, title = "", ""
            if activity.target_type_id == lead_type.pk:
                lead = (
                    Lead.objects.filter(pk=activity.target_id).only("pk", "title", "tenant").first()
                )
                if lead is not None:
                    url, title = tenant_reverse("leads:detail", lead.tenant, pk=lead.pk), lead.title
            data = {"subject": activity.subject, "title": title}
            if activity.due_at is not None:
                data["due_at"] = activity.due_at.isoformat()
            notify(recipients=[activity.owner], kind="activity.reminder", data=data, url=url)
            sent += 1
    return sent


# --- Many at once (an import) -------------------------------------------------------------


def lead_normalize(lead: Lead, tenant: Tenant, *, cleaned: bool = False) -> None:
    """Clean a lead about to be saved in bulk (its phone field read already, as
    intake_fields does; with `cleaned`, its values were read by intake_fields) and fill its
    keys; raises DomainError for a lead nobody can reach."""
    _normalize(lead, tenant, read_phone=False, cleaned=cleaned)


WORD_COLUMNS = ("tenant_id", "lead_id", "word", "created_at", "owner_id")


def _word_rows(leads: list[Lead]) -> list[tuple]:
    """The search words of several leads (leads/words.py), as WORD_COLUMNS."""
    return [
        (lead.tenant_id, lead.pk, word, lead.created_at, lead.owner_id)
        for lead in leads
        for word in sorted(text_words(*(getattr(lead, f) for f in SOURCE_FIELDS)))
    ]


def leads_bulk_create(
    *, actor: Membership, leads: list[Lead], created: dict[int, datetime], event: dict[str, Any]
) -> None:
    """Save new leads (each cleaned by lead_normalize) at once, as lead_create would one by
    one: titled, each with its first status stay, its search words and a "lead.imported"
    timeline entry (`event` its data); the inboxes are told once. `created`: the creation
    moment of some leads (by their index in `leads`), kept instead of now (an import keeps
    a base's history); leads in a closed state are closed at that moment."""
    tenant = actor.tenant
    now = timezone.now()
    for index, lead in enumerate(leads):
        lead.tenant = tenant
        if not lead.title:
            lead.title = lead.name or lead.company_name or lead.phone or lead.email or _("New lead")
        lead.created_at = created.get(index) or now
        lead.keep_created_at = True
        if lead.state not in OPEN_STATES and lead.closed_at is None:
            lead.closed_at = lead.created_at
    insert_many(Lead, leads)
    insert_rows(
        StatusStay,
        ("tenant_id", "lead_id", "status_id", "entered_at"),
        [(tenant.pk, lead.pk, lead.status_id, lead.created_at) for lead in leads],
    )
    insert_rows(LeadWord, WORD_COLUMNS, _word_rows(leads))
    timeline_record_many(
        actor=actor,
        model=Lead,
        target_ids=[lead.pk for lead in leads],
        kind="lead.imported",
        data=event,
    )
    owners = {lead.owner_id for lead in leads if lead.state in OPEN_STATES}
    if owners:
        live.announce(tenant_id=tenant.pk, members=owners, lead_id=leads[0].pk, actor_id=actor.pk)


def leads_bulk_update(
    *,
    actor: Membership,
    leads: list[Lead],
    fields: set[str],
    event: dict[str, Any],
    kind: str = "import_updated",
    renamed: list[Lead] | None = None,
) -> None:
    """Save changed fields of several leads at once (an import's merge, or its undo; each
    cleaned by lead_normalize), search words rewritten when a named field changed (only
    of the `renamed` leads when given), one "lead.<kind>" timeline entry each (`event` its
    data)."""
    if not leads:
        return
    saved = set(fields)
    if "phone" in saved:
        saved.add("phone_e164")
    if "email" in saved:
        saved.add("email_key")
    update_many(Lead, leads, sorted(saved | {"updated_at"}))
    if saved & set(SOURCE_FIELDS):
        reindexed = leads if renamed is None else renamed
        LeadWord.objects.filter(lead__in=reindexed).delete()
        insert_rows(LeadWord, WORD_COLUMNS, _word_rows(reindexed))
    elif "owner" in saved:
        for lead in leads:
            _index_owner(lead)
    timeline_record_many(
        actor=actor,
        model=Lead,
        target_ids=[lead.pk for lead in leads],
        kind=f"lead.{kind}",
        data=event,
    )
