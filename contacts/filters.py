"""Filters of the contact and company lists (django-filter over selector querysets)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from contacts import selectors
from contacts.models import Company, Contact
from crm.filters import LocalDayFilter, PeriodFilter, RecordFilterSet
from crm.ids import parse_id


class PartyFilter(RecordFilterSet):
    """Search, responsible, creation dates and every custom field of the entity."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    created = PeriodFilter(label=_("Created"), field_name="created_at")
    created_after = LocalDayFilter(label=_("Created from"), field_name="created_at", edge="from")
    created_before = LocalDayFilter(label=_("Created to"), field_name="created_at", edge="to")

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.search(queryset, value, region=self.region)


class ContactFilter(PartyFilter):
    """Contact lists: the shared filters plus the company (its id, or its name or INN)."""

    company = django_filters.CharFilter(label=_("Company"), method="filter_company")

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_company(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        company_id = parse_id(value) if len(value) < 10 else None  # longer: an INN
        if company_id:
            return queryset.filter(company_id=company_id)
        companies = selectors.search(selectors.company_base(), value, region=self.region)
        return queryset.filter(company_id__in=companies.values("pk"))


class CompanyFilter(PartyFilter):
    class Meta:
        model = Company
        fields: list[str] = []
