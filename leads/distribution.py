"""Lead distribution: which member gets a new lead (DESIGN §6).

The tenant's AssignmentRules are tried in order; the first enabled rule whose conditions
all hold picks a member of its pool by its strategy — round robin, least loaded (fewest
open leads) or random — skipping members who are inactive, away or the system robot.
Nobody matching or nobody available leaves the lead in the shared inbox.

Round robin and least loaded lock the rule's row while they pick (SELECT … FOR UPDATE), so
two inbound leads handled at once never get the same turn, and the second sees the first's
lead when counting loads. The lock lasts until the caller's transaction ends.

Also here: the settings use cases of the rules (save, reorder, enable, delete) and their
reads. Rights: the settings pages check the "settings" right; the services check it again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from phonenumbers import geocoder

from crm.access import AccessDenied, Entity, TenantRight, has_right
from crm.errors import DomainError
from crm.memo import memoized
from crm.models import CustomField, Membership, Role, Tenant
from crm.ordering import append_or_change, move_one_step, name_taken
from crm.services import timeline_record
from crm.tenancy import current_tenant
from leads.models import OPEN_STATES, AssignmentRule, Lead, LeadSource, Level, Strategy

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")
# Custom field types a rule may test for equality with a typed value.
CONDITION_FIELD_TYPES = (
    CustomField.Type.TEXT,
    CustomField.Type.NUMBER,
    CustomField.Type.CHOICE,
    CustomField.Type.MULTI_CHOICE,
)


@dataclass(frozen=True)
class RoutingContext:
    """What is known about an inquiry when it arrives, for matching rules."""

    channel_id: int | None = None
    source: str = ""
    utm: dict[str, str] = field(default_factory=dict)  # keys utm_source, utm_medium, …
    custom: dict[str, Any] = field(default_factory=dict)  # lead custom field values by key
    phone_e164: str = ""
    # The qualification level a lead is handed over to (MQL → SAL): only rules naming it
    # match then; a new inquiry has none, and rules naming levels do not match it.
    level: str = ""


def routing_context_for(lead: Lead, *, level: str = "") -> RoutingContext:
    """The routing context of an existing lead (escalation re-picks with it; a handover to
    `level` picks the rule naming it)."""
    return RoutingContext(
        channel_id=lead.channel_id,
        source=lead.source,
        utm={key: getattr(lead, key) for key in UTM_KEYS},
        custom=lead.custom or {},
        phone_e164=lead.phone_e164,
        level=level,
    )


# --- Matching -----------------------------------------------------------------------------


def phone_region(phone_e164: str, language: str) -> str:
    """The phone's geographic description in `language` ("Московская обл.", "Россия"), or ""."""
    if not phone_e164:
        return ""
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return ""
    return geocoder.description_for_number(number, language)


def _fold(value: Any) -> str:
    return str(value).strip().casefold()


def _custom_matches(wanted: str, value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, list):
        return any(_fold(item) == _fold(wanted) for item in value)
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        try:
            return Decimal(str(value)) == Decimal(wanted.strip().replace(",", "."))
        except InvalidOperation:
            return False
    return _fold(value) == _fold(wanted)


def rule_matches(rule: AssignmentRule, context: RoutingContext, *, language: str) -> bool:
    """Whether every condition the rule sets holds for the context (unset ones match); a
    rule naming levels is for handovers to them only."""
    if (rule.levels or context.level) and context.level not in (rule.levels or []):
        return False
    if rule.channel_ids and context.channel_id not in rule.channel_ids:
        return False
    if rule.sources and context.source not in rule.sources:
        return False
    for key in UTM_KEYS:
        wanted = getattr(rule, key)
        if wanted and _fold(wanted) != _fold(context.utm.get(key, "")):
            return False
    if rule.regions:
        region = _fold(phone_region(context.phone_e164, language))
        if not region or not any(_fold(part) in region for part in rule.regions):
            return False
    return not rule.custom_field or _custom_matches(
        rule.custom_value, context.custom.get(rule.custom_field)
    )


# --- Picking ------------------------------------------------------------------------------


def available_members(ids: list[int]) -> list[Membership]:
    """Those of `ids` who may get a lead now: active, not away, not the robot; by id."""
    if not ids:
        return []
    return list(
        Membership.objects.filter(pk__in=ids, is_active=True, is_away=False, is_system=False)
        .select_related("user", "team")
        .order_by("pk")
    )


