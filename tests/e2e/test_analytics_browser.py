"""End to end in a real browser, on the demo workspace (`make run`'s data): a director's
home is the dashboard; they open three reports, change the period, follow a figure to the
list of exactly those leads and save a view; a manager's home shows their own figures and
no reports. Screenshots of every page are kept (test-results/e2e/)."""

from __future__ import annotations

import re
from functools import partial

import pytest
from playwright.sync_api import expect

from crm.demo import DEMO_PASSWORD, seed_demo
from tests.e2e.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS_DRAWN = """() => [...document.querySelectorAll('canvas[data-chart]')]
    .every(c => window.Chart && Chart.getChart(c))"""


@pytest.fixture
def demo():
    tenant, _created = seed_demo()
    return tenant


_log_in = partial(log_in, workspace="demo", password=DEMO_PASSWORD)


def test_a_director_reads_the_dashboard_and_the_reports(new_page, shots, demo):
    page = new_page()
    _log_in(page, "director@demo.voronka.local")
    expect(page.get_by_test_id("home-title")).to_contain_text("Сводка")
    tiles = page.get_by_test_id("tiles")
    expect(tiles.get_by_test_id("tile-leads")).to_be_visible()
    expect(tiles.get_by_test_id("tile-revenue")).to_be_visible()
    page.wait_for_function(CHARTS_DRAWN)
    page.screenshot(path=shots / "01-dashboard.png", full_page=True)

    for index, slug in enumerate(("sources", "funnel", "speed"), start=2):
        page.get_by_test_id("report-menu").locator(f"a[href*='/analytics/{slug}/']").click()
        page.wait_for_url(re.compile(rf"/demo/analytics/{slug}/"))
        expect(page.get_by_test_id("report-title")).to_be_visible()
        expect(page.locator("canvas[data-chart]").first).to_be_visible()
        page.wait_for_function(CHARTS_DRAWN)
        page.screenshot(path=shots / f"0{index}-{slug}.png", full_page=True)

    # Another period: the quarter, chosen in the form.
    page.get_by_test_id("report-menu").locator("a[href*='/analytics/sources/']").click()
    page.select_option("select[name=period]", "this_quarter")
    page.get_by_test_id("report-apply").click()
    page.wait_for_url(re.compile(r"period=this_quarter"))
    expect(page.get_by_test_id("report-period")).to_contain_text("Лиды, созданные")

    # A figure opens the list of exactly those leads.
    figure = page.get_by_test_id("table-sources").locator("tbody a[data-figure]").first
    number = figure.get_attribute("data-figure")
    figure.click()
    page.wait_for_url(re.compile(r"/demo/leads/\?.*total=1"))
    expect(page.get_by_test_id("total")).to_have_text(re.compile(rf"\b{number}\b"))
    page.screenshot(path=shots / "05-drill-down.png", full_page=True)

    # A saved view comes back in one click.
    page.go_back()
    page.fill("[data-testid=saved-view-name]", "Квартал по источникам")
    page.get_by_test_id("saved-view-save").click()
    expect(page.get_by_test_id("saved-view")).to_have_text("Квартал по источникам")
    page.get_by_test_id("report-csv").wait_for()


def test_a_manager_sees_their_own_figures_and_no_reports(new_page, shots, demo):
    page = new_page()
    _log_in(page, "manager@demo.voronka.local")
    expect(page.get_by_test_id("home-title")).to_contain_text("Мои показатели")
    expect(page.get_by_test_id("tile-leads")).to_be_visible()
    expect(page.get_by_test_id("tile-report")).to_have_count(0)
    expect(page.locator("[data-nav=analytics]")).to_have_count(0)
    page.wait_for_function(CHARTS_DRAWN)
    page.screenshot(path=shots / "01-my-figures.png", full_page=True)
    response = page.goto("/demo/analytics/sources/")
    assert response.status == 403
