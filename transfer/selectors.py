"""What the import pages read: a member's imports, one import, its rejected rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from crm.exports import neutralize
from crm.models import Membership
from crm.tenancy import tenant_context
from transfer.models import ImportJob, ImportMapping, ImportRejected


def imports_of(*, actor: Membership) -> QuerySet[ImportJob]:
    """The imports a member may see: their own; an administrator sees everyone's."""
    jobs = ImportJob.objects.select_related("created_by__user").order_by("-created_at", "-pk")
    return jobs if actor.role.is_admin else jobs.filter(created_by=actor)


def import_get(*, actor: Membership, pk: int) -> ImportJob:
    """One import the member may see (404 otherwise, another workspace's included)."""
    job = imports_of(actor=actor).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


def mappings_for(*, entity: str) -> QuerySet[ImportMapping]:
    return ImportMapping.objects.filter(entity=entity).order_by("name")


def rejected_rows(*, job: ImportJob, limit: int = 100) -> list[ImportRejected]:
    return list(ImportRejected.objects.filter(job=job).order_by("row_number", "pk")[:limit])


def rejected_csv(job: ImportJob) -> Iterator[bytes]:
    """The rejected rows as a CSV to fix and import again: the file's header with an
    "Error" column first, each row as it was read (UTF-8 with BOM, ";", formula-safe)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_("Error"), _("Row"), *job.headers])
    yield ("\ufeff" + out.getvalue()).encode("utf-8")
    # A streamed response is read after the view returned: the rows are read in the
    # job's workspace again.
    with tenant_context(job.tenant):
        rows = ImportRejected.objects.filter(job=job).order_by("row_number", "pk")
        for row in rows.iterator(chunk_size=2000):
            out.seek(0)
            out.truncate()
            writer.writerow([neutralize(row.reason), row.row_number, *map(neutralize, row.cells)])
            yield out.getvalue().encode("utf-8")
