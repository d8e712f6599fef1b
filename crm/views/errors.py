"""Friendly error pages, and refusals answered in place. The 404 page never echoes the path,
so "not yours" and "does not exist" are indistinguishable.

An htmx request (or the boards' fetch, which sends HX-Request) that is refused — 403, 404,
a CSRF failure, a domain rule — never gets a page to swap into its target: `refusal()`
answers with the message as an alert for the page's message area (#toasts, base.html),
through HX-Retarget/HX-Reswap, keeping the status code. base.html's htmx config swaps those
codes. A plain request gets the page (403, 404) or, for a domain rule on a POST, is sent
back where it came from with the message (crm.middleware.RefusalMiddleware).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.csrf import csrf_failure as django_csrf_failure

# The element of base.html that collects in-place messages, and how they are added to it.
MESSAGES_TARGET = "#toasts"
MESSAGES_SWAP = "beforeend"


def is_htmx(request: HttpRequest) -> bool:
    """Whether the request came from htmx (or a script that says so with HX-Request)."""
    return bool(getattr(request, "htmx", False))


def refusal(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """An htmx request refused: `message` shown in the page's message area, the request's
    own target left as it was. The status code stays (403, 404, 409…)."""
    response = render(request, "components/_refusal.html", {"message": message}, status=status)
    response["HX-Retarget"] = MESSAGES_TARGET
    response["HX-Reswap"] = MESSAGES_SWAP
    patch_vary_headers(response, ["HX-Request"])
    return response


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else ""
    if is_htmx(request):
        return refusal(
            request,
            message or _("Your role does not give access to this page."),
            status=403,
        )
    return render(request, "403.html", {"message": message}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_htmx(request):
        return refusal(
            request, _("This record is gone or is not yours to see: reload the page."), status=404
        )
    return render(request, "404.html", status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with a stale or missing CSRF token (a page left open across a log-in)."""
    if is_htmx(request):
        return refusal(request, _("This page is out of date: reload it and try again."), status=403)
    return django_csrf_failure(request, reason=reason)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: the database or a context processor may be what failed.
    return HttpResponse(render_to_string("500.html"), status=500)
