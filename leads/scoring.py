"""Lead scoring: a tenant's rules turned into points, explained part by part.

Two scores (DESIGN §7, issue 17): **fit** — who the lead is (its fields, custom fields,
framework answers) — and **engagement** — what it did (behaviour events, each occurrence
worth the rule's points, halving every `half_life_days` when the rule decays). Their sum is
the score; the tenant's thresholds map it to a temperature, and fit × engagement to a cell
of the A–C × 1–3 matrix. `evaluate` is a pure function of a lead, its events, the rules and
the settings at a moment: the card's explanation, the worker's recomputation and the
history preview all call it, so what the card says is what the score is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.sources import LeadSource
from leads.distribution import phone_region
from leads.frameworks import CHOICE, FRAMEWORKS, answers_of
from leads.models import Lead, ScoringRule, ScoringSettings, Temperature

FIT, ENGAGEMENT = "fit", "engagement"
IS, CONTAINS, BETWEEN, FILLED = "is", "contains", "between", "filled"
EVENT = "event"

# Lead fields a fit rule may test, with the tests that make sense for each.
FIELD_SUBJECTS: dict[str, tuple[str | Promise, tuple[str, ...]]] = {
    "source": (gettext_lazy("Source"), (IS,)),
    "amount": (gettext_lazy("Amount"), (BETWEEN, FILLED)),
    "region": (gettext_lazy("Region (by phone)"), (CONTAINS,)),
    "utm_source": ("utm_source", (IS, CONTAINS, FILLED)),
    "utm_medium": ("utm_medium", (IS, CONTAINS, FILLED)),
    "utm_campaign": ("utm_campaign", (IS, CONTAINS, FILLED)),
    "company_name": (gettext_lazy("Company"), (CONTAINS, FILLED)),
    "email": (gettext_lazy("E-mail"), (CONTAINS, FILLED)),
    "phone": (gettext_lazy("Phone"), (FILLED,)),
    "messenger_id": (gettext_lazy("Messenger"), (FILLED,)),
}

# Behaviour events with a name of their own (seed 002); an API client may post any other
# name, and a rule may test any name.
EVENTS: dict[str, str | Promise] = {
    "pricing_page": gettext_lazy("Visited the pricing page"),
    "site_visit": gettext_lazy("Visited the site"),
    "subscribed": gettext_lazy("Subscribed to the newsletter"),
    "email_opened": gettext_lazy("Opened an e-mail"),
    "email_clicked": gettext_lazy("Clicked a link in an e-mail"),
    "guide_downloaded": gettext_lazy("Downloaded a guide"),
    "demo_requested": gettext_lazy("Requested a demo"),
    "price_asked": gettext_lazy("Asked for a price"),
    "invoice_requested": gettext_lazy("Requested an invoice"),
    # Recorded by the channels themselves.
    "wrote_again": gettext_lazy("Wrote again"),
}


def event_label(name: str) -> str:
    return str(EVENTS.get(name, name))


def fold(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


@dataclass(frozen=True)
class Part:
    """One rule's points on one lead, and why."""

    rule_id: int | None
    name: str
    kind: str  # FIT or ENGAGEMENT
    points: int
    why: str


@dataclass(frozen=True)
class Score:
    fit: int
    engagement: int
    parts: tuple[Part, ...]

    @property
    def total(self) -> int:
        return self.fit + self.engagement

    def stored_parts(self) -> list[dict[str, Any]]:
        return [asdict(part) for part in self.parts]


@dataclass(frozen=True)
class Occurrence:
    name: str
    at: datetime


# --- Conditions ---------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _money(value: Decimal) -> str:
    return f"{value.normalize():,f}".replace(",", " ")


def _in_range(rule: ScoringRule, number: Decimal | None) -> bool:
    if number is None:
        return False
    if rule.low is not None and number < rule.low:
        return False
    return rule.high is None or number <= rule.high


