"""Durations as the reports show them (decision 011): whole minutes, floored, "< 1 min"
below one, to the hour from a day on — exact on both databases at the edges of a minute,
the same read raw, off the rollup's histograms, and in the page, the chart and the export."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import time_machine
from django.http import QueryDict
from django.utils import translation

from analytics import rollups
from analytics.formats import figure_text, minutes_text
from analytics.models import LeadDuration, Metric
from analytics.params import params_for
from analytics.reports.speed import SPEC
from analytics.sql import DAY_MINUTES, duration
from crm.models import Membership
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.leads.factories import make_lead

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
CREATED = dt.datetime(2026, 3, 10, 8, 0, 0, 250_000, tzinfo=dt.UTC)
US = dt.timedelta(microseconds=1)
# The time to the first response → the minutes shown.
CASES = [
    (dt.timedelta(0), 0),
    (dt.timedelta(seconds=59, microseconds=999_999), 0),
    (dt.timedelta(minutes=1), 1),
    (dt.timedelta(minutes=30) - US, 29),
    (dt.timedelta(minutes=30), 30),
    (dt.timedelta(hours=23, minutes=59, seconds=59), 1439),
    (dt.timedelta(days=1), 1440),
    (dt.timedelta(days=1, minutes=59, seconds=59), 1440),  # "1 d": to the hour from a day on
    (dt.timedelta(days=2, hours=3, minutes=17), 2 * 1440 + 180),
    (dt.timedelta(seconds=-30), -1),  # answered "before" it came: messy data, kept as is
]


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (None, ""),
        (-1, "< 1 min"),
        (0, "< 1 min"),
        (0.9, "< 1 min"),
        (1, "1 min"),
        (59, "59 min"),
        (60, "1 h"),
        (65, "1 h 5 min"),
        (1439, "23 h 59 min"),
        (1440, "1 d"),
        (1440 + 180, "1 d 3 h"),
        (3 * 1440 + 5, "3 d"),  # the largest unit and the next one only
    ],
)
def test_minutes_as_text(minutes, text):
    with translation.override("en"):
        assert minutes_text(minutes) == text
        assert figure_text(minutes, "minutes") == text


def bucket_value(minutes: int) -> int:
    """analytics.sql.bucket in Python."""
    return minutes if minutes < DAY_MINUTES else minutes // 60 * 60


def test_the_bucket_keeps_what_is_shown():
    for minutes in range(-5, 4 * 1440, 7):
        assert minutes_text(bucket_value(minutes)) == minutes_text(minutes)
    assert [bucket_value(m) for m in (30, 1439, 1440, 1499, 1500, 1501)] == [
        30,
        1439,
        1440,
        1440,
        1500,
        1500,
    ]


@pytest.fixture
def answered(tenant, admin) -> list[Lead]:
    leads = []
    with tenant_context(tenant):
        for index, (delay, _minutes) in enumerate(CASES):
            lead = make_lead(admin, owner=admin, title=f"L{index}")
            Lead.objects.filter(pk=lead.pk).update(
                created_at=CREATED, first_response_at=CREATED + delay
            )
            leads.append(lead)
    return leads


@pytest.mark.django_db
def test_durations_are_exact_at_the_edges_of_a_minute(tenant, answered):
    with tenant_context(tenant):
        found = dict(
            Lead.objects.annotate(m=duration("first_response_at", "created_at")).values_list(
                "title", "m"
            )
        )
    assert [found[f"L{i}"] for i in range(len(CASES))] == [m for _delay, m in CASES]


@pytest.mark.django_db
def test_the_histogram_holds_the_same_minutes(tenant, answered):
    with time_machine.travel(NOW, tick=False), tenant_context(tenant):
        rollups.rebuild(tenant)
        bars = dict(
            LeadDuration.objects.filter(grain="all", metric=Metric.RESPONSE).values_list(
                "minutes", "leads"
            )
        )
    assert bars == Counter(m for _delay, m in CASES)


@pytest.mark.django_db
def test_the_speed_report_and_its_export_read_minutes(tenant, admin, answered, settings):
    query = QueryDict("period=custom&date_from=2026-03-01&date_to=2026-03-14")
    shown = {}
    for rolled in (False, True):
        settings.ANALYTICS_ROLLUPS = rolled
        with time_machine.travel(NOW, tick=False), tenant_context(tenant):
            if rolled:
                rollups.rebuild(tenant)
            member = Membership.objects.select_related("tenant", "role", "user").get(pk=admin.pk)
            total = SPEC.build(params_for(member, query)).tables[0].total
            shown[rolled] = total.cells[2].value, total.cells[3].value
            with translation.override("en"):
                _headers, rows = SPEC.build(params_for(member, query)).tables[0].export_rows()
    # Ten answered: the median is the 5th smallest (29 min), the 90th percentile the 9th.
    ordered = sorted(m for _delay, m in CASES)
    assert shown[False] == shown[True] == (ordered[4], ordered[8])
    total_row = rows[-1]
    assert total_row[5] == "29 min"  # the median, and the previous period's (none) beside
    assert total_row[7] == "1 d"  # 1440 min
