"""Authentication helpers: login throttling per account and per client address.

django-axes locks one account from one address after AXES_FAILURE_LIMIT failures. That
does not stop password spraying — one address trying a common password on many accounts,
a few times each — so `ThrottledBackend` also pauses every login from an address that failed
LOGIN_IP_FAILURE_LIMIT times within the cool-off window, whatever the accounts. Both answer
with the same lockout page (HTTP 429).
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_client_ip_address, get_credentials
from django.conf import settings
from django.http import HttpRequest

from crm import ratelimit
from crm.models import normalize_email


def axes_username(request: Any, credentials: dict[str, Any] | None) -> str:
    """The normalized e-mail axes counts failures for, so `ADMIN@x` and `admin@x` share a limit."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return normalize_email(raw)


def _window() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME * 3600))


def _address_key(request: HttpRequest) -> str | None:
    address = get_client_ip_address(request)
    return f"login-failures:{address}" if address else None


def address_locked(request: HttpRequest) -> bool:
    """Whether logins from the request's address are paused (too many failures, any accounts)."""
    key = _address_key(request)
    limit = settings.LOGIN_IP_FAILURE_LIMIT
    return bool(key) and limit > 0 and ratelimit.hits(key, window=_window()) >= limit


def count_failure(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """`user_login_failed` receiver: one more failure from the request's address."""
    key = _address_key(request) if request is not None else None
    if key and settings.LOGIN_IP_FAILURE_LIMIT > 0:
        ratelimit.over_limit(key, limit=settings.LOGIN_IP_FAILURE_LIMIT, window=_window())


class ThrottledBackend(AxesStandaloneBackend):
    """axes' lockout per (account, address), then the per-address limit across accounts."""

    def authenticate(
        self,
        request: HttpRequest,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if settings.AXES_ENABLED and request is not None and address_locked(request):
            request.axes_locked_out = True  # AxesMiddleware answers with the lockout page
            request.axes_credentials = get_credentials(username=username, **kwargs)
            raise AxesBackendPermissionDenied("Too many failed logins from this address")
        return super().authenticate(request, username, password, **kwargs)
