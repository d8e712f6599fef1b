"""Filters of the deal list (django-filter over selector querysets)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm import customfields
from crm.access import Entity
from deals import selectors
from deals.models import Deal, Outcome, Pipeline, Stage

OWNER_SHORTCUTS = [("", _("Anyone")), ("me", _("Me")), ("none", _("Unassigned"))]
_DATE = forms.DateInput(attrs={"type": "date"})


class DealFilter(django_filters.FilterSet):
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
    owner = django_filters.ChoiceFilter(
        label=_("Responsible"), method="filter_owner", choices=(), empty_label=_("Anyone")
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

    def __init__(self, *args: Any, actor: Any, region: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor, self.region = actor, region
        self.filters["pipeline"].queryset = selectors.pipelines()
        self.filters["stage"].queryset = selectors.stages()
        members = selectors.assignable_members().values_list("pk", "user__full_name")
        self.filters["owner"].extra["choices"] = [
            *OWNER_SHORTCUTS[1:],
            *((str(pk), name) for pk, name in members),
        ]

    @property
    def form(self) -> forms.Form:
        """The filter form plus a field per custom field of deals (cf_<key>)."""
        if not hasattr(self, "_form"):
            form = super().form
            form.fields["stage"].label_from_instance = lambda s: f"{s.pipeline.name}: {s.name}"
            self.custom_fields = customfields.add_form_fields(
                form, entity=Entity.DEAL, for_filter=True
            )
        return self._form

    def filter_queryset(self, queryset: QuerySet[Deal]) -> QuerySet[Deal]:
        """The declared filters, then one per custom field that has a value."""
        by_name = {customfields.PREFIX + d.key: d for d in self.custom_fields}
        for name, value in self.form.cleaned_data.items():
            if name in self.filters:
                queryset = self.filters[name].filter(queryset, value)
            elif name in by_name and value not in (None, "", []):
                queryset = queryset.filter(customfields.filter_q(by_name[name], value))
        return queryset

    def filter_search(self, queryset: QuerySet[Deal], name: str, value: str) -> QuerySet[Deal]:
        return selectors.search(queryset, value, region=self.region)

    def filter_owner(self, queryset: QuerySet[Deal], name: str, value: str) -> QuerySet[Deal]:
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "me":
            return queryset.filter(owner=self.actor)
        return queryset.filter(owner_id=value) if value.isdigit() else queryset
