"""The public endpoint of every channel: `/in/<token>/…` speaking its provider's format.

It authenticates the delivery, stores it (the InboundEvent is committed before any 2xx),
answers at once and leaves the work to the worker. When the database is unavailable it
answers 503, so the provider delivers again later.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from channels import selectors, services
from channels.adapters import Forbidden, RawDelivery, Rejected, adapter_for
from crm.tenancy import tenant_context

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> HttpResponse:
    return JsonResponse({"status": "error", "error": message}, status=status)


def _receive(request: HttpRequest, token: str, path: str) -> HttpResponse:
    route = selectors.route_get(token=token)
    if route is None:
        return _error(404, _("No such channel."))
    with tenant_context(route.tenant):
        channel = selectors.channel_for_route(route=route)
        if channel is None:
            return _error(404, _("No such channel."))
        adapter = adapter_for(channel.kind)
        response = adapter.handle(request, channel, path)
        if response is not None:
            return response
        if request.method != "POST":
            return _error(405, _("Deliveries are POSTed."))
        try:
            adapter.authenticate(request, channel)
        except Forbidden:
            return _error(403, _("Wrong credentials for this channel."))
        response = adapter.throttle(request, channel)
        if response is not None:
            return response
        raw = RawDelivery.from_request(request, path)
        try:
            event, created = services.event_accept(channel=channel, raw=raw)
        except Rejected as error:
            response = adapter.reject(request, channel, error)
        else:
            response = adapter.respond(request, channel, event, created)
    # The context's transaction has committed here: the delivery is stored.
    return response


@csrf_exempt
def inbound(request: HttpRequest, token: str, path: str = "") -> HttpResponse:
    """Receive one delivery for the channel with this token."""
    try:
        return _receive(request, token, path)
    except RequestDataTooBig:
        return _error(413, _("The delivery is too large."))
    except DatabaseError:
        logger.exception("Inbound delivery not stored: the database is unavailable.")
        response = _error(503, _("Temporarily unavailable; deliver again later."))
        response["Retry-After"] = "30"
        return response
