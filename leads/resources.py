"""Lead export (django-import-export): the columns of the filtered list with custom fields.

The resource gives raw values (dates as dates); `crm.exports.render_table` writes every cell,
headers included: local time, formula-safe, strings only."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _
from import_export import fields, resources

from crm import customfields
from crm.models import CustomField
from leads.models import Lead


class LeadExportResource(resources.Resource):
    """Columns a sales team expects, then one column per custom field of leads."""

    id = fields.Field(attribute="pk", column_name="ID")
    created = fields.Field(attribute="created_at", column_name=_("Created"))
    title = fields.Field(attribute="title", column_name=_("Title"))
    name = fields.Field(attribute="name", column_name=_("Contact name"))
    company = fields.Field(attribute="company_name", column_name=_("Company"))
    phone = fields.Field(attribute="phone", column_name=_("Phone"))
    email = fields.Field(attribute="email", column_name=_("E-mail"))
    source = fields.Field(column_name=_("Source"))
    status = fields.Field(attribute="status__name", column_name=_("Status"))
    owner = fields.Field(column_name=_("Responsible"))
    amount = fields.Field(attribute="amount", column_name=_("Amount"))
    currency = fields.Field(attribute="currency", column_name=_("Currency"))
    temperature = fields.Field(column_name=_("Temperature"))
    utm_source = fields.Field(attribute="utm_source", column_name="utm_source")
    utm_medium = fields.Field(attribute="utm_medium", column_name="utm_medium")
    utm_campaign = fields.Field(attribute="utm_campaign", column_name="utm_campaign")
    message = fields.Field(attribute="message", column_name=_("Message"))

    def __init__(self, *, custom_fields: list[CustomField], members: dict[int, str]) -> None:
        super().__init__()
        self.custom_fields = custom_fields
        self.members = members
        for definition in custom_fields:
            self.fields[customfields.PREFIX + definition.key] = fields.Field(
                column_name=definition.label
            )

    def get_export_fields(self, selected_fields: Any = None) -> list[fields.Field]:
        return list(self.fields.values())

    def dehydrate_source(self, lead: Lead) -> str:
        return str(lead.get_source_display())

    def dehydrate_owner(self, lead: Lead) -> str:
        return str(lead.owner.user) if lead.owner else ""

    def dehydrate_temperature(self, lead: Lead) -> str:
        return str(lead.get_temperature_display()) if lead.temperature else ""

    def export_field(self, field: fields.Field, instance: Lead, **kwargs: Any) -> Any:
        name = next((n for n, f in self.fields.items() if f is field), "")
        if name.startswith(customfields.PREFIX):
            definition = next(d for d in self.custom_fields if customfields.PREFIX + d.key == name)
            value = (instance.custom or {}).get(definition.key)
            if definition.field_type == CustomField.Type.DATE and value:
                try:
                    return datetime.date.fromisoformat(value)
                except (TypeError, ValueError):
                    return value
            lines = customfields.display([definition], instance.custom, self.members)
            return lines[0][1] if lines else ""
        if callable(getattr(self, f"dehydrate_{name}", None)):
            return super().export_field(field, instance, **kwargs)
        return field.get_value(instance)  # raw: dates stay dates for render_table
