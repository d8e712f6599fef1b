"""Import use cases: upload a file, set it up (reading, columns, saved mappings), preview it,
run it in the background, cancel it, undo it.

The rights: importing an entity is the role's "import" right for it (DESIGN §9); with an
own (or team) scope the imported records can only be given to oneself (or one's team).
Undoing an import is an administrator's act. What a run does is in transfer/engine.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Company, Contact
from contacts.services import parties_bulk_update
from crm.access import AccessDenied, Action, Scope, check_entity
from crm.background import start_named
from crm.errors import DomainError
from crm.models import Membership
from crm.services import timeline_record_many
from crm.sources import LeadSource
from deals.models import Deal
from deals.services import deals_bulk_update
from leads.models import Lead
from leads.services import leads_bulk_update
from transfer import reading, values
from transfer.entities import adapter_for
from transfer.fields import CUSTOM_ENTITY, field_specs
from transfer.headers import guess_mapping, normalize_header
from transfer.models import Entity, ImportBatch, ImportJob, ImportMapping, ImportUpdate
from transfer.rows import RowError, job_mapping, mapped_cells

MODELS = {
    Entity.LEADS: Lead,
    Entity.CONTACTS: Contact,
    Entity.COMPANIES: Company,
    Entity.DEALS: Deal,
}
PREVIEW_ROWS = 20


def check_import(actor: Membership, entity: str) -> str:
    """The actor's import scope for `entity`; AccessDenied without the right."""
    if entity not in Entity.values:
        raise DomainError(_("Unknown kind of records."))
    return check_entity(actor=actor, entity=CUSTOM_ENTITY[entity], action=Action.IMPORT)


def _custom_labels(entity: str) -> dict[str, str]:
    return {str(spec.label): spec.key for spec in field_specs(entity) if spec.key.startswith("cf_")}


def _detect(
    job: ImportJob, fileobj: IO[bytes], *, encoding: str = "", delimiter: str = ""
) -> reading.Detected:
    found = reading.detect(fileobj, job.filename, encoding=encoding, delimiter=delimiter)
    job.file_format = found.file_format
    job.encoding = found.encoding
    job.delimiter = found.delimiter
    job.headers = found.headers
    job.date_order = values.date_order(
        reading.cell_text(cell) for _number, row in found.sample for cell in row
    )
    return found


def import_upload(*, actor: Membership, entity: str, upload: Any) -> ImportJob:
    """Keep an uploaded file for an import of `entity` and read what it is: its format,
    encoding, delimiter, dates and header row; its columns matched to fields by header.

    Raises AccessDenied without the import right, DomainError for a file too large or not
    a table (nothing is kept then)."""
    check_import(actor, entity)
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise DomainError(
            _("The file is larger than %(size)s MB: split it in parts.") % {"size": limit >> 20}
        )
    name = (getattr(upload, "name", "") or "import").rsplit("/", 1)[-1][:255]
    job = ImportJob(
        tenant=actor.tenant, entity=entity, created_by=actor, filename=name, size=upload.size
    )
    try:
        _detect(job, upload)
    except reading.UnreadableFileError as problem:
        raise DomainError(str(problem)) from problem
    job.mapping = {
        str(index): key
        for index, key in guess_mapping(entity, job.headers, _custom_labels(entity)).items()
    }
    upload.seek(0)
    job.file.save(name, File(upload), save=False)
    job.save()
    return job


def _editable(job: ImportJob, actor: Membership) -> None:
    check_import(actor, job.entity)
    if job.created_by_id != actor.pk:
        raise AccessDenied(_("This import was started by someone else."))
    if job.state != ImportJob.State.DRAFT:
        raise DomainError(_("This import has started: it cannot be changed now."))


