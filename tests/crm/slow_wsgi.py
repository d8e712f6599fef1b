"""A WSGI application for the gunicorn listener test: `/in/…` takes 0.5 s, pages answer at
once (the test measures the order in which gunicorn accepts, not Django)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"].startswith("/in/"):
        time.sleep(0.5)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]
