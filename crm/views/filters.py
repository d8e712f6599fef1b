"""Saving and removing a list's filters (plain POST forms with a redirect to the list)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import savedfilters
from crm.access import AccessDenied
from crm.errors import DomainError
from crm.urlnames import tenant_reverse


def _list_url(request: HttpRequest, list_name: str, query: str) -> str:
    saved_list = savedfilters.LISTS.get(list_name)
    if saved_list is None:
        return tenant_reverse("crm:home", request.tenant)
    if not saved_list.may_view(request.membership):
        raise AccessDenied(_("Your role does not allow this action."))
    url = tenant_reverse(saved_list.url_name, request.tenant, **saved_list.url_kwargs)
    return f"{url}?{query}" if query else url


@require_POST
def saved_filter_create(request: HttpRequest) -> HttpResponse:
    """Save the list's current filters under a name; back to the list either way."""
    list_name, query = request.POST.get("list_name", ""), request.POST.get("query", "")
    target = _list_url(request, list_name, savedfilters.clean_query(query))
    try:
        saved = savedfilters.saved_filter_create(
            actor=request.membership,
            list_name=list_name,
            name=request.POST.get("name", ""),
            query=query,
            shared=request.POST.get("shared") == "on",
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Filter “%(name)s” saved.") % {"name": saved.name})
    return redirect(target)


@require_POST
def saved_filter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = savedfilters.saved_filter_delete(actor=request.membership, saved_filter_id=pk)
    messages.success(request, _("Filter “%(name)s” removed.") % {"name": saved.name})
    return redirect(_list_url(request, saved.list_name, ""))
