"""The import run: a file's rows in committed batches, each read, matched and saved with a
fixed number of queries whatever its size (NOTES: never one query per row).

For each batch of BATCH rows: every row is read by its entity's adapter (transfer/entities)
into an `Item` or rejected with a reason; the match keys of the whole batch are locked
(intake's advisory locks, so a channel delivering the same person meanwhile waits) and
looked up at once; each item is then skipped, merged into its match, or created under the
job's policy — a later row of the same person in the batch meets the record the earlier
row made or changed; the batch is saved in bulk with the job's counters and what the undo
needs, in one transaction. A run that stops (cancel, a worker restart) keeps its committed
batches and resumes after them.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse
from intake.matching import lock_names
from leads.qualification import rescore_all_later
from leads.selectors import scoring_rules
from transfer import reading
from transfer.entities import adapter_for
from transfer.models import Entity, ImportBatch, ImportJob, ImportRejected, ImportUpdate
from transfer.rows import Item, Outcome, RowError, mapped_cells

logger = logging.getLogger(__name__)

BATCH = 1000
# SQLite (the embedded `make run`) has one writer at a time: smaller batches and a pause
# between them let the pages' requests in while an import runs.
SQLITE_BATCH = 200
SQLITE_PAUSE = 0.1


def data_rows(job: ImportJob, fileobj: Any) -> Iterator[tuple[int, list[Any]]]:
    """The file's data rows (after the header row) with their row numbers."""
    rows = reading.rows(
        fileobj, file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter
    )
    try:
        next(rows, None)  # the header row
        yield from rows
    finally:
        rows.close()


def process_batch(adapter: Any, rows: list[tuple[int, list[Any]]]) -> Outcome:
    """Read, match and save one batch (inside the caller's transaction)."""
    outcome = Outcome()
    items: list[Item] = []
    for number, row in rows:
        cells = mapped_cells(number, row, adapter.mapping)
        try:
            items.append(adapter.read(cells))
        except RowError as error:
            outcome.rejected.append((cells, str(error)))
    keys = {key for item in items for key in item.keys}
    lock_names(adapter.tenant, {k for k in keys if k.startswith(("phone:", "email:"))})
    if adapter.policy != ImportJob.Policy.CREATE:
        adapter.find(items)
    made: dict[str, Item] = {}  # key -> the item that created or changed a record in this batch
    changed_records: set[int] = set()  # id() of the existing records in outcome.updated
    for item in items:
        earlier = next((made[k] for k in item.keys if k in made), None)
        if adapter.policy == ImportJob.Policy.CREATE:
            target = None
        elif earlier is not None:
            target = earlier.record
        else:
            target = item.match
        try:
            if target is None:
                item.record = adapter.build(item)
                outcome.created.append(item)
            elif adapter.policy == ImportJob.Policy.SKIP:
                outcome.skipped += 1
                continue
            else:
                item.record = target
                changed = adapter.merge(item, replace=adapter.policy == ImportJob.Policy.REPLACE)
                if changed is None:  # the record may not be changed (e.g. converted)
                    outcome.skipped += 1
                    continue
                if not changed:  # nothing new for it
                    outcome.skipped += 1
                elif target.pk is not None and id(target) not in changed_records:
                    changed_records.add(id(target))
                    outcome.updated.append(item)
                else:  # into a record this import made, or changed by an earlier row
                    outcome.merged += 1
        except RowError as error:
            outcome.rejected.append((item.cells, str(error)))
            continue
        for key in item.keys:
            made.setdefault(key, item)
    adapter.save(outcome)
    return outcome


def _record_batch(job: ImportJob, first_row: int, outcome: Outcome, adapter: Any) -> None:
    if outcome.created or adapter.other_created:
        ImportBatch.objects.create(
            job=job,
            first_row=first_row,
            created_ids=[item.record.pk for item in outcome.created],
            other_ids=adapter.take_other_created(),
        )
    ImportUpdate.objects.bulk_create(
        ImportUpdate(
            job=job,
            object_id=item.record.pk,
            row_number=item.cells.number,
            before=adapter.before.get(item.record.pk, {}),
            after=adapter.after_values(item.record, adapter.before.get(item.record.pk, {})),
        )
        for item in outcome.updated
    )
    ImportRejected.objects.bulk_create(
        ImportRejected(
            job=job,
            row_number=cells.number,
            reason=reason[:1000],
            cells=[reading.cell_text(c) for c in cells.raw],
        )
        for cells, reason in outcome.rejected
    )


