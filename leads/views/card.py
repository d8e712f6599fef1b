"""The lead card and its actions: edit, move, take, assign, activities, trash."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.blocklist import blocked_reason
from crm import customfields, nextactivity
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.access import AccessDenied, Action, Entity, can, check_entity
from crm.attachments import timeline_with_files
from crm.errors import DomainError
from crm.forms import ActivityForm
from crm.urlnames import tenant_reverse
from crm.views.boards import plan_from_card
from crm.views.errors import refusal
from intake.identities import identities_of
from leads import selectors, services
from leads.forms import AssignForm, LeadForm, MoveForm, PostponeForm, QualifyTaskForm
from leads.models import OPEN_STATES, LeadState
from leads.views.inquiry import matches_found, register_manual


def _card(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect(tenant_reverse("leads:detail", request.tenant, pk=pk))


def qualification_context(request: HttpRequest, lead, **extra: Any) -> dict:
    """What the qualification panel shows (selectors.qualification_panel) with the
    "qualify" task's form; `extra`: a refused save's answers and errors, the change whose
    score the panel waits for."""
    panel = selectors.qualification_panel(
        actor=request.membership,
        lead=lead,
        errors=extra.get("answer_errors"),
        posted=extra.get("answer_posted"),
        since=extra.get("poll_since"),
        polls=extra.get("poll_count", selectors.SCORE_POLLS),
    )
    if panel["may_ask_qualify"] and "qualify_task_form" not in extra:
        panel["qualify_task_form"] = QualifyTaskForm(choices=selectors.qualifiers(lead=lead))
    return {"lead": lead, **panel}


def card_context(request: HttpRequest, lead, **extra: Any) -> dict:
    """Everything the card shows (also re-rendered piecewise by htmx); `extra`: what a
    refused action keeps in place (a form with its errors, the questionnaires' answers)."""
    actor = request.membership
    statuses = list(selectors.statuses())
    defs = customfields.definitions(entity=Entity.LEAD)
    members = customfields.member_names(defs, lead.custom)
    return qualification_context(request, lead, **extra) | {
        "lead": lead,
        "custom_lines": customfields.display(defs, lead.custom, members),
        "custom_fields": customfields.card_fields(defs, lead.custom, members),
        "section": "list",
        "statuses": statuses,
        "allowed_status_ids": selectors.allowed_status_ids(lead, statuses),
        "junk_statuses": [s for s in statuses if s.state == LeadState.JUNK],
        # A converted lead is kept as it was: its contact, company and deal carry on.
        "may_edit": lead.state != LeadState.CONVERTED
        and can(lead, actor=actor, action=Action.EDIT),
        "may_convert": lead.state in OPEN_STATES and can(lead, actor=actor, action=Action.CONVERT),
        "may_delete": can(lead, actor=actor, action=Action.DELETE),
        # Who may edit an open lead may postpone it (or bring it back).
        "may_postpone": lead.state in OPEN_STATES and can(lead, actor=actor, action=Action.EDIT),
        "postpone_form": PostponeForm(),
        "products": list(lead.products.all()),
        "events": timeline_with_files(crm_selectors.timeline_for(target=lead)[:100]),
        "activities": list(crm_selectors.activities_for(target=lead)),
        "activity_form": ActivityForm(),
        "assign_form": AssignForm(actor=actor, lead=lead),
        "duplicates": selectors.likely_duplicates(lead, actor=actor),
        "is_repeat": lead.is_repeat,
        "identities": identities_of(lead=lead),
        "blocked": blocked_reason(
            phone_e164=lead.phone_e164,
            email_key=lead.email_key,
            messenger=lead.messenger,
            messenger_id=lead.messenger_id,
        ),
    }


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    return render(request, "leads/lead_detail.html", card_context(request, lead))


@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    """The full form: contact data, source and UTM, products, responsible (the creator
    unless they choose otherwise); the matches of the phone or e-mail show as they are
    typed, with an explicit choice (leads/views/inquiry.py)."""
    actor = request.membership
    check_entity(actor=actor, entity=Entity.LEAD, action=Action.CREATE)
    form = LeadForm(
        request.POST or None,
        initial={"currency": request.tenant.currency, "owner": actor.pk},
        actor=actor,
    )
    found = None
    if request.method == "POST" and form.is_valid():
        try:
            response, found = register_manual(
                request, form.lead_data(), owner=form.cleaned_data["owner"], products=form.products
            )
        except AccessDenied as denied:
            form.add_error("owner", str(denied))
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if response is not None:
                return response
    if found is None and request.method == "POST":
        found = matches_found(request, request.POST.dict())
    return render(
        request,
        "leads/lead_form.html",
        {"form": form, "section": "list", "found": found},
        status=409 if found and found.leads and not form.errors else 400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit the lead; with htmx the card's details block turns into this form in place."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    check_entity(actor=request.membership, entity=Entity.LEAD, action=Action.EDIT)
    form = LeadForm(request.POST or None, instance=lead)
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(
                actor=request.membership, lead=lead, data=form.lead_data(), products=form.products
            )
            if form.cleaned_data["owner"] != lead.owner:
                services.lead_assign(
                    actor=request.membership, lead=lead, owner=form.cleaned_data["owner"]
                )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if request.htmx:
                lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
                return _partial(request, lead, "details")
            messages.success(request, _("Saved."))
            return _card(request, lead.pk)
    context = {"form": form, "lead": lead, "section": "list", "products": list(lead.products.all())}
    template = "leads/lead_form.html#form" if request.htmx else "leads/lead_form.html"
    return render(request, template, context, status=400 if form.errors else 200)


def _partial(
    request: HttpRequest, lead, name: str, status: int = 200, **extra: object
) -> HttpResponse:
    context = card_context(request, lead, **extra) | extra
    response = render(request, f"leads/lead_detail.html#{name}", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _after_action(request: HttpRequest, lead, error: DomainError | None = None) -> HttpResponse:
    """htmx: re-render the card body (with the error shown); plain POST: back to the card."""
    if request.htmx:
        fresh = selectors.lead_get_for_user(actor=request.membership, lead_id=lead.pk)
        if error:
            return _partial(request, fresh, "card", status=error.status_code, error=error.message)
        return _partial(request, fresh, "card")
    if error:
        messages.error(request, error.message)
    return _card(request, lead.pk)


@require_POST
def move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move to another status (the status bar, junk with a reason, the kanban)."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    form = MoveForm(request.POST)
    board = request.POST.get("board") == "1"
    if not form.is_valid():
        error = DomainError(_("Choose a status."))
        return _board_answer(request, lead, error) if board else _after_action(request, lead, error)
    try:
        services.lead_move(actor=request.membership, lead=lead, status=form.cleaned_data["status"])
    except DomainError as error:
        return _board_answer(request, lead, error) if board else _after_action(request, lead, error)
    except AccessDenied as denied:
        if not board:
            raise
        return refusal(request, str(denied), status=403)
    return _board_answer(request, lead) if board else _after_action(request, lead)


def _board_answer(request: HttpRequest, lead, error: DomainError | None = None) -> HttpResponse:
    """The kanban's drop: the moved card, or the reason as an in-place message (the board
    puts the card back and shows it)."""
    if error is not None:
        return refusal(request, error.message, status=error.status_code)
    fresh = selectors.board_card(actor=request.membership, lead_id=lead.pk)
    statuses = list(selectors.statuses())
    editable = can(fresh, actor=request.membership, action=Action.EDIT)
    context = {
        "cards": [fresh],
        **nextactivity.board_context(
            {fresh.pk: selectors.allowed_status_ids(fresh, statuses)} if editable else {}
        ),
        "currency": request.tenant.currency,
    }
    return render(request, "leads/lead_kanban.html#card", context)


@require_POST
def take(request: HttpRequest, pk: int) -> HttpResponse:
    """Take an unassigned lead: of two managers at once, one wins and the other is told who
    did, in place of the row (htmx) or as a message on the inbox."""
    lead = selectors.lead_get_for_take(actor=request.membership, lead_id=pk)
    try:
        lead = services.lead_take(actor=request.membership, lead=lead)
    except DomainError as error:
        if request.htmx:
            return render(
                request,
                "leads/lead_inbox.html#taken",
                {"lead": lead, "error": error.message},
                status=error.status_code,
            )
        messages.error(request, error.message)
        return redirect(tenant_reverse("leads:inbox", request.tenant))
    if request.htmx:
        lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
        return render(request, "leads/lead_inbox.html#taken", {"lead": lead})
    messages.success(request, _("The lead is yours now."))
    return _card(request, lead.pk)


@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    form = AssignForm(request.POST, actor=request.membership, lead=lead)
    if not form.is_valid():
        return _after_action(request, lead, DomainError(_("Choose a member.")))
    try:
        services.lead_assign(actor=request.membership, lead=lead, owner=form.cleaned_data["owner"])
    except DomainError as error:
        return _after_action(request, lead, error)
    return _after_action(request, lead)


@require_POST
def activity_add(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    form = ActivityForm(request.POST)
    if request.POST.get("board") == "1":
        return plan_from_card(
            request,
            form,
            add=lambda **data: services.lead_activity_add(
                actor=request.membership, lead=lead, **data
            ),
            answer=lambda error: _board_answer(request, lead, error),
        )
    if not form.is_valid():
        if request.htmx:
            return _partial(request, lead, "card", status=400, activity_form=form)
        messages.error(
            request, _("Check the activity: %(errors)s") % {"errors": form.errors.as_text()}
        )
        return _card(request, lead.pk)
    services.lead_activity_add(actor=request.membership, lead=lead, **form.cleaned_data)
    return _after_action(request, lead)


@require_POST
def activity_done(request: HttpRequest, pk: int, activity_pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    activity = selectors.lead_activity_get(lead=lead, activity_id=activity_pk)
    board = request.POST.get("board") == "1"
    answer = _board_answer if board else _after_action
    if board and not can(lead, actor=request.membership, action=Action.EDIT):
        return refusal(
            request, _("Your role does not allow this action on this record."), status=403
        )
    check_entity(actor=request.membership, entity=Entity.LEAD, action=Action.EDIT)
    if not can(lead, actor=request.membership, action=Action.EDIT):
        return _after_action(
            request, lead, DomainError(_("Your role does not allow this action on this record."))
        )
    crm_services.activity_complete(actor=request.membership, activity=activity, target=lead)
    return answer(request, lead)


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    services.lead_delete(actor=request.membership, lead=lead)
    messages.success(request, _("The lead is in the trash for 30 days."))
    return redirect(tenant_reverse("leads:list", request.tenant))


@require_POST
def spam(request: HttpRequest, pk: int) -> HttpResponse:
    """Spam: the lead goes to the spam junk status and its sender to the blocklist."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    try:
        blocked = services.lead_mark_spam(actor=request.membership, lead=lead)
    except DomainError as error:
        return _after_action(request, lead, error)
    if not request.htmx:
        messages.success(
            request,
            _("Marked as spam. Blocked: %(values)s.") % {"values": ", ".join(blocked) or "—"},
        )
    return _after_action(request, lead)


@require_POST
def archive(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    try:
        services.lead_archive(actor=request.membership, lead=lead)
    except DomainError as error:
        return _after_action(request, lead, error)
    messages.success(request, _("Archived: the lead left the lists and stays in analytics."))
    return redirect(tenant_reverse("leads:list", request.tenant))


@require_POST
def unarchive(request: HttpRequest, pk: int) -> HttpResponse:
    """Bring an archived lead back to the lists (a lead that is not archived: the refusal
    is answered by crm.middleware.RefusalMiddleware)."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    services.lead_unarchive(actor=request.membership, lead=lead)
    if not request.htmx:
        messages.success(request, _("The lead is back in the lists."))
    return _after_action(request, lead)


@require_POST
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    check_entity(actor=request.membership, entity=Entity.LEAD, action=Action.DELETE)
    lead = selectors.lead_in_trash(actor=request.membership, lead_id=pk)
    services.lead_restore(actor=request.membership, lead=lead)
    messages.success(request, _("Lead “%(title)s” restored.") % {"title": lead.title})
    return _card(request, lead.pk)


@require_POST
def postpone(request: HttpRequest, pk: int) -> HttpResponse:
    """Postpone the lead to a date with a reason: out of the working lists until then."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    form = PostponeForm(request.POST)
    if not form.is_valid():
        error = DomainError(" ".join(e for errors in form.errors.values() for e in errors))
        if request.htmx:
            return _partial(
                request, lead, "card", status=400, postpone_form=form, error=error.message
            )
        return _after_action(request, lead, error)
    try:
        services.lead_postpone(
            actor=request.membership,
            lead=lead,
            until=form.until(),
            reason=form.cleaned_data["reason"],
        )
    except DomainError as error:
        if request.htmx:
            return _partial(
                request,
                lead,
                "card",
                status=error.status_code,
                postpone_form=form,
                error=error.message,
            )
        return _after_action(request, lead, error)
    if not request.htmx:
        messages.success(request, _("Postponed: the lead is out of the working lists until then."))
    return _after_action(request, lead)


@require_POST
def unpostpone(request: HttpRequest, pk: int) -> HttpResponse:
    """Bring a postponed lead back to the working lists now."""
    lead = selectors.lead_get_for_user(actor=request.membership, lead_id=pk)
    try:
        services.lead_unpostpone(actor=request.membership, lead=lead)
    except DomainError as error:
        return _after_action(request, lead, error)
    return _after_action(request, lead)
