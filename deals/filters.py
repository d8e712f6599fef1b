"""Filters of the deal list (django-filter over selector querysets).

Besides the panel's, the filters a report's drill-down link sets (report_filters): local
days of creation and closing, loss reason, team, and the source lead's source, channel,
UTM tags and day of arrival (a funnel cohort)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.filters import (
    NO_ID,
    ExactOrBlankFilter,
    IdsOrNoneField,
    IdsOrNoneFilter,
    LocalDayFilter,
    RecordFilterSet,
)
from crm.models import Membership, Team
from crm.sources import LeadSource
from deals import selectors
from deals.models import Deal, LossReason, Outcome, Pipeline, Stage

_DATE = forms.DateInput(attrs={"type": "date"})


class _LossReasonsField(IdsOrNoneField):
    """Loss reason ids (or "none"), cleaned to the workspace's reasons so that the
    report filter summary names them; an id of no reason here stays a number (and finds
    nothing)."""

    def to_python(self, value: Any) -> list[Any]:
        cleaned = super().to_python(value)
        found = LossReason.objects.in_bulk([item for item in cleaned if item != NO_ID])
        return [found.get(item, item) if item != NO_ID else item for item in cleaned]


class LossReasonFilter(IdsOrNoneFilter):
    """Deals lost for one of these reasons, or ("none") without one."""

    field_class = _LossReasonsField

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        return super().filter(qs, [getattr(item, "pk", item) for item in value or []])


class DealFilter(RecordFilterSet):
    """Pipeline, stage, outcome, owner, customer, amount and close-date ranges, custom
    fields, and a search by title or the contact's phone."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    pipeline = django_filters.ModelChoiceFilter(
        label=_("Pipeline"), queryset=Pipeline.objects.none(), empty_label=_("All")
    )
    stage = django_filters.ModelChoiceFilter(
        label=_("Stage"), queryset=Stage.objects.none(), empty_label=_("All")
    )
    outcome = django_filters.ChoiceFilter(
        label=_("Outcome"), choices=Outcome.choices, empty_label=_("All")
    )
    contact = django_filters.NumberFilter(field_name="contact_id", widget=forms.HiddenInput)
    company = django_filters.NumberFilter(field_name="company_id", widget=forms.HiddenInput)
    amount_min = django_filters.NumberFilter(
        label=_("Amount from"), field_name="amount", lookup_expr="gte"
    )
    amount_max = django_filters.NumberFilter(
        label=_("Amount to"), field_name="amount", lookup_expr="lte"
    )
    close_after = django_filters.DateFilter(
        label=_("Closing from"), field_name="expected_close", lookup_expr="gte", widget=_DATE
    )
    close_before = django_filters.DateFilter(
        label=_("Closing to"), field_name="expected_close", lookup_expr="lte", widget=_DATE
    )

    # A report's names for the expected close days (the panel's close_after/close_before).
    expected_after = django_filters.DateFilter(
        label=_("Closing from"), field_name="expected_close", lookup_expr="gte", widget=_DATE
    )
    expected_before = django_filters.DateFilter(
        label=_("Closing to"), field_name="expected_close", lookup_expr="lte", widget=_DATE
    )
    created_after = LocalDayFilter(label=_("Created from"), field_name="created_at", edge="from")
    created_before = LocalDayFilter(label=_("Created to"), field_name="created_at", edge="to")
    closed_after = LocalDayFilter(label=_("Closed from"), field_name="closed_at", edge="from")
    closed_before = LocalDayFilter(label=_("Closed to"), field_name="closed_at", edge="to")
    loss_reason = LossReasonFilter(label=_("Loss reason"), field_name="loss_reason_id")
    team = django_filters.ModelChoiceFilter(
        label=_("Team"), method="filter_team", queryset=Team.objects.none()
    )
    # The source lead's: a deal without one has no source, and no channel nor UTM tags.
    source = django_filters.MultipleChoiceFilter(
        label=_("Source"),
        field_name="source_lead__source",
        choices=LeadSource.choices,
        distinct=False,
    )
    channel = IdsOrNoneFilter(label=_("Channel"), field_name="source_lead__channel_id")
    utm_source = ExactOrBlankFilter(
        label="utm_source", field_name="source_lead__utm_source", blank_if_null="source_lead"
    )
    utm_campaign = ExactOrBlankFilter(
        label="utm_campaign", field_name="source_lead__utm_campaign", blank_if_null="source_lead"
    )
    lead_created_after = LocalDayFilter(
        label=_("Lead created from"), field_name="source_lead__created_at", edge="from"
    )
    lead_created_before = LocalDayFilter(
        label=_("Lead created to"), field_name="source_lead__created_at", edge="to"
    )

    report_filters = (
        "created_after",
        "created_before",
        "closed_after",
        "closed_before",
        "expected_after",
        "expected_before",
        "loss_reason",
        "team",
        "source",
        "channel",
        "utm_source",
        "utm_campaign",
        "lead_created_after",
        "lead_created_before",
    )

    class Meta:
        model = Deal
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["pipeline"].queryset = selectors.pipelines()
        self.filters["stage"].queryset = selectors.stages()
        self.filters["team"].queryset = Team.objects.order_by("name")

    def prepare_form(self, form: forms.Form) -> None:
        form.fields["stage"].label_from_instance = lambda s: f"{s.pipeline.name}: {s.name}"

    def filter_search(self, queryset: QuerySet[Deal], name: str, value: str) -> QuerySet[Deal]:
        return selectors.search(queryset, value, region=self.region)

    def filter_team(self, queryset: QuerySet[Deal], name: str, value: Team) -> QuerySet[Deal]:
        # A semi-join on the team's members (the owner index), as the lead list does.
        return queryset.filter(owner_id__in=Membership.objects.filter(team=value).values("pk"))
