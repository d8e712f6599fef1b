"""Template helpers for leads."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.safestring import SafeString

from leads import cards, rows, selectors
from leads.forms import bulk_choices
from leads.models import Lead
from leads.services import lead_may_take

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_rows(context: template.Context, leads: Iterable[selectors.LeadRow]) -> SafeString:
    """{% lead_rows page.rows %}: the table rows of a list page (leads.rows), with "Take"
    and tick boxes only for a viewer whose role may use them (`archived`: the archived
    list's actions)."""
    actor = context["membership"]
    return rows.rows_html(
        leads,
        leads_root=str(context["leads_root"]),
        # Archived leads are junk, out of the work: nothing to take there.
        may_take=lead_may_take(actor) and not context.get("archived"),
        selectable=bool(bulk_choices(actor, archived=bool(context.get("archived")))),
    )


@register.simple_tag(takes_context=True)
def lead_row(context: template.Context, lead: Lead) -> SafeString:
    """{% lead_row lead %}: the table row of one lead (the row swapped in after "Take")."""
    return lead_rows(context, [selectors.row_of(lead)])


@register.simple_tag(takes_context=True)
def lead_cards(context: template.Context, leads: Iterable[Lead]) -> SafeString:
    """{% lead_cards column.cards %}: board cards (leads.cards), with "Done" and "Plan" on
    those the viewer may move (`allowed`)."""
    return cards.cards_html(
        leads,
        leads_root=str(context["leads_root"]),
        allowed=context.get("allowed") or {},
        currency=str(context.get("currency") or ""),
    )
