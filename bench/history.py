"""What happened to a generated lead after it arrived, and to its deal: the facts analytics
reads (first response, taking, closing, the stay in each status, the deal's outcome).

Pure Python over plain ids and epoch seconds (no Django), used by `bench.generate`:

- **First response**: in office hours (Moscow: 9–21 on weekdays, 10–18 at weekends) a
  log-normal delay of a few minutes, scaled by the manager's speed; outside them the next
  opening plus a quarter of an hour (a sixth answered at once by whoever is on duty).
  About 60% of the answered leads are answered within the 15-minute limit; those answered
  later were escalated when the limit passed.
- **Work**: a lead goes new → "in progress" (sometimes → "clarifying") → converted or junk;
  half of the junk is thrown out at the first look (spam, wrong contacts: never taken), the
  rest after work (its junk status is its loss reason). A close that would fall after "now"
  leaves the lead in progress. Every status a lead passed through is one stay; the current
  one is open.
- **Deals**: a sales cycle of about three weeks (log-normal); a deal whose cycle ended before
  "now" is won or lost, the others are open at a stage matching their progress, a few stall
  (their expected close is past). Amounts are log-normal roubles.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

DAY = 86400.0
OFFICE_OFFSET = 3 * 3600  # Europe/Moscow (UTC+3, no daylight saving)
# Office hours (from, to) by weekday, Monday first.
OFFICE_HOURS = ((9, 21),) * 5 + ((10, 18),) * 2
ON_DUTY = 0.15  # share of leads outside office hours answered at once
RESPONSE_MEDIAN = 240.0  # seconds, in office hours
RESPONSE_SIGMA = 0.9
AFTER_OPENING_MEDIAN = 900.0  # seconds after the office opens
TAKE_LATER = 0.2  # taken a while after the first answer (the rest: taken when answered)
CLARIFY = {"in_progress": 0.3, "converted": 0.35, "junk": 0.2}  # → the second work status
STRAIGHT_CONVERSION = 0.15  # converted at the first contact, never "in progress"
JUNK_AT_FIRST_LOOK = 0.5
WORK_DAYS = {"converted": 2.0, "junk": 3.0}  # median days from taking to closing
# Junk statuses by position in the state (the four defaults, then data.EXTRA_JUNK_STATUSES):
# not our client, spam, wrong contacts, duplicate, expensive, competitor, no answer.
JUNK_AT_FIRST_LOOK_WEIGHTS = (12, 35, 22, 16, 0, 0, 15)
JUNK_AFTER_WORK_WEIGHTS = (22, 0, 4, 2, 27, 22, 23)
SPAM = 1  # position of the spam status among the junk ones

CYCLE_DAYS = 21.0  # median sales cycle
STALLED = 0.06  # deals that never close (forgotten in the pipeline)
WIN = 0.42
WIN_REPEAT = 0.62
HORIZON_DAYS = 120  # expected closes of open deals reach at most this far ahead


def ts(moment: float | None) -> str:
    """A COPY timestamp (or NULL)."""
    return "\\N" if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(" ")


def day_of(moment: float) -> str:
    """The office's calendar day of `moment` (a DateField)."""
    return datetime.fromtimestamp(moment + OFFICE_OFFSET, UTC).date().isoformat()


def next_opening(moment: float) -> float:
    """`moment` itself in office hours, else when the office next opens."""
    local = moment + OFFICE_OFFSET
    day = math.floor(local / DAY)
    for ahead in range(8):
        opens, closes = OFFICE_HOURS[(day + ahead + 3) % 7]  # 1970-01-01 was a Thursday
        start = (day + ahead) * DAY + opens * 3600
        if local < start:
            return start - OFFICE_OFFSET
        if local < (day + ahead) * DAY + closes * 3600:
            return moment
    raise AssertionError(moment)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(median), sigma)


def response_at(rng: random.Random, created: float, speed: float) -> float:
    """When a lead created at `created` is first answered by someone of `speed` (1 = usual)."""
    opening = next_opening(created)
    if opening == created or rng.random() < ON_DUTY:
        return created + max(20.0, _lognormal(rng, RESPONSE_MEDIAN, RESPONSE_SIGMA) * speed)
    return opening + _lognormal(rng, AFTER_OPENING_MEDIAN, 0.8) * speed


@dataclass
class Statuses:
    """A tenant's status ids by state, in position order (the first in-progress status is
    "in progress", the last "clarifying details")."""

    new: int
    in_progress: list[int]
    converted: int
    junk: list[int]


@dataclass
class Course:
    """A lead's history: its final state and status, the moments, its stays."""

    state: str
    status: int
    first_response: float | None = None
    taken: float | None = None
    closed: float | None = None
    escalated: float | None = None
    stays: list[tuple[int, float, float | None]] = field(default_factory=list)


def _weighted(rng: random.Random, ids: list[int], weights: tuple[float, ...]) -> int:
    usable = weights[: len(ids)]
    if not any(usable):
        return ids[0]
    cum = list(_accumulate(usable))
    return ids[bisect.bisect(cum, rng.random() * cum[-1])]