def range_text(rule: ScoringRule) -> str:
    """ "from 100 000 to 500 000", "from 100 000", "up to 500 000"."""
    if rule.low is not None and rule.high is not None:
        return _("from %(low)s to %(high)s") % {"low": _money(rule.low), "high": _money(rule.high)}
    if rule.low is not None:
        return _("from %(low)s") % {"low": _money(rule.low)}
    if rule.high is not None:
        return _("up to %(high)s") % {"high": _money(rule.high)}
    return _("any amount")


def _test(rule: ScoringRule, value: Any, *, choice_labels: dict[str, Any] | None = None) -> str:
    """Why `value` meets the rule's test ("" when it does not): the value as shown."""
    if rule.operator == FILLED:
        if isinstance(value, list | dict):
            return _("filled") if value else ""
        return _("filled") if value not in (None, "") and fold(value) else ""
    if rule.operator == BETWEEN:
        number = _number(value)
        return _money(number) if _in_range(rule, number) else ""
    if isinstance(value, bool):  # a yes/no custom field: "yes" / "no" (or true / false)
        words = (
            {fold(_("yes")), "yes", "true", "1"} if value else {fold(_("no")), "no", "false", "0"}
        )
        wanted = {fold(v) for v in rule.values or []}
        shown = _("yes") if value else _("no")
        return shown if rule.operator == IS and words & wanted else ""
    wanted = [fold(v) for v in rule.values or [] if fold(v)]
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str | int | float | Decimal) or item == "":
            continue  # nothing, or a nested value no rule compares
        text = fold(item)
        if rule.operator == IS and text in wanted:
            return str((choice_labels or {}).get(item, item))
        if rule.operator == CONTAINS and any(w in text for w in wanted):
            return str(item)
    return ""


@dataclass(frozen=True)
class Context:
    """What rules read besides the lead: the settings, the tenant's language (regions), the
    lead custom fields' labels (for the explanations) and the moment."""

    settings: ScoringSettings
    language: str
    now: datetime
    # None: not known (every custom field read); else only these fields score.
    custom_labels: dict[str, str] | None = None


def _fit_value(rule: ScoringRule, lead: Lead, context: Context) -> tuple[bool, Any, dict]:
    """(applies, the tested value, choice labels) for a field, custom field or answer."""
    subject = rule.subject
    if subject == "region":
        return True, _region(lead.phone_e164, context.language), {}
    if subject == "source":
        return True, lead.source, _sources()
    if subject == "amount":  # no amount is 0: not "filled", and no range holds it
        return True, lead.amount or None, {}
    if subject in FIELD_SUBJECTS:
        return True, getattr(lead, subject, ""), {}
    prefix, _sep, key = subject.partition(":")
    if prefix == "custom":
        labels = context.custom_labels
        if labels is not None and key not in labels:
            return False, None, {}  # a custom field deleted since: its rule gives nothing
        custom = lead.custom if isinstance(lead.custom, dict) else {}
        return True, custom.get(key), {}
    framework = FRAMEWORKS.get(prefix)
    if framework is not None:
        if not getattr(context.settings, framework.key, False):
            return False, None, {}  # a framework switched off gives no points
        question = framework.question(key)
        if question is None:
            return False, None, {}
        value = answers_of(lead.qualification, framework.key).get(key)
        labels = dict(question.choices) if question.kind == CHOICE else {}
        return True, value, labels
    return False, None, {}


@lru_cache(maxsize=8192)
def _region(phone_e164: str, language: str) -> str:
    """The phone's region (the directory is read once per number and language)."""
    return phone_region(phone_e164, language)


def _sources() -> dict[str, Any]:
    return dict(LeadSource.choices)


