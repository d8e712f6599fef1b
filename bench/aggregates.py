"""The floor of the analytics benchmark: a report's figures as raw SQL and nothing else.

The first request for a (tenant, report, query string) builds the report once in-process
and keeps the SQL statements it ran (with their parameters). Every request then runs those
statements on a cursor inside the tenant's transaction — the same RLS setting and report
settings as the page — and answers the number of rows they returned: no session, no
login, no form, no ORM, no template. The page's time over this one's is what the
application adds to the aggregate queries themselves (bench/README.md, "Analytics").
"""

from __future__ import annotations

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.test.utils import CaptureQueriesContext

from analytics import dashboard
from analytics.params import params_for
from analytics.reports import REPORTS
from analytics.sql import report_settings
from crm.models import Membership, Tenant
from crm.tenancy import tenant_context

# (tenant slug, report, query string) → the SQL statements of its figures.
_STATEMENTS: dict[tuple[str, str, str], list[str]] = {}
# The statements that only load the page's setting up (its form, names): not figures.
_SETUP = ("crm_customfield", "channels_channel", "crm_membership", "crm_team", "SAVEPOINT")


def _capture(report: str, request: HttpRequest) -> list[str]:
    """The SELECTs of the report's figures, as run (their parameters written in)."""
    analyst = (
        Membership.objects.filter(role__kind="admin", is_active=True)
        .select_related("role", "tenant", "user")
        .order_by("pk")
        .first()
    )
    if analyst is None:
        raise Http404
    params = params_for(analyst, request.GET)
    with CaptureQueriesContext(connection) as captured:
        if report == "dashboard":
            dashboard.tiles(params)
        else:
            REPORTS[report].build(params)
    statements = []
    for query in captured.captured_queries:
        sql = query["sql"]
        # SELECTs, and the WITH … SELECT of the percentiles read off the rollup's histograms.
        if not any(marker in sql for marker in _SETUP) and sql.lstrip().upper().startswith(
            ("SELECT", "WITH")
        ):
            statements.append(sql)
    return statements


def aggregates(request: HttpRequest, slug: str, report: str) -> HttpResponse:
    """Run the raw SQL of `report`'s figures for the tenant `slug` (see the module)."""
    if report != "dashboard" and report not in REPORTS:
        raise Http404
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise Http404
    key = (slug, report, request.GET.urlencode())
    with tenant_context(tenant), report_settings():
        if key not in _STATEMENTS:
            _STATEMENTS[key] = _capture(report, request)
        rows = 0
        with connection.cursor() as cursor:
            for sql in _STATEMENTS[key]:
                cursor.execute(sql)
                rows += len(cursor.fetchall())
    return HttpResponse(
        f"{len(_STATEMENTS[key])} statements, {rows} rows\n", content_type="text/plain"
    )
