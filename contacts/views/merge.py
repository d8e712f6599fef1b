"""Merging two contacts (or two companies) by hand, and undoing a merge."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from contacts import selectors, services
from contacts.forms import MergeForm
from contacts.views.kinds import Kind
from crm.access import Action, check_object
from crm.errors import DomainError
from crm.ids import parse_id
from crm.urlnames import tenant_reverse


@require_http_methods(["GET", "POST"])
def merge(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    """Pick the record to merge into this one (by search), then the value of each field
    that differs; this record survives, the other is hidden and can be brought back."""
    actor = request.membership
    survivor = selectors.record_get_for_user(actor=actor, model=kind.model, record_id=pk)
    check_object(survivor, actor=actor, action=Action.EDIT)
    other_id = parse_id(request.POST.get("merged") or request.GET.get("with") or "")
    context: dict = {"kind": kind, "record": survivor, "section": kind.namespace}
    if other_id is None:
        query = request.GET.get("q", "")
        candidates = selectors.likely_duplicates(survivor, actor=actor)
        if query:
            found = selectors.search(
                selectors.record_list(actor=actor, model=kind.model),
                query,
                region=request.tenant.default_region,
            )
            candidates = list(found.exclude(pk=survivor.pk).order_by("-created_at")[:20])
        context |= {"candidates": candidates, "query": query}
        return render(request, "contacts/record_merge.html", context)
    merged = selectors.record_get_for_user(actor=actor, model=kind.model, record_id=other_id)
    form = MergeForm(
        request.POST or None,
        initial={"merged": merged.pk},
        survivor=survivor,
        merged=merged,
        region=request.tenant.default_region,
    )
    if request.method == "POST" and form.is_valid():
        names = {"merged": str(merged), "survivor": str(survivor)}
        try:
            services.record_merge(actor=actor, survivor=survivor, merged=merged, take=form.taken())
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("“%(merged)s” was merged into “%(survivor)s”.") % names,
            )
            return redirect(tenant_reverse(f"{kind.namespace}:detail", request.tenant, pk=pk))
    context |= {"merged": merged, "form": form}
    return render(
        request, "contacts/record_merge.html", context, status=400 if form.errors else 200
    )


@require_POST
def merge_undo(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    """Undo a merge (roles that may delete both records: administrators by default)."""
    record = selectors.merge_get(actor=request.membership, model=kind.model, merge_id=pk)
    try:
        restored = services.record_merge_undo(actor=request.membership, merge=record)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(
            tenant_reverse(f"{kind.namespace}:detail", request.tenant, pk=record.survivor_id)
        )
    messages.success(request, _("The merge was undone: “%(name)s” is back.") % {"name": restored})
    return redirect(tenant_reverse(f"{kind.namespace}:detail", request.tenant, pk=restored.pk))
