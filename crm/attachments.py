"""Files attached to records (e-mail attachments today; replies later): store, list, serve.

A file is stored through Django's default storage under a random name; its row keeps the
sender's file name and declared type. It is served only to members who may see the record
it belongs to (404 for anyone else, and for another workspace), always as a download with
a safe content type: never HTML or SVG inline (crm/views/attachments.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.http import Http404

from crm.access import Action, scope_queryset
from crm.models import Attachment, Membership, TimelineEvent

# Types served as declared; anything else goes out as application/octet-stream.
SAFE_TYPES = {
    "application/pdf",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "audio/mpeg",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/csv",
    "text/plain",
    "video/mp4",
}


def safe_content_type(declared: str) -> str:
    """The type a file is served with: the declared one when harmless, else a download."""
    declared = (declared or "").split(";")[0].strip().lower()
    return declared if declared in SAFE_TYPES else "application/octet-stream"


def attachment_store(
    *,
    target: models.Model,
    filename: str,
    content_type: str,
    payload: bytes | None,
    event_id: int | None = None,
    skipped: str = "",
    size: int | None = None,
) -> Attachment:
    """Keep a file on `target` (inside the active tenant); with `skipped` (why it is not
    kept) only the note is stored."""
    attachment = Attachment(
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=target.pk,
        event_id=event_id,
        filename=(filename or "attachment")[:255],
        content_type=(content_type or "")[:200],
        size=size if size is not None else len(payload or b""),
        skipped=skipped[:300],
    )
    if payload is not None and not skipped:
        attachment.file.save("file", ContentFile(payload), save=False)
    attachment.save()
    return attachment


def timeline_with_files(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """A card's timeline entries, each inquiry's kept files on it as `event.files` (those of
    its delivery onto its record), read in one query for the whole page."""
    events = list(events)
    wanted = {}
    for event in events:
        event.files = []
        inbound = (event.data or {}).get("inbound") or {}
        delivery = str(inbound.get("event_id") or "")
        if inbound.get("attachments") and delivery.isdigit():
            wanted[(event.target_type_id, event.target_id, int(delivery))] = event
    if wanted:
        rows = Attachment.objects.filter(
            target_type_id__in={key[0] for key in wanted},
            target_id__in={key[1] for key in wanted},
            event_id__in={key[2] for key in wanted},
        ).order_by("pk")
        for row in rows:
            event = wanted.get((row.target_type_id, row.target_id, row.event_id))
            if event is not None:
                event.files.append(row)
    return events


def attachment_get_for_user(*, actor: Membership, attachment_id: int) -> Attachment:
    """A stored file of a record `actor` may see, or 404 (missing, skipped, not theirs)."""
    attachment = Attachment.objects.filter(pk=attachment_id).exclude(file="").first()
    if attachment is None:
        raise Http404
    model = ContentType.objects.get_for_id(attachment.target_type_id).model_class()
    if model is None or not hasattr(model, "access_entity"):
        raise Http404
    records = model.objects.filter(pk=attachment.target_id)
    if any(field.name == "deleted_at" for field in model._meta.get_fields()):
        records = records.filter(deleted_at=None)
    if not scope_queryset(records, actor=actor, action=Action.VIEW).exists():
        raise Http404
    return attachment


def attachments_purge(*, model: type[models.Model], ids: list[int]) -> int:
    """Forget the files kept with records of `model` deleted for good (the trash purges):
    their rows at once, their files once the transaction commits (a rollback keeps both).
    Returns how many rows went."""
    if not ids:
        return 0
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    rows = Attachment.objects.filter(target_type=content_type, target_id__in=ids)
    names = [name for name in rows.values_list("file", flat=True) if name]
    count = rows.delete()[0]
    storage = Attachment._meta.get_field("file").storage

    def delete_files() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)
    return count
