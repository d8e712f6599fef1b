"""Lead conversion: a lead becomes a contact, a company, a deal, or any combination.

`lead_convert` is the one entry point (the card's dialog, bulk conversion). It runs in one
transaction: the records are created (or matching ones reused), custom fields carried by
name, products copied to the deal, the lead's activities moved to what it became, and the
lead linked to them and moved to "converted" through the state machine. Anything failing
leaves nothing behind. The contact and company reused are found by the matching rules of
`contacts.selectors` (find_contact, find_company), which intake uses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from contacts.models import Company, Contact, Party
from contacts.selectors import find_company, find_contact, record_list
from contacts.services import company_create, contact_create
from crm import customfields
from crm.access import AccessDenied, Action, Entity, Scope, can, scope_for
from crm.errors import DomainError
from crm.lineitems import ProductLine
from crm.models import Activity, Membership
from crm.services import timeline_record
from deals.models import Deal, Outcome, Pipeline, Stage
from deals.services import deal_create
from leads.models import OPEN_STATES, Lead, LeadState
from leads.services import (
    InvalidTransition,
    default_status,
    enter_status,
    inbox_changed,
    mark_taken,
)


@dataclass(frozen=True)
class Target:
    """One part of a conversion: reuse `record`, or create a new one from `data`."""

    record: Party | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Conversion:
    """What a lead became."""

    contact: Contact | None
    company: Company | None
    deal: Deal | None


# --- Matching -----------------------------------------------------------------------------


def lead_matches(*, actor: Membership, lead: Lead) -> tuple[Contact | None, Company | None]:
    """The existing contact and company a conversion of `lead` would reuse."""
    contact = find_contact(
        actor=actor,
        phone_e164=lead.phone_e164,
        email_key=lead.email_key,
        messenger=lead.messenger,
        messenger_id=lead.messenger_id,
    )
    company = find_company(actor=actor, name=lead.company_name)
    if company is None and contact is not None and contact.company_id is not None:
        company = record_list(actor=actor, model=Company).filter(pk=contact.company_id).first()
    return contact, company


# --- Pre-filled data ----------------------------------------------------------------------


def contact_data(lead: Lead) -> dict[str, Any]:
    """A new contact's fields from the lead (the dialog shows them for editing)."""
    data: dict[str, Any] = {
        "first_name": lead.name,
        "phones": [p for p in (lead.phone, *lead.other_phones) if p],
        "emails": [lead.email] if lead.email else [],
    }
    if lead.messenger and lead.messenger_id:
        data[lead.messenger] = lead.messenger_id
    return data


def company_data(lead: Lead) -> dict[str, Any]:
    """A new company's fields from the lead."""
    return {"name": lead.company_name}


def deal_data(lead: Lead) -> dict[str, Any]:
    """A new deal's fields from the lead."""
    return {"title": lead.title, "amount": lead.amount, "currency": lead.currency}


# --- Conversion ---------------------------------------------------------------------------


def conversion_owner(actor: Membership, lead: Lead) -> Membership:
    """Who owns the new records: the lead's owner when the actor may give records to them
    (scope "all", or the owner's own conversion), else the actor (e.g. a team lead)."""
    owner = lead.owner
    if owner is None or not owner.is_active or owner.pk == actor.pk:
        return actor
    if scope_for(actor, Entity.DEAL, Action.CREATE) == Scope.ALL:
        return owner
    return actor


def _reused(actor: Membership, lead: Lead, record: Party) -> Party:
    if record.tenant_id != lead.tenant_id or not can(record, actor=actor, action=Action.VIEW):
        raise DomainError(_("That record belongs to another workspace."))
    if not record.is_live:
        raise DomainError(_("That record is in the trash or was merged."))
    return record


def _check_stage(lead: Lead, stage: Stage, pipeline: Pipeline | None) -> None:
    if stage.tenant_id != lead.tenant_id:
        raise DomainError(_("That record belongs to another workspace."))
    if pipeline is not None and stage.pipeline_id != pipeline.pk:
        raise DomainError(
            _("This stage belongs to another pipeline: choose a stage of “%(pipeline)s”.")
            % {"pipeline": pipeline.name}
        )
    if stage.kind != Outcome.OPEN:
        raise DomainError(_("A new deal starts in an open stage."))


def _custom_for(lead: Lead, entity: str, data: dict[str, Any]) -> dict[str, Any]:
    mapped = customfields.map_values(lead.custom, source=Entity.LEAD, target=entity)
    return {**data, "custom": {**mapped, **(data.get("custom") or {})}}


def _record_converted(actor: Membership, lead: Lead, result: Conversion, reused: set[str]) -> None:
    parts: dict[str, Any] = {}
    for name, record in (
        ("contact", result.contact),
        ("company", result.company),
        ("deal", result.deal),
    ):
        if record is None:
            continue
        parts[name] = str(record)
        parts[f"{name}_id"] = record.pk
        timeline_record(
            actor=actor,
            target=record,
            kind=f"{name}.converted_from",
            data={"title": lead.title, "lead_id": lead.pk, "reused": name in reused},
        )
    timeline_record(actor=actor, target=lead, kind="lead.converted", data=parts)