def import_configure(
    *,
    actor: Membership,
    job: ImportJob,
    mapping: dict[int, str],
    encoding: str = "",
    delimiter: str = "",
    date_order: str = "",
    save_as: str = "",
) -> ImportJob:
    """Set how the file is read (an encoding or delimiter other than detected re-reads the
    header row) and which column fills which field; with `save_as`, keep the mapping
    under that name for the next file. Unknown field keys are refused."""
    _editable(job, actor)
    keys = {spec.key: spec for spec in field_specs(job.entity)}
    chosen: dict[int, str] = {}
    for index, key in mapping.items():
        if not key:
            continue
        if key not in keys:
            raise DomainError(_("Unknown field: %(key)s") % {"key": key})
        if key in chosen.values() and not keys[key].multi:
            raise DomainError(
                _("“%(field)s” is chosen for two columns.") % {"field": keys[key].label}
            )
        chosen[index] = key
    if not chosen:
        raise DomainError(_("Choose the field of at least one column."))
    if (encoding and encoding != job.encoding) or (delimiter and delimiter != job.delimiter):
        if encoding and encoding not in (*reading.ENCODINGS, "utf-8-sig"):
            raise DomainError(_("Unknown encoding."))
        if delimiter and delimiter not in reading.DELIMITERS:
            raise DomainError(_("Unknown delimiter."))
        with default_storage.open(job.file.name, "rb") as fileobj:
            try:
                _detect(
                    job,
                    fileobj,
                    encoding=encoding or job.encoding,
                    delimiter=delimiter or job.delimiter,
                )
            except reading.UnreadableFileError as problem:
                raise DomainError(str(problem)) from problem
    if date_order in (values.DMY, values.MDY, values.YMD):
        job.date_order = date_order
    job.mapping = {str(i): k for i, k in chosen.items() if i < max(len(job.headers), 1)}
    job.save()
    if save_as.strip():
        mapping_save(actor=actor, job=job, name=save_as)
    return job


def mapping_save(*, actor: Membership, job: ImportJob, name: str) -> ImportMapping:
    """Keep the job's column mapping under `name` (replacing one of that name)."""
    check_import(actor, job.entity)
    columns = {
        normalize_header(job.headers[int(i)]): key
        for i, key in job.mapping.items()
        if int(i) < len(job.headers) and job.headers[int(i)].strip()
    }
    saved, _created = ImportMapping.objects.update_or_create(
        entity=job.entity,
        name=name.strip()[:120],
        defaults={"columns": columns, "created_by": actor},
    )
    return saved


def mapping_apply(*, actor: Membership, job: ImportJob, mapping: ImportMapping) -> ImportJob:
    """Map the job's columns as a saved mapping says (headers compared loosely); columns it
    does not name keep their current field."""
    _editable(job, actor)
    if mapping.entity != job.entity:
        raise DomainError(_("That mapping is for other records."))
    chosen = dict(job.mapping)
    for index, header in enumerate(job.headers):
        key = mapping.columns.get(normalize_header(header))
        if key is not None:
            chosen[str(index)] = key
    job.mapping = {i: k for i, k in chosen.items() if k}
    job.save(update_fields=["mapping", "updated_at"])
    return job


def file_sample(*, actor: Membership, job: ImportJob, rows: int) -> list[list[str]]:
    """The first data rows of the job's file as texts (beside the column choices)."""
    check_import(actor, job.entity)
    found: list[list[str]] = []
    with default_storage.open(job.file.name, "rb") as fileobj:
        iterator = reading.rows(
            fileobj, file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter
        )
        try:
            next(iterator, None)
            for _number, row in iterator:
                found.append([reading.cell_text(cell).strip()[:80] for cell in row])
                if len(found) >= rows:
                    break
        except reading.UnreadableFileError:
            return found
        finally:
            iterator.close()
    return found


def field_labels(entity: str) -> dict[str, str]:
    """The entity's importable fields' labels by key (custom fields included)."""
    return {spec.key: str(spec.label) for spec in field_specs(entity)}


@dataclass
class PreviewRow:
    number: int
    cells: list[str]
    values: dict[str, str] = field(default_factory=dict)  # column key -> what will be written
    error: str = ""
    notes: list[str] = field(default_factory=list)


NAME_PARTS = {"first_name", "middle_name", "last_name"}


def preview_columns(job: ImportJob) -> list[str]:
    """The fields the preview shows, in the file's order (a name's parts as one)."""
    keys: list[str] = []
    for key in job.mapping.values():
        shown = "name" if key in NAME_PARTS and job.entity != Entity.COMPANIES else key
        if shown not in keys:
            keys.append(shown)
    return keys


def _text(value: Any) -> str:
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Membership):
        return str(value.user)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%d.%m.%Y %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%d.%m.%Y")
    return str(value)


