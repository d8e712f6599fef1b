"""Write use cases for contacts and companies: create, edit, trash, merge and undo a merge.

Contacts and companies share one implementation (`Party` records) behind typed entry
points per entity. Every write keeps the record's match keys (`MatchKey`) in step with its
fields and records TimelineEvents. A merge moves everything that points to the merged
record onto the survivor and stores what it did, so an administrator can undo it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Company, CompanyMerge, Contact, ContactMerge, MatchKey, Party
from contacts.normalize import (
    email_key,
    messenger_key,
    name_words,
    phone_e164,
    phone_tail,
    phones_in,
    tax_id_key,
)
from crm.access import AccessDenied, Action, Scope, check_entity, check_object
from crm.attachments import attachments_purge
from crm.bulk import insert_many
from crm.errors import DomainError
from crm.history import Changes
from crm.models import Activity, Membership, Tenant
from crm.services import ACTOR, _Actor, timeline_record, timeline_record_many
from crm.text import clean_line, clean_text

TRASH_DAYS = 30
MESSENGERS = ("telegram", "whatsapp", "vk")


@dataclass(frozen=True)
class Spec:
    """How one kind of party record is written: its fields, merge rules and names."""

    model: type[Party]
    merge_model: type[models.Model]
    prefix: str  # timeline kinds: "<prefix>.created", …
    editable: tuple[str, ...]
    # Fields whose value the user picks in a merge (attnames); phones, e-mails and custom
    # fields are merged as a union (custom: the user picks where both have a value).
    chosen: tuple[str, ...]


CONTACT = Spec(
    model=Contact,
    merge_model=ContactMerge,
    prefix="contact",
    editable=(
        "last_name",
        "first_name",
        "middle_name",
        "company",
        "position",
        "phones",
        "emails",
        "telegram",
        "whatsapp",
        "vk",
        "notes",
        "custom",
    ),
    chosen=(
        "last_name",
        "first_name",
        "middle_name",
        "company_id",
        "position",
        "telegram",
        "whatsapp",
        "vk",
        "notes",
        "owner_id",
    ),
)
COMPANY = Spec(
    model=Company,
    merge_model=CompanyMerge,
    prefix="company",
    editable=("name", "tax_id", "phones", "emails", "website", "address", "notes", "custom"),
    chosen=("name", "tax_id", "website", "address", "notes", "owner_id"),
)
SNAPSHOT_EXTRA = ("phones", "emails", "custom")


def spec_of(record: Party | type[Party]) -> Spec:
    """The spec of a contact or company (record or model)."""
    model = record if isinstance(record, type) else type(record)
    return CONTACT if issubclass(model, Contact) else COMPANY


# --- Normalization and match keys ---------------------------------------------------------


def _clean_list(values: Any) -> list[str]:
    return [clean_line(v) for v in values or [] if v and clean_line(v)]


def _normalize(record: Party, tenant: Tenant) -> None:
    """Clean (crm/text.py) and de-duplicate the ways to reach the record; refuse what
    cannot be a key. A phone line holding several numbers is kept as written (its first
    number's key) and each further number is added as a line of its own, so each is found."""
    phones: dict[str, str] = {}
    for raw in _clean_list(record.phones):
        found = phones_in(raw, tenant.default_region)
        if not found:
            raise DomainError(_("“%(phone)s” does not look like a phone number.") % {"phone": raw})
        phones.setdefault(found[0].e164, raw)
        for phone in found[1:]:
            phones.setdefault(phone.e164, phone.display)
    record.phones = list(phones.values())
    emails: dict[str, str] = {}
    for raw in _clean_list(record.emails):
        try:
            validate_email(raw)
        except ValidationError as error:
            raise DomainError(
                _("“%(email)s” is not a valid e-mail address.") % {"email": raw}
            ) from error
        emails.setdefault(email_key(raw), raw)
    record.emails = list(emails.values())
    for field in record._meta.concrete_fields:
        if isinstance(field, models.TextField):  # notes: free text, invisible characters kept
            setattr(record, field.attname, clean_text(getattr(record, field.attname)).strip())
        elif isinstance(field, models.CharField):
            setattr(record, field.attname, clean_line(getattr(record, field.attname)))
    if isinstance(record, Contact):
        _normalize_contact(record)
    else:
        _normalize_company(record, tenant)


def _normalize_contact(contact: Contact) -> None:
    if contact.company_id is not None:
        company = contact.company
        if company.tenant_id != contact.tenant_id:
            raise DomainError(_("That record belongs to another workspace."))
        if not company.is_live:
            raise DomainError(_("That company is in the trash or was merged."))
    reachable = contact.phones or contact.emails or any(getattr(contact, m) for m in MESSENGERS)
    if not (contact.last_name or contact.first_name or reachable):
        raise DomainError(_("Give the person's name or a way to reach them."))


def _normalize_company(company: Company, tenant: Tenant) -> None:
    if not company.name:
        raise DomainError(_("Give the company's name."))
    if company.tax_id:
        digits = tax_id_key(company.tax_id)
        if digits != company.tax_id.replace(" ", "") or (
            tenant.default_region == "RU" and len(digits) not in (10, 12)
        ):
            raise DomainError(_("A tax id (INN) is 10 or 12 digits."))
        company.tax_id = digits


def match_keys(record: Party, region: str) -> set[tuple[str, str]]:
    """The (kind, value) keys that find `record`: phones, e-mails, messengers, tax id, words."""
    keys = {(MatchKey.Kind.PHONE, phone_e164(p, region)) for p in record.phones}
    keys |= {(MatchKey.Kind.PHONE_TAIL, phone_tail(e164)) for _kind, e164 in keys}
    keys |= {(MatchKey.Kind.EMAIL, email_key(e)) for e in record.emails}
    if isinstance(record, Contact):
        for messenger in MESSENGERS:
            keys.add((messenger, messenger_key(messenger, getattr(record, messenger), region)))
        words = name_words(record.last_name, record.first_name, record.middle_name)
    else:
        keys.add((MatchKey.Kind.TAX_ID, tax_id_key(record.tax_id)))
        words = name_words(record.name)
    keys |= {(MatchKey.Kind.WORD, word[:254]) for word in words}
    return {(kind, value) for kind, value in keys if value}


def _sync_keys(record: Party, region: str) -> None:
    """Replace the record's match keys with those of its current fields."""
    owner_field = "contact" if isinstance(record, Contact) else "company"
    MatchKey.objects.filter(**{owner_field: record}).delete()
    MatchKey.objects.bulk_create(
        MatchKey(tenant_id=record.tenant_id, kind=kind, value=value, **{owner_field: record})
        for kind, value in sorted(match_keys(record, region))
    )


def _drop_keys(record: Party) -> None:
    owner_field = "contact" if isinstance(record, Contact) else "company"
    MatchKey.objects.filter(**{owner_field: record}).delete()


def _check_owner(actor: Membership, owner: Membership | None, scope: str) -> None:
    """Whom a record may be given to: anyone with scope all, own team with team, else me."""
    if owner is None or owner.pk == actor.pk:
        return
    if owner.tenant_id != actor.tenant_id or not owner.is_active:
        raise DomainError(_("That person cannot own records here."))
    if scope == Scope.ALL:
        return
    if scope == Scope.TEAM and owner.team_id is not None and owner.team_id == actor.team_id:
        return
    raise AccessDenied(_("Your role does not allow giving records to that person."))


# --- Create, edit, trash ------------------------------------------------------------------


def _create(
    spec: Spec, *, actor: Membership, data: dict[str, Any], owner: Membership | _Actor | None
) -> Party:
    scope = check_entity(actor=actor, entity=spec.model.access_entity, action=Action.CREATE)
    if isinstance(owner, _Actor):
        owner = actor
    _check_owner(actor, owner, scope)
    with transaction.atomic():
        record = spec.model(
            tenant=actor.tenant,
            owner=owner,
            created_by=actor,
            **{k: v for k, v in data.items() if k in spec.editable},
        )
        _normalize(record, actor.tenant)
        record.save()
        _sync_keys(record, actor.tenant.default_region)
        timeline_record(
            actor=actor, target=record, kind=f"{spec.prefix}.created", data={"name": str(record)}
        )
    return record


def contact_create(
    *, actor: Membership, data: dict[str, Any], owner: Membership | _Actor | None = ACTOR
) -> Contact:
    """Create a contact owned by `owner` (default: the actor; None: nobody).

    Raises AccessDenied without the create right, DomainError for a contact with neither
    a name nor a way to reach them, an unreadable phone or e-mail, or a foreign company.
    """
    return _create(CONTACT, actor=actor, data=data, owner=owner)


def company_create(
    *, actor: Membership, data: dict[str, Any], owner: Membership | _Actor | None = ACTOR
) -> Company:
    """Create a company owned by `owner` (default: the actor). Same errors as contacts,
    plus a tax id that is not 10 or 12 digits (Russian tenants)."""
    return _create(COMPANY, actor=actor, data=data, owner=owner)


def record_update(
    *,
    actor: Membership,
    record: Party,
    data: dict[str, Any],
    owner: Membership | _Actor | None = ACTOR,
) -> Party:
    """Change a contact's or company's fields (and owner, unless ACTOR: unchanged).

    Every changed field goes to the timeline; keys follow. Raises AccessDenied without the
    edit right on the record, DomainError for invalid values (nothing is written then).
    """
    spec = spec_of(record)
    check_object(record, actor=actor, action=Action.EDIT)
    scope = check_entity(actor=actor, entity=spec.model.access_entity, action=Action.EDIT)
    changes = Changes()
    with transaction.atomic():
        changes.set_fields(record, data, spec.editable, spec.model.access_entity)
        if not isinstance(owner, _Actor) and owner != record.owner:
            _check_owner(actor, owner, scope)
            changes.add("owner", record.owner, owner, force=True)
            record.owner = owner
        if not changes:
            return record
        _normalize(record, actor.tenant)
        record.save()
        _sync_keys(record, actor.tenant.default_region)
        timeline_record(
            actor=actor, target=record, kind=f"{spec.prefix}.changed", data=changes.event_data()
        )
    return record


def contact_add_phone(*, actor: Membership, contact: Contact, phone: str) -> Contact:
    """Add `phone` — the person's own number, as their messenger confirms it — to the
    contact's phones unless it has that number already (then nothing is written). Same
    rights and errors as record_update."""
    region = actor.tenant.default_region
    key = phone_e164(phone, region)
    if not key or key in {phone_e164(p, region) for p in contact.phones}:
        return contact
    updated = record_update(actor=actor, record=contact, data={"phones": [*contact.phones, phone]})
    assert isinstance(updated, Contact)  # noqa: S101 - record_update returns its record
    return updated


def record_delete(*, actor: Membership, record: Party) -> None:
    """Move a contact or company to the trash (restorable for TRASH_DAYS days)."""
    spec = spec_of(record)
    check_object(record, actor=actor, action=Action.DELETE)
    with transaction.atomic():
        spec.model.objects.filter(pk=record.pk).update(deleted_at=timezone.now())
        timeline_record(
            actor=actor, target=record, kind=f"{spec.prefix}.deleted", data={"name": str(record)}
        )


def record_restore(*, actor: Membership, record: Party) -> None:
    """Bring a contact or company back from the trash."""
    spec = spec_of(record)
    check_object(record, actor=actor, action=Action.DELETE)
    if record.deleted_at is None:
        return
    with transaction.atomic():
        spec.model.objects.filter(pk=record.pk).update(deleted_at=None)
        timeline_record(
            actor=actor, target=record, kind=f"{spec.prefix}.restored", data={"name": str(record)}
        )


def parties_purge_trash(*, tenant: Tenant, older_than_days: int = TRASH_DAYS) -> int:
    """Delete for good the contacts and companies that stayed in the trash past the limit,
    with their activities, keys and merges (and the records merged into them)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    count = 0
    with transaction.atomic():
        for model in (Contact, Company):
            stale = list(model.objects.filter(deleted_at__lt=cutoff).values_list("pk", flat=True))
            if not stale:
                continue
            content_type = ContentType.objects.get_for_model(model)
            Activity.objects.filter(target_type=content_type, target_id__in=stale).delete()
            attachments_purge(model=model, ids=stale)
            model.objects.filter(pk__in=stale).delete()
            count += len(stale)
    return count


# --- Activities ---------------------------------------------------------------------------


def record_activity_add(*, actor: Membership, record: Party, **fields: Any) -> Activity:
    """Plan or log an activity on a contact or company (needs the edit right)."""
    from crm.services import activity_create

    check_object(record, actor=actor, action=Action.EDIT)
    return activity_create(actor=actor, target=record, **fields)


# --- Merge and undo -----------------------------------------------------------------------

KEEP, TAKE = "survivor", "merged"


def _snapshot(spec: Spec, record: Party) -> dict[str, Any]:
    return {field: getattr(record, field) for field in (*spec.chosen, *SNAPSHOT_EXTRA)}


def _union(first: list[str], second: list[str], key: Any) -> list[str]:
    seen: dict[str, str] = {}
    for value in [*first, *second]:
        seen.setdefault(key(value) or value, value)
    return list(seen.values())


def merged_ways(survivor: Party, merged: Party, region: str) -> tuple[list[str], list[str]]:
    """The phones and e-mails a merge leaves on the survivor: both records', without repeats."""
    phones = _union(survivor.phones, merged.phones, lambda p: phone_e164(p, region))
    return phones, _union(survivor.emails, merged.emails, email_key)


def _moving_relations(model: type[Party]) -> list[Any]:
    """Foreign keys of other tables that point to `model` and move in a merge (from the
    model registry: a later `Lead.contact` or `Deal.company` is picked up by itself, as
    long as it keeps a reverse relation, i.e. no `related_name="+"`)."""
    fixed = (MatchKey, ContactMerge, CompanyMerge)
    return [
        rel
        for rel in model._meta.related_objects
        if rel.one_to_many and rel.related_model not in fixed
    ]


def _relation_key(rel: Any) -> str:
    return f"{rel.related_model._meta.label_lower}.{rel.field.name}"


ACTIVITY_KEY = "crm.activity"


def merge_fields(record: Party) -> tuple[str, ...]:
    """The fields whose value the user chooses in a merge of this kind of record."""
    return spec_of(record).chosen


def record_merge(
    *,
    actor: Membership,
    survivor: Party,
    merged: Party,
    take: set[str] | frozenset[str] = frozenset(),
) -> models.Model:
    """Merge `merged` into `survivor` in one transaction and return the merge record.

    `take` names the chosen fields (see `merge_fields`) and custom-field keys
    ("custom.<key>") whose value comes from `merged`; the rest keep the survivor's, and
    what the survivor lacks is filled in from `merged`. Phones and e-mails are united.
    Activities and every row pointing to `merged` move to the survivor; `merged` is hidden
    (not deleted) and both timelines record the merge. Raises AccessDenied without the
    edit right on both, DomainError for records that cannot be merged.
    """
    spec = spec_of(survivor)
    if type(merged) is not type(survivor) or merged.tenant_id != survivor.tenant_id:
        raise DomainError(_("Only two records of the same kind can be merged."))
    if merged.pk == survivor.pk:
        raise DomainError(_("Choose another record to merge with."))
    if not (survivor.is_live and merged.is_live):
        raise DomainError(_("Records in the trash or already merged cannot be merged."))
    check_object(survivor, actor=actor, action=Action.EDIT)
    check_object(merged, actor=actor, action=Action.EDIT)
    region = actor.tenant.default_region
    with transaction.atomic():
        survivor_before, merged_before = _snapshot(spec, survivor), _snapshot(spec, merged)
        for field in spec.chosen:
            if field in take or getattr(survivor, field) in (None, ""):
                setattr(survivor, field, getattr(merged, field))
        survivor.phones, survivor.emails = merged_ways(survivor, merged, region)
        custom = dict(merged.custom or {})
        for key, value in (survivor.custom or {}).items():
            if f"custom.{key}" not in take or key not in custom:
                custom[key] = value
        survivor.custom = custom
        if isinstance(survivor, Contact) and survivor.company_id is not None:
            _normalize_contact(survivor)
        survivor.save()

        moved: dict[str, list[int]] = {}
        content_type = ContentType.objects.get_for_model(spec.model)
        activities = Activity.objects.filter(target_type=content_type, target_id=merged.pk)
        moved[ACTIVITY_KEY] = list(activities.values_list("pk", flat=True))
        activities.update(target_id=survivor.pk, updated_at=timezone.now())
        for rel in _moving_relations(spec.model):
            rows = rel.related_model.objects.filter(**{rel.field.name: merged})
            moved[_relation_key(rel)] = list(rows.values_list("pk", flat=True))
            rows.update(**{rel.field.name: survivor})

        spec.model.objects.filter(pk=merged.pk).update(
            merged_into=survivor, updated_at=timezone.now()
        )
        merged.merged_into = survivor
        _sync_keys(survivor, region)
        _drop_keys(merged)
        merge = spec.merge_model.objects.create(
            survivor=survivor,
            merged=merged,
            actor=actor,
            survivor_before=survivor_before,
            survivor_after=_snapshot(spec, survivor),
            merged_before=merged_before,
            moved=moved,
        )
        timeline_record(
            actor=actor,
            target=survivor,
            kind=f"{spec.prefix}.merged",
            data={"name": str(merged), "merge": merge.pk},
        )
        timeline_record(
            actor=actor,
            target=merged,
            kind=f"{spec.prefix}.merged_into",
            data={"name": str(survivor), "merge": merge.pk},
        )
    return merge


def _restore_fk_value(model: type[Party], field: str, value: Any) -> Any:
    """An old foreign-key id, or None when its row no longer exists."""
    target = model._meta.get_field(field)
    if not target.is_relation or value is None:
        return value
    return value if target.related_model.objects.filter(pk=value).exists() else None


def record_merge_undo(*, actor: Membership, merge: Any) -> Party:
    """Undo a merge in one transaction: the merged record comes back with its fields and
    keys, the rows that moved go back to it, and the survivor's fields that the merge
    changed return to their old values (fields edited since the merge keep the edit).

    Needs the delete right on both records (administrators by default). Raises
    DomainError when the merge was undone already or the survivor is no longer live.
    """
    survivor, merged = merge.survivor, merge.merged
    spec = spec_of(survivor)
    check_object(survivor, actor=actor, action=Action.DELETE)
    check_object(merged, actor=actor, action=Action.DELETE)
    if merge.undone_at is not None:
        raise DomainError(_("This merge has already been undone."))
    if not survivor.is_live:
        raise DomainError(
            _("Restore the record (or undo its own later merge) before undoing this merge.")
        )
    region = actor.tenant.default_region
    with transaction.atomic():
        now = timezone.now()
        for field, old in merge.survivor_before.items():
            if getattr(survivor, field) == merge.survivor_after.get(field):
                setattr(survivor, field, _restore_fk_value(spec.model, field, old))
        survivor.save()
        for field, old in merge.merged_before.items():
            setattr(merged, field, _restore_fk_value(spec.model, field, old))
        merged.merged_into = None
        merged.save()

        content_type = ContentType.objects.get_for_model(spec.model)
        Activity.objects.filter(
            pk__in=merge.moved.get(ACTIVITY_KEY, []),
            target_type=content_type,
            target_id=survivor.pk,
        ).update(target_id=merged.pk, updated_at=now)
        for rel in _moving_relations(spec.model):
            rel.related_model.objects.filter(
                pk__in=merge.moved.get(_relation_key(rel), []), **{rel.field.name: survivor}
            ).update(**{rel.field.name: merged})

        _sync_keys(survivor, region)
        _sync_keys(merged, region)
        spec.merge_model.objects.filter(pk=merge.pk).update(undone_at=now, undone_by=actor)
        for target, other in ((survivor, merged), (merged, survivor)):
            timeline_record(
                actor=actor,
                target=target,
                kind=f"{spec.prefix}.merge_undone",
                data={"name": str(other), "merge": merge.pk},
            )
    return merged


# --- Many at once (an import) -------------------------------------------------------------


def party_normalize(record: Party, tenant: Tenant) -> None:
    """Clean a contact or company before it is saved, as the services do; raises
    DomainError for what cannot be kept (an unreadable phone, no name and no way to reach)."""
    _normalize(record, tenant)


def _bulk_keys(records: list[Party], region: str) -> None:
    owner_field = "contact" if isinstance(records[0], Contact) else "company"
    MatchKey.objects.filter(**{f"{owner_field}__in": records}).delete()
    insert_many(
        MatchKey,
        [
            MatchKey(tenant_id=record.tenant_id, kind=kind, value=value, **{owner_field: record})
            for record in records
            for kind, value in sorted(match_keys(record, region))
        ],
    )


def parties_bulk_create(
    *,
    actor: Membership,
    records: list[Party],
    created: dict[int, datetime],
    event: dict[str, Any],
) -> None:
    """Save new contacts or companies (one kind, normalized by party_normalize) at once,
    with their match keys and a "…imported" timeline entry each (`event` its data).
    `created`: the creation moment of some (by index), kept instead of now."""
    if not records:
        return
    model = type(records[0])
    for index, moment in created.items():
        records[index].created_at = moment
        records[index].keep_created_at = True
    insert_many(model, records)
    _bulk_keys(records, actor.tenant.default_region)
    timeline_record_many(
        actor=actor,
        model=model,
        target_ids=[record.pk for record in records],
        kind=f"{spec_of(model).prefix}.imported",
        data=event,
    )


def parties_bulk_update(
    *,
    actor: Membership,
    records: list[Party],
    fields: set[str],
    event: dict[str, Any],
    kind: str = "import_updated",
) -> None:
    """Save changed fields of several contacts or companies at once (normalized by
    party_normalize; an import's merge or its undo), their match keys rewritten, a
    "<contact|company>.<kind>" timeline entry each."""
    if not records:
        return
    model = type(records[0])
    model.objects.bulk_update(records, sorted(set(fields) | {"updated_at"}), batch_size=500)
    _bulk_keys(records, actor.tenant.default_region)
    timeline_record_many(
        actor=actor,
        model=model,
        target_ids=[record.pk for record in records],
        kind=f"{spec_of(model).prefix}.{kind}",
        data=event,
    )
