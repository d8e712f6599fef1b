"""The conversion dialog: a page that htmx opens in a dialog over the lead card."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from crm.access import AccessDenied, Action, check_object
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from leads import selectors
from leads.conversion import (
    Conversion,
    Target,
    contact_data,
    conversion_owner,
    lead_convert,
    lead_matches,
)
from leads.forms import ConvertForm
from leads.models import OPEN_STATES, Lead


def _target(mode: str, match: Any, data: dict[str, Any]) -> Target | None:
    if mode == "match":
        return Target(record=match)
    return Target(data=data) if mode == "new" else None


@require_http_methods(["GET", "POST"])
def convert(request: HttpRequest, pk: int) -> HttpResponse:
    """Show what the lead would become (the matches the tenant already has), then convert."""
    actor = request.membership
    lead = selectors.lead_get_for_user(actor=actor, lead_id=pk)
    check_object(lead, actor=actor, action=Action.CONVERT)
    card = tenant_reverse("leads:detail", request.tenant, pk=lead.pk)
    if lead.state not in OPEN_STATES:
        messages.error(request, _("Only an open lead can be converted."))
        return HttpResponseClientRedirect(card) if request.htmx else redirect(card)
    contact, company = lead_matches(actor=actor, lead=lead)
    form = ConvertForm(
        request.POST or None,
        lead=lead,
        contact=contact,
        company=company,
        actor=actor,
        deal_owner=conversion_owner(actor, lead),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        new_contact = {
            **contact_data(lead),
            "last_name": data["last_name"],
            "first_name": data["first_name"],
            "middle_name": data["middle_name"],
            "phones": [p for p in (data["phone"], *lead.other_phones) if p],
            "emails": [data["email"]] if data["email"] else [],
        }
        try:
            result = lead_convert(
                actor=actor,
                lead=lead,
                contact=_target(data["contact_mode"], contact, new_contact),
                company=_target(
                    data["company_mode"],
                    company,
                    {"name": data["company_name"], "tax_id": data["tax_id"]},
                ),
                deal=form.deal_data() if data["make_deal"] else None,
                pipeline=data["pipeline"],
                stage=data["stage"] if data["make_deal"] else None,
                deal_owner=data["deal_owner"],
            )
        except AccessDenied as denied:
            form.add_error("deal_owner" if data["deal_owner"] else None, str(denied))
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The lead is converted."))
            landing = _landing(request, result) or card
            return HttpResponseClientRedirect(landing) if request.htmx else redirect(landing)
    return _page(request, lead, form, contact, company)


def _landing(request: HttpRequest, result: Conversion) -> str | None:
    """Where the manager goes on: the new deal, else the contact, else the company."""
    for name, record in (
        ("deals:detail", result.deal),
        ("contacts:detail", result.contact),
        ("companies:detail", result.company),
    ):
        if record is not None:
            return tenant_reverse(name, request.tenant, pk=record.pk)
    return None


def _page(
    request: HttpRequest, lead: Lead, form: ConvertForm, contact: Any, company: Any
) -> HttpResponse:
    template = "leads/lead_convert.html#form" if request.htmx else "leads/lead_convert.html"
    context = {"lead": lead, "form": form, "match_contact": contact, "match_company": company}
    response = render(request, template, context, status=400 if form.errors else 200)
    patch_vary_headers(response, ["HX-Request"])
    return response
