"""Filters of the contact and company lists (django-filter over selector querysets)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from contacts import selectors
from contacts.models import Company, Contact
from crm import customfields
from leads.selectors import assignable_members


class PartyFilter(django_filters.FilterSet):
    """Search, responsible, creation dates and every custom field of the entity."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    owner = django_filters.ChoiceFilter(
        label=_("Responsible"), method="filter_owner", empty_label=_("Anyone")
    )
    created_after = django_filters.DateFilter(
        label=_("Created from"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        label=_("Created to"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, actor: Any, region: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor, self.region = actor, region
        self.filters["owner"].extra["choices"] = [("me", _("Me")), ("none", _("Unassigned"))] + [
            (str(m.pk), str(m.user)) for m in assignable_members()
        ]

    @property
    def form(self) -> forms.Form:
        """The filter form plus a field per custom field of the entity (cf_<key>)."""
        if not hasattr(self, "_form"):
            form = super().form
            self.custom_fields = customfields.add_form_fields(
                form, entity=self._meta.model.access_entity, for_filter=True
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

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.search(queryset, value, region=self.region)

    def filter_owner(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "me":
            return queryset.filter(owner=self.actor)
        return queryset.filter(owner_id=value) if value.isdigit() else queryset


class ContactFilter(PartyFilter):
    """Contact lists: the shared filters plus the company (its id, or its name or INN)."""

    company = django_filters.CharFilter(label=_("Company"), method="filter_company")

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_company(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if value.isdigit() and len(value) < 10:
            return queryset.filter(company_id=int(value))
        companies = selectors.search(selectors.company_base(), value, region=self.region)
        return queryset.filter(company_id__in=companies.values("pk"))


class CompanyFilter(PartyFilter):
    class Meta:
        model = Company
        fields: list[str] = []
