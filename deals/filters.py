"""Filters of the deal list (django-filter over selector querysets)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.filters import RecordFilterSet
from deals import selectors
from deals.models import Deal, Outcome, Pipeline, Stage

_DATE = forms.DateInput(attrs={"type": "date"})


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

    class Meta:
        model = Deal
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["pipeline"].queryset = selectors.pipelines()
        self.filters["stage"].queryset = selectors.stages()

    def prepare_form(self, form: forms.Form) -> None:
        form.fields["stage"].label_from_instance = lambda s: f"{s.pipeline.name}: {s.name}"

    def filter_search(self, queryset: QuerySet[Deal], name: str, value: str) -> QuerySet[Deal]:
        return selectors.search(queryset, value, region=self.region)
