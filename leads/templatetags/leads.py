"""Template helpers for leads."""

from __future__ import annotations

from django import template

from leads import selectors
from leads.models import Lead

register = template.Library()


@register.filter
def lead_cursor(lead: Lead) -> str:
    """The keyset position of a row, for "rows newer than this one"."""
    return selectors.cursor_of(lead)
