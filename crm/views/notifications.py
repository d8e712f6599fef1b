"""The bell: a member's notifications, opening one, marking all read."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from crm import notifications
from crm.urlnames import tenant_reverse


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    rows = notifications.notification_list(member=request.membership)[:100]
    return render(request, "crm/notification_list.html", {"rows": rows, "section": "notifications"})


@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to what it is about."""
    notification = notifications.notification_get(member=request.membership, notification_id=pk)
    notifications.notifications_mark_read(member=request.membership, ids=[notification.pk])
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        target = tenant_reverse("crm:notifications", request.tenant)
    return redirect(target)


@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    notifications.notifications_mark_read(member=request.membership)
    return redirect(tenant_reverse("crm:notifications", request.tenant))
