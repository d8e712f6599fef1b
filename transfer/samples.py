"""A file to fill in for each kind of records: its columns named as the import wizard
recognises them (in the reader's language, custom fields included) and an example row."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from crm.exports import FORMATS, render_table
from transfer.fields import field_specs
from transfer.models import Entity


def _examples() -> dict[str, dict[str, str]]:
    today = timezone.localdate().strftime("%d.%m.%Y")
    person = {
        "last_name": _("Ivanova"),
        "first_name": _("Anna"),
        "middle_name": _("Sergeevna"),
        "phone": "+7 912 345-67-89",
        "email": "anna@example.com",
        "position": _("Purchasing manager"),
        "created_at": today,
    }
    return {
        Entity.LEADS: {
            **person,
            "title": _("Price request from the site"),
            "company_name": _("Romashka LLC"),
            "message": _("Needs a quote for 20 units"),
            "amount": "150000",
            "currency": "RUB",
            "status": _("New"),
            "source": _("Web form"),
        },
        Entity.CONTACTS: {**person, "company": _("Romashka LLC"), "notes": _("Met at the fair")},
        Entity.COMPANIES: {
            "name": _("Romashka LLC"),
            "tax_id": "7707083893",
            "phone": "+7 495 123-45-67",
            "email": "info@example.com",
            "website": "example.com",
            "address": _("Moscow, Lenina st. 1"),
            "created_at": today,
        },
        Entity.DEALS: {
            "title": _("20 units for Romashka"),
            "amount": "150000",
            "currency": "RUB",
            "contact_name": _("Anna Ivanova"),
            "phone": "+7 912 345-67-89",
            "email": "anna@example.com",
            "company": _("Romashka LLC"),
            "expected_close": today,
            "created_at": today,
        },
    }


def template_file(entity: str, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the entity's template in CSV or XLSX."""
    if entity not in Entity.values or fmt not in FORMATS:
        raise ValueError(entity)
    specs = field_specs(entity)
    example = _examples()[entity]
    content = render_table(
        [str(spec.label) for spec in specs],
        [[example.get(spec.key, "") for spec in specs]],
        fmt=fmt,
    )
    return content, FORMATS[fmt], f"{entity}-template.{fmt}"
