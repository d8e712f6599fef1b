"""A manager's new lead (the full form, the quick lead) goes through the inquiry service.

When the person already has an open lead the manager may see, the form comes back first
with a warning, a link to that lead and a "create anyway" box; sent again, the inquiry is
attached to that lead, or (box ticked) a separate lead is made. A known contact makes a
repeat lead. A blocked sender is not refused here, only pointed out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from contacts.blocklist import blocked_reason
from crm.access import Action, Entity, check_entity
from crm.lineitems import ProductLine
from crm.models import Membership
from crm.urlnames import tenant_reverse
from deals.inquiries import ATTACHED, REPEAT, inquiry_keys, inquiry_matches, inquiry_register
from leads.models import Lead, LeadSource
from leads.services import ACTOR, _Actor


def register_manual(
    request: HttpRequest,
    data: dict[str, Any],
    *,
    owner: Membership | _Actor | None = ACTOR,
    products: Iterable[ProductLine] = (),
) -> tuple[HttpResponse | None, Lead | None]:
    """Register the manager's inquiry: (redirect to the lead, None), or (None, the open lead
    to warn about) when the form has not shown that warning yet. Raises what
    inquiry_register raises."""
    actor = request.membership
    check_entity(actor=actor, entity=Entity.LEAD, action=Action.CREATE)
    duplicate = inquiry_matches(actor=actor, data=data).open_lead
    if duplicate is not None and request.POST.get("duplicate_of") != str(duplicate.pk):
        return None, duplicate
    result = inquiry_register(
        actor=actor,
        data=data,
        source=data.get("source") or LeadSource.MANUAL,
        owner=owner,
        products=products,
        attach=request.POST.get("create_anyway") != "on",
    )
    lead = result.lead
    values = {"title": lead.title}
    if result.outcome == ATTACHED:
        messages.info(request, _("The inquiry was added to the open lead “%(title)s”.") % values)
    elif result.outcome == REPEAT:
        messages.success(
            request, _("Lead “%(title)s” created: a repeat inquiry of someone known.") % values
        )
    else:
        messages.success(request, _("Lead “%(title)s” created.") % values)
    keys = inquiry_keys(data, request.tenant.default_region)
    reason = blocked_reason(
        phone_e164=keys.phone_e164,
        email_key=keys.email_key,
        messenger=keys.messenger,
        messenger_id=keys.messenger_id,
    )
    if reason:
        messages.warning(
            request, _("This sender is on the blocklist: %(reason)s") % {"reason": reason}
        )
    return redirect(tenant_reverse("leads:detail", request.tenant, pk=lead.pk)), None
