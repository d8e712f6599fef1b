"""The import wizard: upload → columns → check and run → progress → report (and undo)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.access import AccessDenied
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from transfer import samples, selectors, services
from transfer.forms import ApplyMappingForm, MappingForm, RunForm, UploadForm, importable
from transfer.models import ImportJob

PREVIEW_COLUMNS = 3  # sample values shown beside each column's choice


def _may_import(request: HttpRequest) -> None:
    if not importable(request.membership):
        raise AccessDenied(_("Your role does not allow importing."))


def _to(request: HttpRequest, name: str, **kwargs: object) -> HttpResponse:
    return redirect(tenant_reverse(name, request.tenant, **kwargs))


@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    """The member's imports (an administrator's: everyone's), newest first."""
    _may_import(request)
    jobs = list(selectors.imports_of(actor=request.membership)[:50])
    form = UploadForm(member=request.membership, initial={"entity": request.GET.get("entity")})
    return render(request, "transfer/import_list.html", {"jobs": jobs, "form": form})


@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    """Step 1: the file and what it holds."""
    _may_import(request)
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        member=request.membership,
        initial={"entity": request.GET.get("entity")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_upload(
                actor=request.membership,
                entity=form.cleaned_data["entity"],
                upload=form.cleaned_data["file"],
            )
        except DomainError as error:
            form.add_error("file", error.message)
        else:
            return _to(request, "transfer:import_columns", pk=job.pk)
    return render(
        request, "transfer/import_new.html", {"form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
def import_columns(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 2: which column fills which field, how the file is read; saved mappings."""
    job = selectors.import_get(actor=request.membership, pk=pk)
    if job.state != ImportJob.State.DRAFT:
        return _to(request, "transfer:import_detail", pk=job.pk)
    form = MappingForm(request.POST or None, job=job)
    if request.method == "POST" and "apply" in request.POST:
        apply = ApplyMappingForm(request.POST, job=job)
        if apply.is_valid():
            services.mapping_apply(
                actor=request.membership, job=job, mapping=apply.cleaned_data["mapping"]
            )
            messages.success(request, _("The saved mapping is applied."))
        return _to(request, "transfer:import_columns", pk=job.pk)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.import_configure(
                actor=request.membership,
                job=job,
                mapping=form.mapping(),
                encoding=data.get("encoding", ""),
                delimiter=data.get("delimiter", ""),
                date_order=data["date_order"],
                save_as=data["save_as"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if "reread" in request.POST:
                return _to(request, "transfer:import_columns", pk=job.pk)
            return _to(request, "transfer:import_check", pk=job.pk)
    sample = services.file_sample(actor=request.membership, job=job, rows=PREVIEW_COLUMNS)
    columns = [
        (field, [row[index] for row in sample if index < len(row) and row[index]])
        for index, field in enumerate(form.column_fields())
    ]
    context = {
        "job": job,
        "form": form,
        "columns": columns,
        "apply_form": ApplyMappingForm(job=job),
    }
    return render(
        request, "transfer/import_columns.html", context, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
def import_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 3: the first rows as they will be read (errors per row), duplicates and
    defaults, then run."""
    job = selectors.import_get(actor=request.membership, pk=pk)
    if job.state != ImportJob.State.DRAFT:
        return _to(request, "transfer:import_detail", pk=job.pk)
    form = RunForm(request.POST or None, job=job, member=request.membership)
    if request.method == "POST" and form.is_valid():
        try:
            services.import_start(
                actor=request.membership,
                job=job,
                policy=form.cleaned_data["policy"],
                match_by=form.cleaned_data["match_by"],
                defaults=form.defaults(),
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            return _to(request, "transfer:import_detail", pk=job.pk)
    preview = services.import_preview(actor=request.membership, job=job)
    labels = services.field_labels(job.entity)
    # Columns empty in every row shown are left out (a wide export has many).
    keys = [
        key
        for key in services.preview_columns(job)
        if key in labels and any(row.values.get(key) for row in preview)
    ]
    context = {
        "job": job,
        "form": form,
        "preview": preview,
        "columns": [(key, labels[key]) for key in keys],
        "errors": sum(1 for row in preview if row.error),
    }
    return render(
        request, "transfer/import_check.html", context, status=400 if form.errors else 200
    )


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Progress while it runs (the bar polls `import_progress`), the report when it ends."""
    job = selectors.import_get(actor=request.membership, pk=pk)
    if job.state == ImportJob.State.DRAFT:
        return _to(request, "transfer:import_columns", pk=job.pk)
    context = {"job": job, "rejected": selectors.rejected_rows(job=job)}
    return render(request, "transfer/import_detail.html", context)


@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar alone (htmx, every second); a finished import reloads the page."""
    job = selectors.import_get(actor=request.membership, pk=pk)
    if not job.is_active:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "transfer/import_detail.html#progress", {"job": job})


@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_get(actor=request.membership, pk=pk)
    services.import_cancel(actor=request.membership, job=job)
    if job.state == ImportJob.State.CANCELLED and job.processed_rows == 0 and not job.total_rows:
        messages.info(request, _("The import is cancelled."))
        return _to(request, "transfer:import_list")
    messages.info(request, _("The import will stop after the current batch of rows."))
    return _to(request, "transfer:import_detail", pk=job.pk)


@require_POST
def import_undo(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_get(actor=request.membership, pk=pk)
    job = services.import_undo(actor=request.membership, job=job)
    messages.success(request, _("The import is undone."))
    return _to(request, "transfer:import_detail", pk=job.pk)


@require_GET
def import_rejected(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The rejected rows as a CSV to fix and import again."""
    job = selectors.import_get(actor=request.membership, pk=pk)
    response = StreamingHttpResponse(
        selectors.rejected_csv(job), content_type="text/csv; charset=utf-8"
    )
    stem = job.filename.rsplit(".", 1)[0] or "import"
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{stem}.rejected.csv"
    )
    return response


@require_GET
def import_template(request: HttpRequest, entity: str, fmt: str) -> HttpResponse:
    """A file to fill in: the entity's columns (custom fields too) and an example row."""
    services.check_import(request.membership, entity)
    try:
        content, content_type, filename = samples.template_file(entity, fmt)
    except ValueError:
        raise Http404 from None
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=filename
    )
    return response
