"""Field changes with their values: what a "*.changed" event keeps and how it reads.

The one service that edits a record (lead_update, deal_update, record_update, lead_assign)
records `{"changes": {field: [old, new]}}` with compact JSON values: text, numbers as text
(amounts keep their cents), dates as ISO text, lists of text, yes/no, and members and other
records by name (their name at the time, as people saw it). Custom fields are changes of
their own, `custom.<key>`, with the field's label in `labels` (the definition may go later).
An amount change also keeps the record's `currency`.

`change_lines` turns an event back into (label, old, new) texts for the timeline: labels
from the model's verbose names, choices by their label, money and dates in the reader's
format. The texts are plain: the template escapes them.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import CustomField, Membership, TimelineEvent
from crm.periods import local_text

CUSTOM = "custom."
EMPTY = "—"
# Names a model's verbose names do not give (the owner field is generic; products are a
# relation) — as the cards call them.
LABELS = {
    "owner": gettext_lazy("responsible"),
    "products": gettext_lazy("products"),
    "custom": gettext_lazy("custom fields"),
}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def value_of(value: Any) -> Any:
    """A field's value as the history keeps it (None for empty)."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):  # and datetimes: ISO text with the offset
        return value.isoformat()
    if isinstance(value, Membership):
        return str(value.user)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, list | tuple):
        return [str(value_of(v)) for v in value if value_of(v) is not None] or None
    return str(value)


class Changes:
    """The changes one service call makes to a record, in the shape the timeline keeps."""

    def __init__(self) -> None:
        self.changes: dict[str, list[Any]] = {}
        self.labels: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __contains__(self, name: str) -> bool:
        return name in self.changes

    def keys(self) -> Any:
        return self.changes.keys()

    def add(self, name: str, old: Any, new: Any, *, force: bool = False) -> None:
        """Record `name` going from `old` to `new` (nothing when both read the same, unless
        `force`: two members of the same name are still two)."""
        pair = [value_of(old), value_of(new)]
        if pair[0] != pair[1] or force:
            self.changes[name] = pair

    def add_default(self, name: str, old: Any, new: Any) -> None:
        if name not in self.changes:
            self.add(name, old, new)

    def add_custom(self, entity: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """One change per custom field whose value differs (members by name)."""
        defs = {
            d.key: d
            for d in CustomField.objects.filter(entity=entity).only("key", "label", "field_type")
        }
        keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
        members = _member_names(
            [
                v
                for k in keys
                if k in defs and defs[k].field_type == CustomField.Type.USER
                for v in (old.get(k), new.get(k))
                if isinstance(v, int)
            ]
        )
        for key in keys:
            definition = defs.get(key)
            before, after = old.get(key), new.get(key)
            if definition is not None and definition.field_type == CustomField.Type.USER:
                before, after = members.get(before, before), members.get(after, after)
            self.add(CUSTOM + key, before, after)
            if CUSTOM + key in self.changes:
                self.labels[CUSTOM + key] = definition.label if definition else key

    def set_fields(
        self, record: models.Model, data: dict[str, Any], editable: tuple[str, ...], entity: str
    ) -> None:
        """Set `record`'s `editable` fields from `data` where they differ, recording each."""
        for field, value in data.items():
            if field not in editable:
                continue
            old = getattr(record, field)
            if old == value:
                continue
            if field == "custom":
                self.add_custom(entity, old or {}, value or {})
            else:
                self.add(field, old, value)
            setattr(record, field, value)

    def event_data(self, *, currency: str = "") -> dict[str, Any]:
        data: dict[str, Any] = {"changes": self.changes}
        if self.labels:
            data["labels"] = self.labels
        if currency and "amount" in self.changes:
            data["currency"] = currency
        return data


def _member_names(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {m.pk: str(m.user) for m in Membership.objects.filter(pk__in=ids).select_related("user")}


# --- Reading ----------------------------------------------------------------------------


def _model(event: TimelineEvent) -> type[models.Model] | None:
    return ContentType.objects.get_for_id(event.target_type_id).model_class()


def _field(model: type[models.Model] | None, name: str) -> Any:
    try:
        return model._meta.get_field(name) if model else None
    except FieldDoesNotExist:
        return None


def field_label(event: TimelineEvent, name: str) -> str:
    """A changed field's human name: the custom field's label, the model's verbose name."""
    labels = event.data.get("labels") or {}
    if name in labels:
        return str(labels[name])
    if name in LABELS:
        return str(LABELS[name])
    if name.startswith(CUSTOM):
        return name.removeprefix(CUSTOM)
    return str(getattr(_field(_model(event), name), "verbose_name", name))


def _number(value: Any, places: int | None) -> str:
    number = Decimal(str(value))
    if places is None:
        places = 0 if number == number.to_integral() else 2
    return number_format(number, places, force_grouping=True)


def _text(field: Any, name: str, value: Any, currency: str) -> str:
    """One value as the reader sees it; unreadable values as they were kept."""
    if value is None or value in ("", [], "None"):  # "None": events before values were kept
        return EMPTY
    try:
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or EMPTY
        if getattr(field, "flatchoices", None):
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(field, models.DecimalField):
            text = _number(value, field.decimal_places)
            return f"{text} {currency}" if currency and name == "amount" else text
        if isinstance(field, models.DateTimeField):
            return local_text(value) or str(value)
        if isinstance(field, models.DateField) or (
            name.startswith(CUSTOM) and isinstance(value, str) and ISO_DATE.match(value)
        ):
            return date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
        if name.startswith(CUSTOM) and isinstance(value, int | float):
            return _number(value, None)
    except (ValueError, TypeError, InvalidOperation):
        pass
    return str(value)


def change_lines(event: TimelineEvent) -> list[tuple[str, str, str]]:
    """(label, old, new) of each field an event changed, in the reader's language."""
    changes = event.data.get("changes")
    if event.kind == "lead.assigned":  # "made B responsible" says the new one: add who was
        was = event.data.get("from")
        changes = {"owner": [was, event.data.get("to")]} if was else None
    if not isinstance(changes, dict):
        return []
    model = _model(event)
    currency = str(event.data.get("currency") or "")
    lines = []
    for name, pair in changes.items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        field = _field(model, name)
        old, new = (_text(field, name, value, currency) for value in pair)
        lines.append((field_label(event, name), old, new))
    return lines
