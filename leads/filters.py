"""Filters of the lead lists (django-filter over selector querysets)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import ExtractHour
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import periods
from crm.filters import (
    ExactOrBlankFilter,
    IdsOrNoneFilter,
    IntegerFilter,
    LazyChoices,
    LocalDayFilter,
    PeriodFilter,
    RecordFilterSet,
)
from crm.models import Membership, Team
from crm.selectors import due_target_ids
from deals.models import Outcome
from leads import selectors
from leads.models import OPEN_STATES, Lead, LeadSource, LeadState, Level, Temperature

MATRIX_CHOICES = [(f + e, f + e) for f in "ABC" for e in "123"]

# The longest first-response time a report asks about, in minutes (ten years).
MAX_RESPONSE_MINUTES = 10 * 366 * 24 * 60


def yes_no(yes: str, no: str) -> list[tuple[str, str]]:
    """The choices of a report's "1"/"0" filter."""
    return [("1", yes), ("0", no)]


SORTS = {
    "-created": ("-created_at", "-pk"),
    "created": ("created_at", "pk"),
    "-amount": ("-amount", "-pk"),
    "-score": ("-score", "-pk"),
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
        label=_("Temperature"),
        method="filter_temperature",
        choices=[*Temperature.choices, ("none", _("Not set"))],
    )
    level = django_filters.MultipleChoiceFilter(
        label=_("Qualification level"),
        method="filter_level",
        choices=[("none", _("Not qualified")), *Level.choices],
    )
    # Leads that reached a level at some time (the funnel's drill-down), wherever they are.
    reached = django_filters.ChoiceFilter(
        label=_("Reached the level"), method="filter_reached", choices=Level.choices
    )
    matrix = django_filters.MultipleChoiceFilter(
        label=_("Fit × engagement"), method="filter_matrix", choices=MATRIX_CHOICES
    )
    score_min = IntegerFilter(
        label=_("Score from"), field_name="score", lookup_expr="gte", min_value=-100000
    )
    score_max = IntegerFilter(
        label=_("Score to"), field_name="score", lookup_expr="lte", max_value=100000
    )
    created = PeriodFilter(label=_("Created"), field_name="created_at")
    created_after = LocalDayFilter(label=_("Created from"), field_name="created_at", edge="from")
    created_before = LocalDayFilter(label=_("Created to"), field_name="created_at", edge="to")
    # What a report's drill-down link adds (not in the panel: see report_filters).
    channel = IdsOrNoneFilter(label=_("Channel"), field_name="channel_id")
    utm_source = ExactOrBlankFilter(label="utm_source", field_name="utm_source")
    utm_campaign = ExactOrBlankFilter(label="utm_campaign", field_name="utm_campaign")
    repeat = django_filters.ChoiceFilter(
        label=_("Repeat"),
        method="filter_flag",
        field_name="is_repeat",
        choices=yes_no(_("repeat leads"), _("first-time leads")),
    )
    taken = django_filters.ChoiceFilter(
        label=_("Taken into work"),
        method="filter_flag",
        field_name="taken_at",
        choices=yes_no(_("yes"), _("no")),
    )
    responded = django_filters.ChoiceFilter(
        label=_("Responded"),
        method="filter_flag",
        field_name="first_response_at",
        choices=yes_no(_("yes"), _("no")),
    )
    response_max = IntegerFilter(
        label=_("First response within, minutes"),
        method="filter_response",
        min_value=0,
        max_value=MAX_RESPONSE_MINUTES,
    )
    response_min = IntegerFilter(
        label=_("First response later than, minutes"),
        method="filter_response",
        min_value=0,
        max_value=MAX_RESPONSE_MINUTES,
    )
    hour = IntegerFilter(label=_("Hour created"), method="filter_hour", min_value=0, max_value=23)
    deal_outcome = django_filters.ChoiceFilter(
        label=_("Deal"), field_name="deal__outcome", choices=Outcome.choices, distinct=False
    )
    closed_after = LocalDayFilter(label=_("Closed from"), field_name="closed_at", edge="from")
    closed_before = LocalDayFilter(label=_("Closed to"), field_name="closed_at", edge="to")
    # Read by the view, which picks the rows (selectors.lead_list): archived ones as well.
    archive = django_filters.ChoiceFilter(
        label=_("Archived"), method="filter_nothing", choices=[("all", _("included"))]
    )
    assigned = django_filters.ChoiceFilter(
        label=_("Responsible"),
        method="filter_flag",
        field_name="owner",
        choices=yes_no(_("assigned"), _("unassigned")),
    )
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
            ("postponed", _("Postponed")),
        ],
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    # The panel (with the custom fields) renders only for a bound filter: see panel_open.
    custom_fields_unbound = False
    unbound_filters = ("q", "preset")

    report_filters = (
        "reached",
        "channel",
        "utm_source",
        "utm_campaign",
        "repeat",
        "taken",
        "responded",
        "response_max",
        "response_min",
        "hour",
        "deal_outcome",
        "closed_after",
        "closed_before",
        "archive",
        "assigned",
    )

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
        "level",
        "matrix",
        "score_min",
        "score_max",
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
            # Nor the postponed ones: they are out of the inbox until their day.
            preset.choices = [c for c in preset.choices if c[0] not in ("archived", "postponed")]
        if "status" in form.fields:
            form.fields["status"].widget.choices = LazyChoices(lambda: choices.statuses)

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        found = selectors.search(queryset, value, region=self.region, actor=self.actor)
        self.search_capped_at = selectors.SEARCH_MATCHES if found.capped else 0
        return found.rows

    def filter_team(self, queryset: QuerySet[Lead], name: str, value: Team) -> QuerySet[Lead]:
        # A semi-join on the team's members, not a join through every lead's owner.
        return queryset.filter(owner_id__in=Membership.objects.filter(team=value).values("pk"))

    def filter_flag(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        # `name` is the column: "1" a true flag, or a moment or an owner that is set.
        if name == "is_repeat":
            return queryset.filter(is_repeat=value == "1")
        return queryset.filter(**{f"{name}__isnull": value != "1"})

    def filter_response(self, queryset: QuerySet[Lead], name: str, value: int) -> QuerySet[Lead]:
        # Minutes from arrival to the first response, compared in SQL on both databases.
        took = ExpressionWrapper(
            F("first_response_at") - F("created_at"), output_field=DurationField()
        )
        limit = timedelta(minutes=value)
        lookup = "response_time__lte" if name == "response_max" else "response_time__gt"
        return (
            queryset.filter(first_response_at__isnull=False)
            .alias(response_time=took)
            .filter(**{lookup: limit})
        )

    def filter_hour(self, queryset: QuerySet[Lead], name: str, value: int) -> QuerySet[Lead]:
        # The hour of the workspace's clock (tenant_context activated its zone).
        hour = ExtractHour("created_at", tzinfo=timezone.get_current_timezone())
        return queryset.alias(created_hour=hour).filter(created_hour=value)

    def filter_temperature(
        self, queryset: QuerySet[Lead], name: str, value: list
    ) -> QuerySet[Lead]:
        temperatures = ["" if v == "none" else v for v in value]
        return queryset.filter(temperature__in=temperatures) if temperatures else queryset

    def filter_level(self, queryset: QuerySet[Lead], name: str, value: list) -> QuerySet[Lead]:
        levels = ["" if v == "none" else v for v in value]
        return queryset.filter(level__in=levels) if levels else queryset

    def filter_reached(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        return queryset.filter(**{f"{value}_at__isnull": False})

    def filter_matrix(self, queryset: QuerySet[Lead], name: str, value: list) -> QuerySet[Lead]:
        # The cells by the workspace's thresholds (leads/scoring.matrix_cell), in SQL.
        if not value:
            return queryset
        settings = selectors.scoring_settings()
        fit = {
            "A": Q(fit_score__gte=settings.fit_a_from),
            "B": Q(fit_score__gte=settings.fit_b_from, fit_score__lt=settings.fit_a_from),
            "C": Q(fit_score__lt=settings.fit_b_from),
        }
        engagement = {
            "1": Q(engagement_score__gte=settings.engagement_1_from),
            "2": Q(
                engagement_score__gte=settings.engagement_2_from,
                engagement_score__lt=settings.engagement_1_from,
            ),
            "3": Q(engagement_score__lt=settings.engagement_2_from),
        }
        cells = Q(pk__in=[])
        for cell in value:
            cells |= fit[cell[0]] & engagement[cell[1]]
        return queryset.filter(cells)

    def filter_nothing(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        return queryset

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
        if value == "postponed":
            # The same: selectors.lead_list(postponed=True) reads them.
            return queryset.exclude(postponed_until=None)
        return queryset
