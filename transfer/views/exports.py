"""Exports: a list's export (from its menu), a large export's page and download, and the
member's recent exports."""

from __future__ import annotations

import io

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from crm.exports import FORMATS, Columns
from crm.urlnames import tenant_reverse
from transfer import exporting
from transfer.models import ExportJob

# Recent exports the list page shows.
RECENT = 50


@require_POST
def export_list(request: HttpRequest, entity: str) -> HttpResponse:
    """The list filtered by this URL's query string as CSV or XLSX (POST `format`, `columns`):
    the file at once when it is small, else an export prepared in the background, whose
    page the member is sent to. Roles without the export right get 403."""
    actor = request.membership
    exporting.export_check(actor=actor, entity=entity)
    order = exporting.export_order(
        entity=entity,
        params=request.GET,
        fmt=request.POST.get("format", "csv"),
        columns=request.POST.get("columns", Columns.VISIBLE),
    )
    rows = exporting.export_rows(actor=actor, order=order)
    if exporting.export_is_large(rows):
        job = exporting.export_job_start(actor=actor, order=order)
        return redirect(tenant_reverse("transfer:export_detail", request.tenant, pk=job.pk))
    out = io.BytesIO()
    exporting.export_write(rows=rows, order=order, out=out)
    response = HttpResponse(out.getvalue(), content_type=FORMATS[order.fmt])
    response["Content-Disposition"] = content_disposition_header(
        True, exporting.export_filename(order=order)
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def export_jobs(request: HttpRequest) -> HttpResponse:
    """The member's own recent exports, newest first."""
    rows = list(exporting.export_jobs_recent(actor=request.membership)[:RECENT])
    context = {"rows": rows, "keep_days": settings.EXPORT_KEEP_DAYS, "section": "exports"}
    return render(request, "transfer/export_list.html", context)


@require_GET
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the member's exports: "being prepared" (htmx polls the status) until its
    download link."""
    job = exporting.export_job_get_for_user(actor=request.membership, job_id=pk)
    context = {"job": job, "section": "exports"}
    partial = request.htmx and request.GET.get("fragment") == "status"
    template = "transfer/export_detail.html" + ("#status" if partial else "")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    """A ready export's file, only for the member who asked for it (404 for anyone else)."""
    job = exporting.export_job_get_for_user(actor=request.membership, job_id=pk)
    if job.state != ExportJob.State.DONE or not job.file:
        raise Http404
    try:
        handle = job.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=True, filename=job.filename, content_type=FORMATS[job.fmt]
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
