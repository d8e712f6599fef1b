"""Filters of the lead lists (django-filter over selector querysets)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import periods
from crm.filters import LazyChoices, LocalDayFilter, PeriodFilter, RecordFilterSet
from crm.models import Membership, Team
from crm.selectors import due_target_ids
from leads import selectors
from leads.models import OPEN_STATES, Lead, LeadSource, LeadState, Temperature

SORTS = {
    "-created": ("-created_at", "-pk"),
    "created": ("created_at", "pk"),
    "-amount": ("-amount", "-pk"),
    "title": ("title", "pk"),
}


class LeadFilter(RecordFilterSet):
    """Status, state, source, owner, team, temperature, dates, text search and presets."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        help_text=_("Beginning of a word of the name, title or company; a phone; an e-mail"),
    )
    # distinct=False everywhere: these filter plain columns, and DISTINCT defeats the LIMIT.
    # Querysets as callables: made when the panel's form is built, inside the tenant.
    status = django_filters.ModelMultipleChoiceFilter(
        label=_("Status"), queryset=lambda request: selectors.statuses(), distinct=False
    )
    state = django_filters.MultipleChoiceFilter(
        label=_("State"), choices=LeadState.choices, distinct=False
    )
    source = django_filters.MultipleChoiceFilter(
        label=_("Source"), choices=LeadSource.choices, distinct=False
    )
    team = django_filters.ModelChoiceFilter(
        label=_("Team"),
        method="filter_team",
        queryset=lambda request: Team.objects.order_by("name"),
    )
    temperature = django_filters.MultipleChoiceFilter(
        label=_("Temperature"), choices=Temperature.choices, distinct=False
    )
    created = PeriodFilter(label=_("Created"), field_name="created_at")
    created_after = LocalDayFilter(label=_("Created from"), field_name="created_at", edge="from")
    created_before = LocalDayFilter(label=_("Created to"), field_name="created_at", edge="to")
    preset = django_filters.ChoiceFilter(
        label=_("Preset"),
        method="filter_preset",
        empty_label=_("All"),
        choices=[
            ("mine", _("Mine")),
            ("unassigned", _("Unassigned")),
            ("overdue", _("Overdue")),
            ("due_today", _("Due today")),
            ("archived", _("Archived")),
        ],
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    # The panel (with the custom fields) renders only for a bound filter: see panel_open.
    custom_fields_unbound = False
    unbound_filters = ("q", "preset")

    # Shown in the collapsed panel (the search and the preset are always on the page).
    PANEL = (
        "owner",
        "created",
        "created_after",
        "created_before",
        "status",
        "state",
        "source",
        "team",
        "temperature",
        "sort",
    )

    @property
    def panel_open(self) -> bool:
        """The panel is rendered open when asked for or when one of its filters is set."""
        data = self.data or {}
        return "filters" in data or any(
            data.get(name) for name in data if name in self.PANEL or name.startswith("cf_")
        )

    def __init__(self, *args: Any, archive: bool = True, **kwargs: Any) -> None:
        """`archive`: whether the list offers the archived leads (the inbox does not: they
        are junk, never in it)."""
        kwargs.setdefault("choices", selectors.LeadChoices())
        super().__init__(*args, **kwargs)
        self.archive = archive
        # The cap of a name search that found more leads (the page says so), else 0.
        self.search_capped_at = 0

    def prepare_form(self, form: forms.Form) -> None:
        # Options from the page's shared lists (the queryset still validates input).
        choices = self.choices
        if not self.archive and "preset" in form.fields:
            preset = form.fields["preset"]
            preset.choices = [c for c in preset.choices if c[0] != "archived"]
        if "status" in form.fields:
            form.fields["status"].widget.choices = LazyChoices(lambda: choices.statuses)

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        found = selectors.search(queryset, value, region=self.region, actor=self.actor)
        self.search_capped_at = selectors.SEARCH_MATCHES if found.capped else 0
        return found.rows

    def filter_team(self, queryset: QuerySet[Lead], name: str, value: Team) -> QuerySet[Lead]:
        # A semi-join on the team's members, not a join through every lead's owner.
        return queryset.filter(owner_id__in=Membership.objects.filter(team=value).values("pk"))

    def filter_preset(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        if value == "mine":
            return queryset.filter(owner=self.actor, state__in=OPEN_STATES)
        if value == "unassigned":
            return queryset.filter(owner__isnull=True, state=LeadState.NEW)
        if value == "overdue":
            # Open leads with an activity due in the past and not done.
            return queryset.filter(
                Q(state__in=OPEN_STATES), pk__in=due_target_ids(model=Lead, end=timezone.now())
            )
        if value == "due_today":
            # Open leads with an activity not done that is due today, the workspace's day.
            today = periods.preset("today")
            return queryset.filter(
                Q(state__in=OPEN_STATES),
                pk__in=due_target_ids(model=Lead, start=today.start, end=today.end),
            )
        if value == "archived":
            # The list reads them from selectors.lead_list(archived=True); on any other
            # queryset the preset keeps only archived rows all the same.
            return queryset.exclude(archived_at=None)
        return queryset
