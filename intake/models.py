"""Who the person is, as the workspace learned it: one row per way to reach them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.sources import LeadSource
from crm.tenancy import TenantModel


class Identity(TenantModel):
    """A way to reach a person (a phone, an e-mail, a messenger account) on a lead or a
    contact, and how it was learned: from which source and channel, when. Written by intake
    whenever an inquiry makes or joins a record; the cards list them ("Ways to reach"), so a
    manager sees that the Telegram chat, the call and the form were one person."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        TELEGRAM = "telegram", "Telegram"
        WHATSAPP = "whatsapp", "WhatsApp"
        VK = "vk", _("VK")

    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="identities"
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="identities",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The match key (E.164, a case-folded e-mail, a messenger's normalized id) and the value
    # as the person gave it.
    value = models.CharField(max_length=254)
    shown = models.CharField(max_length=254)
    source = models.CharField(max_length=16, choices=LeadSource.choices)
    via = models.CharField(max_length=120, blank=True, default="")  # the channel's name
    learned_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        ordering = ["learned_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "lead", "kind", "value"],
                condition=models.Q(lead__isnull=False),
                name="intake_identity_lead_unique",
            ),
            models.UniqueConstraint(
                fields=["tenant", "contact", "kind", "value"],
                condition=models.Q(contact__isnull=False),
                name="intake_identity_contact_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(lead__isnull=False) | models.Q(contact__isnull=False),
                name="intake_identity_of_someone",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "lead", "learned_at"], name="intake_identity_lead"),
            models.Index(
                fields=["tenant", "contact", "learned_at"], name="intake_identity_contact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.shown}"
