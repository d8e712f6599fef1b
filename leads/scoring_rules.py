"""Settings → Lead scoring: what a rule may test, in words, and the admins' use cases
(rules: create, change, reorder, switch on and off, delete; the frameworks switched on and
the thresholds).

A rule tests one *subject* — a lead field (`scoring.FIELD_SUBJECTS`), one of the tenant's
lead custom fields ("custom:<key>"), a framework question ("bant:budget") — with one of the
tests that make sense for it, or counts a behaviour *event* by name (any name: API clients
post their own). Every change recomputes the open leads in the background
(`qualification.rescore_all_later`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.access import AccessDenied, Entity, TenantRight, has_right
from crm.customfields import definitions
from crm.errors import DomainError
from crm.memo import nested_savepoints
from crm.models import CustomField, Membership
from crm.ordering import append_or_change, move_one_step, name_taken
from crm.services import timeline_record
from crm.sources import LeadSource
from leads.frameworks import CHOICE, FRAMEWORKS, MONEY
from leads.models import ScoringRule, ScoringSettings
from leads.qualification import rescore_all_later
from leads.scoring import (
    BETWEEN,
    CONTAINS,
    EVENT,
    EVENTS,
    FIELD_SUBJECTS,
    FILLED,
    IS,
    event_label,
    range_text,
)
from leads.selectors import scoring_settings

OPERATORS: dict[str, str | Promise] = {
    IS: gettext_lazy("is"),
    CONTAINS: gettext_lazy("contains"),
    BETWEEN: gettext_lazy("is between"),
    FILLED: gettext_lazy("is filled"),
}
MAX_POINTS = 1000
MAX_TIMES = 100
MAX_HALF_LIFE_DAYS = 3650
MAX_VALUES = 50
MAX_VALUE_LENGTH = 200
MAX_NAME_LENGTH = 120
# A number a rule's range takes (the model's 14 digits, 2 after the point).
MAX_BOUND = Decimal("1e12")

_CUSTOM_OPERATORS = {
    CustomField.Type.TEXT: (IS, CONTAINS, FILLED),
    CustomField.Type.NUMBER: (BETWEEN, FILLED),
    CustomField.Type.DATE: (FILLED,),
    CustomField.Type.CHOICE: (IS, FILLED),
    CustomField.Type.MULTI_CHOICE: (IS, FILLED),
    CustomField.Type.BOOL: (IS,),
    CustomField.Type.USER: (FILLED,),
}
_QUESTION_OPERATORS = {MONEY: (BETWEEN, FILLED), CHOICE: (IS, FILLED)}
_TEXT_OPERATORS = (CONTAINS, FILLED)
_YES_NO = (("true", gettext_lazy("Yes")), ("false", gettext_lazy("No")))


@dataclass(frozen=True)
class Subject:
    """What a rule may test, with the tests that apply and the values an "is" test picks
    from (none: typed by hand)."""

    key: str
    label: str
    group: str
    operators: tuple[str, ...]
    choices: tuple[tuple[str, str], ...] = ()
    switched_off: bool = False  # a framework question while the framework is off

    @property
    def is_event(self) -> bool:
        return self.key == EVENT


def _labelled(choices: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in choices)


def subjects(settings: ScoringSettings | None = None) -> dict[str, Subject]:
    """Every subject a rule of the current tenant may test, in the form's order: lead
    fields, lead custom fields, framework questions (those of a framework switched off
    marked so), events. One query for the custom fields (and one for the settings unless
    given)."""
    settings = settings if settings is not None else scoring_settings()
    found: dict[str, Subject] = {}
    fields_group = _("Lead fields")
    for key, (label, operators) in FIELD_SUBJECTS.items():
        choices = _labelled(LeadSource.choices) if key == "source" else ()
        found[key] = Subject(key, str(label), fields_group, operators, choices)
    custom_group = _("Custom fields")
    for definition in definitions(entity=Entity.LEAD):
        operators = _CUSTOM_OPERATORS.get(definition.field_type, (FILLED,))
        if definition.field_type == CustomField.Type.BOOL:
            choices = _labelled(_YES_NO)
        else:
            choices = tuple((str(c), str(c)) for c in definition.choices or [])
        key = f"custom:{definition.key}"
        found[key] = Subject(key, definition.label, custom_group, operators, choices)
    for framework in FRAMEWORKS.values():
        off = not getattr(settings, framework.key, False)
        group = (
            framework.label
            if not off
            else _("%(framework)s (switched off)") % {"framework": framework.label}
        )
        for question in framework.questions:
            key = f"{framework.key}:{question.key}"
            operators = _QUESTION_OPERATORS.get(question.kind, _TEXT_OPERATORS)
            choices = _labelled(question.choices) if question.kind == CHOICE else ()
            label = f"{question.label} ({framework.label})"
            found[key] = Subject(key, label, group, operators, choices, switched_off=off)
    found[EVENT] = Subject(
        EVENT, _("Behaviour event"), _("Behaviour"), (IS,), _labelled(EVENTS.items())
    )
    return found


def condition_text(rule: ScoringRule, known: dict[str, Subject]) -> str:
    """The rule's condition as people read it: "Source is Telegram, WhatsApp", "Budget
    (BANT) from 100 000", "Requested a demo, at most 3 times, halving every 14 days"."""
    subject = known.get(rule.subject)
    if rule.is_event:
        text = ", ".join(event_label(name) for name in rule.values or [])
        if rule.max_times > 1:
            text += ", " + _("at most %(times)d times") % {"times": rule.max_times}
        if rule.half_life_days:
            text += ", " + _("halving every %(days)d days") % {"days": rule.half_life_days}
        return text
    label = subject.label if subject else rule.subject
    if rule.operator == FILLED:
        return f"{label} {OPERATORS[FILLED]}"
    if rule.operator == BETWEEN:
        return f"{label}: {range_text(rule)}"
    labels = dict(subject.choices) if subject else {}
    values = ", ".join(labels.get(str(v), str(v)) for v in rule.values or [])
    return f"{label} {OPERATORS.get(rule.operator, rule.operator)} {values}"


