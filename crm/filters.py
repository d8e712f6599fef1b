"""What every list's filters share: the responsible filter, the custom fields, and the
filters a report's drill-down link sets.

One base for leads, deals, contacts and companies: `owner` is "me", "none" (unassigned) or
a member's id, its member options read only when its <select> is rendered; every custom
field of the model's entity gets a filter field (cf_<key>) validated by its type. A list
names its report filters (`report_filters`): they are not in its panel, so the page sums
them up with a link that drops them (`report_items`, `report_clear_query`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.choices import BaseChoiceIterator
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from crm import customfields, periods
from crm.ids import parse_id
from crm.models import Membership

OWNER_SHORTCUTS = [("", _("Anyone")), ("me", _("Me")), ("none", _("Unassigned"))]


class LazyChoices(BaseChoiceIterator):
    """Options read when a <select> is rendered, not when its form is built (the filter
    panel and the bulk bar of a list are often not on the page)."""

    def __init__(self, load: Callable[[], list[tuple[Any, str]]]) -> None:
        self.load = load

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        yield from self.load()


class SharedChoices:
    """Options that several <select>s of one page show (filters, bulk bar): each list is
    read once per page, as (id, label) pairs, without building model instances."""

    @cached_property
    def members(self) -> list[tuple[int, str]]:
        rows = (
            Membership.objects.filter(is_active=True, is_system=False)
            .order_by("user__full_name", "user__email")
            .values_list("pk", "user__full_name", "user__email")
        )
        return [(pk, full_name or email) for pk, full_name, email in rows]


class LocalDayFilter(django_filters.DateFilter):
    """A day typed into a filter, read as a day of the workspace's calendar.

    `edge="from"` keeps instants from that local day's start on, `edge="to"` those before
    the next local day's start: a plain range on the column (its index serves it), where a
    `__date` lookup would convert every row. Days at the calendar's ends filter nothing.
    """

    def __init__(self, *args: Any, edge: str, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(*args, **kwargs)
        self.edge = edge

    def filter(self, qs: QuerySet, value: dt.date | None) -> QuerySet:
        if value is None or value.year in (dt.MINYEAR, dt.MAXYEAR):
            return qs
        if self.edge == "from":
            return qs.filter(**{f"{self.field_name}__gte": periods.day_start(value)})
        next_day = value + dt.timedelta(days=1)
        return qs.filter(**{f"{self.field_name}__lt": periods.day_start(next_day)})


# The value of a text filter that matches a blank column ("" cannot say it: it means "any").
BLANK = "(none)"
# The value of an id filter that matches rows without one.
NO_ID = "none"


class IntegerFilter(django_filters.Filter):
    """A whole number; bounds with `min_value`/`max_value` (out of range: a form error)."""

    field_class = forms.IntegerField


class IdsOrNoneField(forms.Field):
    """Several record ids (?channel=3&channel=5), or "none" among them for rows without."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": _("Enter record numbers or “none”.")}

    def to_python(self, value: Any) -> list[int | str]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        cleaned: list[int | str] = []
        for item in values:
            number = parse_id(item)
            if number is None and str(item).strip() != NO_ID:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            cleaned.append(NO_ID if number is None else number)
        return cleaned


class IdsOrNoneFilter(django_filters.Filter):
    """Rows whose `field_name` (a plain id column) is one of the ids, or null for "none"."""

    field_class = IdsOrNoneField

    def filter(self, qs: QuerySet, value: list[int | str]) -> QuerySet:
        if not value:
            return qs
        ids = [item for item in value if item != NO_ID]
        wanted = Q(**{f"{self.field_name}__in": ids}) if ids else Q(pk__in=[])
        if NO_ID in value:
            wanted |= self.none_q()
        return qs.filter(wanted)

    def none_q(self) -> Q:
        return Q(**{f"{self.field_name}__isnull": True})


