"""What every list's filters share: the responsible filter and the custom fields.

One base for leads, deals, contacts and companies: `owner` is "me", "none" (unassigned) or
a member's id, its member options read only when its <select> is rendered; every custom
field of the model's entity gets a filter field (cf_<key>) validated by its type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.choices import BaseChoiceIterator
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


class RecordFilterSet(django_filters.FilterSet):
    """Base of the list filters of owned records (the model has `access_entity`)."""

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

    def filter_owner(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Any other value finds nothing: ids are only ever looked up in this tenant.
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "me":
            return queryset.filter(owner=self.actor)
        member_id = parse_id(value)
        return queryset.filter(owner_id=member_id) if member_id else queryset.none()
