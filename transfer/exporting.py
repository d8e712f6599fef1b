"""Exports of the filtered lists of leads, contacts, companies and deals (DESIGN §10).

The rows are the list's own (its query string: search, filters, a saved filter's
parameters) among those the member may view, narrowed by their export scope (DESIGN §9).
A list up to EXPORT_INLINE_MAX_ROWS is written in the request; a larger one becomes an
ExportJob that `export_job_run` writes in the background (crm.background.start_long),
streamed a chunk of rows at a time, stores with Django's storage and announces to the
member who asked. Only that member downloads it; files older than EXPORT_KEEP_DAYS go.
"""

from __future__ import annotations

import datetime
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from contacts import selectors as contact_selectors
from contacts.filters import CompanyFilter, ContactFilter
from contacts.models import Company, Contact
from contacts.resources import CompanyExportResource, ContactExportResource
from crm import customfields, nextactivity
from crm.access import Action, check_entity, scope_queryset
from crm.access import Entity as AccessEntity
from crm.background import start_named
from crm.errors import DomainError
from crm.exports import FORMATS, Columns, ExportResource, write_table
from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.tenancy import current_tenant, tenant_context, tenant_reading
from crm.urlnames import tenant_reverse
from deals import selectors as deal_selectors
from deals.filters import DealFilter
from deals.models import Deal
from deals.resources import DealExportResource
from leads import selectors as lead_selectors
from leads.filters import LeadFilter
from leads.models import Lead
from leads.resources import LeadExportResource
from transfer.models import Entity, ExportJob

logger = logging.getLogger(__name__)

# Rows read from the database at a time (queryset.iterator): memory stays flat.
CHUNK_SIZE = 2000
# The Celery task that writes a large export (transfer/tasks.py, which imports this module).
EXPORT_TASK = "transfer.tasks.export_job_task"
# A background export still queued this long after it was asked for is started again.
RESUME_AFTER = datetime.timedelta(minutes=15)
# Query parameters that shape the list page, not its rows.
PAGE_PARAMS = ("after", "fragment", "bulk", "total", "sort", "format", "columns")


def _lead_rows(actor: Membership, params: QueryDict, region: str) -> QuerySet:
    """The full lead list's rows for `params`, as leads.views.lists.lead_list picks them."""
    preset = params.get("preset")
    searched = bool(params.get("q", "").strip())
    visible = lead_selectors.lead_list(
        actor=actor,
        archived=preset == "archived",
        with_archived=params.get("archive") == "all",
        postponed=True if preset == "postponed" else None if searched else False,
    )
    rows = LeadFilter(
        params or None, queryset=_exportable(visible, actor), actor=actor, region=region
    )
    return (
        _valid(rows)
        .select_related("created_by__user")
        .annotate(upcoming=nextactivity.next_activity(Lead))
    )


def _party_rows(model: type, filter_class: type) -> Callable[..., QuerySet]:
    """The contact or company list's rows for `params` (contacts.views.lists.record_list)."""

    def rows(actor: Membership, params: QueryDict, region: str) -> QuerySet:
        visible = contact_selectors.record_list(actor=actor, model=model)
        found = filter_class(
            params or None, queryset=_exportable(visible, actor), actor=actor, region=region
        )
        return _valid(found).select_related("created_by__user")

    return rows


def _deal_rows(actor: Membership, params: QueryDict, region: str) -> QuerySet:
    """The deal list's rows for `params` (deals.views.lists.deal_list)."""
    visible = deal_selectors.deal_list(actor=actor)
    found = DealFilter(
        params or None, queryset=_exportable(visible, actor), actor=actor, region=region
    )
    return (
        _valid(found)
        .select_related("created_by__user")
        .annotate(upcoming=nextactivity.next_activity(Deal))
    )


def _exportable(visible: QuerySet, actor: Membership) -> QuerySet:
    """What the actor may view (`visible`) and export: the two scopes together."""
    return scope_queryset(visible, actor=actor, action=Action.EXPORT)


def _valid(filters: Any) -> QuerySet:
    """The filtered rows; with a filter the form refuses, the unfiltered ones, as the list
    page shows them (still within both scopes)."""
    if filters.is_bound and filters.is_valid():
        return filters.qs
    return filters.queryset