# --- Reading ------------------------------------------------------------------------------


def scoring_rule_list() -> list[ScoringRule]:
    """The tenant's rules, on and off, in their order."""
    return list(ScoringRule.objects.order_by("position", "pk"))


def scoring_rule_get(*, rule_id: int) -> ScoringRule:
    """One rule of the current tenant (404 for a missing one or another tenant's)."""
    rule = ScoringRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    return rule


# --- Validation -----------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "subject",
    "operator",
    "values",
    "low",
    "high",
    "points",
    "max_times",
    "half_life_days",
)


def _whole(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def _bound(value: Any) -> Decimal | None:
    """A range's end (None when empty); DomainError when it is no amount."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(" ", "").replace(",", "."))
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or abs(number) >= MAX_BOUND:
        raise DomainError(_("“From” and “to” are numbers, e.g. 100000."))
    return number.quantize(Decimal("0.01"))


def _values(raw: Any) -> list[str]:
    """The values to test, trimmed, without repeats (a text is one value a line)."""
    items = raw.splitlines() if isinstance(raw, str) else list(raw or [])
    values = list(dict.fromkeys(" ".join(str(item).split()) for item in items))
    values = [value for value in values if value]
    if len(values) > MAX_VALUES:
        raise DomainError(_("A rule tests at most %(count)d values.") % {"count": MAX_VALUES})
    if any(len(value) > MAX_VALUE_LENGTH for value in values):
        raise DomainError(
            _("A value is at most %(count)d characters long.") % {"count": MAX_VALUE_LENGTH}
        )
    return values


def clean_rule(data: dict[str, Any], known: dict[str, Subject]) -> dict[str, Any]:
    """A rule's fields from `data` (the keys of RULE_FIELDS), checked against the subjects
    the tenant has; DomainError with the reason when something does not fit."""
    name = " ".join(str(data.get("name") or "").split())
    if not name:
        raise DomainError(_("Name the rule."))
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            _("The name is at most %(count)d characters.") % {"count": MAX_NAME_LENGTH}
        )
    subject = known.get(str(data.get("subject") or ""))
    if subject is None:
        raise DomainError(_("Choose what the rule tests: this field or question is unknown."))
    points = _whole(data.get("points"))
    if points is None or not -MAX_POINTS <= points <= MAX_POINTS:
        raise DomainError(
            _("Points are a whole number from %(low)d to %(high)d.")
            % {"low": -MAX_POINTS, "high": MAX_POINTS}
        )
    clean: dict[str, Any] = {
        "name": name,
        "subject": subject.key,
        "operator": IS,
        "values": [],
        "low": None,
        "high": None,
        "points": points,
        "max_times": 1,
        "half_life_days": None,
    }
    if subject.is_event:
        clean["values"] = _values(data.get("values"))
        if not clean["values"]:
            raise DomainError(_("Name at least one event the rule counts."))
        raw_times = data.get("max_times")
        max_times = 1 if raw_times in (None, "") else _whole(raw_times)
        if max_times is None or not 1 <= max_times <= MAX_TIMES:
            raise DomainError(
                _("“At most times” is a whole number from 1 to %(count)d.") % {"count": MAX_TIMES}
            )
        clean["max_times"] = max_times
        if data.get("half_life_days") not in (None, ""):
            half_life = _whole(data["half_life_days"])
            if half_life is None or not 1 <= half_life <= MAX_HALF_LIFE_DAYS:
                raise DomainError(
                    _("The half-life is a whole number of days from 1 to %(count)d.")
                    % {"count": MAX_HALF_LIFE_DAYS}
                )
            clean["half_life_days"] = half_life
        return clean
    if data.get("half_life_days") not in (None, ""):
        raise DomainError(_("Only event rules fade with a half-life."))
    operator = str(data.get("operator") or "")
    if operator not in subject.operators:
        allowed = ", ".join(f"“{OPERATORS[op]}”" for op in subject.operators)
        raise DomainError(
            _("%(subject)s is tested with %(allowed)s.")
            % {"subject": subject.label, "allowed": allowed}
        )
    clean["operator"] = operator
    if operator == BETWEEN:
        low, high = _bound(data.get("low")), _bound(data.get("high"))
        if low is None and high is None:
            raise DomainError(_("Give “from”, “to” or both."))
        if low is not None and high is not None and low > high:
            raise DomainError(_("“From” must not be above “to”."))
        clean["low"], clean["high"] = low, high
    elif operator in (IS, CONTAINS):
        values = _values(data.get("values"))
        if not values:
            raise DomainError(_("Give at least one value to compare with."))
        if operator == IS and subject.choices:
            allowed_values = dict(subject.choices)
            if any(value not in allowed_values for value in values):
                raise DomainError(
                    _("%(subject)s takes one of its own answers.") % {"subject": subject.label}
                )
        clean["values"] = values
    return clean


THRESHOLD_MAX = 100_000


# --- Use cases --------------------------------------------------------------------------------


def _check_settings(actor: Membership) -> None:
    if not has_right(actor, TenantRight.SETTINGS):
        raise AccessDenied(_("Only those who manage settings change scoring."))


def scoring_rule_save(
    *, actor: Membership, rule: ScoringRule | None = None, data: dict[str, Any]
) -> ScoringRule:
    """Create a rule (after the existing ones) or change one; the open leads are rescored
    once it commits.

    Raises AccessDenied without the settings right and DomainError for an unknown subject,
    a test that does not apply to it, missing or bad values, points out of range or a name
    already used. Nothing is written then.
    """
    _check_settings(actor)
    clean = clean_rule(data, subjects())
    if name_taken(ScoringRule.objects.all(), clean["name"], exclude_pk=rule and rule.pk):
        raise DomainError(_("A scoring rule with this name already exists."))
    try:
        with transaction.atomic(savepoint=nested_savepoints()):
            rule, created = append_or_change(ScoringRule.objects.all(), rule, clean)
            kind = "scoring_rule.created" if created else "scoring_rule.changed"
            timeline_record(actor=actor, target=rule, kind=kind, data={"rule": rule.name})
            rescore_all_later()
    except IntegrityError as error:  # a name taken meanwhile
        raise DomainError(_("A scoring rule with this name already exists.")) from error
    return rule


def scoring_rule_move(*, actor: Membership, rule: ScoringRule, up: bool) -> None:
    """Swap the rule with its neighbour above (`up`) or below (the order the card lists the
    points in; it does not change the score)."""
    _check_settings(actor)
    with transaction.atomic(savepoint=nested_savepoints()):
        if not move_one_step(ScoringRule.objects.all(), rule, up=up):
            return
        timeline_record(
            actor=actor, target=rule, kind="scoring_rule.moved", data={"rule": rule.name}
        )
        rescore_all_later()


def scoring_rule_set_enabled(*, actor: Membership, rule: ScoringRule, enabled: bool) -> None:
    """Switch a rule on or off (a rule that is off gives no points)."""
    _check_settings(actor)
    if rule.enabled == enabled:
        return
    with transaction.atomic(savepoint=nested_savepoints()):
        rule.enabled = enabled
        rule.save(update_fields=["enabled", "updated_at"])
        kind = "scoring_rule.enabled" if enabled else "scoring_rule.disabled"
        timeline_record(actor=actor, target=rule, kind=kind, data={"rule": rule.name})
        rescore_all_later()


def scoring_rule_delete(*, actor: Membership, rule: ScoringRule) -> None:
    """Remove a rule; the leads lose its points when they are rescored."""
    _check_settings(actor)
    with transaction.atomic(savepoint=nested_savepoints()):
        timeline_record(
            actor=actor, target=rule, kind="scoring_rule.deleted", data={"rule": rule.name}
        )
        rule.delete()
        rescore_all_later()


def scoring_settings_save(*, actor: Membership, data: dict[str, Any]) -> ScoringSettings:
    """Save the frameworks switched on and the thresholds; every open lead is rescored."""
    _check_settings(actor)
    fields = (
        "bant",
        "champ",
        "auto_temperature",
        "hot_from",
        "warm_from",
        "fit_a_from",
        "fit_b_from",
        "engagement_1_from",
        "engagement_2_from",
    )
    numbers = {}
    for name in fields[3:]:
        try:
            numbers[name] = int(data[name])
        except (KeyError, TypeError, ValueError):
            raise DomainError(_("Give every threshold as a whole number.")) from None
        if abs(numbers[name]) > THRESHOLD_MAX:
            raise DomainError(_("Give every threshold as a whole number."))
    data = {**data, **numbers}
    if numbers["hot_from"] <= numbers["warm_from"]:
        raise DomainError(_("“Hot from” must be above “warm from”."))
    if numbers["fit_a_from"] <= numbers["fit_b_from"]:
        raise DomainError(_("Fit A must start above fit B."))
    if numbers["engagement_1_from"] <= numbers["engagement_2_from"]:
        raise DomainError(_("Engagement 1 must start above engagement 2."))
    with transaction.atomic():
        settings = ScoringSettings.objects.select_for_update().first() or ScoringSettings(
            tenant=actor.tenant
        )
        for name in fields:
            if name in data:
                setattr(settings, name, data[name])
        settings.save()
        rescore_all_later()
    return settings
