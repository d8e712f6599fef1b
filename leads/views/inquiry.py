"""A manager's new lead (the full form, the quick lead) goes through the inquiry service.

As soon as a phone or an e-mail is typed, the form shows (htmx, `duplicates`) the open
leads, contacts and open deals the workspace already has for them. The choice is then
explicit: "Add to that lead" (one button per open lead: the inquiry goes to its history)
or "Create a new lead anyway"; with no open lead the button simply creates one. A form
sent without either while an open lead matches (no script, or a lead that appeared
meanwhile) comes back with the matches and both choices. A known contact makes a repeat
lead. A blocked sender is not refused here, only pointed out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.access import Action, Entity, check_entity
from crm.ids import parse_id
from crm.lineitems import ProductLine
from crm.models import Membership
from crm.services import ACTOR, _Actor
from crm.urlnames import tenant_reverse
from intake.duplicates import Found, duplicates_lookup
from intake.matching import lookup_keys
from intake.services import ATTACHED, REPEAT, inquiry_register_manual


def register_manual(
    request: HttpRequest,
    data: dict[str, Any],
    *,
    owner: Membership | _Actor | None = ACTOR,
    products: Iterable[ProductLine] = (),
) -> tuple[HttpResponse | None, Found | None]:
    """Register the manager's inquiry as they chose (intake.services.inquiry_register_manual):
    (redirect to the lead, None), or (None, the matches) when an open lead matches and they
    chose neither "add to that lead" nor "create a new lead anyway". Raises what the service
    raises."""
    # A chosen lead that cannot be one (0) is refused by the service as gone.
    chosen = request.POST.get("attach_to")
    attach_to = (parse_id(chosen) or 0) if chosen is not None else None
    result = inquiry_register_manual(
        actor=request.membership,
        data=data,
        owner=owner,
        products=products,
        attach_to=attach_to,
        create_anyway=request.POST.get("create_anyway") in ("1", "on"),
    )
    if result.lead is None:
        return None, result.found
    values = {"title": result.lead.title}
    if result.outcome == ATTACHED:
        messages.info(request, _("The inquiry was added to the open lead “%(title)s”.") % values)
    elif result.outcome == REPEAT:
        messages.success(
            request, _("Lead “%(title)s” created: a repeat inquiry of someone known.") % values
        )
    else:
        messages.success(request, _("Lead “%(title)s” created.") % values)
    if result.blocked:
        messages.warning(
            request, _("This sender is on the blocklist: %(reason)s") % {"reason": result.blocked}
        )
    return redirect(tenant_reverse("leads:detail", request.tenant, pk=result.lead.pk)), None


def matches_found(request: HttpRequest, data: dict[str, Any]) -> Found:
    """What the form shows under a phone or e-mail already typed (the page's first render
    after an error, so the choice stays explicit)."""
    contact = (data.get("contact") or "").strip()
    phone, email = data.get("phone") or "", data.get("email") or ""
    if contact:
        phone, email = ("", contact) if "@" in contact else (contact, "")
    keys = lookup_keys(phone=phone, email=email, region=request.tenant.default_region)
    return duplicates_lookup(actor=request.membership, keys=keys)


@require_GET
def duplicates(request: HttpRequest) -> HttpResponse:
    """htmx: the matches of the phone and e-mail typed so far (?phone=, ?email=, or the quick
    lead's ?contact=), with the form's submit button to fit."""
    check_entity(actor=request.membership, entity=Entity.LEAD, action=Action.CREATE)
    found = matches_found(request, request.GET.dict())
    response = render(request, "leads/_duplicate_matches.html", {"found": found, "oob": True})
    patch_vary_headers(response, ["HX-Request"])
    return response
