"""The inbox, the full lead list and the trash."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm import keyset, live, nextactivity, savedfilters
from crm.access import Action, Entity, Scope, can, check_entity, scope_for
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from intake.duplicates import Found
from intake.forms import QuickLeadForm
from leads import selectors, services
from leads.filters import SORTS, LeadFilter
from leads.forms import BulkForm, bulk_choices
from leads.models import LeadState
from leads.views.inquiry import matches_found, register_manual


def _filtered(
    request: HttpRequest,
    queryset,
    choices: selectors.LeadChoices | None = None,
    *,
    archive: bool = True,
):
    check_entity(actor=request.membership, entity=Entity.LEAD, action=Action.VIEW)
    filters = LeadFilter(
        request.GET or None,
        queryset=queryset,
        actor=request.membership,
        region=request.tenant.default_region,
        choices=choices,
        archive=archive,
    )
    return filters, (filters.qs if filters.is_bound and filters.is_valid() else queryset)


def _page_url(request: HttpRequest) -> str:
    """The list's own URL, without the parameters that only shape a fragment."""
    params = request.GET.copy()
    for key in ("fragment", "bulk"):
        params.pop(key, None)
    return f"{request.path}?{params.urlencode()}" if params else request.path


def _render_list(
    request: HttpRequest,
    queryset,
    *,
    template: str,
    extra: dict,
    split=None,
    sorted_rows=None,
    countable: bool = False,
) -> HttpResponse:
    """Filter, sort and paginate a lead list. `split` turns the filtered queryset into
    index-ordered parts that are merged for the newest-first pages; other sorts use the
    queryset as is, or as `sorted_rows` narrows it.

    htmx asks for pieces with ?fragment=: `rows` (the table), `filters` (the filter panel),
    `bulk` (the action bar, loaded when a first row is ticked). A `countable` list counts
    its filtered rows when ?total=1 asks (one COUNT; else no count is run)."""
    fragment = request.GET.get("fragment") if request.htmx else None
    choices = selectors.LeadChoices()
    actor = request.membership
    archived = bool(extra.get("archived"))
    bulk = {
        "list_url": _page_url(request),
        "show_bulk": "bulk" in request.GET,
        # The bar and the tick boxes only for a role that may do something with them.
        "bulk_actions": [value for value, _label in bulk_choices(actor, archived=archived)],
    }
    if bulk["bulk_actions"] and (fragment == "bulk" or bulk["show_bulk"]):
        # Else the bar is loaded when a first row is ticked.
        bulk["bulk_form"] = BulkForm(actor=actor, archived=archived, choices=choices)
    if fragment == "bulk":
        check_entity(actor=actor, entity=Entity.LEAD, action=Action.VIEW)
        return _respond(request, "leads/_lead_table.html#bulk-bar", bulk)
    filters, rows = _filtered(
        request, queryset, choices, archive=extra["list_name"] != "leads:inbox"
    )
    sort = request.GET.get("sort", "-created")
    parts = None
    if fragment == "filters":
        return _respond(request, "leads/_filters.html#panel", {"filters": filters, "sort": sort})
    counted = split is not None and "source_counts" in extra
    if sort in SORTS and sort != "-created":
        ordered = sorted_rows(rows) if sorted_rows else rows
        page = keyset.Page(
            rows=selectors.row_values(ordered.order_by(*SORTS[sort])[: keyset.PAGE_SIZE]),
            next_cursor=None,
        )
    else:
        parts = selectors.ListParts(split(rows) if split else [rows], sources=counted)
        page = parts.page(request.GET.get("after"))
    list_name = extra["list_name"]
    context = {
        "filters": filters,
        "saved_filters": list(
            savedfilters.saved_filters(actor=request.membership, list_name=list_name)
        ),
        "filters_query": savedfilters.clean_query(request.GET.urlencode()),
        "page": page,
        "sort": sort,
        "sorts": SORTS,
        **bulk,
        **extra,
    }
    if countable and fragment is None and request.GET.get("total") == "1":
        # Over the valid filters only: rows unfiltered by a form error are no report's.
        context["total"] = rows.count() if filters.is_valid() else None
    if counted:
        if parts is None:  # another sort: the counts are still over the inbox's parts
            parts = selectors.ListParts(split(rows), sources=True)
        context["source_counts"] = parts.source_counts()
    return _respond(request, f"{template}#rows" if fragment == "rows" else template, context)