def open_lead_counts(member_ids: list[int]) -> dict[int, int]:
    """How many open (new or in progress) leads each member owns."""
    rows = (
        Lead.objects.filter(
            owner_id__in=member_ids, state__in=OPEN_STATES, deleted_at=None, archived_at=None
        )
        .values("owner_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["owner_id"]: row["n"] for row in rows}


def _after_pointer(members: list[Membership], pointer: int | None) -> list[Membership]:
    """The members in turn order: those after the pointer's id first, then from the start."""
    if pointer is None:
        return members
    later = [m for m in members if m.pk > pointer]
    return later + [m for m in members if m.pk <= pointer]


def _least_loaded(members: list[Membership]) -> Membership:
    counts = open_lead_counts([m.pk for m in members])
    # min() keeps the first of equals: ties go round in turn order.
    return min(members, key=lambda m: counts.get(m.pk, 0))


def rule_pick(rule: AssignmentRule, *, exclude: int | None = None) -> Membership | None:
    """One available member of the rule's pool by its strategy (not `exclude`), or None.
    Round robin and least loaded lock the rule's row and move its pointer."""
    if rule.strategy == Strategy.RANDOM:
        members = [m for m in available_members(rule.members) if m.pk != exclude]
        return secrets.choice(members) if members else None
    with transaction.atomic():
        locked = AssignmentRule.objects.select_for_update().filter(pk=rule.pk).first()
        if locked is None:
            return None
        members = [m for m in available_members(locked.members) if m.pk != exclude]
        if not members:
            return None
        in_turn = _after_pointer(members, locked.last_member_id)
        chosen = in_turn[0] if locked.strategy == Strategy.ROUND_ROBIN else _least_loaded(in_turn)
        AssignmentRule.objects.filter(pk=locked.pk).update(last_member_id=chosen.pk)
    rule.last_member_id = chosen.pk
    return chosen


def matching_rule(context: RoutingContext) -> AssignmentRule | None:
    """The first enabled rule whose conditions hold for the context."""
    tenant = _tenant()
    rules = memoized(
        ("leads.assignment_rules", tenant.pk),
        lambda: list(AssignmentRule.objects.filter(enabled=True).order_by("position", "pk")),
    )
    for rule in rules:
        if rule_matches(rule, context, language=tenant.language):
            return rule
    return None


def pick_owner(*, context: RoutingContext) -> Membership | None:
    """First enabled matching rule's pick, or None (lead stays in the shared inbox).
    Call in tenant_context."""
    rule = matching_rule(context)
    return rule_pick(rule) if rule is not None else None


def any_available_manager(*, exclude: int | None = None) -> Membership | None:
    """The least loaded available member with the Manager role (not `exclude`), or None."""
    ids = list(
        Membership.objects.filter(role__kind=Role.Kind.MANAGER)
        .exclude(pk=exclude)
        .values_list("pk", flat=True)
    )
    members = available_members(ids)
    return _least_loaded(members) if members else None


def _tenant() -> Tenant:
    tenant = current_tenant()
    if tenant is None:
        raise RuntimeError("Lead distribution runs inside a tenant context.")
    return tenant


# --- Reads for the settings pages ---------------------------------------------------------


def rule_list() -> QuerySet[AssignmentRule]:
    """The tenant's rules in the order they are tried."""
    return AssignmentRule.objects.order_by("position", "pk")


def rule_get(*, rule_id: int) -> AssignmentRule:
    """One rule of the current tenant (404 for a missing one or another tenant's)."""
    rule = AssignmentRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    return rule


def condition_fields() -> list[CustomField]:
    """The lead custom fields a rule may test."""
    return list(
        CustomField.objects.filter(
            entity=Entity.LEAD, field_type__in=CONDITION_FIELD_TYPES
        ).order_by("position", "pk")
    )


def rule_member_names(rules: list[AssignmentRule]) -> dict[int, str]:
    """Names of every pool member of `rules` (one query), for the rules list."""
    ids = {pk for rule in rules for pk in rule.members}
    return {m.pk: str(m.user) for m in Membership.objects.filter(pk__in=ids).select_related("user")}


# --- Settings use cases -------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "channel_ids",
    "sources",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "regions",
    "custom_field",
    "custom_value",
    "levels",
    "strategy",
    "members",
)


def _check_settings(actor: Membership) -> None:
    if not has_right(actor, TenantRight.SETTINGS):
        raise AccessDenied(_("Your role does not give access to this page."))


def _clean_custom(key: str, value: str) -> tuple[str, str]:
    """The custom field condition, checked against the tenant's lead field of that key."""
    key, value = key.strip(), value.strip()
    if not key:
        return "", ""
    definition = next((d for d in condition_fields() if d.key == key), None)
    if definition is None:
        raise DomainError(_("Choose a custom field of leads."))
    if not value:
        raise DomainError(_("Enter the value the custom field must have."))
    if definition.field_type in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE):
        if value not in definition.choices:
            raise DomainError(_("Choose one of the field's choices."))
    elif definition.field_type == CustomField.Type.NUMBER:
        try:
            Decimal(value.replace(",", "."))
        except InvalidOperation as error:
            raise DomainError(_("Enter a number.")) from error
    return key, value


