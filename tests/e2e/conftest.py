"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections

from tests.channels.providers import (  # noqa: F401 - fixtures, exposed by name
    fake_telegram,
    fake_telegram_server,
)
from tests.conftest import CHROMIUM

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(
    os.environ.get("E2E_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-results" / "e2e")
)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


_ONE_AT_A_TIME = threading.RLock()
_SERVING = threading.Condition()
_served = {"now": 0}  # the live server's requests being served


def _wait_until_served(timeout: float = 10.0) -> None:
    """Wait (bounded) until the live server serves no request: a request still in its
    transaction when the test's database is flushed deadlocks with the flush's TRUNCATE on
    PostgreSQL (a page closed while its panel or poll was being served)."""
    with _SERVING:
        _SERVING.wait_for(lambda: _served["now"] == 0, timeout)


@pytest.fixture(scope="session", autouse=True)
def _live_requests_tracked():
    """Count the live server's requests being served (see `_wait_until_served`). On SQLite
    they are also served one at a time, and a browser test's own queries wait for the
    request being served (`new_page`): the request threads and the test share one
    in-memory database, which refuses concurrent use ("database table is locked"), as
    PostgreSQL (CI) and `make run` (WAL, a busy timeout) do not."""
    original = WSGIHandler.__call__
    sqlite = connections["default"].vendor == "sqlite"

    def tracked(self, environ, start_response):
        with _SERVING:
            _served["now"] += 1
        try:
            if sqlite:
                with _ONE_AT_A_TIME:
                    return original(self, environ, start_response)
            return original(self, environ, start_response)
        finally:
            with _SERVING:
                _served["now"] -= 1
                _SERVING.notify_all()

    WSGIHandler.__call__ = tracked
    yield
    WSGIHandler.__call__ = original


def _one_statement_at_a_time(execute, sql, params, many, context):
    """A browser test's query waits for the request being served (an RLock: a request
    thread that runs through this wrapper already holds it)."""
    with _ONE_AT_A_TIME:
        return execute(sql, params, many, context)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium")  # pytest_runtest_setup turns this into a failure in CI
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """This test's output folder for screenshots."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def new_page(browser, live_server) -> Iterator:
    """Open pages in fresh browser contexts (one per person); CSP violations fail the test."""
    contexts = []
    problems: list[str] = []

    def make():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 860}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        return page

    test_db = connections["default"]
    if test_db.vendor == "sqlite":  # the test's own queries wait for the request served
        test_db.execute_wrappers.append(_one_statement_at_a_time)
    try:
        yield make
    finally:
        if test_db.vendor == "sqlite":
            test_db.execute_wrappers.remove(_one_statement_at_a_time)
    for context in contexts:
        context.close()
    _wait_until_served()
    assert problems == [], problems
