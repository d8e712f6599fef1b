"""Settings → Blocklist: the senders whose inquiries are junk; add and remove entries."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from contacts import blocklist as service
from contacts.forms import BlockedSenderForm
from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import tenant_reverse

SHOWN = 500


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def blocklist(request: HttpRequest) -> HttpResponse:
    """The newest entries, with a form to add one."""
    form = BlockedSenderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = service.blocked_sender_add(actor=request.membership, **form.cleaned_data)
        except DomainError as error:
            form.add_error("value", error.message)
        else:
            messages.success(request, _("%(value)s is blocked.") % {"value": entry.value})
            return redirect(tenant_reverse("contacts:blocklist", request.tenant))
    entries = service.blocklist()
    context = {
        "form": form,
        "entries": list(entries[:SHOWN]),
        "total": entries.count(),
        "section": "blocklist",
    }
    return render(request, "contacts/blocklist.html", context, status=400 if form.errors else 200)


@require_POST
@require_right(TenantRight.SETTINGS)
def blocklist_delete(request: HttpRequest, pk: int) -> HttpResponse:
    entry = service.blocked_sender_get(entry_id=pk)
    service.blocked_sender_delete(actor=request.membership, entry=entry)
    messages.success(request, _("%(value)s is no longer blocked.") % {"value": entry.value})
    return redirect(tenant_reverse("contacts:blocklist", request.tenant))
