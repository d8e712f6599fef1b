"""What a report covers: the period and the one it is compared with, the filters, the
viewer's scope — and the links from its figures to the lists of the records behind them.

A report counts leads by when they were created (a cohort: each lead once, wherever it is
now), in the workspace's days. Its filters carry the lead lists' own parameter names, so a
figure's link is the report's filters plus the figure's own conditions, read by the same
list filters: the list's count is the number clicked (tests/analytics/test_drill_down.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from crm import customfields, periods
from crm.access import Action, Entity, owner_scope
from crm.filters import OWNER_SHORTCUTS, SharedChoices
from crm.ids import parse_id
from crm.models import CustomField, Membership, Team
from crm.selectors import due_target_ids
from crm.urlnames import tenant_reverse
from deals.models import Deal
from leads.models import OPEN_STATES, Lead, LeadSource, LeadStatus

DEFAULT_PERIOD = "last_30_days"
CUSTOM = "custom"
PERIOD_CHOICES = [*periods.PRESETS.items(), (CUSTOM, _("Custom dates"))]
# The earliest and latest days a custom period may name (the calendar's ends overflow).
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2200, 12, 31)
MAX_DAYS = 3 * 366
# Parameters of the lead lists that a report's filters map to one to one.
LEAD_PARAMS = ("source", "channel", "owner", "team", "status", "utm_source", "utm_campaign")
# The filters deal figures honour (through the deal's owner and its source lead).
DEAL_PARAMS = ("source", "channel", "owner", "team", "utm_source", "utm_campaign")
BLANK = "(none)"  # a filter value that matches an empty UTM field
_DATE = forms.DateInput(attrs={"type": "date"})


def previous_period(period: periods.Period, preset: str) -> periods.Period:
    """The period a report compares with: the calendar month, quarter or year before for
    those presets, else as many days just before."""
    first = period.first
    if preset in ("this_month", "last_month"):
        last = first - dt.timedelta(days=1)
        return periods.Period(last.replace(day=1), last)
    if preset == "this_quarter":
        last = first - dt.timedelta(days=1)
        return periods.Period(last.replace(month=(last.month - 1) // 3 * 3 + 1, day=1), last)
    if preset == "this_year":
        return periods.Period(first.replace(year=first.year - 1), first - dt.timedelta(days=1))
    days = (period.last - period.first).days + 1
    return periods.Period(first - dt.timedelta(days=days), first - dt.timedelta(days=1))


class ReportForm(forms.Form):
    """The period and filters of a report, read from its query string."""

    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_CHOICES, required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=_DATE)
    date_to = forms.DateField(label=_("To"), required=False, widget=_DATE)
    source = forms.MultipleChoiceField(
        label=_("Source"), choices=LeadSource.choices, required=False
    )
    channel = forms.TypedMultipleChoiceField(
        label=_("Channel"), coerce=int, required=False, choices=()
    )
    owner = forms.ChoiceField(label=_("Responsible"), required=False, choices=())
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    status = forms.ModelMultipleChoiceField(
        label=_("Status"), queryset=LeadStatus.objects.none(), required=False
    )
    utm_source = forms.CharField(label="utm_source", max_length=200, required=False)
    utm_campaign = forms.CharField(label="utm_campaign", max_length=200, required=False)

    def __init__(self, *args: Any, owners: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = list(
            Channel.objects.order_by("name").values_list("pk", "name")
        )
        if owners:
            self.fields["owner"].choices = [*OWNER_SHORTCUTS, *SharedChoices().members]
        else:  # someone who sees only their own figures has nobody else to pick
            del self.fields["owner"], self.fields["team"]
        if "team" in self.fields:
            self.fields["team"].queryset = Team.objects.order_by("name")
        self.fields["status"].queryset = LeadStatus.objects.order_by("state", "position", "pk")
        self.custom_fields = customfields.add_form_fields(self, entity=Entity.LEAD, for_filter=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["period"] = data.get("period") or DEFAULT_PERIOD
        start, end = data.get("date_from"), data.get("date_to")
        if data["period"] != CUSTOM and start and end and "period" not in self.errors:
            # The dates shown are the preset's; dates changed by hand make a custom period.
            shown = periods.preset(data["period"])
            if (start, end) != (shown.first, shown.last):
                data["period"] = CUSTOM
        if data["period"] != CUSTOM:
            return data
        start, end = data.get("date_from"), data.get("date_to")
        if not start or not end:
            raise forms.ValidationError(_("Give both dates of the period."))
        if start > end:
            raise forms.ValidationError(_("The period cannot end before it starts."))
        if start < FIRST_DAY or end > LAST_DAY:
            raise forms.ValidationError(_("Choose dates between 1970 and 2200."))
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(_("A period can be at most three years long."))
        return data


@dataclass
class Params:
    """A report's period, comparison, filters and scope, ready to query and to link."""

    actor: Membership
    preset: str
    period: periods.Period
    previous: periods.Period
    form: ReportForm
    data: dict[str, Any] = field(default_factory=dict)
    # Owners whose records the viewer's figures cover (None: all, the unassigned included).
    lead_owners: list[int] | None = None
    deal_owners: list[int] | None = None
    # The links' encoded filters, built once a list and period (Params._link).
    _link_bases: dict[tuple, dict[str, str]] = field(default_factory=dict, init=False, repr=False)

    @property
    def custom_fields(self) -> list[CustomField]:
        return self.form.custom_fields

    @property
    def own_only(self) -> bool:
        """Whether the viewer sees only their own records (no one else's to compare)."""
        return self.lead_owners == [self.actor.pk]

    # Querysets -------------------------------------------------------------------------

    def leads(self, period: periods.Period | None = None) -> QuerySet[Lead]:
        """The leads in scope matching the filters, created in `period` (default: the
        report's), archived ones included, the trash not."""
        period = period or self.period
        rows = Lead.objects.filter(
            deleted_at=None, created_at__gte=period.start, created_at__lt=period.end
        )
        return self.lead_filters(rows)

    def overdue_leads(self) -> QuerySet[Lead]:
        """Open leads in scope matching the filters with an activity past its due time —
        now, whatever the period (what the lists' "overdue" preset shows)."""
        rows = Lead.objects.filter(
            deleted_at=None,
            state__in=OPEN_STATES,
            pk__in=due_target_ids(model=Lead, end=timezone.now()),
        )
        return self.lead_filters(rows)

    def lead_filters(self, rows: QuerySet[Lead]) -> QuerySet[Lead]:
        """`rows` narrowed to the scope and the report's filters (no period)."""
        if self.lead_owners is not None:
            rows = rows.filter(owner_id__in=self.lead_owners)
        rows = rows.filter(self._owner_q()) if self._owner_q() else rows
        data = self.data
        if data.get("source"):
            rows = rows.filter(source__in=data["source"])
        if data.get("channel"):
            rows = rows.filter(channel_id__in=data["channel"])
        if data.get("status"):
            rows = rows.filter(status__in=data["status"])
        for name in ("utm_source", "utm_campaign"):
            if data.get(name):
                rows = rows.filter(**{name: "" if data[name] == BLANK else data[name]})
        by_name = {customfields.PREFIX + d.key: d for d in self.custom_fields}
        for name, definition in by_name.items():
            value = data.get(name)
            if value not in (None, "", []):
                rows = rows.filter(customfields.filter_q(definition, value))
        return rows

    def deals(self) -> QuerySet[Deal]:
        """The deals in scope matching the filters deal figures honour (no period)."""
        rows = Deal.objects.all()
        if self.deal_owners is not None:
            rows = rows.filter(owner_id__in=self.deal_owners)
        rows = rows.filter(self._owner_q()) if self._owner_q() else rows
        data = self.data
        if data.get("source"):
            rows = rows.filter(source_lead__source__in=data["source"])
        if data.get("channel"):
            rows = rows.filter(source_lead__channel_id__in=data["channel"])
        for name in ("utm_source", "utm_campaign"):
            if data.get(name):
                value = "" if data[name] == BLANK else data[name]
                rows = rows.filter(**{f"source_lead__{name}": value})
        return rows

    def _owner_q(self) -> Q | None:
        owner, team = self.data.get("owner"), self.data.get("team")
        q = Q()
        if owner == "me":
            q &= Q(owner=self.actor)
        elif owner == "none":
            q &= Q(owner__isnull=True)
        elif owner:
            q &= Q(owner_id=parse_id(owner) or 0)
        if team is not None:
            q &= Q(owner_id__in=Membership.objects.filter(team=team).values("pk"))
        return q or None

    # Links ------------------------------------------------------------------------------

    def query(self) -> str:
        """The report's own query string (period and filters), for forms and saved views."""
        params = QueryDict(mutable=True)
        params["period"] = self.preset
        if self.preset == CUSTOM:
            params["date_from"] = self.period.first.isoformat()
            params["date_to"] = self.period.last.isoformat()
        for name, values in self._filter_params(LEAD_PARAMS, custom=True).lists():
            params.setlist(name, values)
        return params.urlencode()

    def _filter_params(self, names: tuple[str, ...], *, custom: bool) -> QueryDict:
        params = QueryDict(mutable=True)
        raw = self.form.data
        valid = set(self.data)
        keys = [*names, *(customfields.PREFIX + d.key for d in self.custom_fields)]
        for name in keys if custom else names:
            if name in valid and self.data.get(name) not in (None, "", []):
                params.setlist(name, [v for v in raw.getlist(name) if v != ""])
        return params

    def lead_link(self, *, period: periods.Period | None = None, **extra: Any) -> str:
        """The lead list showing exactly the leads of a figure: the report's filters, the
        period (None: `created=False` drops it), and `extra` list parameters."""
        period = self.period if period is None else period
        created = extra.pop("created", True)
        key = ("leads:list", (period.first, period.last) if created else None)
        base = self._link_bases.get(key)
        if base is None:
            params = self._filter_params(LEAD_PARAMS, custom=True)
            if created:
                params["created_after"] = period.first.isoformat()
                params["created_before"] = period.last.isoformat()
            if self.lead_owners is not None:
                params["assigned"] = "1"
            params["archive"] = "all"
            base = self._link_bases[key] = _encoded(params)
        return self._link("leads:list", base, extra)

    def deal_link(self, **extra: Any) -> str:
        """The deal list showing exactly the deals of a figure (filters plus `extra`)."""
        key = ("deals:list", None)
        base = self._link_bases.get(key)
        if base is None:
            params = self._filter_params(DEAL_PARAMS, custom=False)
            base = self._link_bases[key] = _encoded(params)
        return self._link("deals:list", base, extra)

    def _link(self, name: str, base: dict[str, str], extra: dict[str, Any]) -> str:
        """The list `name` with the encoded parameters `base` (a report links hundreds of
        figures: its filters are encoded once) and `extra` set over them."""
        parts = dict(base)
        for key, value in extra.items():
            if value is None:
                parts.pop(key, None)
            elif isinstance(value, list | tuple):
                parts[key] = urlencode([(key, str(v)) for v in value])
            else:
                parts[key] = urlencode([(key, str(value))])
        parts["total"] = "total=1"
        query = "&".join(part for part in parts.values() if part)
        return f"{tenant_reverse(name, self.actor.tenant)}?{query}"