def lead_convert(
    *,
    actor: Membership,
    lead: Lead,
    contact: Target | None = None,
    company: Target | None = None,
    deal: dict[str, Any] | None = None,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    deal_owner: Membership | None = None,
) -> Conversion:
    """Convert `lead` into a contact, a company and/or a deal (at least one), in one
    transaction. Each of contact and company reuses `Target.record` or is created from
    `Target.data` (lead custom fields carried by name; a new company whose tax id a
    visible company already has is that company); the deal (created when `deal` is
    given — title, amount, expected_close… —, in the open `stage` of `pipeline`, else its
    first open stage, in the default pipeline when none is named; owned by `deal_owner`,
    else as the contact and company) gets the contact, the company, the lead's products
    (with them, the amount is their total) and the lead as its source. The lead's activities
    move to the deal, or else the contact, or else the company. The lead is linked to the
    records and moved to the default "converted" status.

    Raises AccessDenied without the convert right (or the right to create a part),
    InvalidTransition for a lead that is not open (converting twice), DomainError for an
    empty conversion, a lead with no way to reach the person, a stage that is not an
    open stage of the pipeline, or a record of another tenant, in the trash or merged.
    Nothing is written when it raises.
    """
    if lead.tenant_id != actor.tenant_id or not can(lead, actor=actor, action=Action.CONVERT):
        raise AccessDenied(_("Your role does not allow converting this lead."))
    if lead.state not in OPEN_STATES:
        raise InvalidTransition(_("Only an open lead can be converted."))
    if not (contact or company or deal is not None):
        raise DomainError(_("Choose what the lead becomes: a contact, a company or a deal."))
    if stage is not None:
        _check_stage(lead, stage, pipeline)
        pipeline = pipeline or stage.pipeline
    owner = conversion_owner(actor, lead)
    reused: set[str] = set()
    with transaction.atomic():
        made_company = None
        if company is not None and company.record is not None:
            made_company = _reused(actor, lead, company.record)
            reused.add("company")
        elif company is not None and (
            same_tax_id := find_company(actor=actor, tax_id=(company.data or {}).get("tax_id", ""))
        ):
            # A tax id is an exact identity: a second company with it is never wanted.
            made_company = same_tax_id
            reused.add("company")
        elif company is not None:
            made_company = company_create(
                actor=actor,
                data=_custom_for(lead, Entity.COMPANY, company.data or company_data(lead)),
                owner=owner,
            )
        made_contact = None
        if contact is not None and contact.record is not None:
            made_contact = _reused(actor, lead, contact.record)
            reused.add("contact")
        elif contact is not None:
            data = {"company": made_company, **(contact.data or contact_data(lead))}
            made_contact = contact_create(
                actor=actor, data=_custom_for(lead, Entity.CONTACT, data), owner=owner
            )
        made_deal = None
        if deal is not None:
            lines = [
                ProductLine(name=p.name, quantity=p.quantity, price=p.price)
                for p in lead.products.all()
            ]
            data = {
                **deal_data(lead),
                **deal,
                "contact": made_contact,
                "company": made_company,
            }
            made_deal = deal_create(
                actor=actor,
                data=_custom_for(lead, Entity.DEAL, data),
                owner=deal_owner or owner,
                pipeline=pipeline,
                stage=stage,
                products=lines,
                source_lead=lead,
            )
        result = Conversion(contact=made_contact, company=made_company, deal=made_deal)
        heir = made_deal or made_contact or made_company
        Activity.objects.filter(
            target_type=ContentType.objects.get_for_model(Lead), target_id=lead.pk
        ).update(
            target_type=ContentType.objects.get_for_model(heir),
            target_id=heir.pk,
            updated_at=timezone.now(),
        )
        old_status = lead.status
        status = default_status(LeadState.CONVERTED)
        try:
            lead.convert(status=status)
        except TransitionNotAllowed as error:
            raise DomainError(
                _("Give at least one way to reach the person: a phone, an e-mail or a messenger.")
            ) from error
        lead.contact, lead.company, lead.deal = made_contact, made_company, made_deal
        lead.closed_at = timezone.now()
        if lead.first_response_at is None:
            lead.first_response_at = lead.closed_at
        mark_taken(lead, lead.closed_at)
        try:
            lead.save()
        except ConcurrentTransition as error:
            raise InvalidTransition(
                _("Someone moved this lead a moment ago: reload and try again.")
            ) from error
        enter_status(lead, status, at=lead.closed_at)
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.moved",
            data={
                "from": old_status.name,
                "to": status.name,
                "from_state": old_status.state,
                "to_state": status.state,
            },
        )
        _record_converted(actor, lead, result, reused)
        inbox_changed(lead, actor=actor, owners=[lead.owner_id])
    return result


def lead_convert_to_deal(*, actor: Membership, lead: Lead) -> Conversion:
    """Bulk conversion of one lead: a deal in the default pipeline with the lead's contact
    (the matching one, or a new one) and company (the matching one, or a new one when the
    lead names it). Same errors as `lead_convert`."""
    contact, company = lead_matches(actor=actor, lead=lead)
    return lead_convert(
        actor=actor,
        lead=lead,
        contact=Target(record=contact),
        company=Target(record=company) if company or lead.company_name else None,
        deal={},
    )
