"""Contact and company exports (django-import-export): the list's columns, or every field of
the card with the custom fields. Raw values (dates as dates): `crm.exports.write_table`
writes the cells (local time, formula-safe, strings only)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from import_export import fields

from contacts.models import Contact, Party
from crm.exports import ExportResource, member_name


class PartyExportResource(ExportResource):
    """What contacts and companies share: ways to reach them, notes, owner, times."""

    id = fields.Field(attribute="pk", column_name="ID")
    created = fields.Field(attribute="created_at", column_name=_("Created"))
    updated = fields.Field(attribute="updated_at", column_name=_("Updated"))
    phones = fields.Field(column_name=_("Phones"))
    emails = fields.Field(column_name=_("E-mails"))
    owner = fields.Field(column_name=_("Responsible"))
    created_by = fields.Field(column_name=_("Created by"))
    notes = fields.Field(attribute="notes", column_name=_("Notes"))
    external_id = fields.Field(attribute="external_id", column_name=_("External ID"))

    def dehydrate_phones(self, record: Party) -> str:
        return ", ".join(record.phones or [])

    def dehydrate_emails(self, record: Party) -> str:
        return ", ".join(record.emails or [])

    def dehydrate_owner(self, record: Party) -> str:
        return member_name(record.owner)

    def dehydrate_created_by(self, record: Party) -> str:
        return member_name(record.created_by)


class ContactExportResource(PartyExportResource):
    """A person: the list's name, company, phones, e-mails, owner and date; or every field."""

    visible = ("full_name", "company", "position", "phones", "emails", "owner", "created")

    full_name = fields.Field(column_name=_("Full name"))
    last_name = fields.Field(attribute="last_name", column_name=_("Last name"))
    first_name = fields.Field(attribute="first_name", column_name=_("First name"))
    middle_name = fields.Field(attribute="middle_name", column_name=_("Middle name"))
    company = fields.Field(column_name=_("Company"))
    position = fields.Field(attribute="position", column_name=pgettext_lazy("job", "Position"))
    telegram = fields.Field(attribute="telegram", column_name="Telegram")
    whatsapp = fields.Field(attribute="whatsapp", column_name="WhatsApp")
    vk = fields.Field(attribute="vk", column_name=_("VK"))

    class Meta:
        export_order = (
            "id",
            "created",
            "updated",
            "full_name",
            "last_name",
            "first_name",
            "middle_name",
            "company",
            "position",
            "phones",
            "emails",
            "telegram",
            "whatsapp",
            "vk",
            "owner",
            "created_by",
            "notes",
            "external_id",
        )

    def dehydrate_full_name(self, contact: Contact) -> str:
        return contact.full_name

    def dehydrate_company(self, contact: Contact) -> str:
        return contact.company.name if contact.company_id else ""


class CompanyExportResource(PartyExportResource):
    """A firm: the list's name, tax id, phones, e-mails, owner and date; or every field."""

    visible = ("name", "tax_id", "phones", "emails", "owner", "created")

    name = fields.Field(attribute="name", column_name=_("Name"))
    tax_id = fields.Field(attribute="tax_id", column_name=_("Tax id (INN)"))
    website = fields.Field(attribute="website", column_name=_("Website"))
    address = fields.Field(attribute="address", column_name=_("Address"))

    class Meta:
        export_order = (
            "id",
            "created",
            "updated",
            "name",
            "tax_id",
            "phones",
            "emails",
            "website",
            "address",
            "owner",
            "created_by",
            "notes",
            "external_id",
        )