def _encoded(params: QueryDict) -> dict[str, str]:
    """Each parameter of `params` as its encoded `key=value&…` part, in order (what
    `params.urlencode()` joins)."""
    return {key: urlencode([(key, v) for v in values]) for key, values in params.lists()}


def params_for(actor: Membership, query: QueryDict) -> Params:
    """The report parameters of `query` for `actor`; invalid input falls back to the
    defaults (the form keeps its errors for the page to show)."""
    lead_scope = owner_scope(actor=actor, entity=Entity.LEAD, action=Action.VIEW)
    deal_scope = owner_scope(actor=actor, entity=Entity.DEAL, action=Action.VIEW)
    lead_owners = None if lead_scope is None else lead_scope.owner_ids
    form = ReportForm(query, owners=lead_owners != [actor.pk])
    data: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
    else:  # keep what is valid of the filters; the period falls back to the default
        data = {k: v for k, v in getattr(form, "cleaned_data", {}).items() if k not in form.errors}
        if NON_FIELD_ERRORS in form.errors:
            data.pop("period", None)
    preset = data.get("period") or DEFAULT_PERIOD
    if preset == CUSTOM and data.get("date_from") and data.get("date_to"):
        period = periods.Period(data["date_from"], data["date_to"])
    else:
        preset = DEFAULT_PERIOD if preset == CUSTOM else preset
        period = periods.preset(preset)
    if not form.errors:  # the form shows the period it chose, as a preset and as dates
        shown = query.copy()
        shown["period"] = preset
        shown["date_from"], shown["date_to"] = period.first.isoformat(), period.last.isoformat()
        form.data = shown
    return Params(
        actor=actor,
        preset=preset,
        period=period,
        previous=previous_period(period, preset),
        form=form,
        data=data,
        lead_owners=lead_owners,
        deal_owners=None if deal_scope is None else deal_scope.owner_ids,
    )
