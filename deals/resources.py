"""Deal export (django-import-export): the list's columns, or every field of the card with
the custom fields. Raw values (dates as dates): `crm.exports.write_table` writes the cells
(local time, formula-safe, strings only)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from import_export import fields

from crm import nextactivity
from crm.exports import ExportResource, member_name
from deals.models import Deal


class DealExportResource(ExportResource):
    """The list's date, title, customer, stage, next activity, owner, closing and amount;
    or every field of the card."""

    visible = (
        "created",
        "title",
        "company",
        "contact",
        "stage",
        "pipeline",
        "next_activity",
        "next_activity_due",
        "owner",
        "expected_close",
        "amount",
        "currency",
    )

    id = fields.Field(attribute="pk", column_name="ID")
    created = fields.Field(attribute="created_at", column_name=_("Created"))
    updated = fields.Field(attribute="updated_at", column_name=_("Updated"))
    title = fields.Field(attribute="title", column_name=_("Deal"))
    company = fields.Field(column_name=_("Company"))
    contact = fields.Field(column_name=_("Contact"))
    pipeline = fields.Field(attribute="pipeline__name", column_name=_("Pipeline"))
    stage = fields.Field(attribute="stage__name", column_name=_("Stage"))
    outcome = fields.Field(column_name=_("Outcome"))
    loss_reason = fields.Field(column_name=_("Loss reason"))
    next_activity = fields.Field(column_name=_("Next activity"))
    next_activity_due = fields.Field(column_name=_("Next activity due"))
    owner = fields.Field(column_name=_("Responsible"))
    created_by = fields.Field(column_name=_("Created by"))
    expected_close = fields.Field(attribute="expected_close", column_name=_("Closing"))
    closed = fields.Field(attribute="closed_at", column_name=_("Closed"))
    amount = fields.Field(attribute="amount", column_name=_("Amount"))
    currency = fields.Field(attribute="currency", column_name=_("Currency"))
    source_lead = fields.Field(attribute="source_lead_id", column_name=_("Lead ID"))
    external_id = fields.Field(attribute="external_id", column_name=_("External ID"))

    def dehydrate_company(self, deal: Deal) -> str:
        return deal.company.name if deal.company_id else ""

    def dehydrate_contact(self, deal: Deal) -> str:
        return deal.contact.full_name if deal.contact_id else ""

    def dehydrate_outcome(self, deal: Deal) -> str:
        return str(deal.get_outcome_display())

    def dehydrate_loss_reason(self, deal: Deal) -> str:
        return deal.loss_reason.name if deal.loss_reason_id else ""

    def dehydrate_next_activity(self, deal: Deal) -> str:
        upcoming = nextactivity.parse(getattr(deal, "upcoming", None))
        return upcoming.subject if upcoming else ""

    def dehydrate_next_activity_due(self, deal: Deal) -> object:
        upcoming = nextactivity.parse(getattr(deal, "upcoming", None))
        return upcoming.due_at if upcoming else None

    def dehydrate_owner(self, deal: Deal) -> str:
        return member_name(deal.owner)

    def dehydrate_created_by(self, deal: Deal) -> str:
        return member_name(deal.created_by)