def subject_label(subject: str, custom_labels: dict[str, str] | None = None) -> str:
    """The condition's subject as people read it ("Budget (BANT)", "Region (by phone)", a
    custom field's label)."""
    if subject == EVENT:
        return _("Event")
    if subject in FIELD_SUBJECTS:
        return str(FIELD_SUBJECTS[subject][0])
    prefix, _sep, key = subject.partition(":")
    if prefix == "custom":
        return (custom_labels or {}).get(key, key)
    framework = FRAMEWORKS.get(prefix)
    question = framework.question(key) if framework else None
    if question is not None:
        return f"{question.label} ({framework.label})"
    return subject


def _fit_part(rule: ScoringRule, lead: Lead, context: Context) -> Part | None:
    applies, value, labels = _fit_value(rule, lead, context)
    if not applies:
        return None
    shown = _test(rule, value, choice_labels=labels)
    if not shown:
        return None
    label = subject_label(rule.subject, context.custom_labels)
    return Part(rule.pk, rule.name, FIT, rule.points, f"{label}: {shown}")


def decayed(points: int, *, age_days: float, half_life_days: int | None) -> float:
    """An occurrence's points after `age_days`: halved every `half_life_days` (if any)."""
    if not half_life_days or age_days <= 0:
        return float(points)
    return points * math.pow(0.5, age_days / half_life_days)


def _event_part(rule: ScoringRule, events: Sequence[Occurrence], context: Context) -> Part | None:
    wanted = {fold(v) for v in rule.values or [] if fold(v)}
    if not wanted:
        return None
    # The most recent occurrences count (they have decayed least).
    matching = sorted((e for e in events if fold(e.name) in wanted), key=lambda e: e.at)
    matching = matching[-max(1, rule.max_times) :]
    if not matching:
        return None
    total = sum(
        decayed(
            rule.points,
            age_days=(context.now - e.at).total_seconds() / 86400,
            half_life_days=rule.half_life_days,
        )
        for e in matching
    )
    points = round(total)
    if points == 0:
        return None
    names = sorted({event_label(e.name) for e in matching})
    last = matching[-1].at
    why = _("%(events)s ×%(times)d, last %(when)s") % {
        "events": ", ".join(names),
        "times": len(matching),
        "when": _ago(context.now, last),
    }
    if rule.half_life_days and points != rule.points * len(matching):
        why += " · " + _("faded from %(full)d") % {"full": rule.points * len(matching)}
    return Part(rule.pk, rule.name, ENGAGEMENT, points, why)


def _ago(now: datetime, at: datetime) -> str:
    days = int((now - at).total_seconds() // 86400)
    if days <= 0:
        return _("today")
    return _("%(days)d d. ago") % {"days": days}


def evaluate(
    lead: Lead, *, rules: Iterable[ScoringRule], events: Sequence[Occurrence], context: Context
) -> Score:
    """The lead's score under `rules` (enabled ones only) at `context.now`."""
    parts: list[Part] = []
    for rule in rules:
        if not rule.enabled:
            continue
        part = (
            _event_part(rule, events, context) if rule.is_event else _fit_part(rule, lead, context)
        )
        if part is not None:
            parts.append(part)
    fit = sum(p.points for p in parts if p.kind == FIT)
    engagement = sum(p.points for p in parts if p.kind == ENGAGEMENT)
    return Score(fit, engagement, tuple(parts))


def temperature_for(total: int, settings: ScoringSettings) -> str:
    if total >= settings.hot_from:
        return Temperature.HOT
    if total >= settings.warm_from:
        return Temperature.WARM
    return Temperature.COLD


def matrix_cell(fit: int, engagement: int, settings: ScoringSettings) -> str:
    """The fit × engagement cell: A (best fit) … C, 1 (most engaged) … 3: "A1"."""
    letter = "A" if fit >= settings.fit_a_from else "B" if fit >= settings.fit_b_from else "C"
    digit = (
        "1"
        if engagement >= settings.engagement_1_from
        else "2"
        if engagement >= settings.engagement_2_from
        else "3"
    )
    return letter + digit
