"""The card's qualification panel: the funnel level, the temperature, the score with its
explanation, the framework questionnaires, recent behaviour events and the "qualify this
lead" task (leads/qualification.py writes; the panel re-renders in place with htmx)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from crm.errors import DomainError
from leads import qualification, selectors
from leads.forms import QualifyTaskForm
from leads.frameworks import FRAMEWORKS
from leads.views.card import _after_action, _card, _partial


def _panel(request: HttpRequest, pk: int, status: int = 200, **extra: Any) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    if not request.htmx:
        return _card(request, pk)
    return _partial(request, lead, "qualification", status=status, **extra)


@require_GET
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The panel alone: polled while the worker recomputes the score (`since`: the change
    that queued it; `polls`: how many more times to ask)."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    try:
        since = parse_datetime(request.GET.get("since", "")[:40])
        polls = min(max(int(request.GET.get("polls", "0")), 0), selectors.SCORE_POLLS)
    except ValueError:
        since, polls = None, 0
    extra = {"poll_since": since if since and since.tzinfo else None, "poll_count": polls}
    return _partial(request, lead, "qualification", **extra)


@require_POST
def level(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    value = request.POST.get("level", "")
    try:
        qualification.lead_set_level(actor=request.membership, lead=lead, level=value)
    except DomainError as error:
        return _after_action(request, lead, error)
    # A handover may have given the lead to someone else: the whole card changes.
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
