"""Budgets as ratios to a floor measured in the same run, interleaved (no Django needed).

A measurement and its floor alternate in short windows (subject, floor, subject, floor…);
each pair gives one ratio, subject ÷ floor. A budget is judged on the median ratio of at
least `MIN_PAIRS` pairs; the smallest and largest ratios show how noisy the run was. A slower
or busier machine slows both sides of a pair alike, so the ratio holds where absolute figures
drift (bench/README.md, "Budgets as ratios").
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

MIN_PAIRS = 5


@dataclass(frozen=True)
class RatioBudget:
    """A budget on subject ÷ floor: at least `bound` (throughput) or at most (latency)."""

    name: str  # as stated in the README, e.g. "inbox req/s ≥ 50% of the floor's"
    subject: str  # the column of the subject's figure, e.g. "inbox req/s"
    floor: str  # the column of the floor's figure, e.g. "floor req/s"
    bound: float
    at_least: bool
    percent: bool = False  # show ratios as 52% (True) or 1.4× (False)

    def show(self, ratio: float) -> str:
        return f"{ratio:.0%}" if self.percent else f"{ratio:.2f}×"


def ratio(subject: float, floor: float) -> float:
    """subject ÷ floor; a floor of zero (or less) measured nothing and is an error."""
    if floor <= 0:
        raise ValueError(f"floor {floor!r}: nothing to compare with")
    return subject / floor


def judge(budget: RatioBudget, pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """Each pair's ratio, their median and range, and whether the median meets the budget.

    `pairs` are (subject, floor) figures of adjacent windows. The result is a budget entry
    of the results (`budget`, `value`, `ok`) with the pairs and the summary beside it.
    """
    if len(pairs) < MIN_PAIRS:
        raise ValueError(f"{budget.name}: {len(pairs)} pairs, at least {MIN_PAIRS} needed")
    ratios = [ratio(subject, floor) for subject, floor in pairs]
    median = statistics.median(ratios)
    ok = median >= budget.bound if budget.at_least else median <= budget.bound
    low, high = min(ratios), max(ratios)
    return {
        "budget": budget.name,
        "value": f"median {budget.show(median)} ({budget.show(low)}–{budget.show(high)}, "
        f"{len(pairs)} pairs)",
        "ok": ok,
        "ratio": {
            "median": round(median, 4),
            "min": round(low, 4),
            "max": round(high, 4),
            "bound": budget.bound,
            "at_least": budget.at_least,
        },
        "pairs": [
            {"subject": subject, "floor": floor, "ratio": round(r, 4)}
            for (subject, floor), r in zip(pairs, ratios, strict=True)
        ],
    }


def _figure(value: float) -> str:
    return f"{value:g}"


def budget_table(budgets: list[dict[str, Any]]) -> list[str]:
    """The run's budgets as a Markdown table: what, the value measured, met or missed."""
    return [
        "| budget | measured | |",
        "|---|---|---|",
        *(
            f"| {b['budget']} | {b['value']} | {'met' if b['ok'] else '**missed**'} |"
            for b in budgets
        ),
    ]


def table(budget: RatioBudget, judged: dict[str, Any]) -> list[str]:
    """The budget's pairs as a Markdown table: one row a pair, then the median, the range,
    the budget and met or missed."""
    lines = [
        f"| pair | {budget.subject} | {budget.floor} | ratio |",
        "|---|---|---|---|",
    ]
    for number, pair in enumerate(judged["pairs"], 1):
        lines.append(
            f"| {number} | {_figure(pair['subject'])} | {_figure(pair['floor'])} "
            f"| {budget.show(pair['ratio'])} |"
        )
    summary = judged["ratio"]
    sign = "≥" if budget.at_least else "≤"
    verdict = "met" if judged["ok"] else "**missed**"
    lines.append(
        f"| **median** | {_figure(median_of(judged, 'subject'))} "
        f"| {_figure(median_of(judged, 'floor'))} | **{budget.show(summary['median'])}** "
        f"(range {budget.show(summary['min'])}–{budget.show(summary['max'])}); "
        f"budget {sign} {budget.show(budget.bound)}: {verdict} |"
    )
    return lines


def median_of(judged: dict[str, Any], side: str) -> float:
    """The median of one side's absolute figures over the pairs ("subject" or "floor")."""
    return round(statistics.median(pair[side] for pair in judged["pairs"]), 2)
