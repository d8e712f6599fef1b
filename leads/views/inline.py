"""A lead card's field edited in place (crm/inline.py): the lead form validates it, the
same services as the full form write it (lead_update, lead_assign for the responsible)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm import inline
from crm.access import AccessDenied, Action, can
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from leads import selectors, services
from leads.forms import LeadForm
from leads.models import LeadState
from leads.views.card import _card, _partial

# The card's main fields a click edits (custom fields cf_<key> too).
INLINE_FIELDS = ("name", "company_name", "phone", "email", "temperature", "amount", "owner")


@require_http_methods(["GET", "POST"])
def field(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """GET: the field's input in place of its value (?cancel=1: the value again); POST:
    save it and show the card, or the input with the reason it was not saved."""
    name, actor = field, request.membership
    lead = selectors.lead_get_for_user(actor=actor, lead_id=pk)
    if not inline.is_inline_field(name, INLINE_FIELDS):
        raise Http404
    if lead.state == LeadState.CONVERTED or not can(lead, actor=actor, action=Action.EDIT):
        raise AccessDenied(_("Your role does not allow this action on this record."))
    if name == "amount" and lead.products.exists():
        raise DomainError(_("The amount is the sum of the products: edit the products."))
    if request.method == "GET" and request.GET.get("cancel"):
        return _partial(request, lead, "details")
    url = tenant_reverse("leads:field", request.tenant, pk=pk, field=name)
    places = {"url": url, "card": "#lead-card", "details": "#lead-details"}
    return inline.edit(
        request,
        form_class=LeadForm,
        name=name,
        places=places,
        save=lambda form: _save(request, lead, form, name),
        saved=lambda: _partial(
            request, selectors.lead_get_for_user(actor=actor, lead_id=pk), "card"
        ),
        page=lambda: _card(request, pk),
        instance=lead,
    )


def _save(request: HttpRequest, lead, form: LeadForm, name: str) -> None:
    actor = request.membership
    if name == "owner":
        services.lead_assign(actor=actor, lead=lead, owner=form.cleaned_data["owner"])
    elif name.startswith("cf_"):
        custom = inline.custom_value(form, name, lead.custom)
        services.lead_update(actor=actor, lead=lead, data={"custom": custom})
    else:
        services.lead_update(actor=actor, lead=lead, data={name: form.cleaned_data[name]})
