"""The blocklist: senders whose inquiries are junk (spam filtering).

Entries are phones (E.164), e-mails (case-folded), e-mail domains (lower-case) and
messenger identities (`provider:id`, the id as contacts.normalize.messenger_key reads it).
Channels ask `blocked_reason` before registering an inquiry; a manager entering a blocked
sender by hand is only warned. Admins keep the list in settings; the lead card's "Spam"
action adds a lead's ways to reach the person (leads.services.lead_mark_spam).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from contacts.models import BlockedSender
from contacts.normalize import email_key, messenger_key, phone_e164
from crm.errors import DomainError
from crm.memo import memoized
from crm.models import Membership
from crm.services import timeline_record
from crm.tenancy import current_tenant

MESSENGERS = ("telegram", "whatsapp", "vk")


def _region() -> str:
    tenant = current_tenant()
    return tenant.default_region if tenant is not None else ""


def messenger_value(provider: str, handle: str, region: str) -> str:
    """A messenger identity as a blocklist value, `provider:id` ("" without an id)."""
    key = messenger_key(provider, handle, region)
    return f"{provider}:{key}" if provider and key else ""


def blocklist_value(kind: str, raw: str, region: str) -> str:
    """`raw` as the normalized value of an entry of `kind`.

    Raises DomainError with the reason when `raw` cannot be one: not a phone number, not an
    e-mail, not a domain, or not `provider:id` with a known messenger.
    """
    raw = (raw or "").strip()
    if kind == BlockedSender.Kind.PHONE:
        value = phone_e164(raw, region)
        if not value:
            raise DomainError(_("This is not a phone number."))
        return value
    if kind == BlockedSender.Kind.EMAIL:
        try:
            validate_email(raw)
        except ValidationError as error:
            raise DomainError(_("This is not an e-mail address.")) from error
        return email_key(raw)
    if kind == BlockedSender.Kind.DOMAIN:
        domain = raw.lstrip("@").rstrip(".").lower()
        try:
            DomainNameValidator()(domain)
        except ValidationError as error:
            raise DomainError(_("This is not a domain name, such as example.com.")) from error
        if "." not in domain:
            raise DomainError(_("This is not a domain name, such as example.com."))
        return domain
    if kind == BlockedSender.Kind.MESSENGER:
        provider, _sep, handle = raw.partition(":")
        provider = provider.strip().lower()
        value = messenger_value(provider, handle, region) if provider in MESSENGERS else ""
        if not value:
            raise DomainError(
                _("Write the messenger and the id as provider:id (%(known)s): telegram:12345.")
                % {"known": ", ".join(MESSENGERS)}
            )
        return value
    raise DomainError(_("Unknown kind of entry."))


def _any_blocked() -> bool:
    """Whether the tenant blocks anyone (most do not; read once per batch of deliveries)."""
    tenant = current_tenant()
    return memoized(
        ("contacts.blocklist.any", tenant.pk if tenant else None),
        BlockedSender.objects.exists,
    )


def blocked_reason(
    *, phone_e164: str = "", email_key: str = "", messenger: str = "", messenger_id: str = ""
) -> str | None:
    """Why the current tenant blocks this sender, or None when it does not.

    Takes normalized keys (E.164 phone, case-folded e-mail) and a messenger identity; an
    e-mail also matches by its domain. One query; the answer is the entry's reason or,
    without one, which value is blocked.
    """
    wanted = Q()
    if phone_e164:
        wanted |= Q(kind=BlockedSender.Kind.PHONE, value=phone_e164)
    if email_key:
        wanted |= Q(kind=BlockedSender.Kind.EMAIL, value=email_key)
        domain = email_key.rpartition("@")[2].rstrip(".").lower()
        if domain:
            wanted |= Q(kind=BlockedSender.Kind.DOMAIN, value=domain)
    identity = messenger_value(messenger, messenger_id, _region())
    if identity:
        wanted |= Q(kind=BlockedSender.Kind.MESSENGER, value=identity)
    if not wanted or not _any_blocked():
        return None
    entry = BlockedSender.objects.filter(wanted).order_by("pk").first()
    if entry is None:
        return None
    return entry.reason or _("%(value)s is on the blocklist") % {"value": entry.value}


def blocklist() -> QuerySet[BlockedSender]:
    """The tenant's entries, newest first, with who added them."""
    return BlockedSender.objects.select_related("added_by__user").order_by("-created_at", "-pk")


def blocked_sender_get(*, entry_id: int) -> BlockedSender:
    """One entry of the current tenant, or 404."""
    entry = BlockedSender.objects.filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    return entry


def _insert(actor: Membership, kind: str, value: str, reason: str) -> BlockedSender | None:
    """Add one normalized entry with its timeline event; None when it is already there."""
    try:
        with transaction.atomic():
            entry = BlockedSender.objects.create(
                tenant=actor.tenant, kind=kind, value=value, reason=reason[:200], added_by=actor
            )
    except IntegrityError:  # the unique (tenant, kind, value): blocked already
        return None
    timeline_record(
        actor=actor,
        target=entry,
        kind="blocklist.added",
        data={"value": value, "reason": entry.reason},
    )
    return entry


def blocked_sender_add(
    *, actor: Membership, kind: str, value: str, reason: str = ""
) -> BlockedSender:
    """Block a sender: `value` is normalized for `kind` (see blocklist_value).

    Raises DomainError for a value that cannot be normalized or is already blocked. Callers
    check the right to do it (the settings page: the settings right).
    """
    normalized = blocklist_value(kind, value, actor.tenant.default_region)
    with transaction.atomic():
        entry = _insert(actor, kind, normalized, reason.strip())
    if entry is None:
        raise DomainError(_("%(value)s is already on the blocklist.") % {"value": normalized})
    return entry


def senders_block(
    *, actor: Membership, senders: list[tuple[str, str]], reason: str
) -> list[BlockedSender]:
    """Block normalized (kind, value) pairs at once, skipping those blocked already; returns
    the new entries. The caller checks the right (a lead's "Spam": editing the lead)."""
    with transaction.atomic():
        added = [_insert(actor, kind, value, reason) for kind, value in senders if value]
    return [entry for entry in added if entry is not None]


def sender_pairs(
    *, phone_e164: str, email_key: str, messenger: str, messenger_id: str
) -> list[tuple[str, str]]:
    """A sender's ways to reach them (as a lead keeps them) as blocklist (kind, value) pairs."""
    pairs = [
        (BlockedSender.Kind.PHONE, phone_e164),
        (BlockedSender.Kind.EMAIL, email_key),
        (BlockedSender.Kind.MESSENGER, messenger_value(messenger, messenger_id, _region())),
    ]
    return [(kind, value) for kind, value in pairs if value]


def blocked_sender_delete(*, actor: Membership, entry: BlockedSender) -> None:
    """Take a sender off the blocklist."""
    with transaction.atomic():
        timeline_record(
            actor=actor, target=entry, kind="blocklist.removed", data={"value": entry.value}
        )
        entry.delete()
