"""Contacts (people) and companies, their match keys, and the merges between them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.access import Entity, OwnedModel
from crm.tenancy import TenantModel


class Party(OwnedModel):
    """What contacts and companies share: ways to reach them, notes, custom fields, trash.

    A merged record is hidden (`merged_into` set) but kept, so its merge can be undone.
    """

    phones = models.JSONField(_("phones"), default=list, blank=True)
    emails = models.JSONField(_("e-mails"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    custom = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The record's id in the system it was imported from (an import may match by it).
    external_id = models.CharField(
        _("external ID"), max_length=100, blank=True, default="", db_default=""
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+", editable=False
    )

    class Meta(OwnedModel.Meta):
        abstract = True

    @property
    def is_live(self) -> bool:
        return self.deleted_at is None and self.merged_into_id is None


class Company(Party):
    """A firm: name, tax id (INN), ways to reach it, site and address."""

    access_entity = Entity.COMPANY

    name = models.CharField(_("name"), max_length=200)
    tax_id = models.CharField(_("tax id (INN)"), max_length=20, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)

    class Meta(Party.Meta):
        ordering = ["-created_at", "-pk"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="contacts_company_recent"),
            models.Index(fields=["tenant", "owner", "-created_at"], name="contacts_company_owner"),
            models.Index(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="contacts_company_external",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(Party):
    """A person: names, phones, e-mails, messenger handles, their company and position."""

    access_entity = Entity.CONTACT

    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=100, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    position = models.CharField(pgettext_lazy("job", "position"), max_length=120, blank=True)
    telegram = models.CharField("Telegram", max_length=128, blank=True)
    whatsapp = models.CharField("WhatsApp", max_length=64, blank=True)
    vk = models.CharField(_("VK"), max_length=128, blank=True)

    class Meta(Party.Meta):
        ordering = ["-created_at", "-pk"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="contacts_contact_recent"),
            models.Index(fields=["tenant", "owner", "-created_at"], name="contacts_contact_owner"),
            models.Index(fields=["tenant", "company"], name="contacts_contact_company"),
            models.Index(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="contacts_contact_external",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        name = " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)
        return (
            name
            or (self.phones[0] if self.phones else "")
            or (self.emails[0] if self.emails else "")
        )


class MatchKey(TenantModel):
    """One normalized way to find a contact or a company by equality (or a word prefix).

    Kept by the services from the record's fields: E.164 phones, case-folded e-mails,
    messenger identities, tax ids and name words. Equality and range comparisons on a
    btree work under row-level security, where LIKE does not (bench/README.md).
    """

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        TELEGRAM = "telegram", "Telegram"
        WHATSAPP = "whatsapp", "WhatsApp"
        VK = "vk", _("VK")
        TAX_ID = "tax_id", _("Tax id")
        WORD = "word", _("Name word")
        # A phone's digits backwards (contacts.normalize.phone_tail): the last digits typed
        # alone are a prefix of it, a range of the lookup index (the top-bar search).
        PHONE_TAIL = "phone_tail", _("Phone ending")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=254)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="keys"
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="keys"
    )

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["tenant", "kind", "value"], name="contacts_key_lookup"),
            models.Index(fields=["tenant", "contact"], name="contacts_key_contact"),
            models.Index(fields=["tenant", "company"], name="contacts_key_company"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False, company__isnull=True)
                | Q(contact__isnull=True, company__isnull=False),
                name="contacts_key_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Merge(TenantModel):
    """What one merge did, enough to undo it exactly.

    `survivor_before` and `survivor_after` are the survivor's fields around the merge,
    `merged_before` the merged record's fields, `moved` the ids of the rows moved from the
    merged record to the survivor ("crm.activity" → [ids], "contacts.contact.company" → […]).
    """

    actor = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    survivor_before = models.JSONField(default=dict)
    survivor_after = models.JSONField(default=dict)
    merged_before = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        abstract = True


class ContactMerge(Merge):
    survivor = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merged_by")

    class Meta(Merge.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "survivor", "-created_at"], name="contacts_cmerge_surv")
        ]

    def __str__(self) -> str:
        return f"merge {self.pk}"


class CompanyMerge(Merge):
    survivor = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="merges")
    merged = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="merged_by")

    class Meta(Merge.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "survivor", "-created_at"], name="contacts_fmerge_surv")
        ]

    def __str__(self) -> str:
        return f"merge {self.pk}"


class BlockedSender(TenantModel):
    """A phone, e-mail, e-mail domain or messenger identity whose inquiries are junk.

    `value` is normalized (contacts/blocklist.py): E.164 phones, case-folded e-mails,
    lower-case domains, messengers as `provider:id`. Channels skip inquiries from blocked
    senders; a manager entering one by hand is only warned.
    """

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        DOMAIN = "domain", _("E-mail domain")
        MESSENGER = "messenger", _("Messenger")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    added_by = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-pk"]
        verbose_name = _("blocked sender")
        verbose_name_plural = _("blocklist")
        constraints = [
            # Also the index of the lookup by (kind, value).
            models.UniqueConstraint(
                fields=["tenant", "kind", "value"], name="contacts_blocked_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
