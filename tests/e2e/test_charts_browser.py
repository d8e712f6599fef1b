"""End to end in a real browser: the analytics chart include (templates/analytics/_chart.html)
drawn by static/js/charts.js under the site's CSP, on a test page (tests/e2e/charts_urls.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.e2e.charts_urls"),
]

CHARTS = ["chart-revenue", "chart-response", "chart-sources", "chart-trend"]
ALL_DRAWN = """ids => !!window.Chart && ids.every(id =>
  Chart.getChart(document.querySelector(`canvas[data-chart='${id}']`)))"""
SETTLED = "() => Object.values(Chart.instances).every(chart => !Chart.animator.has(chart))"
TICKS = "(chart, axis) => chart.scales[axis].ticks.map(t => t.label)"
# The tooltip's line for a value of dataset d (a doughnut names the slice instead).
LABEL = """(chart, raw, d, slice) => chart.options.plugins.tooltip.callbacks.label(
  {raw, dataset: chart.data.datasets[d], label: slice})"""


def _open(new_page, live_server, *, language: str = "en", motion: str = "no-preference"):
    """The chart page, every chart drawn; CSP refusals are gathered (new_page fails on them too)."""
    page = new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Refused to" in m.text else None)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.emulate_media(reduced_motion=motion)
    page.goto("/charts-test/")
    page.wait_for_function(ALL_DRAWN, arg=CHARTS)
    return page, refused


def _chart(page, chart_id: str, script: str, *args):
    """Run `script` (a function of the Chart and args) against the chart drawn on the canvas."""
    return page.evaluate(
        f"""([id, args]) => {{
          const chart = Chart.getChart(document.querySelector(`canvas[data-chart='${{id}}']`));
          return ({script})(chart, ...args);
        }}""",
        [chart_id, list(args)],
    )


def _bar_middle(page, chart_id: str, dataset: int, index: int) -> tuple[float, float]:
    """The page coordinates of the middle of a bar: Chart.js knows where it drew it."""
    x, y = _chart(
        page,
        chart_id,
        """(chart, d, i) => {
          const bar = chart.getDatasetMeta(d).data[i];
          const rect = chart.canvas.getBoundingClientRect();
          return chart.options.indexAxis === "y"
            ? [rect.left + (bar.x + bar.base) / 2, rect.top + bar.y]
            : [rect.left + bar.x, rect.top + (bar.y + bar.base) / 2];
        }""",
        dataset,
        index,
    )
    return x, y


def test_charts_are_drawn_formatted_and_a_bar_leads_to_its_page(new_page, live_server, shots):
    page, refused = _open(new_page, live_server)
    for chart_id in CHARTS:
        canvas = page.locator(f"canvas[data-chart='{chart_id}']")
        expect(canvas).to_have_attribute("role", "img")
        # Painted: its image is well beyond a blank canvas's of its size (waiting, bounded by
        # the page's timeout, for the drawing's animation to end on a busy machine).
        page.wait_for_function(
            """id => {
                const c = document.querySelector(`canvas[data-chart='${id}']`);
                const blank = Object.assign(document.createElement('canvas'),
                                            {width: c.width, height: c.height});
                return c.toDataURL().length > blank.toDataURL().length + 1000;
            }""",
            arg=chart_id,
        )
    expect(page.locator("canvas[data-chart='chart-revenue']")).to_have_attribute(
        "aria-label", "Revenue by month"
    )
    # The empty chart is a message, not a canvas.
    lost = page.get_by_test_id("section-chart-lost")
    expect(lost.get_by_test_id("chart-empty")).to_have_text("No data for this period")
    expect(lost.locator("canvas")).to_have_count(0)
    expect(page.locator("#chart-lost")).to_have_count(0)

    assert "RUB\xa0250,000" in _chart(page, "chart-revenue", TICKS, "y")
    durations = _chart(page, "chart-response", TICKS, "y")
    # Whole minutes (analytics.formats.minutes_text): "< 1 min" below one.
    assert durations[:4] == ["< 1 min", "6\xa0h", "12\xa0h", "18\xa0h"], durations
    assert _chart(page, "chart-response", LABEL, 0, 0, "") == "Median: < 1 min"
    assert _chart(page, "chart-response", LABEL, 65, 0, "") == "Median: 1\xa0h 5\xa0min"
    assert _chart(page, "chart-response", LABEL, 1560, 1, "") == "Median before: 1\xa0d 2\xa0h"
    assert _chart(page, "chart-revenue", LABEL, 250000.5, 0, "") == "This year: RUB\xa0250,000.50"
    assert _chart(page, "chart-revenue", LABEL, 90000, 0, "") == "This year: RUB\xa090,000"
    # A sparkline: a value, no axes, no legend.
    assert _chart(page, "chart-trend", LABEL, 1500, 0, "") == "1,500"
    hidden = "c => [c.options.scales.x.display, c.options.scales.y.display,"
    hidden += " c.options.plugins.legend.display]"
    assert _chart(page, "chart-trend", hidden) == [False, False, False]
    # The previous period is drawn muted: the same hue, mostly transparent.
    colours = _chart(page, "chart-revenue", "c => c.data.datasets.map(d => d.backgroundColor)")
    assert colours == ["#0072B2", "rgba(0, 114, 178, 0.3)"]
    page.wait_for_function(SETTLED)
    page.screenshot(path=shots / "01-charts.png", full_page=True)

    # The pointer shows over a bar with a link, not over one without (April has none).
    canvas = page.locator("canvas[data-chart='chart-revenue']")
    page.mouse.move(*_bar_middle(page, "chart-revenue", 1, 3))
    expect(canvas).to_have_css("cursor", "auto")
    page.mouse.move(*_bar_middle(page, "chart-revenue", 0, 1))
    expect(canvas).to_have_css("cursor", "pointer")
    page.mouse.click(*_bar_middle(page, "chart-revenue", 0, 1))
    page.wait_for_url(re.compile(r"/charts-test/drill/1/$"))
    assert refused == []


def test_a_chart_swapped_in_by_htmx_is_drawn_once(new_page, live_server, shots):
    page, refused = _open(new_page, live_server, motion="reduce")
    assert _chart(page, "chart-revenue", "c => c.options.animation") is False
    count = "() => Object.keys(Chart.instances).length"
    assert page.evaluate(count) == len(CHARTS)
    for _ in range(2):
        page.get_by_test_id("swap").click()
        page.wait_for_function(ALL_DRAWN, arg=["chart-managers"])
        # The replaced chart is let go, not left drawing into a detached canvas.
        page.wait_for_function(f"() => Object.keys(Chart.instances).length === {len(CHARTS) + 1}")
    expect(page.locator("#swapped canvas")).to_have_count(1)
    page.screenshot(path=shots / "01-swapped.png", full_page=True)
    page.mouse.click(*_bar_middle(page, "chart-managers", 0, 0))
    page.wait_for_url(re.compile(r"/charts-test/drill/9/$"))
    assert refused == []


def test_numbers_are_in_the_pages_language(new_page, live_server):
    page, refused = _open(new_page, live_server, language="ru")
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert "250\xa0000\xa0₽" in _chart(page, "chart-revenue", TICKS, "y")
    assert _chart(page, "chart-revenue", LABEL, 250000.5, 0, "") == "This year: 250\xa0000,50\xa0₽"
    assert _chart(page, "chart-sources", LABEL, 52.5, 0, "Сайт") == "Сайт: 52,5\xa0%"
    assert _chart(page, "chart-trend", LABEL, 1500, 0, "") == "1\xa0500"
    assert refused == []
