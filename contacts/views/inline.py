"""A contact's or company's card field edited in place (crm/inline.py): the record's form
validates it, record_update writes it, as for the full form."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from contacts import services
from contacts.models import Contact, Party
from contacts.views.card import _card, _get, _partial
from contacts.views.kinds import Kind
from crm import inline
from crm.access import Action, check_object
from crm.urlnames import tenant_reverse

# The cards' main fields a click edits (custom fields cf_<key> too).
CONTACT_FIELDS = (
    *("last_name", "first_name", "middle_name", "company", "position"),
    *("phones", "emails", "owner"),
)
COMPANY_FIELDS = ("name", "tax_id", "website", "address", "phones", "emails", "owner")


@require_http_methods(["GET", "POST"])
def field(request: HttpRequest, kind: Kind, pk: int, field: str) -> HttpResponse:
    """GET: the field's input in place of its value (?cancel=1: the value again); POST:
    save it and show the card, or the input with the reason it was not saved."""
    name, actor = field, request.membership
    record = _get(request, kind, pk)
    fields = CONTACT_FIELDS if kind.model is Contact else COMPANY_FIELDS
    if not inline.is_inline_field(name, fields):
        raise Http404
    check_object(record, actor=actor, action=Action.EDIT)
    if request.method == "GET" and request.GET.get("cancel"):
        return _partial(request, kind, record, "details")
    url = tenant_reverse(f"{kind.namespace}:field", request.tenant, pk=pk, field=name)
    places = {"url": url, "card": "#record-card", "details": "#record-details"}
    options = {"instance": record, "actor": actor, "region": request.tenant.default_region}
    return inline.edit(
        request,
        form_class=kind.form,
        name=name,
        places=places,
        save=lambda form: _save(request, record, form, name),
        saved=lambda: _partial(request, kind, _get(request, kind, pk), "card"),
        page=lambda: _card(request, kind, pk),
        **options,
    )


def _save(request: HttpRequest, record: Party, form, name: str) -> None:
    actor = request.membership
    if name == "owner":
        services.record_update(
            actor=actor, record=record, data={}, owner=form.cleaned_data["owner"]
        )
    elif name.startswith("cf_"):
        custom = inline.custom_value(form, name, record.custom)
        services.record_update(actor=actor, record=record, data={"custom": custom})
    else:
        services.record_update(actor=actor, record=record, data={name: form.cleaned_data[name]})