def _preview_value(entity: str, key: str, data: dict[str, Any]) -> str:
    """What a row gives field `key`, as the person will see it on the record."""
    if key == "name" and entity == Entity.CONTACTS:
        return " ".join(data[p] for p in ("last_name", "first_name", "middle_name") if data[p])
    if key == "phone":
        if entity == Entity.LEADS:
            return _text([data["phone"], *(data.get("other_phones") or [])])
        return _text(data["phones"])
    if key == "email":
        return _text(data["email"] if entity == Entity.LEADS else data["emails"])
    if key in ("telegram", "whatsapp", "vk") and entity == Entity.LEADS:
        return data["messenger_id"] if data["messenger"] == key else ""
    if key == "company" and entity == Entity.CONTACTS:
        return data["company_name"]
    if key == "source":
        return str(LeadSource(data["source"]).label)
    if key.startswith("cf_"):
        return _text(data["custom"].get(key[3:]))
    return _text(data.get(key))


def import_preview(
    *, actor: Membership, job: ImportJob, limit: int = PREVIEW_ROWS
) -> list[PreviewRow]:
    """The first rows as the import will read them (`preview_columns`), each with its
    error or its notes (what will be kept in the comment). Nothing is written."""
    check_import(actor, job.entity)
    adapter = adapter_for(job, actor)
    mapping = job_mapping(job)
    columns = preview_columns(job)
    rows: list[PreviewRow] = []
    with default_storage.open(job.file.name, "rb") as fileobj:
        iterator = reading.rows(
            fileobj, file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter
        )
        try:
            next(iterator, None)  # the header row
            for number, row in iterator:
                cells = mapped_cells(number, row, mapping)
                shown = PreviewRow(number=number, cells=[reading.cell_text(c) for c in row])
                try:
                    item = adapter.read(cells)
                except RowError as error:
                    shown.error = str(error)
                else:
                    shown.values = {k: _preview_value(job.entity, k, item.data) for k in columns}
                    shown.notes = item.notes
                rows.append(shown)
                if len(rows) >= limit:
                    break
        except reading.UnreadableFileError as problem:
            raise DomainError(str(problem)) from problem
        finally:
            iterator.close()
    return rows


def _check_defaults(
    actor: Membership, job: ImportJob, defaults: dict[str, Any], scope: str
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    owner_id = defaults.get("owner")
    if owner_id:
        owner = Membership.objects.filter(pk=owner_id, is_active=True).first()
        if owner is None:
            raise DomainError(_("That person cannot own records here."))
        if scope == Scope.OWN and owner.pk != actor.pk:
            raise AccessDenied(_("Your role lets you import records for yourself only."))
        if (
            scope == Scope.TEAM
            and owner.pk != actor.pk
            and (owner.team_id is None or owner.team_id != actor.team_id)
        ):
            raise AccessDenied(_("Your role lets you import records for your team only."))
        clean["owner"] = owner.pk
    elif scope != Scope.ALL:
        clean["owner"] = actor.pk
    for key in ("status", "source", "pipeline", "stage"):
        if defaults.get(key):
            clean[key] = defaults[key]
    return clean


def import_start(
    *,
    actor: Membership,
    job: ImportJob,
    policy: str,
    match_by: str,
    defaults: dict[str, Any] | None = None,
    background: bool = True,
) -> ImportJob:
    """Queue the import with its duplicate policy, what duplicates are matched by and the
    defaults of the records it makes (owner, status, source; for deals pipeline and stage).
    Under an own or team import scope the owner is the actor (or their team). Without
    `background` the caller runs it (the command line)."""
    _editable(job, actor)
    scope = check_import(actor, job.entity)
    if policy not in ImportJob.Policy.values:
        raise DomainError(_("Choose what to do with duplicates."))
    if match_by not in ImportJob.MatchBy.values:
        raise DomainError(_("Choose what duplicates are found by."))
    if match_by == ImportJob.MatchBy.EXTERNAL_ID and "external_id" not in job.mapping.values():
        raise DomainError(_("Choose the column that holds the external ID."))
    if not job.mapping:
        raise DomainError(_("Choose the field of at least one column."))
    job.policy = policy
    job.match_by = match_by
    job.defaults = _check_defaults(actor, job, defaults or {}, scope)
    job.state = ImportJob.State.QUEUED
    job.save()
    if background:
        enqueue(job)
    return job


def enqueue(job: ImportJob) -> None:
    """Start (or resume) the job's run in the background after commit."""
    start_named("transfer.tasks.import_run_task", tenant_id=job.tenant_id, job_id=job.pk)


def import_cancel(*, actor: Membership, job: ImportJob) -> ImportJob:
    """Ask a queued or running import to stop after its current batch (what it did is
    kept and can be undone); a draft is simply dropped."""
    if job.created_by_id != actor.pk and not actor.role.is_admin:
        raise AccessDenied(
            _("Only the person who started an import, or an administrator, may cancel it.")
        )
    if job.state == ImportJob.State.DRAFT:
        job.state = ImportJob.State.CANCELLED
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "finished_at", "updated_at"])
    elif job.state == ImportJob.State.QUEUED:
        ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.QUEUED).update(
            state=ImportJob.State.CANCELLED, cancel_requested=True, finished_at=timezone.now()
        )
    elif job.state == ImportJob.State.RUNNING:
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    else:
        raise DomainError(_("This import has ended."))
    job.refresh_from_db()
    return job


