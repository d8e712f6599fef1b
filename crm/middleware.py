"""TenantMiddleware: the one place a request enters a tenant.

For a URL under `/<tenant-slug>/…` it resolves the tenant, sends anonymous visitors to the
login page, answers 404 to anyone who is not an active member (the same 404 as a tenant
that does not exist), and runs the view inside `tenant_context` with `request.tenant` and
`request.membership` set. Other requests by a logged-in user run inside `user_context`, so
the tenant switcher can read that user's memberships.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme

from crm.errors import DomainError
from crm.models import Membership, Tenant
from crm.tenancy import tenant_context, user_context
from crm.views.errors import is_htmx, refusal

TENANT_KWARG = "tenant_slug"

# Tenants by slug, kept a few seconds per process: every tenant page needs its row, and a
# tenant's settings change rarely. A save in this process forgets it at once; other processes
# see the change within TENANT_CACHE_SECONDS. Membership is never cached: access is checked
# on every request.
_TENANTS: dict[str, tuple[float, Tenant]] = {}


def _tenant(slug: str) -> Tenant | None:
    seconds = settings.TENANT_CACHE_SECONDS
    known = _TENANTS.get(slug)
    if known is not None and known[0] > time.monotonic():
        return copy.copy(known[1])  # a request may change its own copy
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None and seconds > 0:
        _TENANTS[slug] = (time.monotonic() + seconds, copy.copy(tenant))
    return tenant


@receiver(post_save, sender=Tenant)
def _forget_tenant(sender: type[Tenant], instance: Tenant, **kwargs: object) -> None:
    _TENANTS.pop(instance.slug, None)


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None
        request.membership = None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            match = None
        slug = match.kwargs.get(TENANT_KWARG) if match else None
        if slug is None:
            if request.user.is_authenticated:
                with user_context(request.user):
                    return self._respond(request)
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        tenant = _tenant(slug)
        if tenant is None:
            raise Http404
        with tenant_context(tenant, user=request.user):
            # At most one row (unique per tenant and user): no ORDER BY, as .first() adds.
            found = list(
                Membership.objects.select_related("role", "team")
                .filter(user=request.user, is_active=True)
                .order_by()[:1]
            )
            if not found:
                raise Http404
            membership = found[0]
            # The same rows the request already holds: no second read when code uses them.
            membership.tenant, membership.user = tenant, request.user
            request.tenant, request.membership = tenant, membership
            if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
                translation.activate(tenant.language)
                request.LANGUAGE_CODE = tenant.language
            return self._respond(request, rollback_from=400)

    def _respond(self, request: HttpRequest, rollback_from: int = 500) -> HttpResponse:
        """Run the view; undo its writes when it ends in an error response."""
        response = self.get_response(request)
        if response.status_code >= rollback_from:
            transaction.set_rollback(True)
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict
    ) -> None:
        # Views get the tenant from request.tenant, not from the URL.
        view_kwargs.pop(TENANT_KWARG, None)


class RefusalMiddleware:
    """A DomainError a view did not handle itself: for htmx, the message in place
    (crm.views.errors.refusal); for a plain request, back to the page it came from (when
    that page is ours) with the message, else a page saying it. The request's writes are
    undone either way."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        if transaction.get_connection().in_atomic_block:
            transaction.set_rollback(True)
        if is_htmx(request):
            return refusal(request, exception.message, status=exception.status_code)
        back = request.headers.get("Referer", "")
        if request.method == "POST" and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            messages.error(request, exception.message)
            return redirect(back)
        return render(
            request, "refused.html", {"message": exception.message}, status=exception.status_code
        )
