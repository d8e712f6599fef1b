"""Settings → Lead statuses: add, rename, recolour, reorder, default, delete with a move."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from leads import selectors, services
from leads.forms import StatusDeleteForm, StatusForm
from leads.models import LeadState


def _to_list(request: HttpRequest) -> HttpResponse:
    return redirect(tenant_reverse("leads:statuses", request.tenant))


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def statuses(request: HttpRequest) -> HttpResponse:
    """Statuses grouped by state, with a form to add one."""
    form = StatusForm(
        request.POST or None, initial={"color": "#6c757d", "state": LeadState.IN_PROGRESS}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.status_save(actor=request.membership, status=None, data=form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Status added."))
            return _to_list(request)
    rows = list(selectors.status_list_with_counts())
    groups = [
        (value, label, [s for s in rows if s.state == value]) for value, label in LeadState.choices
    ]
    return render(
        request,
        "leads/status_list.html",
        {"groups": groups, "form": form, "section": "statuses"},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def status_edit(request: HttpRequest, pk: int) -> HttpResponse:
    status = selectors.status_get(status_id=pk)
    form = StatusForm(request.POST or None, instance=status)
    delete_form = StatusDeleteForm(status=status)
    if request.method == "POST" and form.is_valid():
        try:
            services.status_save(actor=request.membership, status=status, data=form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Saved."))
            return _to_list(request)
    context = {"status": status, "form": form, "delete_form": delete_form, "section": "statuses"}
    return render(request, "leads/status_form.html", context, status=400 if form.errors else 200)


@require_POST
@require_right(TenantRight.SETTINGS)
def status_default(request: HttpRequest, pk: int) -> HttpResponse:
    status = selectors.status_get(status_id=pk)
    services.status_make_default(actor=request.membership, status=status)
    messages.success(
        request, _("“%(name)s” is now the default of its stage.") % {"name": status.name}
    )
    return _to_list(request)


@require_POST
@require_right(TenantRight.SETTINGS)
def status_delete(request: HttpRequest, pk: int) -> HttpResponse:
    status = selectors.status_get(status_id=pk)
    form = StatusDeleteForm(request.POST, status=status)
    if form.is_valid():
        try:
            moved = services.status_delete(
                actor=request.membership,
                status=status,
                replacement=form.cleaned_data["replacement"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("Status deleted; %(count)s leads moved.") % {"count": moved}
            )
            return _to_list(request)
    else:
        messages.error(request, _("Choose another status of the same stage for its leads."))
    return redirect(tenant_reverse("leads:status_edit", request.tenant, pk=status.pk))
