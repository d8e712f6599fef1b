"""Leads: inquiries on a code-owned state machine with tenant-configured statuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Reverse
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from crm.access import Action, Entity, OwnedModel, can
from crm.colours import DEFAULT_COLOUR, validate_colour
from crm.lineitems import LineItem
from crm.models import CONVERSATION_OWNED
from crm.sources import LeadSource
from crm.tenancy import TenantModel
from leads.words import MAX_WORD


class LeadState(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    CONVERTED = "converted", _("Converted")
    JUNK = "junk", _("Junk")


OPEN_STATES = (LeadState.NEW, LeadState.IN_PROGRESS)


# The state machine's moves between states: (from, to) → transition method. Moving into
# "converted" is not here: only conversion does that.
STATE_MOVES = {
    (LeadState.NEW, LeadState.IN_PROGRESS): "take",
    (LeadState.NEW, LeadState.JUNK): "junk",
    (LeadState.IN_PROGRESS, LeadState.JUNK): "junk",
    (LeadState.JUNK, LeadState.IN_PROGRESS): "reopen",
}


class Messenger(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    WHATSAPP = "whatsapp", "WhatsApp"
    VK = "vk", _("VK")


class Temperature(models.TextChoices):
    HOT = "hot", _("Hot")
    WARM = "warm", _("Warm")
    COLD = "cold", _("Cold")


class Level(models.TextChoices):
    """The funnel level (seed 002): marketing qualified → accepted by sales → sales qualified."""

    MQL = "mql", "MQL"
    SAL = "sal", "SAL"
    SQL = "sql", "SQL"


LEVEL_ORDER = ("", Level.MQL, Level.SAL, Level.SQL)


# Lead fields only the qualification services write (leads/qualification.py: levels,
# answers; the worker: scores), never a full save of the lead (Lead.save).
QUALIFICATION_OWNED = frozenset(
    {
        "level",
        "level_set_at",
        "level_set_by",
        "mql_at",
        "sal_at",
        "sql_at",
        "fit_score",
        "engagement_score",
        "score",
        "score_parts",
        "scored_at",
        "qualification",
    }
)


class LeadStatus(TenantModel):
    """A tenant's status inside one semantic state (junk statuses are the loss reasons)."""

    name = models.CharField(_("name"), max_length=80)
    color = models.CharField(
        _("colour"), max_length=7, default=DEFAULT_COLOUR, validators=[validate_colour]
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    state = models.CharField(_("state"), max_length=16, choices=LeadState.choices)
    is_default = models.BooleanField(_("default in its state"), default=False)

    class Meta(TenantModel.Meta):
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="leads_status_unique_name"),
            models.UniqueConstraint(
                fields=["tenant", "state"],
                condition=Q(is_default=True),
                name="leads_status_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


def _may_edit(instance: Lead, actor: Any) -> bool:
    return can(instance, actor=actor, action=Action.EDIT)


def _may_convert(instance: Lead, actor: Any) -> bool:
    return can(instance, actor=actor, action=Action.CONVERT)


def _reachable(instance: Lead) -> bool:
    return instance.has_contact_way


class BytewiseCharField(models.CharField):
    """A CharField compared byte by byte (collation "C" on PostgreSQL; SQLite always does),
    so that `word >= 'СОКОЛ' AND word < 'СОКОМ'` is exactly "starts with СОКОЛ" whatever the
    database's locale."""

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = "C"
        return parameters


class Lead(ConcurrentTransitionMixin, OwnedModel):
    """An inquiry: who, how to reach them, where it came from, and where it stands."""

    access_entity = Entity.LEAD

    title = models.CharField(_("title"), max_length=200)
    name = models.CharField(_("contact name"), max_length=200, blank=True)
    company_name = models.CharField(_("company"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True, editable=False)
    # The number's digits backwards ("+79671234567" → "76543217697+"), kept by the database
    # itself: "ends with 4567" is the range ["7654", "7655") of one btree, which works under
    # row-level security (text comparisons are leakproof; LIKE, reverse() and pg_trgm are
    # not). The top-bar search finds a caller by the last digits so (docs/decisions).
    phone_tail = models.GeneratedField(
        expression=Reverse("phone_e164"),
        output_field=BytewiseCharField(max_length=20),
        db_persist=True,
    )
    # Further numbers the person gave (a phone field with several numbers…), as written;
    # the first number is `phone`, the only one matched while the lead is a lead.
    other_phones = models.JSONField(_("other phones"), default=list, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    email_key = models.CharField(max_length=254, blank=True, editable=False)
    messenger = models.CharField(
        _("messenger"), max_length=16, choices=Messenger.choices, blank=True
    )
    messenger_id = models.CharField(_("messenger handle"), max_length=128, blank=True)
    message = models.TextField(_("message"), blank=True)

    source = models.CharField(
        _("source"), max_length=16, choices=LeadSource.choices, default=LeadSource.MANUAL
    )
    utm_source = models.CharField("utm_source", max_length=200, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=200, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=200, blank=True)
    utm_content = models.CharField("utm_content", max_length=200, blank=True)
    utm_term = models.CharField("utm_term", max_length=200, blank=True)
    # The inbound channel it came through: a plain id, as in assignment rules (a channel may
    # be deleted, the lead stays); escalation re-matches rules that test channels with it.
    channel_id = models.BigIntegerField(_("channel"), null=True, blank=True, editable=False)

    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    temperature = models.CharField(
        _("temperature"), max_length=8, choices=Temperature.choices, blank=True
    )
    # Set by a person (pinned: the score no longer moves it) or by the score's thresholds.
    temperature_by_hand = models.BooleanField(default=False, db_default=False, editable=False)
    # The funnel level, who set it and when; the first time each level was reached (a
    # level skipped on the way up counts as reached then): the funnel report's cohort steps.
    level = models.CharField(
        _("qualification level"),
        max_length=3,
        choices=Level.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    level_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    level_set_by = models.ForeignKey(
        "crm.Membership",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    mql_at = models.DateTimeField(null=True, blank=True, editable=False)
    sal_at = models.DateTimeField(null=True, blank=True, editable=False)
    sql_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The score (leads/scoring.py): fit (who they are) + engagement (what they did, decaying),
    # and the rules that gave the points, as computed at `scored_at`.
    fit_score = models.IntegerField(default=0, db_default=0, editable=False)
    engagement_score = models.IntegerField(default=0, db_default=0, editable=False)
    score = models.IntegerField(_("score"), default=0, db_default=0, editable=False)
    score_parts = models.JSONField(default=list, db_default=[], blank=True, editable=False)
    scored_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Answers of the qualification frameworks (leads/frameworks.py): {"bant": {"budget": …}}.
    qualification = models.JSONField(default=dict, db_default={}, blank=True, editable=False)
    custom = models.JSONField(default=dict, blank=True)

    state = FSMField(_("state"), default=LeadState.NEW, choices=LeadState.choices, protected=True)
    status = models.ForeignKey(
        LeadStatus, verbose_name=_("status"), on_delete=models.PROTECT, related_name="leads"
    )
    created_by = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    # When the lead first went into work (in progress, or straight to converted); kept
    # through junk and reopen: the funnel's "in progress" step.
    taken_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A repeat inquiry of someone the tenant already knew (a contact, an earlier lead).
    is_repeat = models.BooleanField(_("repeat"), default=False, editable=False)
    # When the lead was escalated for waiting past the tenant's response time (once).
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The conversation (channels.Message): messages from the person not yet seen by the
    # lead's responsible, and since when the person waits for an answer (their oldest
    # message after our last reply). Written by the channels only (CONVERSATION_OWNED).
    unread_messages = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    waiting_since = models.DateTimeField(null=True, blank=True, editable=False)
    # When its responsible was told the person waits past the workspace's response time
    # (once per wait).
    waiting_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Postponed ("отложили на срок"): out of the working lists (inbox, list, board) until
    # this moment, when a periodic job (leads/postponement.py) brings it back to its
    # owner's inbox. A field, not a state: a postponed lead keeps its state and status, every
    # transition (take, junk, convert) stays valid and means the same, and reports still
    # count it as open; a state would need to remember where to return to.
    postponed_until = models.DateTimeField(
        _("postponed until"), null=True, blank=True, editable=False
    )
    postpone_reason = models.CharField(
        _("postponement reason"), max_length=200, blank=True, editable=False
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The record's id in the system it was imported from (an import may match by it).
    external_id = models.CharField(
        _("external ID"), max_length=100, blank=True, default="", db_default=""
    )
    # What the lead became (set by conversion only).
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        editable=False,
    )
    company = models.ForeignKey(
        "contacts.Company",
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        editable=False,
    )
    deal = models.ForeignKey(
        "deals.Deal",
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta(OwnedModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="leads_recent"),
            models.Index(
                fields=["tenant", "state", "-created_at", "-id"], name="leads_state_recent"
            ),
            models.Index(
                fields=["tenant", "owner", "state", "-created_at"], name="leads_owner_state"
            ),
            models.Index(fields=["tenant", "status", "-created_at"], name="leads_status_recent"),
            models.Index(fields=["tenant", "phone_e164"], name="leads_phone"),
            # The top-bar search: a phone by its last digits (phone_tail's prefix).
            models.Index(fields=["tenant", "phone_tail"], name="leads_phone_tail"),
            models.Index(fields=["tenant", "email_key"], name="leads_email"),
            models.Index(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="leads_external_id",
            ),
            models.Index(fields=["tenant", "messenger", "messenger_id"], name="leads_messenger"),
            # The shared inbox in date order (owner IS NULL cannot walk leads_owner_state).
            models.Index(
                fields=["tenant", "-created_at", "-id"],
                include=["source"],
                condition=Q(
                    owner=None,
                    state="new",
                    deleted_at=None,
                    archived_at=None,
                    postponed_until=None,
                ),
                name="leads_shared_inbox",
            ),
            # Unassigned leads of a state in date order: the shared part of a manager's list
            # (a manager sees own + unassigned; owner IS NULL cannot walk leads_owner_state).
            models.Index(
                fields=["tenant", "state", "-created_at", "-id"],
                condition=Q(owner=None, deleted_at=None, archived_at=None, postponed_until=None),
                name="leads_pool_state",
            ),
            # A member's own inbox parts (new, in progress) newest first with their source:
            # the inbox's keys and its capped source counts from the index alone (the counts
            # read 1,000 heap rows per part through leads_owner_state: 3 ms → 1 ms at 1M).
            models.Index(
                fields=["tenant", "owner", "state", "-created_at", "-id"],
                include=["source"],
                condition=Q(deleted_at=None, archived_at=None, postponed_until=None),
                name="leads_owner_inbox",
            ),
            # Analytics: the leads created in a period (a cohort) with every column the
            # reports group, filter or count by, read from the index alone.
            models.Index(
                fields=["tenant", "created_at"],
                include=[
                    "state",
                    "status",
                    "source",
                    "channel_id",
                    "owner",
                    "is_repeat",
                    "taken_at",
                    "first_response_at",
                    "closed_at",
                    "deal",
                ],
                condition=Q(deleted_at=None),
                name="leads_cohort",
            ),
            # The navigation's count of a member's leads with unread messages.
            models.Index(
                fields=["tenant", "owner"],
                condition=Q(unread_messages__gt=0, deleted_at=None),
                name="leads_owner_unread",
            ),
            # The board's closed columns: a member's (or the pool's) leads closed lately.
            models.Index(
                fields=["tenant", "owner", "-closed_at"],
                include=["status", "amount"],
                condition=Q(closed_at__isnull=False, deleted_at=None, archived_at=None),
                name="leads_owner_closed",
            ),
            # Counts per source over the inbox parts, answered from the index alone.
            models.Index(
                fields=["tenant", "owner", "state", "source"],
                condition=Q(deleted_at=None, archived_at=None, postponed_until=None),
                name="leads_inbox_sources",
            ),
            # The list by score, best first ("call the right people first").
            models.Index(
                fields=["tenant", "-score", "-id"],
                condition=Q(deleted_at=None),
                name="leads_score",
            ),
            # The postponed leads: the periodic job's due ones, the "Postponed" list.
            models.Index(
                fields=["tenant", "postponed_until"],
                condition=Q(postponed_until__isnull=False),
                name="leads_postponed",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A full save of a lead read earlier leaves what only the qualification services
        and the conversation write (each in its own locked save or update): an edit or a
        status move running alongside a marketer's level or answers, or a message coming
        in, does not put the old ones back."""
        if kwargs.get("update_fields") is None and not self._state.adding and self.pk:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key
                and not getattr(f, "generated", False)
                and f.name not in QUALIFICATION_OWNED
                and f.name not in CONVERSATION_OWNED
            ]
        super().save(*args, **kwargs)

    @property
    def has_contact_way(self) -> bool:
        return bool(
            self.phone_e164 or self.phone.strip() or self.email_key or self.messenger_id.strip()
        )

    def clean(self) -> None:
        if not self.has_contact_way:
            raise ValidationError(
                _("Give at least one way to reach the person: a phone, an e-mail or a messenger.")
            )
        if self.status_id and self.status.state != self.state:
            raise ValidationError(_("The status does not belong to the lead's state."))

    def _set_status(self, status: LeadStatus) -> None:
        self.status = status

    # Transitions only assign fields; the service checks rights, saves, records and notifies.

    @transition(
        field=state, source=LeadState.NEW, target=LeadState.IN_PROGRESS, permission=_may_edit
    )
    def take(self, *, status: LeadStatus) -> None:
        self._set_status(status)

    @transition(field=state, source=OPEN_STATES, target=LeadState.JUNK, permission=_may_edit)
    def junk(self, *, status: LeadStatus) -> None:
        self._set_status(status)

    @transition(
        field=state, source=LeadState.JUNK, target=LeadState.IN_PROGRESS, permission=_may_edit
    )
    def reopen(self, *, status: LeadStatus) -> None:
        self._set_status(status)

    @transition(
        field=state,
        source=OPEN_STATES,
        target=LeadState.CONVERTED,
        conditions=[_reachable],
        permission=_may_convert,
    )
    def convert(self, *, status: LeadStatus) -> None:
        self._set_status(status)


class StatusStay(TenantModel):
    """A lead's time in one status: from `entered_at` until `left_at` (open while it is
    there). Every status change closes one stay and opens the next, so analytics can read
    how long leads spend in each status."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stays")
    status = models.ForeignKey(LeadStatus, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["tenant", "lead", "entered_at"], name="leads_stay_lead"),
            models.Index(fields=["tenant", "status", "entered_at"], name="leads_stay_status"),
            # Analytics: the stays since a day (those of the leads created since), by index.
            models.Index(
                fields=["tenant", "entered_at"],
                include=["lead", "status", "left_at"],
                name="leads_stay_entered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}@{self.status_id}"


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded (fewest open leads)")
    RANDOM = "random", _("Random")


class AssignmentRule(TenantModel):
    """Who gets a new lead: ordered conditions (all that are set must hold; an empty one
    matches anything) and a strategy over a pool of members (leads/distribution.py)."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Conditions. Channels are plain ids (no foreign key: a channel may go, the rule stays).
    channel_ids = models.JSONField(_("channels"), default=list, blank=True)
    sources = models.JSONField(_("sources"), default=list, blank=True)
    utm_source = models.CharField("utm_source", max_length=200, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=200, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=200, blank=True)
    # Parts of the phone's region as phonenumbers describes it in the tenant's language.
    regions = models.JSONField(_("regions"), default=list, blank=True)
    custom_field = models.CharField(_("custom field"), max_length=40, blank=True)
    custom_value = models.CharField(_("custom field value"), max_length=500, blank=True)
    # A rule with levels picks the owner when a lead is handed over to one of them (MQL →
    # SAL), never for a new inquiry; one without them is for new inquiries only.
    levels = models.JSONField(_("on handover to"), default=list, blank=True, db_default=[])
    # What to do with a match.
    strategy = models.CharField(
        _("strategy"), max_length=16, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    members = models.JSONField(_("members"), default=list, blank=True)  # membership ids
    # Round robin's pointer: the member who got the last lead (read under a row lock).
    last_member_id = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta(TenantModel.Meta):
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="leads_rule_unique_name"),
            models.CheckConstraint(
                condition=Q(strategy__in=Strategy.values), name="leads_rule_strategy"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LeadProduct(LineItem):
    """A line of the lead's products; their total fills the lead's amount."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="products")

    class Meta(LineItem.Meta):
        pass


class LeadWord(TenantModel):
    """One word of a lead's title, name or company (leads/words.py), with the lead's creation
    time and owner, so that "the newest visible leads with a word starting with …" is read
    from an index alone. Text comparisons are leakproof, so the indexes work under row-level
    security (LIKE and pg_trgm do not). Written by the lead services, in the lead's transaction.
    """

    # The lead's creation time, not this row's (its ordering key); rows are never updated but
    # for `owner`, so no updated_at.
    created_at = models.DateTimeField()
    updated_at = None
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+", db_index=False)
    word = BytewiseCharField(max_length=MAX_WORD)
    # A copy of lead.owner: the manager's visibility is filtered in the index.
    owner = models.ForeignKey(
        "crm.Membership", null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta(TenantModel.Meta):
        constraints = [
            # Also the index of "the words of this lead" (edits, deletes, the AND of a query).
            models.UniqueConstraint(
                fields=["tenant", "lead", "word"], name="leads_word_unique_per_lead"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "word", "-created_at"],
                include=["lead", "owner"],
                name="leads_word",
            ),
            # The manager's branches: owner = ANY(me and my team) and owner IS NULL.
            models.Index(
                fields=["tenant", "owner", "word", "-created_at"],
                include=["lead"],
                name="leads_word_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.word


class LeadEvent(TenantModel):
    """Something a lead did (visited the pricing page, asked for a price…), posted through
    the API's events endpoint or recorded by a channel: the engagement score's input."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(_("event"), max_length=100)
    properties = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    occurred_at = models.DateTimeField(_("when"))

    class Meta(TenantModel.Meta):
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "lead", "-occurred_at"], name="leads_event_lead"),
        ]

    def __str__(self) -> str:
        return self.name


class ScoringSettings(TenantModel):
    """A tenant's qualification settings: frameworks switched on, the score's thresholds for
    temperature and for the fit × engagement matrix, the nightly decay's last day."""

    bant = models.BooleanField(_("BANT"), default=False)
    champ = models.BooleanField(_("CHAMP"), default=False)
    # Scores set the temperature of leads nobody set by hand.
    auto_temperature = models.BooleanField(_("set the temperature from the score"), default=True)
    hot_from = models.IntegerField(_("hot from"), default=60)
    warm_from = models.IntegerField(_("warm from"), default=30)
    fit_a_from = models.IntegerField(_("fit A from"), default=40)
    fit_b_from = models.IntegerField(_("fit B from"), default=20)
    engagement_1_from = models.IntegerField(_("engagement 1 from"), default=30)
    engagement_2_from = models.IntegerField(_("engagement 2 from"), default=10)
    # The workspace's day the nightly decay last ran.
    decayed_on = models.DateField(null=True, blank=True, editable=False)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="leads_scoring_settings_one"),
            models.CheckConstraint(
                condition=Q(hot_from__gt=models.F("warm_from")), name="leads_scoring_hot_above"
            ),
            models.CheckConstraint(
                condition=Q(fit_a_from__gt=models.F("fit_b_from")), name="leads_scoring_fit"
            ),
            models.CheckConstraint(
                condition=Q(engagement_1_from__gt=models.F("engagement_2_from")),
                name="leads_scoring_engagement",
            ),
        ]

    def __str__(self) -> str:
        return str(self.tenant_id)


class ScoringRule(TenantModel):
    """Points for a condition on a lead's fields (fit) or for a behaviour event (engagement,
    optionally decaying with a half-life); leads/scoring.py evaluates them."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    # What is tested: "source", "amount", "region", "utm_source", "utm_campaign", "filled",
    # "custom:<key>", "<framework>:<question>" (bant:budget…) or "event".
    subject = models.CharField(_("condition"), max_length=80)
    # "is" (one of `values`), "contains" (one of `values` in the text), "between"
    # (low ≤ number ≤ high, either end open), "filled" (answered, non-empty).
    operator = models.CharField(_("test"), max_length=10, default="is")
    values = models.JSONField(_("values"), default=list, blank=True)
    low = models.DecimalField(_("from"), max_digits=14, decimal_places=2, null=True, blank=True)
    high = models.DecimalField(_("to"), max_digits=14, decimal_places=2, null=True, blank=True)
    points = models.IntegerField(_("points"))
    # Events only: each occurrence scores, up to `max_times`; an occurrence's points halve
    # every `half_life_days` (none: they never fade).
    max_times = models.PositiveSmallIntegerField(_("at most times"), default=1)
    half_life_days = models.PositiveSmallIntegerField(_("half-life, days"), null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="leads_scoring_rule_name"),
            models.CheckConstraint(
                condition=Q(points__gte=-1000, points__lte=1000), name="leads_scoring_points"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_event(self) -> bool:
        return self.subject == "event"
