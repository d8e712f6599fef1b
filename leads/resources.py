"""Lead export (django-import-export): the list's columns, or every field with custom fields.

The resource gives raw values (dates as dates); `crm.exports.write_table` writes every cell,
headers included: local time, formula-safe, strings only. Rows come from
`leads.selectors.lead_export_rows` (what each column reads, in the rows' own query)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from import_export import fields

from crm import nextactivity
from crm.exports import ExportResource, member_name
from leads.models import Lead


class LeadExportResource(ExportResource):
    """Columns a sales team expects, then one column per custom field of leads."""

    visible = (
        "created",
        "title",
        "name",
        "phone",
        "email",
        "source",
        "status",
        "next_activity",
        "next_activity_due",
        "owner",
        "amount",
        "currency",
    )

    id = fields.Field(attribute="pk", column_name="ID")
    created = fields.Field(attribute="created_at", column_name=_("Created"))
    updated = fields.Field(attribute="updated_at", column_name=_("Updated"))
    title = fields.Field(attribute="title", column_name=_("Title"))
    name = fields.Field(attribute="name", column_name=_("Contact name"))
    company = fields.Field(attribute="company_name", column_name=_("Company"))
    phone = fields.Field(attribute="phone", column_name=_("Phone"))
    other_phones = fields.Field(column_name=_("Other phones"))
    email = fields.Field(attribute="email", column_name=_("E-mail"))
    messenger = fields.Field(column_name=_("Messenger"))
    messenger_id = fields.Field(attribute="messenger_id", column_name=_("Messenger handle"))
    source = fields.Field(column_name=_("Source"))
    state = fields.Field(column_name=_("State"))
    status = fields.Field(attribute="status__name", column_name=_("Status"))
    next_activity = fields.Field(column_name=_("Next activity"))
    next_activity_due = fields.Field(column_name=_("Next activity due"))
    owner = fields.Field(column_name=_("Responsible"))
    created_by = fields.Field(column_name=_("Created by"))
    amount = fields.Field(attribute="amount", column_name=_("Amount"))
    currency = fields.Field(attribute="currency", column_name=_("Currency"))
    temperature = fields.Field(column_name=_("Temperature"))
    level = fields.Field(column_name=_("Qualification level"))
    score = fields.Field(attribute="score", column_name=_("Score"))
    fit_score = fields.Field(attribute="fit_score", column_name=_("Fit"))
    engagement_score = fields.Field(attribute="engagement_score", column_name=_("Engagement"))
    utm_source = fields.Field(attribute="utm_source", column_name="utm_source")
    utm_medium = fields.Field(attribute="utm_medium", column_name="utm_medium")
    utm_campaign = fields.Field(attribute="utm_campaign", column_name="utm_campaign")
    utm_content = fields.Field(attribute="utm_content", column_name="utm_content")
    utm_term = fields.Field(attribute="utm_term", column_name="utm_term")
    message = fields.Field(attribute="message", column_name=_("Message"))
    postponed_until = fields.Field(attribute="postponed_until", column_name=_("Postponed until"))
    closed = fields.Field(attribute="closed_at", column_name=_("Closed"))
    external_id = fields.Field(attribute="external_id", column_name=_("External ID"))

    def dehydrate_other_phones(self, lead: Lead) -> str:
        return ", ".join(lead.other_phones or [])

    def dehydrate_messenger(self, lead: Lead) -> str:
        return str(lead.get_messenger_display()) if lead.messenger else ""

    def dehydrate_source(self, lead: Lead) -> str:
        return str(lead.get_source_display())

    def dehydrate_state(self, lead: Lead) -> str:
        return str(lead.get_state_display())

    def dehydrate_next_activity(self, lead: Lead) -> str:
        upcoming = nextactivity.parse(getattr(lead, "upcoming", None))
        return upcoming.subject if upcoming else ""

    def dehydrate_next_activity_due(self, lead: Lead) -> object:
        upcoming = nextactivity.parse(getattr(lead, "upcoming", None))
        return upcoming.due_at if upcoming else None

    def dehydrate_owner(self, lead: Lead) -> str:
        return member_name(lead.owner)

    def dehydrate_created_by(self, lead: Lead) -> str:
        return member_name(lead.created_by)

    def dehydrate_level(self, lead: Lead) -> str:
        return str(lead.get_level_display()) if lead.level else ""

    def dehydrate_temperature(self, lead: Lead) -> str:
        return str(lead.get_temperature_display()) if lead.temperature else ""