class ExactOrBlankFilter(django_filters.CharFilter):
    """An exact text value as typed (not stripped), or BLANK for an empty column. With
    `blank_if_null` (a relation), BLANK also matches rows without that relation (a deal
    without a source lead has no UTM tags either)."""

    def __init__(self, *args: Any, blank_if_null: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        kwargs.setdefault("max_length", 200)
        super().__init__(*args, **kwargs)
        self.blank_if_null = blank_if_null

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if value in ("", None):
            return qs
        if value != BLANK:
            return qs.filter(**{self.field_name: value})
        blank = Q(**{self.field_name: ""})
        if self.blank_if_null:
            blank |= Q(**{f"{self.blank_if_null}__isnull": True})
        return qs.filter(blank)


class PeriodFilter(django_filters.ChoiceFilter):
    """A named period (today, this week, last month…) of the workspace's calendar."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", list(periods.PRESETS.items()))
        kwargs.setdefault("empty_label", _("Any time"))
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if not value:
            return qs
        period = periods.preset(value)
        return qs.filter(
            **{f"{self.field_name}__gte": period.start, f"{self.field_name}__lt": period.end}
        )


@dataclass(frozen=True)
class ReportItem:
    """One report filter as the page sums it up."""

    label: str
    value: str
    invalid: bool = False


def _display(field: forms.Field, value: Any) -> str:
    """A cleaned filter value as the summary shows it."""
    values = value if isinstance(value, list | tuple) else [value]
    # A model choice is already its instance (and listing its options is a query).
    plain = isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField)
    choices = {str(key): label for key, label in field.choices} if plain else {}
    shown = []
    for item in values:
        if isinstance(item, dt.date):
            shown.append(date_format(item, "SHORT_DATE_FORMAT"))
        elif item in (BLANK, NO_ID):
            shown.append(str(_("none")))
        elif choices and str(item) in choices:
            shown.append(str(choices[str(item)]))
        else:
            shown.append(str(item))
    return ", ".join(shown)


class RecordFilterSet(django_filters.FilterSet):
    """Base of the list filters of owned records (the model has `access_entity`)."""

    # Filters a report's drill-down link sets, outside the visible panel (report_items).
    report_filters: tuple[str, ...] = ()

    owner = django_filters.CharFilter(
        label=_("Responsible"), method="filter_owner", widget=forms.Select
    )
    # Whether a list opened without parameters gets its custom field filters (a query of
    # the definitions): not when they are shown only in a panel that needs parameters.
    custom_fields_unbound = True
    # The filters a list opened without parameters shows (None: all). Only these are
    # copied for it: django-filter deep-copies every declared filter per instance.
    unbound_filters: tuple[str, ...] | None = None

    def __init__(
        self,
        data: Any = None,
        *args: Any,
        actor: Membership,
        region: str,
        choices: SharedChoices | None = None,
        **kwargs: Any,
    ) -> None:
        if data is None and self.unbound_filters is not None:
            # Read by FilterSet.__init__, which copies them into self.filters.
            self.base_filters = {
                name: declared
                for name, declared in type(self).base_filters.items()
                if name in self.unbound_filters
            }
        super().__init__(data, *args, **kwargs)
        self.actor, self.region = actor, region
        self.choices = choices or SharedChoices()

    def prepare_form(self, form: forms.Form) -> None:
        """Adjust the built form (subclasses: lazy options of their own)."""

    @property
    def form(self) -> forms.Form:
        """The filter form plus a field per custom field of the entity (cf_<key>)."""
        if not hasattr(self, "_form"):
            form = super().form
            choices = self.choices
            if "owner" in form.fields:
                form.fields["owner"].widget.choices = LazyChoices(
                    lambda: [*OWNER_SHORTCUTS, *choices.members]
                )
            self.prepare_form(form)
            self.custom_fields = (
                customfields.add_form_fields(
                    form, entity=self._meta.model.access_entity, for_filter=True
                )
                if self.is_bound or self.custom_fields_unbound
                else []
            )
        return self._form

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """The declared filters, then one per custom field that has a value."""
        by_name = {customfields.PREFIX + d.key: d for d in self.custom_fields}
        for name, value in self.form.cleaned_data.items():
            if name in self.filters:
                queryset = self.filters[name].filter(queryset, value)
            elif name in by_name and value not in (None, "", []):
                queryset = queryset.filter(customfields.filter_q(by_name[name], value))
        return queryset

    @property
    def report_items(self) -> list[ReportItem]:
        """The report filters the page is narrowed by (or that it could not read), in
        declaration order, as label and value."""
        if not self.is_bound or not self.report_filters:
            return []
        form = self.form
        valid = form.is_valid()
        items = []
        for name in self.report_filters:
            raw = self.data.getlist(name) if hasattr(self.data, "getlist") else self.data.get(name)
            if not raw or raw == [""]:
                continue
            field = form.fields[name]
            if name in form.errors:
                items.append(ReportItem(field.label, _("not understood"), invalid=True))
            elif valid and form.cleaned_data.get(name) not in (None, "", []):
                items.append(ReportItem(field.label, _display(field, form.cleaned_data[name])))
        return items

    @property
    def report_clear_query(self) -> str:
        """The list's query string without the report filters, the count they asked for
        and the page position."""
        params = self.data.copy() if isinstance(self.data, QueryDict) else QueryDict(mutable=True)
        for name in (*self.report_filters, "total", "after"):
            params.pop(name, None)
        return params.urlencode()

    def filter_owner(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Any other value finds nothing: ids are only ever looked up in this tenant.
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "me":
            return queryset.filter(owner=self.actor)
        member_id = parse_id(value)
        return queryset.filter(owner_id=member_id) if member_id else queryset.none()
