"""The analytics pages: the reports (with their exports) and the dashboard."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from analytics import dashboard
from analytics.params import Params, params_for
from analytics.reports import REPORTS
from analytics.sql import report_settings
from analytics.tables import Report
from crm import savedfilters
from crm.access import Action, Entity, Scope, TenantRight, has_right, require_right, scope_for
from crm.exports import FORMATS, render_table
from crm.modes import has_leads
from crm.views.pages import overview_context

# The saved views of the dashboard share the reports' mechanism under this name.
DASHBOARD = "dashboard"


def _spec(request: HttpRequest, slug: str):
    spec = REPORTS.get(slug)
    if spec is None or (spec.leads and not has_leads(request.tenant)):
        raise Http404
    return spec


def menu(request: HttpRequest) -> list:
    """The reports this workspace has (no lead reports in the simple mode)."""
    leads = has_leads(request.tenant)
    return [spec for spec in REPORTS.values() if leads or not spec.leads]


def _sees(request: HttpRequest, entity: str) -> bool:
    return scope_for(request.membership, entity, Action.VIEW) != Scope.NONE


def _dashboard_context(request: HttpRequest, params: Params) -> dict:
    leads = has_leads(request.tenant) and _sees(request, Entity.LEAD)
    reports = has_right(request.membership, TenantRight.ANALYTICS)
    with report_settings():
        tiles = dashboard.tiles(
            params, leads=leads, deals=_sees(request, Entity.DEAL), reports=reports
        )
    return {
        "tiles": tiles,
        "params": params,
        "form": params.form,
        "query": params.query(),
        "currency": request.tenant.currency,
    }


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The home page: a director's dashboard (with the analytics right), else my own
    figures — my leads today, my response time, my overdue activities, my conversion."""
    if has_right(request.membership, TenantRight.ANALYTICS):
        return dashboard_page(request)
    params = params_for(request.membership, QueryDict("owner=me"))
    context = {**_dashboard_context(request, params), **overview_context(request)}
    context["own_figures"] = True
    return render(request, "analytics/home.html", context)


@require_GET
@require_right(TenantRight.ANALYTICS)
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The key figures of the reports for a period, each with its trend and its report."""
    params = params_for(request.membership, request.GET)
    list_name = f"analytics:{DASHBOARD}"
    context = {
        **_dashboard_context(request, params),
        **overview_context(request),
        "reports": menu(request),
        "list_name": list_name,
        "saved_views": list(
            savedfilters.saved_filters(actor=request.membership, list_name=list_name)
        ),
        "may_share": savedfilters.may_share(request.membership, list_name),
    }
    return render(request, "analytics/home.html", context)


@require_GET
@require_right(TenantRight.ANALYTICS)
def report(request: HttpRequest, slug: str) -> HttpResponse:
    """A report: its period and filters, charts, tables with links to the records, and
    its tables as CSV or XLSX (?export=csv|xlsx)."""
    spec = _spec(request, slug)
    params = params_for(request.membership, request.GET)
    with report_settings():
        built = spec.build(params)
    fmt = request.GET.get("export")
    if fmt in FORMATS:
        return _export(built, params, fmt)
    list_name = f"analytics:{slug}"
    context = {
        "report": built,
        "params": params,
        "form": params.form,
        "reports": menu(request),
        "section": "analytics",
        "list_name": list_name,
        "saved_views": list(
            savedfilters.saved_filters(actor=request.membership, list_name=list_name)
        ),
        "may_share": savedfilters.may_share(request.membership, list_name),
        "query": params.query(),
        "currency": request.tenant.currency,
    }
    return render(request, "analytics/report.html", context)


def _export(built: Report, params: Params, fmt: str) -> HttpResponse:
    """Every table of the report in one file: each under its title, a blank row between."""
    rows: list[list] = []
    first = True
    for table in built.tables:
        headers, body = table.export_rows()
        if not first:
            rows.append([])
        first = False
        period = f"{params.period.first:%d.%m.%Y}–{params.period.last:%d.%m.%Y}"
        rows.append([f"{table.title} · {period}"])
        rows.append(headers)
        rows.extend(body)
    content = render_table([str(built.title)], rows, fmt=fmt)
    response = HttpResponse(content, content_type=FORMATS[fmt])
    name = f"{slugify(built.slug)}-{params.period.first:%Y%m%d}-{params.period.last:%Y%m%d}"
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
