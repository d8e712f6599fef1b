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

The rows are read (the file parsed, each row read by the adapter: pure Python, no query)
in a thread of its own, up to READ_AHEAD batches ahead of the batch being saved, so the
reading of the next batch runs while PostgreSQL writes the one before.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.tenancy import tenant_context, tenant_zone
from crm.urlnames import tenant_reverse
from intake.matching import lock_names
from leads.qualification import rescore_all_later
from leads.selectors import scoring_rules
from transfer import reading
from transfer.entities import adapter_for
from transfer.models import Entity, ImportBatch, ImportJob, ImportRejected, ImportUpdate
from transfer.rows import Cells, Item, Outcome, RowError, mapped_cells

logger = logging.getLogger(__name__)

BATCH = 1000
# SQLite (the embedded `make run`) has one writer at a time: smaller batches and a pause
# between them let the pages' requests in while an import runs.
SQLITE_BATCH = 200
SQLITE_PAUSE = 0.1
READ_AHEAD = 2  # batches read before the one being saved is done (memory: a few batches)


def data_rows(job: ImportJob, fileobj: Any, skip: int = 0) -> Iterator[tuple[int, list[Any]]]:
    """The file's data rows (after the header row, and the `skip` first ones) with their
    row numbers."""
    rows = reading.rows(
        fileobj, file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter
    )
    try:
        next(rows, None)  # the header row
        yield from itertools.islice(rows, skip, None)
    finally:
        rows.close()


@dataclass
class Batch:
    """A batch of the file's rows as its adapter read them: the rows it could read and
    those it rejected with the reason."""

    first_row: int
    size: int
    items: list[Item] = field(default_factory=list)
    rejected: list[tuple[Cells, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return self.size


def read_batch(adapter: Any, rows: list[tuple[int, list[Any]]]) -> Batch:
    """Read one batch's rows with the entity's adapter, and prepare what it can (no query)."""
    batch = Batch(first_row=rows[0][0], size=len(rows))
    for number, row in rows:
        # Hand the interpreter to the saving thread if it waits for it (its database
        # answer came): without this it waits for the switch interval, 5 ms a time.
        time.sleep(0)
        cells = mapped_cells(number, row, adapter.mapping)
        try:
            item = adapter.read(cells)
        except RowError as error:
            batch.rejected.append((cells, str(error)))
            continue
        adapter.prepare(item)
        batch.items.append(item)
    return batch


def _no_query(*args: Any) -> None:
    raise RuntimeError("The import's reading thread may not query the database.")


class Reader:
    """The file's batches read in a thread of its own, at most READ_AHEAD ahead of the
    one taken, in the workspace's language and time zone (dates in the file are its);
    the thread may not query the database. `close()` stops it and waits for it (the file
    is read until then)."""

    def __init__(
        self, tenant: Tenant, adapter: Any, rows: Iterator[tuple[int, list[Any]]], size: int
    ) -> None:
        """Read `rows` (a generator, closed by the thread when it stops) in batches of `size`."""
        self._tenant, self._adapter, self._rows, self._size = tenant, adapter, rows, size
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=READ_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="import-reader", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        tenant = self._tenant
        try:
            with (
                translation.override(tenant.language),
                timezone.override(tenant_zone(tenant)),
                connection.execute_wrapper(_no_query),
            ):
                while not self._stop.is_set():
                    rows = list(itertools.islice(self._rows, self._size))
                    if not rows:
                        break
                    self._put(read_batch(self._adapter, rows))
            self._put(None)
        except BaseException as error:  # handed to the caller's thread
            self._put(error)
        finally:
            self._rows.close()

    def _put(self, value: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(value, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Batch]:
        while True:
            value = self._queue.get()
            if value is None:
                return
            if isinstance(value, BaseException):
                raise value
            yield value

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        self._thread.join()


def process_batch(adapter: Any, batch: Batch) -> Outcome:
    """Match and save one batch read by `read_batch` (inside the caller's transaction)."""
    outcome = Outcome(rejected=list(batch.rejected))
    items = batch.items
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
            size = min(BATCH, SQLITE_BATCH) if connection.vendor == "sqlite" else BATCH
            reader = Reader(tenant, adapter, data_rows(job, fileobj, skip=done), size)
            try:
                stopped = _save_batches(tenant, job, adapter, reader, done, deadline)
            finally:
                reader.close()
            if stopped is not None:
                return stopped
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


def _save_batches(
    tenant: Tenant, job: ImportJob, adapter: Any, reader: Reader, done: int, deadline: float | None
) -> bool | None:
    """Save the batches `reader` reads, each in a transaction with the job's counters; None
    at the file's end, else whether the run stopped at its deadline (True) or because the
    job was cancelled or taken by another run (False)."""
    sqlite = connection.vendor == "sqlite"
    for batch in reader:
        if deadline is not None and time.monotonic() > deadline:
            return True
        if sqlite and done:
            time.sleep(SQLITE_PAUSE)
        with tenant_context(tenant):
            if not _go_on(job, done):
                return False
            if not sqlite:
                # A batch lost in a crash is not counted in the job either (same
                # transaction): the resumed run redoes it, so its commit need not wait for
                # the disk (PostgreSQL stays consistent; only the last moments may be lost).
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            outcome = process_batch(adapter, batch)
            _record_batch(job, batch.first_row, outcome, adapter)
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
    return None


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
