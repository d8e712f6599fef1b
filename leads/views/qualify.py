"""The card's qualification panel: the funnel level, the temperature, the score with its
explanation, the framework questionnaires, recent behaviour events and the "qualify this
lead" task (leads/qualification.py writes; the panel re-renders in place with htmx)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from leads import qualification, selectors
from leads.forms import QualifyTaskForm
from leads.frameworks import FRAMEWORKS
from leads.views.card import _after_action, _card, _partial, qualification_context


def _panel(request: HttpRequest, pk: int, status: int = 200, **extra: Any) -> HttpResponse:
    """The panel alone (not the whole card: it is also what a poll reads)."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    if not request.htmx and request.method == "POST":
        return _card(request, pk)
    context = qualification_context(request, lead, **extra) | extra
    response = render(request, "leads/lead_detail.html#qualification", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The panel alone: polled while the worker recomputes the score (`since`: the change
    that queued it; `polls`: how many more times to ask)."""
    try:
        since = parse_datetime(request.GET.get("since", "")[:40])
        polls = min(max(int(request.GET.get("polls", "0")), 0), selectors.SCORE_POLLS)
    except ValueError:
        since, polls = None, 0
    return _panel(
        request, pk, poll_since=since if since and since.tzinfo else None, poll_count=polls
    )


@require_POST
def level(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    value = request.POST.get("level", "")
    try:
        qualification.lead_set_level(actor=request.membership, lead=lead, level=value)
    except DomainError as error:
        return _after_action(request, lead, error)
    # A handover may have given the lead to someone else: the whole card changes — or the
    # lead is out of the member's sight now: back to the list, saying why.
    if not selectors.lead_list(actor=request.membership).filter(pk=pk).exists():
        messages.success(request, _("The lead was handed over to sales."))
        url = tenant_reverse("leads:list", request.tenant)
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    return _after_action(request, lead)


@require_POST
def temperature(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    value = request.POST.get("temperature", "")
    since = timezone.now()
    try:
        qualification.lead_set_temperature(actor=request.membership, lead=lead, temperature=value)
    except DomainError as error:
        return _panel(request, pk, status=error.status_code, qualify_error=error.message)
    return _panel(request, pk, **({} if value else {"poll_since": since}))


@require_POST
def answers(request: HttpRequest, pk: int, framework: str) -> HttpResponse:
    """Save a framework's answers; answers that do not read stay in their inputs with the
    reason, the others are saved."""
    if framework not in FRAMEWORKS:
        raise Http404
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    data = {key: request.POST.get(key) for key in request.POST}
    since = timezone.now()
    try:
        errors = qualification.lead_answer(
            actor=request.membership, lead=lead, framework=framework, data=data
        )
    except DomainError as error:
        return _panel(request, pk, status=error.status_code, qualify_error=error.message)
    if errors:
        extra = {"answer_errors": {framework: errors}, "answer_posted": {framework: data}}
        return _panel(request, pk, status=400, **extra)
    return _panel(request, pk, poll_since=since)


@require_POST
def task(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    form = QualifyTaskForm(request.POST, choices=selectors.qualifiers(lead=lead))
    if not form.is_valid():
        return _partial(request, lead, "card", status=400, qualify_task_form=form)
    try:
        qualification.lead_qualify_task(
            actor=request.membership,
            lead=lead,
            assignee=form.cleaned_data["assignee"],
            due_at=form.cleaned_data["due_at"],
            note=form.cleaned_data["note"],
        )
    except DomainError as error:
        return _after_action(request, lead, error)
    return _after_action(request, lead)
