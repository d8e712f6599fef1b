"""Settings → Loss reasons: add, rename, reorder, turn off and on (administrators)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from deals import selectors, services
from deals.forms import LossReasonForm


def _to_list(request: HttpRequest) -> HttpResponse:
    return redirect(tenant_reverse("deals:loss_reasons", request.tenant))


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def loss_reasons(request: HttpRequest) -> HttpResponse:
    """The reasons in order, with their deal counts, and a form to add one."""
    form = LossReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.loss_reason_save(actor=request.membership, reason=None, data=form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Loss reason added."))
            return _to_list(request)
    return render(
        request,
        "deals/loss_reason_list.html",
        {
            "reasons": list(selectors.loss_reasons_with_counts()),
            "form": form,
            "section": "loss_reasons",
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def loss_reason_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a reason (its deals follow: they link to it)."""
    reason = selectors.loss_reason_get(reason_id=pk)
    form = LossReasonForm(request.POST or None, initial={"name": reason.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.loss_reason_save(
                actor=request.membership, reason=reason, data=form.cleaned_data
            )
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Saved."))
            return _to_list(request)
    return render(
        request,
        "deals/loss_reason_form.html",
        {"reason": reason, "form": form, "section": "loss_reasons"},
        status=400 if form.errors else 200,
    )


@require_POST
@require_right(TenantRight.SETTINGS)
def loss_reason_move(request: HttpRequest, pk: int) -> HttpResponse:
    """One place up (up=1) or down."""
    reason = selectors.loss_reason_get(reason_id=pk)
    services.loss_reason_move(
        actor=request.membership, reason=reason, up=request.POST.get("up") == "1"
    )
    return _to_list(request)


@require_POST
@require_right(TenantRight.SETTINGS)
def loss_reason_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn on (active=1) or off: an inactive reason is no longer offered, its deals keep it."""
    reason = selectors.loss_reason_get(reason_id=pk)
    active = request.POST.get("active") == "1"
    try:
        services.loss_reason_set_active(actor=request.membership, reason=reason, active=active)
    except DomainError as error:
        messages.error(request, error.message)
        return _to_list(request)
    messages.success(
        request,
        _("“%(name)s” is offered again.") % {"name": reason.name}
        if active
        else _("“%(name)s” is no longer offered.") % {"name": reason.name},
    )
    return _to_list(request)
