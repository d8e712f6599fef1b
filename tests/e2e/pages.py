"""What browser tests do on many pages: log in through the login form, wait for htmx."""

from __future__ import annotations

import re

from tests.factories import PASSWORD


def log_in(page, email: str, *, workspace: str, password: str = PASSWORD) -> None:
    """Log in as `email` and wait for the workspace's home page."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(rf"/{re.escape(workspace)}/$"))


def wait_for_htmx(locator) -> None:
    """Wait until htmx has bound the element's hx-* attributes: content htmx has just
    swapped in (a dialog) is visible before it is processed, and a change made in between
    sends no request."""
    locator.element_handle().wait_for_element_state("visible")
    locator.page.wait_for_function(
        "element => Boolean(element['htmx-internal-data']?.initHash)", arg=locator.element_handle()
    )