def _restore(model: type, update: ImportUpdate, record: Any) -> tuple[set[str], bool]:
    """Put back the fields an import changed, unless someone changed them since; the
    names of the fields restored, and whether one was kept as someone changed it."""
    restored: set[str] = set()
    kept = False
    for name, old in update.before.items():
        if values.jsonable(getattr(record, name)) != update.after.get(name):
            kept = True
            continue
        if name.endswith("_id"):
            setattr(record, name, old)
            restored.add(name.removesuffix("_id"))
        else:
            setattr(record, name, model._meta.get_field(name).to_python(old))
            restored.add(name)
    return restored, kept


PREFIXES = {Lead: "lead", Contact: "contact", Company: "company", Deal: "deal"}


def _remove(actor: Membership, model: type, ids: list[int], now: Any, event: dict) -> None:
    """Records an import made go where a deletion puts them: the trash (deals, which have
    none, are deleted), each with a timeline entry saying why."""
    if model is Deal:
        model.objects.filter(pk__in=ids).delete()
        return
    live = list(model.objects.filter(pk__in=ids, deleted_at=None).values_list("pk", flat=True))
    model.objects.filter(pk__in=live).update(deleted_at=now, updated_at=now)
    kind = f"{PREFIXES[model]}.import_removed"
    timeline_record_many(actor=actor, model=model, target_ids=live, kind=kind, data=event)


def import_undo(*, actor: Membership, job: ImportJob) -> ImportJob:
    """Undo an ended import (an administrator's act): the records it created go to the
    trash (as a deletion puts them; deals are deleted), the ones it changed get their
    previous values back — a field someone changed after the import keeps their value
    (counted in `undo_kept`)."""
    if not actor.role.is_admin:
        raise AccessDenied(_("Only an administrator may undo an import."))
    if job.state not in (ImportJob.State.DONE, ImportJob.State.CANCELLED, ImportJob.State.FAILED):
        raise DomainError(_("Only an ended import can be undone."))
    model = MODELS[job.entity]
    event = {"import": job.pk, "file": job.filename}
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.state == ImportJob.State.UNDONE:
            raise DomainError(_("This import is undone already."))
        # Latest first: a record two batches changed gets the first one's values back.
        updates = list(ImportUpdate.objects.filter(job=job).order_by("-pk"))
        records = model.objects.in_bulk([u.object_id for u in updates])
        restored_records: dict[int, Any] = {}
        kept_records: set[int] = set()
        fields: set[str] = set()
        for update in updates:
            record = records.get(update.object_id)
            if record is None:
                continue
            restored, was_kept = _restore(model, update, record)
            if was_kept:
                kept_records.add(record.pk)
            if restored:
                restored_records[record.pk] = record
                fields |= restored
        kept = len(kept_records)
        changed = list(restored_records.values())
        if changed and model is Lead:
            leads_bulk_update(
                actor=actor, leads=changed, fields=fields, event=event, kind="import_undone"
            )
        elif changed and model in (Contact, Company):
            parties_bulk_update(
                actor=actor, records=changed, fields=fields, event=event, kind="import_undone"
            )
        elif changed:
            deals_bulk_update(
                actor=actor, deals=changed, fields=fields, event=event, kind="import_undone"
            )
        created, others = [], {}
        for batch in ImportBatch.objects.filter(job=job):
            created += batch.created_ids
            for kind, ids in batch.other_ids.items():
                others.setdefault(kind, []).extend(ids)
        now = timezone.now()
        other_models = {"company": Company, "contact": Contact}
        for removed, ids in ((model, created), *((other_models[k], v) for k, v in others.items())):
            for chunk in range(0, len(ids), 1000):
                _remove(actor, removed, ids[chunk : chunk + 1000], now, event)
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.State.UNDONE, undone_at=timezone.now(), undone_by=actor, undo_kept=kept
        )
    job.refresh_from_db()
    return job