def _start(job_id: int) -> tuple[ImportJob | None, Membership | None]:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.state not in (ImportJob.State.QUEUED, ImportJob.State.RUNNING):
        return None, None
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportJob.State.RUNNING, started_at=job.started_at or now, heartbeat_at=now
    )
    actor = Membership.objects.select_related("user", "role", "tenant").get(pk=job.created_by_id)
    return job, actor


def _go_on(job: ImportJob, done: int) -> bool:
    """Whether this run goes on with its next batch: the job's row is locked until the
    batch commits, so a second run of the same job (a redelivered task) waits, then sees
    the rows done moved on and stops; a cancel asked for ends the run here."""
    state, processed, cancel = (
        ImportJob.objects.select_for_update()
        .values_list("state", "processed_rows", "cancel_requested")
        .get(pk=job.pk)
    )
    if state != ImportJob.State.RUNNING or processed != done:
        return False
    if cancel:
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.State.CANCELLED, finished_at=timezone.now()
        )
        return False
    return True


def run(tenant: Tenant, job_id: int, *, deadline: float | None = None) -> bool:
    """Run (or resume) an import to its end, a cancel or a failure: each batch in a
    transaction of its own inside `tenant`, so progress is visible and kept. Reasons and
    notes are written in the workspace's language (a worker has no request to take it
    from). With a `deadline` (time.monotonic()), the run stops between batches once it has
    passed, the job still running; returns whether it stopped so (a new run goes on)."""
    with translation.override(tenant.language):
        return _run(tenant, job_id, deadline)


def _run(tenant: Tenant, job_id: int, deadline: float | None) -> bool:
    with tenant_context(tenant):
        job, actor = _start(job_id)
    if job is None or actor is None:
        return False
    try:
        with default_storage.open(job.file.name, "rb") as fileobj:
            if job.total_rows is None:
                job.total_rows = reading.count_rows(
                    fileobj,
                    file_format=job.file_format,
                    encoding=job.encoding,
                    delimiter=job.delimiter,
                )
                with tenant_context(tenant):
                    ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
            with tenant_context(tenant):
                adapter = adapter_for(job, actor)
            done = job.processed_rows
            source = data_rows(job, fileobj)
            rows = itertools.islice(source, done, None)
            sqlite = connection.vendor == "sqlite"
            size = min(BATCH, SQLITE_BATCH) if sqlite else BATCH
            while batch := list(itertools.islice(rows, size)):
                if deadline is not None and time.monotonic() > deadline:
                    source.close()
                    return True
                if sqlite and done:
                    time.sleep(SQLITE_PAUSE)
                with tenant_context(tenant):
                    if not _go_on(job, done):
                        source.close()
                        return False
                    outcome = process_batch(adapter, batch)
                    _record_batch(job, batch[0][0], outcome, adapter)
                    ImportJob.objects.filter(pk=job.pk).update(
                        processed_rows=F("processed_rows") + len(batch),
                        created_count=F("created_count") + len(outcome.created),
                        updated_count=F("updated_count") + len(outcome.updated) + outcome.merged,
                        skipped_count=F("skipped_count") + outcome.skipped,
                        rejected_count=F("rejected_count") + len(outcome.rejected),
                        heartbeat_at=timezone.now(),
                    )
                done += len(batch)
                adapter.reset()
    except reading.UnreadableFileError as problem:
        with tenant_context(tenant):
            _fail(job, str(problem))
        return False
    except SoftTimeLimitExceeded:
        # A batch ran past the task's soft limit: it is rolled back, the job stays running
        # and imports_resume_task goes on after its last committed batch.
        logger.warning("Import %s stopped at its time limit; it will resume.", job.pk)
        raise
    except Exception:
        logger.exception("Import %s failed.", job.pk)
        with tenant_context(tenant):
            _fail(job, _("The import stopped on an unexpected error; what it did so far is kept."))
        raise
    with tenant_context(tenant):
        done = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING).update(
            state=ImportJob.State.DONE, finished_at=timezone.now()
        )
        if done and job.entity == Entity.LEADS and scoring_rules():
            rescore_all_later()  # the imported and updated leads get their scores
        _tell(job)
    return False


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportJob.State.FAILED, error=message, finished_at=timezone.now()
    )
    _tell(job)


def _tell(job: ImportJob) -> None:
    """Notify who started the import that it ended (the bell and an e-mail)."""
    job.refresh_from_db()
    if job.created_by is None or job.state not in (ImportJob.State.DONE, ImportJob.State.FAILED):
        return
    counts = {
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "rejected": job.rejected_count,
    }
    notify(
        recipients=[job.created_by],
        kind="import.done" if job.state == ImportJob.State.DONE else "import.failed",
        data={"filename": job.filename, **counts},
        url=tenant_reverse("transfer:import_detail", job.tenant, pk=job.pk),
    )
