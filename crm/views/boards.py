"""What lead and deal boards share: a card's quick "plan the next activity"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.forms import ActivityForm
from crm.views.errors import refusal


def plan_from_card(
    request: HttpRequest,
    form: ActivityForm,
    *,
    add: Callable[..., Any],
    answer: Callable[[DomainError | None], HttpResponse],
) -> HttpResponse:
    """Plan an activity from a board card: `add` (the record's service, given the form's
    data) writes it, `answer` gives the refreshed card or tells a domain refusal; a wrong
    form or a refused right is told in place and nothing is written."""
    if not form.is_valid():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        message = _("Check the activity: %(errors)s") % {"errors": errors}
        return refusal(request, message, status=400)
    try:
        add(**form.cleaned_data)
    except DomainError as error:
        return answer(error)
    except AccessDenied as denied:
        return refusal(request, str(denied), status=403)
    return answer(None)