def _accumulate(weights: tuple[float, ...]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def lead_course(
    rng: random.Random,
    *,
    created: float,
    end: float,
    stage: str,
    converts: bool,
    speed: float,
    sla: float,
    statuses: Statuses,
    spam: bool = False,
) -> Course:
    """The history of a lead created at `created`, seen at `end` ("now").

    `stage` is new, in_progress or closed; a closed lead is converted when `converts`, else
    junk (`spam`: thrown out at the first look as spam). A lead whose first answer or close
    would come after `end` stays new or in progress.
    """
    new = Course("new", statuses.new, stays=[(statuses.new, created, None)])
    if end - created > sla:
        new.escalated = created + sla + rng.random() * 60
    if stage == "new":
        return new
    answered = response_at(rng, created, speed)
    if answered > end:
        return new
    escalated = created + sla + rng.random() * 60 if answered - created > sla else None
    if stage == "closed" and not converts and (spam or rng.random() < JUNK_AT_FIRST_LOOK):
        weights = tuple(w if i == SPAM else 0 for i, w in enumerate(JUNK_AT_FIRST_LOOK_WEIGHTS))
        status = _weighted(rng, statuses.junk, weights if spam else JUNK_AT_FIRST_LOOK_WEIGHTS)
        stays = [(statuses.new, created, answered), (status, answered, None)]
        return Course("junk", status, answered, None, answered, escalated, stays)
    if stage == "closed" and converts and rng.random() < STRAIGHT_CONVERSION:
        stays = [(statuses.new, created, answered), (statuses.converted, answered, None)]
        return Course(
            "converted", statuses.converted, answered, answered, answered, escalated, stays
        )
    taken = answered
    if rng.random() < TAKE_LATER:
        taken = min(end, answered + _lognormal(rng, 2400, 1.0))
    working, clarifying = statuses.in_progress[0], statuses.in_progress[-1]
    outcome = "in_progress" if stage == "in_progress" else ("converted" if converts else "junk")
    stays: list[tuple[int, float, float | None]] = [(statuses.new, created, taken)]
    moment = taken
    status = working
    if working != clarifying and rng.random() < CLARIFY[outcome]:
        clarified = taken + _lognormal(rng, DAY / 2, 1.0)
        if clarified < end:
            stays.append((working, taken, clarified))
            moment, status = clarified, clarifying
    closed = None
    if outcome != "in_progress":
        closed = moment + _lognormal(rng, WORK_DAYS[outcome] * DAY, 1.0)
        if closed > end:  # not closed yet
            outcome, closed = "in_progress", None
    if closed is None:
        stays.append((status, moment, None))
        return Course("in_progress", status, answered, taken, None, escalated, stays)
    final = (
        statuses.converted
        if outcome == "converted"
        else _weighted(rng, statuses.junk, JUNK_AFTER_WORK_WEIGHTS)
    )
    stays += [(status, moment, closed), (final, closed, None)]
    return Course(outcome, final, answered, taken, closed, escalated, stays)


@dataclass
class Pipeline:
    """A pipeline's stage ids: its open stages in order with their probability, won, lost."""

    id: int
    open: list[int]
    won: int
    lost: int


@dataclass
class DealCourse:
    """A deal's outcome, stage, close and expected close."""

    outcome: str
    stage: int
    closed: float | None
    expected_close: str | None
    loss_reason: str  # the loss reason's id as text, "" for none


def deal_course(
    rng: random.Random,
    *,
    created: float,
    end: float,
    pipeline: Pipeline,
    repeat: bool,
    reasons: tuple[list[str], list[float]],
) -> DealCourse:
    """How a deal opened at `created` stands at `end`: won or lost when its cycle ended
    before `end` (unless it stalled), else open at a stage matching its progress."""
    cycle = _lognormal(rng, CYCLE_DAYS * (0.7 if repeat else 1.0) * DAY, 0.8)
    planned = created + cycle * _lognormal(rng, 1.0, 0.3)
    stalled = rng.random() < STALLED
    if not stalled and created + cycle <= end:
        closed = created + cycle
        expected = day_of(planned) if rng.random() < 0.7 else None
        if rng.random() < (WIN_REPEAT if repeat else WIN):
            return DealCourse("won", pipeline.won, closed, expected, "")
        names, cum = reasons
        reason = names[bisect.bisect(cum, rng.random() * cum[-1])]
        return DealCourse("lost", pipeline.lost, closed, expected, reason)
    progress = rng.random() if stalled else (end - created) / cycle
    index = min(len(pipeline.open) - 1, int(progress * len(pipeline.open)))
    if stalled:
        planned = min(planned, end - rng.random() * 60 * DAY)
    planned = min(planned, end + HORIZON_DAYS * DAY * rng.random() ** 0.5)
    return DealCourse("open", pipeline.open[index], None, day_of(planned), "")
