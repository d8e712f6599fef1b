"""What an import can fill, per entity: the field keys a column maps to, their labels and
how a cell is read (`Kind`). Custom fields of the entity come after, as `cf_<key>`.

A field marked `multi` takes several columns (Bitrix24 has a column per kind of phone;
notes may come from several): their values are joined. `transfer/headers.py` says which
header means which key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm import customfields
from crm.models import CustomField
from transfer.models import Entity

CUSTOM = customfields.PREFIX  # "cf_", as the forms name custom fields


class Kind(StrEnum):
    TEXT = "text"
    NOTE = "note"  # free text, several lines
    PHONE = "phone"
    EMAIL = "email"
    DATE = "date"
    DATETIME = "datetime"
    DECIMAL = "decimal"
    CURRENCY = "currency"
    MEMBER = "member"  # a member by name or e-mail
    STATUS = "status"  # a lead status by name
    SOURCE = "source"  # a lead source by name
    PIPELINE = "pipeline"
    STAGE = "stage"
    CUSTOM = "custom"


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str | Promise
    kind: Kind = Kind.TEXT
    multi: bool = False


def _spec(key: str, label: str | Promise, kind: Kind = Kind.TEXT, multi: bool = False) -> FieldSpec:
    return FieldSpec(key=key, label=label, kind=kind, multi=multi)


EXTERNAL_ID = _spec("external_id", _("External ID"))
NAME_PARTS = (
    _spec("last_name", _("Last name")),
    _spec("first_name", _("First name")),
    _spec("middle_name", _("Middle name")),
)
REACH = (
    _spec("phone", _("Phone"), Kind.PHONE, multi=True),
    _spec("email", _("E-mail"), Kind.EMAIL, multi=True),
    _spec("telegram", "Telegram"),
    _spec("whatsapp", "WhatsApp", Kind.PHONE),
    _spec("vk", _("VK")),
)
OWNER = _spec("owner", _("Responsible"), Kind.MEMBER)
CREATED = _spec("created_at", _("Created"), Kind.DATETIME)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    Entity.LEADS: (
        EXTERNAL_ID,
        _spec("title", _("Title")),
        _spec("name", _("Contact name")),
        *NAME_PARTS,
        _spec("company_name", _("Company")),
        _spec("position", pgettext_lazy("job", "Position")),
        *REACH,
        _spec("message", _("Comment"), Kind.NOTE, multi=True),
        _spec("source", _("Source"), Kind.SOURCE),
        _spec("status", _("Status"), Kind.STATUS),
        OWNER,
        _spec("amount", _("Amount"), Kind.DECIMAL),
        _spec("currency", _("Currency"), Kind.CURRENCY),
        _spec("utm_source", "utm_source"),
        _spec("utm_medium", "utm_medium"),
        _spec("utm_campaign", "utm_campaign"),
        _spec("utm_content", "utm_content"),
        _spec("utm_term", "utm_term"),
        CREATED,
    ),
    Entity.CONTACTS: (
        EXTERNAL_ID,
        _spec("name", _("Full name")),
        *NAME_PARTS,
        _spec("company", _("Company")),
        _spec("position", pgettext_lazy("job", "Position")),
        *REACH,
        _spec("notes", _("Notes"), Kind.NOTE, multi=True),
        OWNER,
        CREATED,
    ),
    Entity.COMPANIES: (
        EXTERNAL_ID,
        _spec("name", _("Name")),
        _spec("tax_id", _("Tax id (INN)")),
        _spec("phone", _("Phone"), Kind.PHONE, multi=True),
        _spec("email", _("E-mail"), Kind.EMAIL, multi=True),
        _spec("website", _("Website")),
        _spec("address", _("Address"), multi=True),
        _spec("notes", _("Notes"), Kind.NOTE, multi=True),
        OWNER,
        CREATED,
    ),
    Entity.DEALS: (
        EXTERNAL_ID,
        _spec("title", _("Title")),
        _spec("amount", _("Amount"), Kind.DECIMAL),
        _spec("currency", _("Currency"), Kind.CURRENCY),
        _spec("pipeline", _("Pipeline"), Kind.PIPELINE),
        _spec("stage", _("Stage"), Kind.STAGE),
        _spec("contact_name", _("Contact")),
        _spec("phone", _("Contact's phone"), Kind.PHONE, multi=True),
        _spec("email", _("Contact's e-mail"), Kind.EMAIL, multi=True),
        _spec("company", _("Company")),
        OWNER,
        _spec("expected_close", _("Expected close date"), Kind.DATE),
        _spec("closed_at", _("Closed"), Kind.DATETIME),
        _spec("notes", _("Comment"), Kind.NOTE, multi=True),
        CREATED,
    ),
}

CUSTOM_ENTITY = {
    Entity.LEADS: "lead",
    Entity.CONTACTS: "contact",
    Entity.COMPANIES: "company",
    Entity.DEALS: "deal",
}


def field_specs(entity: str) -> list[FieldSpec]:
    """The fields of `entity` an import can fill, the workspace's custom fields last."""
    custom = [
        FieldSpec(key=CUSTOM + d.key, label=d.label, kind=Kind.CUSTOM)
        for d in customfields.definitions(entity=CUSTOM_ENTITY[entity])
    ]
    return [*FIELDS[entity], *custom]


def custom_definitions(entity: str) -> dict[str, CustomField]:
    """The entity's custom fields by their mapping key (`cf_<key>`)."""
    return {CUSTOM + d.key: d for d in customfields.definitions(entity=CUSTOM_ENTITY[entity])}
