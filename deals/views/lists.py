"""The deal list and the board of a pipeline."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm import nextactivity
from crm.access import Action, Entity, Scope, can, check_entity, scope_for
from crm.errors import DomainError
from crm.modes import has_leads
from crm.urlnames import tenant_reverse
from deals import selectors, services
from deals.filters import DealFilter
from deals.forms import BulkMoveForm
from intake.forms import QuickDealForm
from intake.services import ATTACHED, inquiry_register
from leads.models import LeadSource


@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    """Every deal the role may see, filtered, newest first, in keyset pages."""
    return _list_page(request, QuickDealForm() if not has_leads(request.tenant) else None)


def _list_page(request: HttpRequest, quick_form: QuickDealForm | None) -> HttpResponse:
    actor = request.membership
    check_entity(actor=actor, entity=Entity.DEAL, action=Action.VIEW)
    queryset = selectors.deal_list(actor=actor)
    filters = DealFilter(
        request.GET or None, queryset=queryset, actor=actor, region=request.tenant.default_region
    )
    valid = filters.is_bound and filters.is_valid()
    rows = filters.qs if valid else queryset
    page = selectors.page_newest_first(rows, request.GET.get("after"))
    # ?total=1 (a report's drill-down): how many deals match, one COUNT over valid filters.
    total = rows.count() if valid and request.GET.get("total") == "1" and not request.htmx else None
    context = {
        "total": total,
        "filters": filters,
        "page": page,
        "bulk_form": BulkMoveForm(),
        "list_url": request.get_full_path(),
        "section": "deals",
        "may_create": scope_for(actor, Entity.DEAL, Action.CREATE) != Scope.NONE,
        "may_move": scope_for(actor, Entity.DEAL, Action.EDIT) != Scope.NONE,
        "may_export": scope_for(actor, Entity.DEAL, Action.EXPORT) != Scope.NONE,
        "quick_form": quick_form,
    }
    template = "deals/deal_list.html#rows" if request.htmx else "deals/deal_list.html"
    status = 400 if quick_form is not None and quick_form.errors else 200
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
def quick_create(request: HttpRequest) -> HttpResponse:
    """Simple mode's quick entry: a name and a phone or e-mail become a deal with its
    contact (the known one or a new one) through the inquiry service. Classic tenants
    register inquiries as leads (the inbox's quick lead), so here it answers 404."""
    if has_leads(request.tenant):
        raise Http404
    check_entity(actor=request.membership, entity=Entity.DEAL, action=Action.CREATE)
    form = QuickDealForm(request.POST)
    if form.is_valid():
        try:
            result = inquiry_register(
                actor=request.membership, data=form.lead_data(), source=LeadSource.MANUAL
            )
        except DomainError as error:
            form.add_error("contact", error.message)
        else:
            deal = result.deal
            values = {"title": deal.title}
            if result.outcome == ATTACHED:
                text = _("The inquiry was added to the open deal “%(title)s”.")
                messages.info(request, text % values)
            else:
                messages.success(request, _("Deal “%(title)s” created.") % values)
            return redirect(tenant_reverse("deals:detail", request.tenant, pk=deal.pk))
    return _list_page(request, form)


@require_GET
def kanban(request: HttpRequest) -> HttpResponse:
    """A pipeline's board (?pipeline=<id>, default: the default pipeline): a column per
    stage with count and sum; drag a card to move it (same service and rights as the card);
    the list's search and filters; won and lost are drop zones with counts."""
    actor = request.membership
    check_entity(actor=actor, entity=Entity.DEAL, action=Action.VIEW)
    pipelines = list(selectors.pipelines())
    wanted = request.GET.get("pipeline", "")
    pipeline = next((p for p in pipelines if str(p.pk) == wanted), None) or next(
        (p for p in pipelines if p.is_default), pipelines[0] if pipelines else None
    )
    queryset = selectors.deal_list(actor=actor)
    filters = DealFilter(
        request.GET or None, queryset=queryset, actor=actor, region=request.tenant.default_region
    )
    rows = filters.qs if filters.is_bound and filters.is_valid() else queryset
    stages = list(selectors.stages(pipeline)) if pipeline else []
    columns = selectors.board(rows=rows, pipeline=pipeline, stages=stages) if pipeline else []
    allowed = {
        deal.pk: selectors.allowed_stage_ids(deal, stages)
        for column in columns
        for deal in column.cards
        if can(deal, actor=actor, action=Action.EDIT)
    }
    context = {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "open_columns": [c for c in columns if not c.collapsed],
        "closed_columns": [c for c in columns if c.collapsed],
        **nextactivity.board_context(allowed),
        "filters": filters,
        "board": True,
        "section": "deals_board",
        "currency": request.tenant.currency,
        "may_create": scope_for(actor, Entity.DEAL, Action.CREATE) != Scope.NONE,
        "loss_reasons": list(selectors.loss_reasons(active=True)),
    }
    response = render(request, "deals/deal_kanban.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Move the selected deals to one stage; report what was skipped and why."""
    form = BulkMoveForm(request.POST)
    back = request.POST.get("next") or tenant_reverse("deals:list", request.tenant)
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = tenant_reverse("deals:list", request.tenant)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    deals = selectors.deal_list(actor=request.membership).filter(pk__in=data["ids"])
    result = services.deals_bulk_move(
        actor=request.membership, deals=list(deals), stage=data["stage"], reason=data["reason"]
    )
    messages.success(request, _("Done: %(n)s.") % {"n": result.done})
    for title, reason in result.skipped[:10]:
        messages.warning(
            request, _("Skipped “%(title)s”: %(reason)s") % {"title": title, "reason": reason}
        )
    missing = len(set(data["ids"])) - result.done - len(result.skipped)
    more = missing + max(0, len(result.skipped) - 10)
    if more > 0:
        messages.warning(request, _("%(n)s more were skipped.") % {"n": more})
    return redirect(back)
