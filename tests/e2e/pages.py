"""What browser tests do on many pages: log in through the login form."""

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
