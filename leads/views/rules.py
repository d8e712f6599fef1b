"""Settings → Distribution: the rules that give new leads to members (add, edit, reorder,
turn on and off, delete)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from leads import distribution
from leads.forms import RuleForm
from leads.models import AssignmentRule, LeadSource

SETTINGS = TenantRight.SETTINGS


def _to_list(request: HttpRequest) -> HttpResponse:
    return redirect(tenant_reverse("leads:rules", request.tenant))


@require_GET
@require_right(SETTINGS)
def rules(request: HttpRequest) -> HttpResponse:
    """The rules in the order they are tried, with their conditions and pools."""
    rows = list(distribution.rule_list())
    context = {
        "rules": rows,
        "names": distribution.rule_member_names(rows),
        "source_labels": dict(LeadSource.choices),
        "section": "rules",
    }
    return render(request, "leads/rule_list.html", context)


def _form_page(request: HttpRequest, rule: AssignmentRule | None) -> HttpResponse:
    form = RuleForm(request.POST or None, rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            distribution.rule_save(actor=request.membership, rule=rule, data=form.rule_data())
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Rule saved."))
            return _to_list(request)
    context = {"rule": rule, "form": form, "section": "rules"}
    return render(request, "leads/rule_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def rule_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, distribution.rule_get(rule_id=pk))


@require_POST
@require_right(SETTINGS)
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    """One place up (up=1) or down."""
    rule = distribution.rule_get(rule_id=pk)
    distribution.rule_move(actor=request.membership, rule=rule, up=request.POST.get("up") == "1")
    return _to_list(request)


@require_POST
@require_right(SETTINGS)
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn on (enabled=1) or off."""
    rule = distribution.rule_get(rule_id=pk)
    enabled = request.POST.get("enabled") == "1"
    distribution.rule_set_enabled(actor=request.membership, rule=rule, enabled=enabled)
    messages.success(
        request,
        _("“%(name)s” is on.") % {"name": rule.name}
        if enabled
        else _("“%(name)s” is off.") % {"name": rule.name},
    )
    return _to_list(request)


@require_POST
@require_right(SETTINGS)
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = distribution.rule_get(rule_id=pk)
    distribution.rule_delete(actor=request.membership, rule=rule)
    messages.success(request, _("Rule deleted."))
    return _to_list(request)
