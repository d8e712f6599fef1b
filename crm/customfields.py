"""Custom fields: one mechanism for leads, deals, contacts and companies.

A tenant defines fields per entity (text, number, date, choice, several choices, yes/no,
team member); their values live in the record's `custom` JSON under the field's key. This
module turns definitions into form fields, clean JSON values, card lines and list filters.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.errors import DomainError
from crm.models import CustomField, Membership

PREFIX = "cf_"
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def definitions(*, entity: str) -> list[CustomField]:
    """The tenant's fields for one entity, in form order."""
    return list(CustomField.objects.filter(entity=entity).order_by("position", "pk"))


def all_definitions() -> list[CustomField]:
    """Every field of the tenant, grouped by entity in form order."""
    return list(CustomField.objects.order_by("entity", "position", "pk"))


def field_get(*, field_id: int) -> CustomField:
    field = CustomField.objects.filter(pk=field_id).first()
    if field is None:
        raise Http404
    return field


def _members() -> QuerySet[Membership]:
    return (
        Membership.objects.filter(is_active=True, is_system=False)
        .select_related("user")
        .order_by("user__full_name")
    )


class _MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.user)


def form_field(definition: CustomField, *, for_filter: bool = False) -> forms.Field:
    """The Django form field that edits (or filters by) one custom field."""
    required = definition.required and not for_filter
    label = definition.label
    choices = [(c, c) for c in definition.choices]
    kind = definition.field_type
    if kind == CustomField.Type.NUMBER:
        return forms.DecimalField(label=label, required=required, max_digits=18, decimal_places=4)
    if kind == CustomField.Type.DATE:
        return forms.DateField(
            label=label, required=required, widget=forms.DateInput(attrs={"type": "date"})
        )
    if kind == CustomField.Type.CHOICE or (for_filter and kind == CustomField.Type.MULTI_CHOICE):
        return forms.ChoiceField(label=label, required=required, choices=[("", "—"), *choices])
    if kind == CustomField.Type.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            label=label,
            required=required,
            choices=choices,
            widget=forms.SelectMultiple(attrs={"size": min(5, len(choices) or 1)}),
        )
    if kind == CustomField.Type.BOOL:
        if for_filter:
            return forms.NullBooleanField(
                label=label,
                required=False,
                widget=forms.Select(
                    choices=[
                        ("unknown", "—"),
                        ("true", gettext_lazy("Yes")),
                        ("false", gettext_lazy("No")),
                    ]
                ),
            )
        return forms.BooleanField(label=label, required=required)
    if kind == CustomField.Type.USER:
        return _MemberChoice(label=label, required=required, queryset=_members())
    return forms.CharField(label=label, required=required, max_length=500)


def add_form_fields(
    form: forms.BaseForm,
    *,
    entity: str,
    custom: dict[str, Any] | None = None,
    for_filter: bool = False,
) -> list[CustomField]:
    """Add a form field per definition (named cf_<key>), filled from `custom`."""
    defs = definitions(entity=entity)
    for definition in defs:
        name = PREFIX + definition.key
        form.fields[name] = form_field(definition, for_filter=for_filter)
        if custom and definition.key in custom and not form.is_bound:
            form.initial[name] = _initial(definition, custom[definition.key])
    return defs


def _initial(definition: CustomField, value: Any) -> Any:
    if definition.field_type == CustomField.Type.DATE and value:
        return datetime.date.fromisoformat(value)
    return value


def to_json(definition: CustomField, value: Any) -> Any:
    """A cleaned form value as stored in `custom` (None when empty)."""
    if value in (None, "", []):
        return None
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Membership):
        return value.pk
    return value


