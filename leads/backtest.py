"""Scoring rules checked against history (issue 17, point 7): how the leads of the last 90
days would have scored under rules and thresholds that are not saved yet, and what those
leads actually became.

The sample is read once — the leads created in the workspace's last 90 days (the latest
`SAMPLE_CAP` of them), what they became, and their behaviour events — in two queries
however many leads there are; `sample_score` then scores it with `scoring.evaluate`, the
function the worker uses, without writing anything. Events decay as of now, not as of each
lead's own past: a preview answers "what would the leads score today".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.periods import Period
from deals.models import Outcome
from leads import scoring
from leads.models import Lead, LeadState, ScoringRule, ScoringSettings, Temperature
from leads.qualification import context_now, occurrences_of
from leads.selectors import scoring_rules, scoring_settings

WINDOW_DAYS = 90
SAMPLE_CAP = 20_000
# What evaluate() reads of a lead besides the subjects' own fields.
_READ_FIELDS = ("phone_e164", "custom", "qualification", "state", "created_at", "deal_id")
MATRIX_LETTERS = ("A", "B", "C")
MATRIX_DIGITS = ("1", "2", "3")


@dataclass(frozen=True)
class Sample:
    """The leads a preview scores, with their events, read once."""

    period: Period
    now: dt.datetime
    leads: list[Lead]
    events: dict[int, list[scoring.Occurrence]]
    capped: bool


def _lead_fields() -> tuple[str, ...]:
    subjects = [key for key in scoring.FIELD_SUBJECTS if key != "region"]
    return (*subjects, *_READ_FIELDS)


def sample_load(*, now: dt.datetime | None = None) -> Sample:
    """The current tenant's leads created in its last `WINDOW_DAYS` local days (not those
    in the trash), newest first, at most `SAMPLE_CAP`, and their events: two queries."""
    now = now or timezone.now()
    last = timezone.localdate(now)  # tenant_context: the workspace's day
    period = Period(last - dt.timedelta(days=WINDOW_DAYS - 1), last)
    rows = list(
        Lead.objects.filter(
            deleted_at=None, created_at__gte=period.start, created_at__lt=period.end
        )
        .only(*_lead_fields())
        .annotate(deal_outcome=F("deal__outcome"))
        .order_by("-created_at", "-pk")[: SAMPLE_CAP + 1]
    )
    capped = len(rows) > SAMPLE_CAP
    leads = rows[:SAMPLE_CAP]
    events = occurrences_of([lead.pk for lead in leads], now=now)
    return Sample(period=period, now=now, leads=leads, events=events, capped=capped)


@dataclass
class Group:
    """Leads that would have scored alike, and what they actually became."""

    key: str
    label: str | Promise
    leads: int = 0
    converted: int = 0
    won: int = 0
    points: int = 0

    def add(self, *, score: int, converted: bool, won: bool) -> None:
        self.leads += 1
        self.points += score
        self.converted += converted
        self.won += won

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def converted_share(self) -> float | None:
        """Per cent of the group's leads converted (None for an empty group)."""
        return self._share(self.converted, self.leads)

    @property
    def won_share(self) -> float | None:
        """Per cent of the group's leads whose deal was won."""
        return self._share(self.won, self.leads)

    @property
    def average_score(self) -> float | None:
        return round(self.points / self.leads, 1) if self.leads else None


@dataclass
class Result:
    """A sample scored: by temperature (hot, warm, cold), by matrix cell, and in all."""

    total: Group
    temperatures: list[Group]
    cells: dict[str, Group] = field(default_factory=dict)

    def matrix(self) -> list[list[Group]]:
        """The cells as rows A–C of columns 1–3."""
        return [
            [self.cells[letter + digit] for digit in MATRIX_DIGITS] for letter in MATRIX_LETTERS
        ]


def sample_score(sample: Sample, *, rules: list[ScoringRule], settings: ScoringSettings) -> Result:
    """Score every lead of `sample` under `rules` (the enabled ones) and `settings` as of
    the sample's moment and group them. No query; nothing is saved."""
    context = context_now(settings, sample.now)
    temperatures = {value: Group(value, label) for value, label in Temperature.choices}
    cells = {
        letter + digit: Group(letter + digit, letter + digit)
        for letter in MATRIX_LETTERS
        for digit in MATRIX_DIGITS
    }
    total = Group("all", _("All leads"))
    for lead in sample.leads:
        score = scoring.evaluate(
            lead, rules=rules, events=sample.events.get(lead.pk, []), context=context
        )
        outcome = {
            "score": score.total,
            "converted": lead.state == LeadState.CONVERTED,
            "won": lead.deal_outcome == Outcome.WON,
        }
        total.add(**outcome)
        temperatures[scoring.temperature_for(score.total, settings)].add(**outcome)
        cells[scoring.matrix_cell(score.fit, score.engagement, settings)].add(**outcome)
    return Result(total=total, temperatures=list(temperatures.values()), cells=cells)


def saved_rules(edited: ScoringRule | None = None) -> list[ScoringRule]:
    """The saved rules, on and off, with `edited` (unsaved) in place of its saved self or
    after them all: what a preview of an edited rule scores with."""
    rules = list(ScoringRule.objects.order_by("position", "pk"))
    if edited is None:
        return rules
    if edited.pk is not None and any(rule.pk == edited.pk for rule in rules):
        return [edited if rule.pk == edited.pk else rule for rule in rules]
    return [*rules, edited]


@dataclass(frozen=True)
class Preview:
    """The sample scored as proposed and as saved now, side by side."""

    sample: Sample
    proposed: Result
    saved: Result

    def rows(self) -> list[tuple[Group, Group]]:
        """(proposed, saved) per temperature, then all leads."""
        pairs = list(zip(self.proposed.temperatures, self.saved.temperatures, strict=True))
        return [*pairs, (self.proposed.total, self.saved.total)]


def preview(
    *, rules: list[ScoringRule], settings: ScoringSettings, now: dt.datetime | None = None
) -> Preview:
    """The last 90 days' leads scored under `rules` and `settings` (unsaved) and under the
    saved ones. Four queries; nothing is saved."""
    sample = sample_load(now=now)
    return Preview(
        sample=sample,
        proposed=sample_score(sample, rules=rules, settings=settings),
        saved=sample_score(sample, rules=scoring_rules(), settings=scoring_settings()),
    )