# The levels a lead is handed over to sales at (a rule naming them assigns it then).
HANDOVER_LEVELS = (Level.SAL, Level.SQL)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a rule's fields (the form checks them too; this guards every caller)."""
    clean = {key: data.get(key) for key in RULE_FIELDS}
    clean["name"] = (clean["name"] or "").strip()
    if not clean["name"]:
        raise DomainError(_("Name the rule."))
    if clean["strategy"] not in Strategy.values:
        raise DomainError(_("Choose a strategy."))
    sources = list(dict.fromkeys(clean["sources"] or []))
    if any(source not in LeadSource.values for source in sources):
        raise DomainError(_("Unknown source."))
    clean["sources"] = sources
    try:
        clean["channel_ids"] = sorted({int(pk) for pk in clean["channel_ids"] or []})
    except (TypeError, ValueError) as error:
        raise DomainError(_("Channels are given by their numbers.")) from error
    if any(pk <= 0 for pk in clean["channel_ids"]):
        raise DomainError(_("Channels are given by their numbers."))
    for key in UTM_KEYS:
        clean[key] = (clean[key] or "").strip()
    clean["regions"] = [r.strip() for r in clean["regions"] or [] if r.strip()]
    levels = list(dict.fromkeys(clean["levels"] or []))
    if any(level not in HANDOVER_LEVELS for level in levels):
        raise DomainError(_("A handover goes to SAL or SQL."))
    clean["levels"] = levels
    clean["custom_field"], clean["custom_value"] = _clean_custom(
        clean["custom_field"] or "", clean["custom_value"] or ""
    )
    members = sorted({int(pk) for pk in clean["members"] or []})
    if not members:
        raise DomainError(_("Choose at least one member for the rule."))
    found = Membership.objects.filter(pk__in=members, is_active=True, is_system=False).count()
    if found != len(members):
        raise DomainError(_("That person cannot own leads here."))
    clean["members"] = members
    return clean


def rule_save(
    *, actor: Membership, rule: AssignmentRule | None, data: dict[str, Any]
) -> AssignmentRule:
    """Create a rule (tried after the existing ones) or change one.

    Raises AccessDenied without the settings right and DomainError for bad conditions, an
    empty pool, a member of another tenant or a name already used.
    """
    _check_settings(actor)
    clean = _clean(data)
    if name_taken(AssignmentRule.objects.all(), clean["name"], exclude_pk=rule and rule.pk):
        raise DomainError(_("A rule with this name already exists."))
    with transaction.atomic():
        rule, created = append_or_change(AssignmentRule.objects.all(), rule, clean)
        kind = "rule.created" if created else "rule.changed"
        timeline_record(actor=actor, target=rule, kind=kind, data={"rule": rule.name})
    return rule


def rule_move(*, actor: Membership, rule: AssignmentRule, up: bool) -> None:
    """Swap the rule with its neighbour above (`up`) or below; the order is renumbered."""
    _check_settings(actor)
    with transaction.atomic():
        if not move_one_step(AssignmentRule.objects.all(), rule, up=up):
            return
        timeline_record(actor=actor, target=rule, kind="rule.moved", data={"rule": rule.name})


def rule_set_enabled(*, actor: Membership, rule: AssignmentRule, enabled: bool) -> None:
    """Switch a rule on or off (a disabled rule is skipped when leads arrive)."""
    _check_settings(actor)
    if rule.enabled == enabled:
        return
    with transaction.atomic():
        rule.enabled = enabled
        rule.save(update_fields=["enabled", "updated_at"])
        kind = "rule.enabled" if enabled else "rule.disabled"
        timeline_record(actor=actor, target=rule, kind=kind, data={"rule": rule.name})


def rule_delete(*, actor: Membership, rule: AssignmentRule) -> None:
    """Remove a rule; leads it assigned keep their owners."""
    _check_settings(actor)
    with transaction.atomic():
        timeline_record(actor=actor, target=rule, kind="rule.deleted", data={"rule": rule.name})
        rule.delete()
