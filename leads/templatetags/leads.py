"""Template helpers for leads."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.safestring import SafeString

from leads import rows, selectors
from leads.models import Lead

register = template.Library()


@register.filter
def lead_cursor(lead: selectors.LeadRow) -> str:
    """The keyset position of a row, for "rows newer than this one"."""
    return selectors.cursor_of(lead)


@register.simple_tag(takes_context=True)
def lead_rows(context: template.Context, leads: Iterable[selectors.LeadRow]) -> SafeString:
    """{% lead_rows page.rows %}: the table rows of a list page (leads.rows)."""
    return rows.rows_html(leads, leads_root=str(context["leads_root"]))


@register.simple_tag(takes_context=True)
def lead_row(context: template.Context, lead: Lead) -> SafeString:
    """{% lead_row lead %}: the table row of one lead (the row swapped in after "Take")."""
    return lead_rows(context, [selectors.row_of(lead)])
