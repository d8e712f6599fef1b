"""Deals: pipelines of tenant-configured stages, and the won/lost outcome state machine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from crm.access import Action, Entity, OwnedModel, can
from crm.colours import DEFAULT_COLOUR, validate_colour
from crm.lineitems import LineItem
from crm.models import CONVERSATION_OWNED
from crm.tenancy import TenantModel


class Outcome(models.TextChoices):
    """Where a deal stands; each stage belongs to one of these (its kind)."""

    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


# The state machine's moves between outcomes: (from, to) → transition method.
OUTCOME_MOVES = {
    (Outcome.OPEN, Outcome.WON): "win",
    (Outcome.OPEN, Outcome.LOST): "lose",
    (Outcome.WON, Outcome.OPEN): "reopen",
    (Outcome.LOST, Outcome.OPEN): "reopen",
}


class Pipeline(TenantModel):
    """A sales process: its own stages and board. One is the default for new deals; one
    (at most) is where repeat sales to existing customers go."""

    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_default = models.BooleanField(_("default"), default=False)
    is_repeat = models.BooleanField(_("for repeat sales"), default=False)

    class Meta(TenantModel.Meta):
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="deals_pipeline_unique_name"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="deals_pipeline_one_default"
            ),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_repeat=True), name="deals_pipeline_one_repeat"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Stage(TenantModel):
    """A step of a pipeline; its kind says whether deals in it are open, won or lost."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=80)
    color = models.CharField(
        _("colour"), max_length=7, default=DEFAULT_COLOUR, validators=[validate_colour]
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=8, choices=Outcome.choices)
    probability = models.PositiveSmallIntegerField(
        _("probability, %"), default=0, validators=[MaxValueValidator(100)]
    )

    class Meta(TenantModel.Meta):
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "pipeline", "name"], name="deals_stage_unique_name"
            ),
            models.CheckConstraint(
                condition=Q(probability__lte=100), name="deals_stage_probability"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LossReason(TenantModel):
    """Why a deal was lost: a workspace's list (Settings → Loss reasons), one of which a
    lost deal must name. A reason in use is deactivated, never deleted: its deals and the
    reports keep it."""

    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta(TenantModel.Meta):
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="deals_lossreason_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


def _may_edit(instance: Deal, actor: Any) -> bool:
    return can(instance, actor=actor, action=Action.EDIT)


def _has_customer(instance: Deal) -> bool:
    return bool(instance.contact_id or instance.company_id)


class Deal(ConcurrentTransitionMixin, OwnedModel):
    """A sale in progress: whom to, how much, at which stage, and how it ended."""

    access_entity = Entity.DEAL

    title = models.CharField(_("title"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    company = models.ForeignKey(
        "contacts.Company",
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="deals"
    )
    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="deals"
    )
    expected_close = models.DateField(_("expected close date"), null=True, blank=True)
    source_lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("source lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    loss_reason = models.ForeignKey(
        LossReason,
        verbose_name=_("loss reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
    )
    outcome = FSMField(_("outcome"), default=Outcome.OPEN, choices=Outcome.choices, protected=True)
    custom = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The conversation with the deal's person (channels.Message), as on a lead:
    # written by the channels only (crm.models.CONVERSATION_OWNED).
    unread_messages = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    waiting_since = models.DateTimeField(null=True, blank=True, editable=False)
    # When its responsible was told the person waits past the workspace's response time
    # (once per wait).
    waiting_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The record's id in the system it was imported from (an import may match by it).
    external_id = models.CharField(
        _("external ID"), max_length=100, blank=True, default="", db_default=""
    )

    class Meta(OwnedModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="deals_recent"),
            models.Index(fields=["tenant", "stage", "-created_at"], name="deals_stage_recent"),
            models.Index(fields=["tenant", "owner", "-created_at"], name="deals_owner_recent"),
            # Deals closed in a period (a report's drill-down, its count): a range here, not
            # a walk of every deal of the tenant — and every figure the reports take of
            # them, from the index alone (analytics: by pipeline, stage, owner, loss
            # reason; amounts; the sales cycle).
            models.Index(
                fields=["tenant", "closed_at"],
                include=[
                    "outcome",
                    "amount",
                    "created_at",
                    "pipeline",
                    "stage",
                    "owner",
                    "loss_reason",
                ],
                name="deals_closed",
            ),
            # The deals open now (a tenth of them at 10M): the reports' snapshot by stage
            # and forecast, and the dashboard's, from the index alone.
            models.Index(
                fields=["tenant", "stage"],
                include=["amount", "expected_close", "created_at", "owner", "pipeline"],
                condition=Q(outcome=Outcome.OPEN),
                name="deals_open",
            ),
            # The navigation's count of a member's deals with unread messages.
            models.Index(
                fields=["tenant", "owner"],
                condition=Q(unread_messages__gt=0),
                name="deals_owner_unread",
            ),
            # What a lead's report figures read of its deal (won, revenue), from the index.
            models.Index(
                fields=["tenant", "id"],
                include=["outcome", "amount", "closed_at"],
                name="deals_facts",
            ),
            models.Index(fields=["tenant", "contact"], name="deals_contact"),
            models.Index(fields=["tenant", "company"], name="deals_company"),
            models.Index(
                fields=["tenant", "external_id"],
                condition=~models.Q(external_id=""),
                name="deals_external_id",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A full save of a deal read earlier leaves its conversation state (written by
        the channels alone): a message coming in during an edit is not undone."""
        if kwargs.get("update_fields") is None and not self._state.adding and self.pk:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in CONVERSATION_OWNED
            ]
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.title

    # Transitions only assign fields; the service checks rights, saves and records.

    @transition(
        field=outcome,
        source=Outcome.OPEN,
        target=Outcome.WON,
        conditions=[_has_customer],
        permission=_may_edit,
    )
    def win(self, *, stage: Stage, reason: LossReason | None = None) -> None:
        self.stage = stage

    @transition(field=outcome, source=Outcome.OPEN, target=Outcome.LOST, permission=_may_edit)
    def lose(self, *, stage: Stage, reason: LossReason | None = None) -> None:
        self.stage = stage
        self.loss_reason = reason

    @transition(
        field=outcome,
        source=[Outcome.WON, Outcome.LOST],
        target=Outcome.OPEN,
        permission=_may_edit,
    )
    def reopen(self, *, stage: Stage, reason: LossReason | None = None) -> None:
        self.stage = stage
        self.loss_reason = None


class DealProduct(LineItem):
    """A line of the deal's products; their total fills the deal's amount."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="products")

    class Meta(LineItem.Meta):
        pass
