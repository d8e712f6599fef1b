"""Authentication helpers: one spelling of an e-mail address for login throttling."""

from __future__ import annotations

from typing import Any

from crm.models import normalize_email


def axes_username(request: Any, credentials: dict[str, Any] | None) -> str:
    """The normalized e-mail axes counts failures for, so `ADMIN@x` and `admin@x` share a limit."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return normalize_email(raw)
