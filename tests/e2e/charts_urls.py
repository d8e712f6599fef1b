"""Test-only URLconf for tests/e2e/test_charts_browser.py: the real URLs plus a page of charts.

The analytics pages are built elsewhere; this page renders templates/analytics/_chart.html
the way they will (the scripts in base.html's scripts block, a chart swapped in by htmx).
"""

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from crm import urls as real

PAGE = engines["django"].from_string(
    """{% extends "base.html" %}{% load static %}
{% block title %}Charts{% endblock %}
{% block scripts %}<script src="{% static 'vendor/chartjs/chart.umd.min.js' %}" defer></script>
<script src="{% static 'js/charts.js' %}" defer></script>{% endblock %}
{% block content %}
<div class="row g-3">
  {% for chart in charts %}
    <section class="col-md-6" data-testid="section-{{ chart.id }}">
      <h2 class="h6">{{ chart.title }}</h2>
      {% include "analytics/_chart.html" with chart=chart %}
    </section>
  {% endfor %}
  <section class="col-md-6">
    <button type="button" class="btn btn-sm btn-outline-secondary" data-testid="swap"
      hx-get="fragment/" hx-target="#swapped">Managers</button>
    <div id="swapped"></div>
  </section>
</div>
{% endblock %}"""
)
FRAGMENT = engines["django"].from_string('{% include "analytics/_chart.html" with chart=chart %}')


def _charts() -> list[dict]:
    months = ["Jan", "Feb", "Mar", "Apr"]
    return [
        {
            "id": "chart-revenue",
            "title": "Revenue by month",
            "empty": False,
            "kind": "bar",
            "labels": months,
            "unit": "money",
            "currency": "RUB",
            "stacked": False,
            "datasets": [
                {
                    "label": "This year",
                    "data": [120000, "250000.50", 90000, None],
                    "urls": [f"/charts-test/drill/{n}/" for n in range(3)] + [None],
                },
                {"label": "Last year", "data": [100000, 180000, 110000, 60000], "previous": True},
            ],
        },
        {
            "id": "chart-response",
            "title": "First response time",
            "empty": False,
            "kind": "line",
            "labels": months,
            "unit": "minutes",
            "stacked": False,
            "datasets": [
                {"label": "Median", "data": [0, 65, 120, 1560]},
                {"label": "Median before", "data": [1, 30, 90, 666], "previous": True},
            ],
        },
        {
            "id": "chart-sources",
            "title": "Conversion by source",
            "empty": False,
            "kind": "doughnut",
            "labels": ["Site", "Phone", "Telegram"],
            "unit": "percent",
            "stacked": False,
            "datasets": [{"label": "Share", "data": [52.5, 30, 17.5]}],
        },
        {
            "id": "chart-trend",
            "title": "New leads, last 14 days",
            "empty": False,
            "kind": "sparkline",
            "labels": [str(day) for day in range(1, 15)],
            "unit": "count",
            "stacked": False,
            "datasets": [
                {"label": "Leads", "data": [3, 5, 2, 8, 6, 9, 4, 7, 12, 10, 6, 11, 9, 1500]}
            ],
        },
        {"id": "chart-lost", "title": "Loss reasons", "empty": True},
    ]


def charts_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE.render({"charts": _charts()}, request))


def charts_fragment(request: HttpRequest) -> HttpResponse:
    chart = {
        "id": "chart-managers",
        "title": "Leads by manager",
        "empty": False,
        "kind": "hbar",
        "labels": ["Anna", "Boris", "Vera"],
        "unit": "count",
        "stacked": True,
        "datasets": [
            {"label": "Won", "data": [12, 7, 3], "urls": ["/charts-test/drill/9/", None, None]},
            {"label": "Lost", "data": [4, 2, 6]},
        ],
    }
    return HttpResponse(FRAGMENT.render({"chart": chart}, request))


def drill(request: HttpRequest, n: int) -> HttpResponse:
    return HttpResponse(f"drill {n}", content_type="text/plain")


urlpatterns = [
    path("charts-test/", charts_page),
    path("charts-test/fragment/", charts_fragment),
    path("charts-test/drill/<int:n>/", drill),
    *real.urlpatterns,
]
handler403, handler404, handler500 = real.handler403, real.handler404, real.handler500