def _respond(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """Render a list page or one of its fragments (they vary with HX-Request)."""
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _inbox_page(
    request: HttpRequest, quick_form: QuickLeadForm, found: Found | None = None
) -> HttpResponse:
    extra = {
        "section": "inbox",
        "quick_form": quick_form,
        "list_name": "leads:inbox",
        "found": found,
    }
    if not request.htmx:
        extra["source_counts"] = []
    actor = request.membership
    return _render_list(
        request,
        selectors.inbox_base(),
        template="leads/lead_inbox.html",
        extra=extra,
        split=lambda rows: selectors.inbox_parts(rows, actor=actor),
        sorted_rows=lambda rows: rows.filter(pk__in=selectors.inbox(actor=actor).values("pk")),
    )


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """New and unassigned leads plus my open leads, newest first, with counts per source."""
    if not request.htmx:  # before the rows (crm.context_processors.live_context)
        request.live_versions = live.current_versions(request.tenant.pk, request.membership.pk)
    return _inbox_page(request, QuickLeadForm())


@require_GET
def lead_list(request: HttpRequest) -> HttpResponse:
    """Every lead the role may see, with filters, search and sorting."""
    may_export = scope_for(request.membership, Entity.LEAD, Action.EXPORT) != Scope.NONE
    archived = request.GET.get("preset") == "archived"
    # A report counts archived junk too: its links ask for them with archive=all.
    with_archived = request.GET.get("archive") == "all"
    searched = bool(request.GET.get("q", "").strip())
    # Postponed leads are out of the list but for their preset; a search finds them too.
    postponed = True if request.GET.get("preset") == "postponed" else None if searched else False
    return _render_list(
        request,
        selectors.lead_list(
            actor=request.membership,
            archived=archived,
            with_archived=with_archived,
            postponed=postponed,
        ),
        template="leads/lead_list.html",
        extra={
            "section": "list",
            "may_export": may_export and not archived,
            "list_name": "leads:list",
            "archived": archived,
        },
        # A search already finds few rows, by its own index: split only the browsing.
        split=None
        if searched
        else lambda rows: selectors.visible_parts(rows, actor=request.membership),
        countable=True,
    )


@require_POST
def quick_create(request: HttpRequest) -> HttpResponse:
    """A lead from a name and a phone or e-mail, owned by the person who adds it (or the
    inquiry added to the person's open lead, after a warning: leads/views/inquiry.py)."""
    form = QuickLeadForm(request.POST)
    found = None
    if form.is_valid():
        try:
            response, found = register_manual(request, form.lead_data())
        except DomainError as error:
            form.add_error("contact", error.message)
        else:
            if response is not None:
                return response
    if found is None:
        found = matches_found(request, request.POST.dict())
    response = _inbox_page(request, form, found)
    response.status_code = 409 if found.leads and not form.errors else 400
    return response


@require_GET
def trash(request: HttpRequest) -> HttpResponse:
    """Deleted leads, restorable for 30 days (roles that may delete leads)."""
    check_entity(actor=request.membership, entity=Entity.LEAD, action=Action.DELETE)
    rows = list(selectors.lead_trash(actor=request.membership)[:200])
    return render(
        request,
        "leads/lead_trash.html",
        {"rows": rows, "section": "list", "days": services.TRASH_DAYS, "junk": LeadState.JUNK},
    )


@require_GET
def kanban(request: HttpRequest) -> HttpResponse:
    """The board: a column per status, drag a card to move it (same service and rights),
    with the lists' search and filters; closed statuses are drop zones with counts."""
    actor = request.membership
    choices = selectors.LeadChoices()
    since = timezone.now() - timedelta(days=selectors.BOARD_CLOSED_DAYS)
    filters, rows = _filtered(request, selectors.lead_list(actor=actor), choices, archive=False)
    if request.htmx and request.GET.get("fragment") == "filters":
        return _respond(request, "leads/_filters.html#panel", {"filters": filters, "board": True})
    statuses = list(selectors.statuses())
    columns = selectors.board(rows=rows, statuses=statuses, actor=actor, since_closed=since)
    allowed = {
        lead.pk: selectors.allowed_status_ids(lead, statuses)
        for column in columns
        for lead in column.cards
        if can(lead, actor=actor, action=Action.EDIT)
    }
    context = {
        "columns": columns,
        "open_columns": [c for c in columns if not c.collapsed],
        "closed_columns": [c for c in columns if c.collapsed],
        **nextactivity.board_context(allowed),
        "section": "kanban",
        "days": selectors.BOARD_CLOSED_DAYS,
        "currency": request.tenant.currency,
        "filters": filters,
        "board": True,
        "list_name": "leads:kanban",
        "saved_filters": list(savedfilters.saved_filters(actor=actor, list_name="leads:kanban")),
        "filters_query": savedfilters.clean_query(request.GET.urlencode()),
    }
    return _respond(request, "leads/lead_kanban.html", context)


@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Assign, move, archive, return from the archive or delete the selected leads; report
    what was skipped and why."""
    form = BulkForm(request.POST, actor=request.membership)
    back = request.POST.get("next") or tenant_reverse("leads:list", request.tenant)
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = tenant_reverse("leads:list", request.tenant)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    leads = selectors.lead_selected(actor=request.membership, ids=data["ids"])
    result = services.leads_bulk(
        actor=request.membership,
        leads=list(leads),
        action=data["action"],
        owner=data["owner"],
        status=data["status"],
    )
    missing = len(set(data["ids"])) - result.done - len(result.skipped or [])
    messages.success(request, _("Done: %(n)s.") % {"n": result.done})
    for title, reason in (result.skipped or [])[:10]:
        messages.warning(
            request, _("Skipped “%(title)s”: %(reason)s") % {"title": title, "reason": reason}
        )
    if missing > 0 or len(result.skipped or []) > 10:
        messages.warning(
            request,
            _("%(n)s more were skipped.") % {"n": missing + max(0, len(result.skipped or []) - 10)},
        )
    return redirect(back)