def values_from(
    form: forms.BaseForm, defs: list[CustomField], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """The record's new `custom` dict: defined fields from the form, unknown keys kept."""
    custom = dict(previous or {})
    for definition in defs:
        value = to_json(definition, form.cleaned_data.get(PREFIX + definition.key))
        if value is None:
            custom.pop(definition.key, None)
        else:
            custom[definition.key] = value
    return custom


def display(
    defs: list[CustomField], custom: dict[str, Any], members: dict[int, str] | None = None
) -> list[tuple[str, str]]:
    """(label, text) lines of a record's custom values, for cards."""
    lines = []
    for definition in defs:
        text = _text(definition, (custom or {}).get(definition.key), members)
        if text:
            lines.append((definition.label, text))
    return lines


def _text(definition: CustomField, value: Any, members: dict[int, str] | None) -> str:
    if value in (None, "", []):
        return ""
    if definition.field_type == CustomField.Type.BOOL:
        return _("Yes") if value else _("No")
    if definition.field_type == CustomField.Type.DATE:
        return date_format(datetime.date.fromisoformat(value), "SHORT_DATE_FORMAT")
    if definition.field_type == CustomField.Type.MULTI_CHOICE:
        return ", ".join(value)
    if definition.field_type == CustomField.Type.USER:
        return (members or {}).get(value, "—")
    return str(value)


def card_fields(
    defs: list[CustomField], custom: dict[str, Any], members: dict[int, str] | None = None
) -> list[tuple[str, str, str]]:
    """(form field name, label, text) of every custom field of a card, empty ones with ""
    (a card editable in place shows them to fill in)."""
    return [(PREFIX + d.key, d.label, _text(d, (custom or {}).get(d.key), members)) for d in defs]


def member_names(defs: list[CustomField], custom: dict[str, Any]) -> dict[int, str]:
    """Names of the members that user-type fields point to (one query)."""
    ids = [
        custom.get(d.key)
        for d in defs
        if d.field_type == CustomField.Type.USER and custom.get(d.key)
    ]
    if not ids:
        return {}
    return {m.pk: str(m.user) for m in Membership.objects.filter(pk__in=ids).select_related("user")}


def map_values(custom: dict[str, Any], *, source: str, target: str) -> dict[str, Any]:
    """Carry `custom` values of a `source` entity's fields to the same-named fields of
    `target` (same key, or the same label ignoring case) of the same type; a choice is
    carried only when the target offers it. Lead conversion uses this."""
    if not custom:
        return {}
    targets = definitions(entity=target)
    by_key = {d.key: d for d in targets}
    by_label = {d.label.strip().casefold(): d for d in targets}
    carried: dict[str, Any] = {}
    for field in definitions(entity=source):
        value = custom.get(field.key)
        if value in (None, "", []):
            continue
        to = by_key.get(field.key) or by_label.get(field.label.strip().casefold())
        if to is None or to.field_type != field.field_type:
            continue
        if to.field_type == CustomField.Type.CHOICE and value not in to.choices:
            continue
        if to.field_type == CustomField.Type.MULTI_CHOICE:
            value = [v for v in value if v in to.choices]
            if not value:
                continue
        carried[to.key] = value
    return carried


def filter_q(definition: CustomField, value: Any) -> Q:
    """A filter on `custom` that works on PostgreSQL and SQLite alike."""
    path = f"custom__{definition.key}"
    kind = definition.field_type
    if kind == CustomField.Type.TEXT:
        return Q(**{f"{path}__icontains": value})
    if kind == CustomField.Type.MULTI_CHOICE:
        # The list is matched as JSON text: the quoted element must be in it.
        return Q(**{f"{path}__icontains": f'"{value}"'})
    return Q(**{path: to_json(definition, value)})


# --- Admin: defining fields ---------------------------------------------------------------


def field_save(
    *, actor: Membership, field: CustomField | None, data: dict[str, Any]
) -> CustomField:
    """Create or change a field definition; the key and type stay fixed once created."""
    from crm.services import timeline_record

    choices = [c.strip() for c in data.get("choices") or [] if c.strip()]
    if (
        data["field_type"] in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE)
        and not choices
    ):
        raise DomainError(_("List the choices, one per line."))
    with transaction.atomic():
        if field is None:
            key = data["key"]
            if not KEY_RE.match(key):
                raise DomainError(
                    _("The key uses lowercase Latin letters, digits and _, starting with a letter.")
                )
            if CustomField.objects.filter(entity=data["entity"], key=key).exists():
                raise DomainError(_("This key is already used for these records."))
            field = CustomField.objects.create(
                entity=data["entity"],
                key=key,
                label=data["label"],
                field_type=data["field_type"],
                choices=choices,
                required=data.get("required", False),
                position=data.get("position") or 0,
            )
            kind = "field.created"
        else:
            field.label, field.choices = data["label"], choices
            field.required, field.position = data.get("required", False), data.get("position") or 0
            field.save(update_fields=["label", "choices", "required", "position", "updated_at"])
            kind = "field.changed"
        timeline_record(actor=actor, target=field, kind=kind, data={"field": field.label})
    return field


def field_delete(*, actor: Membership, field: CustomField) -> None:
    """Remove a field definition; values stay in records' data but are no longer shown."""
    from crm.services import timeline_record

    with transaction.atomic():
        timeline_record(
            actor=actor, target=field, kind="field.deleted", data={"field": field.label}
        )
        field.delete()
