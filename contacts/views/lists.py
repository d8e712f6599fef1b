"""The contact and company lists and their trash."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from contacts import selectors, services
from contacts.views.kinds import Kind
from crm.access import Action, Scope, check_entity, scope_for


@require_GET
def record_list(request: HttpRequest, kind: Kind) -> HttpResponse:
    """Every live record the role may see, with filters, search and keyset pages."""
    actor = request.membership
    entity = kind.model.access_entity
    check_entity(actor=actor, entity=entity, action=Action.VIEW)
    queryset = selectors.record_list(actor=actor, model=kind.model)
    filters = kind.filter(
        request.GET or None, queryset=queryset, actor=actor, region=request.tenant.default_region
    )
    rows = filters.qs if filters.is_bound and filters.is_valid() else queryset
    context = {
        "kind": kind,
        "filters": filters,
        "page": selectors.page_newest_first(rows, request.GET.get("after")),
        "section": kind.namespace,
        "may_create": scope_for(actor, entity, Action.CREATE) != Scope.NONE,
        "may_delete": scope_for(actor, entity, Action.DELETE) != Scope.NONE,
        "may_export": scope_for(actor, entity, Action.EXPORT) != Scope.NONE,
        "may_import": scope_for(actor, entity, Action.IMPORT) != Scope.NONE,
    }
    partial = request.htmx and request.GET.get("fragment") == "rows"
    template = "contacts/record_list.html" + ("#rows" if partial else "")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def trash(request: HttpRequest, kind: Kind) -> HttpResponse:
    """Deleted records, restorable for 30 days (roles that may delete them)."""
    check_entity(actor=request.membership, entity=kind.model.access_entity, action=Action.DELETE)
    rows = list(selectors.record_trash(actor=request.membership, model=kind.model)[:200])
    context = {"kind": kind, "rows": rows, "section": kind.namespace, "days": services.TRASH_DAYS}
    return render(request, "contacts/record_trash.html", context)


@require_GET
def options(request: HttpRequest, kind: Kind) -> HttpResponse:
    """htmx: the <option>s of a contact or company field for what the user typed."""
    check_entity(actor=request.membership, entity=kind.model.access_entity, action=Action.VIEW)
    query = request.GET.get("q", "")
    rows = selectors.picker_options(
        kind.model, query, actor=request.membership, region=request.tenant.default_region
    )
    return render(request, "contacts/_options.html", {"rows": rows})
