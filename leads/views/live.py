"""The poll of open pages (crm.live): what changed in my inbox since my page's versions.

Unchanged polls never get here (crm.live.LivePollMiddleware answers them 204 without SQL).
This view answers the others after the usual checks (session, membership, the right to
view leads): the versions now, a fresh token, the bell's count, the leads that entered my
inbox by someone else's action (`arrivals`: highlighted, announced), the ids that left it
(`gone`) and, for the inbox page itself (rows=1, with the page's filters), the rows to put
on top and the source counts.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from crm import live
from crm.access import Action, Entity, check_entity
from crm.notifications import unread_count
from crm.urlnames import tenant_reverse
from leads import selectors
from leads.forms import bulk_choices
from leads.rows import rows_html
from leads.services import lead_may_take
from leads.views.lists import _filtered


@require_GET
def poll(request: HttpRequest) -> JsonResponse:
    actor = request.membership
    check_entity(actor=actor, entity=Entity.LEAD, action=Action.VIEW)
    changes = live.changes_since(request.tenant.pk, actor.pk, request.GET.get("v", ""))
    ids = {event.lead_id for event in changes.events if event.lead_id}
    by_others = {e.lead_id for e in changes.events if e.lead_id and e.actor_id != actor.pk}
    rows = selectors.row_values(selectors.inbox(actor=actor).filter(pk__in=ids)) if ids else []
    root = tenant_reverse("leads:list", request.tenant)
    data: dict = {
        "v": changes.versions,
        "token": live.token_for(request),
        "unread": unread_count(member=actor),
        "arrivals": [
            {"id": row.pk, "title": row.title, "url": f"{root}{row.pk}/"}
            for row in rows
            if row.pk in by_others
        ],
        "gone": sorted(ids - {row.pk for row in rows}),
    }
    if request.GET.get("rows") == "1" and ids:
        _filters, shown = _filtered(
            request, selectors.inbox(actor=actor).filter(pk__in=ids), archive=False
        )
        data["rows"] = rows_html(
            selectors.row_values(shown.order_by("-created_at", "-pk")),
            leads_root=root,
            may_take=lead_may_take(actor),
            selectable=bool(bulk_choices(actor, archived=False)),
        )
        data["counts"] = render_to_string(
            "leads/lead_inbox.html#source-counts",
            {"source_counts": _source_counts(request)},
            request=request,
        )
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response


def _source_counts(request: HttpRequest) -> list[selectors.SourceCount]:
    """The inbox's counts per source under the page's filters, as the page counts them."""
    _filters, rows = _filtered(request, selectors.inbox_base(), archive=False)
    parts = selectors.inbox_parts(rows, actor=request.membership)
    return selectors.ListParts(parts, sources=True).source_counts()