@dataclass(frozen=True)
class Spec:
    """What an entity's export reads: its rights row, its rows and its columns."""

    access: str
    rows: Callable[[Membership, QueryDict, str], QuerySet]
    resource: type[ExportResource]


SPECS: dict[str, Spec] = {
    Entity.LEADS: Spec(AccessEntity.LEAD, _lead_rows, LeadExportResource),
    Entity.CONTACTS: Spec(
        AccessEntity.CONTACT, _party_rows(Contact, ContactFilter), ContactExportResource
    ),
    Entity.COMPANIES: Spec(
        AccessEntity.COMPANY, _party_rows(Company, CompanyFilter), CompanyExportResource
    ),
    Entity.DEALS: Spec(AccessEntity.DEAL, _deal_rows, DealExportResource),
}


@dataclass(frozen=True)
class ExportOrder:
    """One export asked for: which list, filtered how, in which format, with which columns."""

    entity: str
    query: str
    fmt: str
    columns: str


def export_order(*, entity: str, params: QueryDict, fmt: str, columns: str) -> ExportOrder:
    """Check what a request asks for; the list's parameters kept as a query string.

    Raises DomainError (400) for an unknown format or column set."""
    if fmt not in FORMATS:
        raise DomainError(_("Choose CSV or XLSX."))
    if columns not in Columns.values:
        raise DomainError(_("Choose the visible columns or all fields."))
    kept = params.copy()
    for name in PAGE_PARAMS:
        kept.pop(name, None)
    return ExportOrder(entity=entity, query=kept.urlencode(), fmt=fmt, columns=columns)


def export_check(*, actor: Membership, entity: str) -> Spec:
    """The entity's export, if the actor's role may export it (AccessDenied, 403, if not)."""
    spec = SPECS[entity]
    check_entity(actor=actor, entity=spec.access, action=Action.VIEW)
    check_entity(actor=actor, entity=spec.access, action=Action.EXPORT)
    return spec


def export_rows(*, actor: Membership, order: ExportOrder) -> QuerySet:
    """The rows of an export, newest first: the list's filters over what the actor may view
    and export. Raises AccessDenied without the export right."""
    spec = export_check(actor=actor, entity=order.entity)
    tenant = current_tenant()
    region = tenant.default_region if tenant is not None else ""
    rows = spec.rows(actor, QueryDict(order.query), region)
    return rows.order_by("-created_at", "-pk")


def export_is_large(rows: QuerySet) -> bool:
    """Whether the rows are more than a request writes (one bounded COUNT)."""
    limit = settings.EXPORT_INLINE_MAX_ROWS
    return rows.values("pk")[: limit + 1].count() > limit


def export_write(*, rows: QuerySet, order: ExportOrder, out: BinaryIO) -> int:
    """Write the rows to `out` in the order's format and columns; how many rows. A constant
    number of queries whatever the row count: the custom fields, the members, the rows."""
    spec = SPECS[order.entity]
    members = {
        m.pk: str(m.user) for m in Membership.objects.filter(is_system=False).select_related("user")
    }
    resource = spec.resource(
        columns=order.columns,
        custom_fields=customfields.definitions(entity=spec.access),
        members=members,
    )
    export_fields = resource.get_export_fields()
    headers = [field.column_name for field in export_fields]

    def values() -> Iterator[list[Any]]:
        for record in rows.iterator(chunk_size=CHUNK_SIZE):
            yield [resource.export_field(field, record) for field in export_fields]

    return write_table(headers, values(), fmt=order.fmt, out=out)


def export_filename(*, order: ExportOrder) -> str:
    """A safe download name: entity, workspace and local date (`leads-acme-2026-12-05.csv`)."""
    tenant = current_tenant()
    slug = tenant.slug if tenant is not None else "export"
    stamp = timezone.localdate().isoformat()
    return f"{order.entity}-{slug}-{stamp}.{order.fmt}"


# --- Background exports -------------------------------------------------------------------


def export_job_start(*, actor: Membership, order: ExportOrder) -> ExportJob:
    """Queue a large export; it runs after commit (crm.background.start_long) and notifies
    the actor when the file is ready. Raises AccessDenied without the export right."""
    export_check(actor=actor, entity=order.entity)
    job = ExportJob.objects.create(
        entity=order.entity,
        requested_by=actor,
        fmt=order.fmt,
        columns=order.columns,
        query=order.query,
        filename=export_filename(order=order),
    )
    start_named(EXPORT_TASK, tenant_id=job.tenant_id, job_id=job.pk)
    return job


