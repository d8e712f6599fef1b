"""The contact and company card and its actions: create, edit in place, activities, trash."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import selectors, services
from contacts.models import Company, Contact, Party
from contacts.views.kinds import Kind
from crm import customfields
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.access import Action, Entity, Scope, can, check_entity, check_object, scope_for
from crm.attachments import timeline_with_files
from crm.errors import DomainError
from crm.forms import ActivityForm
from crm.modes import has_leads
from crm.urlnames import tenant_reverse
from deals import selectors as deal_selectors
from intake.identities import identities_of
from leads import selectors as lead_selectors


def _card(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    return redirect(tenant_reverse(f"{kind.namespace}:detail", request.tenant, pk=pk))


def _get(request: HttpRequest, kind: Kind, pk: int) -> Party:
    return selectors.record_get_for_user(actor=request.membership, model=kind.model, record_id=pk)


def card_context(request: HttpRequest, kind: Kind, record: Party) -> dict:
    """Everything the card shows (also re-rendered piecewise by htmx)."""
    actor = request.membership
    defs = customfields.definitions(entity=kind.model.access_entity)
    members = customfields.member_names(defs, record.custom)
    sees_leads = (
        has_leads(actor.tenant) and scope_for(actor, Entity.LEAD, Action.VIEW) != Scope.NONE
    )
    sees_deals = scope_for(actor, Entity.DEAL, Action.VIEW) != Scope.NONE
    may_delete = can(record, actor=actor, action=Action.DELETE)
    return {
        "kind": kind,
        "record": record,
        "section": kind.namespace,
        "custom_lines": customfields.display(defs, record.custom, members),
        "custom_fields": customfields.card_fields(defs, record.custom, members),
        "may_edit": can(record, actor=actor, action=Action.EDIT),
        "may_delete": may_delete,
        "events": timeline_with_files(lead_selectors.party_timeline(record)[:100]),
        "activities": list(crm_selectors.activities_for(target=record)),
        "activity_form": ActivityForm(),
        "add_url_name": f"{kind.namespace}:activity_add",
        "done_url_name": f"{kind.namespace}:activity_done",
        "duplicates": selectors.likely_duplicates(record, actor=actor),
        "sees_leads": sees_leads,
        "identities": identities_of(contact=record) if isinstance(record, Contact) else [],
        "related_leads": lead_selectors.party_leads(record, actor=actor) if sees_leads else [],
        "sees_deals": sees_deals,
        "deals": deal_selectors.deals_of(record, actor=actor) if sees_deals else [],
        "may_create_deal": scope_for(actor, Entity.DEAL, Action.CREATE) != Scope.NONE,
        "merges": list(selectors.merges(record)) if may_delete else [],
        "contacts": (
            selectors.company_contacts(record, actor=actor) if isinstance(record, Company) else []
        ),
    }


def _partial(
    request: HttpRequest, kind: Kind, record: Party, name: str, status: int = 200, **extra: object
) -> HttpResponse:
    context = card_context(request, kind, record) | extra
    response = render(request, f"contacts/record_detail.html#{name}", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def detail(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    record = _get(request, kind, pk)
    return render(request, "contacts/record_detail.html", card_context(request, kind, record))


@require_http_methods(["GET", "POST"])
def create(request: HttpRequest, kind: Kind) -> HttpResponse:
    """The full form; errors are shown next to the fields and nothing is written."""
    actor = request.membership
    check_entity(actor=actor, entity=kind.model.access_entity, action=Action.CREATE)
    form = kind.form(
        request.POST or None,
        actor=actor,
        region=request.tenant.default_region,
        initial={"owner": actor.pk, "company": request.GET.get("company")},
    )
    if request.method == "POST" and form.is_valid():
        create_record = (
            services.company_create if kind.model is Company else services.contact_create
        )
        try:
            record = create_record(
                actor=actor, data=form.record_data(), owner=form.cleaned_data["owner"]
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("“%(name)s” created.") % {"name": record})
            return _card(request, kind, record.pk)
    context = {"kind": kind, "form": form, "section": kind.namespace}
    return render(request, "contacts/record_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    """Edit the record; with htmx the card's details block turns into this form in place."""
    record = _get(request, kind, pk)
    check_object(record, actor=request.membership, action=Action.EDIT)
    form = kind.form(
        request.POST or None,
        instance=record,
        actor=request.membership,
        region=request.tenant.default_region,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.record_update(
                actor=request.membership,
                record=record,
                data=form.record_data(),
                owner=form.cleaned_data["owner"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if request.htmx:
                return _partial(request, kind, _get(request, kind, pk), "details")
            messages.success(request, _("Saved."))
            return _card(request, kind, pk)
    context = {"kind": kind, "form": form, "record": record, "section": kind.namespace}
    template = "contacts/record_form.html#form" if request.htmx else "contacts/record_form.html"
    return render(request, template, context, status=400 if form.errors else 200)


def _after_action(
    request: HttpRequest, kind: Kind, record: Party, error: str | None = None, status: int = 400
) -> HttpResponse:
    """htmx: re-render the card body (with the error shown); plain POST: back to the card."""
    if request.htmx:
        fresh = _get(request, kind, record.pk)
        if error:
            return _partial(request, kind, fresh, "card", status=status, error=error)
        return _partial(request, kind, fresh, "card")
    if error:
        messages.error(request, error)
    return _card(request, kind, record.pk)


@require_POST
def activity_add(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    record = _get(request, kind, pk)
    check_object(record, actor=request.membership, action=Action.EDIT)
    form = ActivityForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return _partial(request, kind, record, "card", status=400, activity_form=form)
        messages.error(
            request, _("Check the activity: %(errors)s") % {"errors": form.errors.as_text()}
        )
        return _card(request, kind, pk)
    services.record_activity_add(actor=request.membership, record=record, **form.cleaned_data)
    return _after_action(request, kind, record)


@require_POST
def activity_done(request: HttpRequest, kind: Kind, pk: int, activity_pk: int) -> HttpResponse:
    record = _get(request, kind, pk)
    check_object(record, actor=request.membership, action=Action.EDIT)
    activity = selectors.activity_get(record=record, activity_id=activity_pk)
    crm_services.activity_complete(actor=request.membership, activity=activity, target=record)
    return _after_action(request, kind, record)


@require_POST
def delete(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    record = _get(request, kind, pk)
    services.record_delete(actor=request.membership, record=record)
    messages.success(
        request,
        _("“%(name)s” is in the trash for %(days)s days.")
        % {
            "name": record,
            "days": services.TRASH_DAYS,
        },
    )
    return redirect(tenant_reverse(f"{kind.namespace}:list", request.tenant))


@require_POST
def restore(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    check_entity(actor=request.membership, entity=kind.model.access_entity, action=Action.DELETE)
    record = selectors.record_in_trash(actor=request.membership, model=kind.model, record_id=pk)
    services.record_restore(actor=request.membership, record=record)
    messages.success(request, _("“%(name)s” restored.") % {"name": record})
    return _card(request, kind, record.pk)
