"""A deal card's field edited in place (crm/inline.py): the deal form validates it,
deal_update writes it, as for the full form."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm import inline
from crm.access import AccessDenied, Action, can
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from deals import selectors, services
from deals.forms import DealForm
from deals.views.card import _card, _partial

# The card's main fields a click edits (custom fields cf_<key> too).
INLINE_FIELDS = ("title", "amount", "expected_close", "owner")


@require_http_methods(["GET", "POST"])
def field(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """GET: the field's input in place of its value (?cancel=1: the value again); POST:
    save it and show the card, or the input with the reason it was not saved."""
    name, actor = field, request.membership
    deal = selectors.deal_get_for_user(actor=actor, deal_id=pk)
    if not inline.is_inline_field(name, INLINE_FIELDS):
        raise Http404
    if not can(deal, actor=actor, action=Action.EDIT):
        raise AccessDenied(_("Your role does not allow this action on this record."))
    if name == "amount" and deal.products.exists():
        raise DomainError(_("The amount is the sum of the products: edit the products."))
    # The title stands in the card's heading, the other fields in its details.
    shown_in = "card" if name == "title" else "details"
    if request.method == "GET" and request.GET.get("cancel"):
        return _partial(request, deal, shown_in)
    url = tenant_reverse("deals:field", request.tenant, pk=pk, field=name)
    places = {"url": url, "card": "#deal-card", "details": f"#deal-{shown_in}"}
    return inline.edit(
        request,
        form_class=DealForm,
        name=name,
        places=places,
        save=lambda form: _save(request, deal, form, name),
        saved=lambda: _partial(
            request, selectors.deal_get_for_user(actor=actor, deal_id=pk), "card"
        ),
        page=lambda: _card(request, pk),
        instance=deal,
        actor=actor,
    )


def _save(request: HttpRequest, deal, form: DealForm, name: str) -> None:
    actor = request.membership
    if name == "owner":
        services.deal_update(actor=actor, deal=deal, data={}, owner=form.cleaned_data["owner"])
    elif name.startswith("cf_"):
        custom = inline.custom_value(form, name, deal.custom)
        services.deal_update(actor=actor, deal=deal, data={"custom": custom})
    else:
        services.deal_update(actor=actor, deal=deal, data={name: form.cleaned_data[name]})