def export_job_run(*, tenant: Tenant, job_id: int) -> ExportJob | None:
    """Write a queued export's file; None when another run took it or it is gone. The
    rights are those of the member at run time: one who lost the export right gets a
    failed job, not the file. A failure is recorded on the job. The job is claimed and
    ended in short transactions; the rows are read with `tenant_reading` (on SQLite no
    write lock is held while the file is written)."""
    with tenant_context(tenant):
        claimed = ExportJob.objects.filter(pk=job_id, state=ExportJob.State.QUEUED).update(
            state=ExportJob.State.RUNNING, updated_at=timezone.now()
        )
        if claimed != 1:
            return None
        job = ExportJob.objects.select_related(
            "tenant", "requested_by__user", "requested_by__role"
        ).get(pk=job_id)
    order = ExportOrder(entity=job.entity, query=job.query, fmt=job.fmt, columns=job.columns)
    try:
        with (
            tenant_reading(tenant),
            # The column heads in the workspace's language (no request tells the member's).
            translation.override(job.tenant.language),
            tempfile.TemporaryFile() as out,
        ):
            rows = export_rows(actor=job.requested_by, order=order)
            job.row_count = export_write(rows=rows, order=order, out=out)
            out.seek(0)
            job.file.save(job.filename, File(out), save=False)
    except Exception as error:
        logger.exception("Export %s failed.", job_id)
        job.state, job.error, job.row_count = ExportJob.State.FAILED, str(error)[:1000], 0
        kind = "export.failed"
    else:
        job.state = ExportJob.State.DONE
        kind = "export.ready"
    job.finished_at = timezone.now()
    with tenant_context(tenant):
        job.save(update_fields=["state", "error", "row_count", "file", "finished_at", "updated_at"])
        notify(
            recipients=[job.requested_by],
            kind=kind,
            data={"filename": job.filename},
            url=tenant_reverse("transfer:export_detail", job.tenant, pk=job.pk),
        )
    return job


def export_jobs_resume(*, older_than: datetime.timedelta = RESUME_AFTER) -> int:
    """Start again the exports still queued a while after they were asked for (a server
    stopped before its thread ran them), and those left running by a killed worker long
    past any run's time limit; a run in progress holds its row, so a second start waits
    for it and then finds nothing to do. How many were started."""
    now = timezone.now()
    cutoff = now - older_than
    # A run whose worker was killed (a deploy's SIGKILL, the hard time limit) left its job
    # running: long past any run's limit, it is queued again (its file was never saved).
    dead = now - datetime.timedelta(seconds=2 * settings.CELERY_LONG_TASK_TIME_LIMIT)
    ExportJob.objects.filter(state=ExportJob.State.RUNNING, updated_at__lte=dead).update(
        state=ExportJob.State.QUEUED, updated_at=now
    )
    stale = list(
        ExportJob.objects.filter(state=ExportJob.State.QUEUED, created_at__lte=cutoff).values(
            "pk", "tenant_id"
        )
    )
    for row in stale:
        start_named(EXPORT_TASK, tenant_id=row["tenant_id"], job_id=row["pk"])
    return len(stale)


def export_jobs_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete the exports (rows and files) older than EXPORT_KEEP_DAYS; files go after
    commit. How many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.EXPORT_KEEP_DAYS)
    old = list(ExportJob.objects.filter(created_at__lt=cutoff))
    files = [job.file for job in old if job.file]
    ExportJob.objects.filter(pk__in=[job.pk for job in old]).delete()

    def delete_files() -> None:
        for file in files:
            try:
                file.storage.delete(file.name)
            except OSError:
                logger.warning("Could not delete the export file %s.", file.name)

    transaction.on_commit(delete_files)
    return len(old)


def export_jobs_recent(*, actor: Membership) -> QuerySet[ExportJob]:
    """The actor's own exports, newest first."""
    return ExportJob.objects.filter(requested_by=actor)


def export_job_get_for_user(*, actor: Membership, job_id: int) -> ExportJob:
    """One of the actor's own exports, or 404 (the same for another member's and missing)."""
    job = export_jobs_recent(actor=actor).filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job
