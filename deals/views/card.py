"""The deal card and its actions: create (also as a repeat sale), edit, move, activities."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import selectors as contact_selectors
from contacts.models import Company, Contact
from crm import customfields, nextactivity
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.access import AccessDenied, Action, Entity, can, check_entity
from crm.attachments import timeline_with_files
from crm.errors import DomainError
from crm.forms import ActivityForm
from crm.ids import parse_id
from crm.urlnames import tenant_reverse
from crm.views.boards import plan_from_card
from crm.views.errors import refusal
from deals import selectors, services
from deals.forms import DealForm, MoveForm
from deals.models import Deal, Outcome


def _card(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect(tenant_reverse("deals:detail", request.tenant, pk=pk))


def card_context(request: HttpRequest, deal: Deal) -> dict[str, Any]:
    """Everything the card shows (also re-rendered piecewise by htmx)."""
    actor = request.membership
    stages = list(selectors.stages(deal.pipeline))
    defs = customfields.definitions(entity=Entity.DEAL)
    members = customfields.member_names(defs, deal.custom)
    return {
        "deal": deal,
        "record": deal,
        "custom_lines": customfields.display(defs, deal.custom, members),
        "custom_fields": customfields.card_fields(defs, deal.custom, members),
        "section": "deals",
        "stages": stages,
        "open_stages": [s for s in stages if s.kind == Outcome.OPEN],
        "won_stages": [s for s in stages if s.kind == Outcome.WON],
        "lost_stages": [s for s in stages if s.kind == Outcome.LOST],
        "allowed_stage_ids": selectors.allowed_stage_ids(deal, stages),
        "may_edit": can(deal, actor=actor, action=Action.EDIT),
        "products": list(deal.products.all()),
        "events": timeline_with_files(selectors.deal_timeline(deal)[:100]),
        "activities": list(crm_selectors.activities_for(target=deal)),
        "activity_form": ActivityForm(),
        # What the "Lost…" form offers (an open deal only).
        "loss_reasons": list(selectors.loss_reasons(active=True))
        if deal.outcome == Outcome.OPEN
        else [],
    }


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(actor=request.membership, deal_id=pk)
    return render(request, "deals/deal_detail.html", card_context(request, deal))


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """Initial values from ?contact=, ?company= (records the actor may see) and ?repeat=1
    (the repeat-sales pipeline's first stage)."""
    actor = request.membership
    initial: dict[str, Any] = {"currency": request.tenant.currency, "owner": actor.pk}
    for name, model in (("contact", Contact), ("company", Company)):
        record_id = parse_id(request.GET.get(name, ""))
        if record_id is None:
            continue
        try:
            record = contact_selectors.record_get_for_user(
                actor=actor, model=model, record_id=record_id
            )
        except Http404:
            continue  # not a record this member may see: the form opens empty
        initial[name] = record.pk
        if isinstance(record, Contact) and record.company_id and "company" not in initial:
            initial["company"] = record.company_id
    try:
        pipeline = services.default_pipeline(repeat=request.GET.get("repeat") == "1")
        initial["stage"] = services.first_stage(pipeline).pk
    except DomainError:
        pass
    return initial


@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    """The deal form; from a contact's or company's card it opens prefilled in the
    repeat-sales pipeline."""
    check_entity(actor=request.membership, entity=Entity.DEAL, action=Action.CREATE)
    initial = _prefill(request) if request.method == "GET" else {}
    form = DealForm(request.POST or None, initial=initial, actor=request.membership)
    if request.method == "POST" and form.is_valid():
        try:
            deal = services.deal_create(
                actor=request.membership,
                data=form.deal_data(),
                owner=form.cleaned_data["owner"],
                stage=form.cleaned_data["stage"],
                products=form.products,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        except AccessDenied as denied:
            form.add_error("owner", str(denied))
        else:
            messages.success(request, _("Deal “%(title)s” created.") % {"title": deal.title})
            return _card(request, deal.pk)
    return render(
        request,
        "deals/deal_form.html",
        {"form": form, "section": "deals"},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit the deal; with htmx the card's details block turns into this form in place."""
    deal = selectors.deal_get_for_user(actor=request.membership, deal_id=pk)
    if not can(deal, actor=request.membership, action=Action.EDIT):
        raise AccessDenied(_("Your role does not allow this action on this record."))
    form = DealForm(request.POST or None, instance=deal, actor=request.membership)
    if request.method == "POST" and form.is_valid():
        try:
            services.deal_update(
                actor=request.membership,
                deal=deal,
                data=form.deal_data(),
                owner=form.cleaned_data["owner"],
                products=form.products,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        except AccessDenied as denied:
            form.add_error("owner", str(denied))
        else:
            if request.htmx:
                deal = selectors.deal_get_for_user(actor=request.membership, deal_id=pk)
                return _partial(request, deal, "details")
            messages.success(request, _("Saved."))
            return _card(request, deal.pk)
    context = {
        "form": form,
        "deal": deal,
        "section": "deals",
        "products": list(deal.products.all()),
    }
    template = "deals/deal_form.html#form" if request.htmx else "deals/deal_form.html"
    return render(request, template, context, status=400 if form.errors else 200)


def _partial(
    request: HttpRequest, deal: Deal, name: str, status: int = 200, **extra: object
) -> HttpResponse:
    context = card_context(request, deal) | extra
    response = render(request, f"deals/deal_detail.html#{name}", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _after_action(
    request: HttpRequest, deal: Deal, error: DomainError | None = None
) -> HttpResponse:
    """htmx: re-render the card body (with the error shown); plain POST: back to the card."""
    if request.htmx:
        fresh = selectors.deal_get_for_user(actor=request.membership, deal_id=deal.pk)
        if error:
            return _partial(request, fresh, "card", status=error.status_code, error=error.message)
        return _partial(request, fresh, "card")
    if error:
        messages.error(request, error.message)
    return _card(request, deal.pk)


def _board_answer(request: HttpRequest, deal: Deal, error: DomainError | None = None):
    """The board's drop: the moved card, or the reason as an in-place message (the board
    puts the card back and shows it)."""
    if error is not None:
        return refusal(request, error.message, status=error.status_code)
    fresh = selectors.board_card(actor=request.membership, deal_id=deal.pk)
    stages = list(selectors.stages(fresh.pipeline))
    editable = can(fresh, actor=request.membership, action=Action.EDIT)
    context = {
        "deal": fresh,
        **nextactivity.board_context(
            {fresh.pk: selectors.allowed_stage_ids(fresh, stages)} if editable else {}
        ),
        "currency": request.tenant.currency,
    }
    return render(request, "deals/deal_kanban.html#card", context)


@require_POST
def move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move to another stage (the stage bar, won/lost with a reason, the board)."""
    deal = selectors.deal_get_for_user(actor=request.membership, deal_id=pk)
    form = MoveForm(request.POST)
    board = request.POST.get("board") == "1"
    answer = _board_answer if board else _after_action
    if not form.is_valid():
        if "amount" in form.errors:
            return answer(request, deal, DomainError(_("Enter the amount as a positive number.")))
        message = form.errors["reason"][0] if "reason" in form.errors else _("Choose a stage.")
        return answer(request, deal, DomainError(message))
    try:
        services.deal_move(
            actor=request.membership,
            deal=deal,
            stage=form.cleaned_data["stage"],
            reason=form.cleaned_data["reason"],
            amount=form.cleaned_data["amount"],
        )
    except DomainError as error:
        return answer(request, deal, error)
    except AccessDenied as denied:
        if not board:
            raise
        return refusal(request, str(denied), status=403)
    return answer(request, deal)


@require_POST
def activity_add(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(actor=request.membership, deal_id=pk)
    form = ActivityForm(request.POST)
    if request.POST.get("board") == "1":
        return plan_from_card(
            request,
            form,
            add=lambda **data: services.deal_activity_add(
                actor=request.membership, deal=deal, **data
            ),
            answer=lambda error: _board_answer(request, deal, error),
        )
    if not form.is_valid():
        if request.htmx:
            return _partial(request, deal, "card", status=400, activity_form=form)
        messages.error(
            request, _("Check the activity: %(errors)s") % {"errors": form.errors.as_text()}
        )
        return _card(request, deal.pk)
    services.deal_activity_add(actor=request.membership, deal=deal, **form.cleaned_data)
    return _after_action(request, deal)


@require_POST
def activity_done(request: HttpRequest, pk: int, activity_pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(actor=request.membership, deal_id=pk)
    activity = selectors.deal_activity_get(deal=deal, activity_id=activity_pk)
    board = request.POST.get("board") == "1"
    if not can(deal, actor=request.membership, action=Action.EDIT):
        message = _("Your role does not allow this action on this record.")
        if board:
            return refusal(request, message, status=403)
        raise AccessDenied(message)
    crm_services.activity_complete(actor=request.membership, activity=activity, target=deal)
    return _board_answer(request, deal) if board else _after_action(request, deal)
