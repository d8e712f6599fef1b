"""COPY rows of the generated leads, their stays in each status and their deals (no Django:
the generator's worker processes import this with the tenant's facts already read).

Leads arrive over two years, three times as many per day at the end as at the start, in
office hours; sources are skewed (web forms and calls first); states depend on age (most
recent leads are new or in progress, old ones closed: a few % new overall); conversion
depends on the source, the manager and whether the person came back; two thirds of new
leads are unassigned (the shared inbox), the rest belong to managers. Names come from
Russian name lists with a Zipf-like surname frequency and a long tail. What happened to each
lead and deal afterwards (responses, stays, outcomes): bench/history.py.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from itertools import accumulate

from bench import data, history

SPAN_DAYS = 730
COLUMNS = data.words(
    "id created_at updated_at title name company_name phone phone_e164 other_phones email "
    "email_key messenger messenger_id message source utm_source utm_medium utm_campaign "
    "utm_content utm_term channel_id amount currency temperature custom state is_repeat "
    "first_response_at taken_at escalated_at closed_at archived_at deleted_at created_by_id "
    "owner_id tenant_id status_id deal_id postpone_reason"
)
DEAL_COLUMNS = data.words(
    "id created_at updated_at title amount currency expected_close loss_reason_id outcome custom "
    "closed_at created_by_id owner_id source_lead_id tenant_id pipeline_id stage_id"
)
STAY_COLUMNS = data.words("created_at updated_at entered_at left_at lead_id status_id tenant_id")
NULL = "\\N"
# Hour-of-day weights (Moscow office hours, shifted to UTC by 3 h below).
HOURS = (1, 1, 1, 1, 1, 2, 4, 7, 10, 14, 15, 14, 11, 13, 14, 13, 11, 8, 6, 5, 4, 3, 2, 1)
# (max age in days, {stage: weight}, share of the closed ones converted): the older a lead,
# the likelier it is closed (a close that would come after "now" leaves it in progress).
STATE_BY_AGE = (
    (2, {"new": 55, "in_progress": 35, "closed": 10}, 0.3),
    (14, {"new": 20, "in_progress": 40, "closed": 40}, 0.3),
    (60, {"new": 5, "in_progress": 15, "closed": 80}, 0.275),
    (math.inf, {"new": 2, "in_progress": 2.5, "closed": 95.5}, 0.25),
)
# How likely a closed lead of a source converts, relative to the average (analytics by source).
SOURCE_CONVERSION = {
    "call": 1.35,
    "manual": 1.5,
    "web_form": 1.0,
    "email": 0.9,
    "telegram": 0.85,
    "whatsapp": 1.1,
    "vk": 0.6,
    "import": 0.5,
    "api": 1.2,
    "other": 0.7,
}
REPEAT_CONVERSION = 1.5
CONVERSION_NORM = 1.22  # the mean of the factors above over the leads: keeps ≈ 23% converted
UNASSIGNED_NEW = 0.65
UNASSIGNED_JUNK = 0.03  # spam closed by the spam filter, nobody's
SHARED_SPEED = 1.3  # the shared inbox is answered a bit slower than a manager's own leads
REPEAT_OTHER = 0.09  # repeat inquiries known by e-mail, messenger or contact (besides phones)
DEAL_OF_CONVERTED = 0.8  # converted leads that opened a deal (the rest: a contact only)
DIRECT_DEALS = 0.025  # deals opened by hand, without a lead (per lead generated)
REPEAT_PIPELINE_DIRECT = 0.65  # direct deals are mostly repeat sales to known customers
PHONE_SHARE = {"call": 1.0, "whatsapp": 1.0, "web_form": 0.9, "manual": 0.8, "import": 0.8}
EMAIL_SHARE = {"email": 1.0, "web_form": 0.55, "import": 0.5, "api": 0.4}
AMOUNT_SHARE = {"new": 0.1, "in_progress": 0.5, "converted": 0.85, "junk": 0.05}
REPEAT_PHONE = 0.08  # leads from a person who wrote before (duplicates by phone)


def person(rng: random.Random) -> tuple[str, str, bool]:
    """(first name, surname, female) drawn from the name lists."""
    female = rng.random() < 0.5
    first = rng.choice(data.FEMALE_FIRST if female else data.MALE_FIRST)
    if rng.random() < data.COMMON_SHARE:
        surname = rng.choices(data.COMMON_SURNAMES, cum_weights=_COMMON_CUM)[0]
    else:
        surname = rng.choice(data.RARE_SURNAMES)
    return first, data.feminine(surname) if female else surname, female


_COMMON_CUM = tuple(accumulate(data.COMMON_WEIGHTS))


def _cum(weights: tuple[float, ...] | list[float]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


@dataclass(frozen=True)
class Facts:
    """What the rows of a tenant refer to, read from its database once."""

    tenant_id: int
    slug: str
    currency: str
    sla_minutes: int
    end: float  # "now": the tenant's creation, the end of its history
    statuses: history.Statuses
    sales: history.Pipeline
    repeat_sales: history.Pipeline
    channels: dict[str, int]  # by name
    managers: list[int]  # membership ids, by e-mail
    loss_reasons: dict[str, int]  # the deals' loss reason ids, by name (data.LOSS_REASONS)


class LeadRows:
    """COPY text for the leads of one tenant, their stays and deals; row `i` of `total` is
    the same on every run. Lead `i` gets the id `lead_offset + i` and its deal (a conversion's
    or one opened by hand in the same moment) `deal_offset + i`: `load_leads` reserves them."""

    def __init__(self, facts: Facts, total: int) -> None:
        self.tenant_id = facts.tenant_id
        self.total = total
        self.currency = facts.currency
        self.sla = facts.sla_minutes * 60.0
        self.end = facts.end
        self.start = self.end - SPAN_DAYS * 86400
        self.lead_offset = self.deal_offset = 0
        self.statuses = facts.statuses
        self.sales, self.repeat_sales = facts.sales, facts.repeat_sales
        self.reasons = (
            [str(facts.loss_reasons[r]) for r, _w in data.LOSS_REASONS],
            _cum([w for _r, w in data.LOSS_REASONS]),
        )
        self.channels: dict[str, tuple[list[str], tuple[float, ...]]] = {}
        for kind, name, share in data.CHANNELS:
            names, cum = self.channels.setdefault(kind, ([], ()))
            names.append(str(facts.channels[name]))
            self.channels[kind] = (names, (*cum, (cum[-1] if cum else 0) + share))
        managers = facts.managers
        workload = random.Random(f"workload:{facts.slug}")
        self.managers = [str(pk) for pk in managers]
        self.manager_cum = _cum([workload.lognormvariate(0, 0.3) for _ in managers])
        # How fast each manager answers and how well they sell (speed ×, conversion ×).
        self.speed = [workload.lognormvariate(0, 0.35) for _ in managers]
        self.skill = [workload.lognormvariate(0, 0.2) for _ in managers]
        self.sources = [s for s, _w in data.SOURCES]
        self.source_cum = _cum([w for _s, w in data.SOURCES])
        self.phone_formats = [f for f, _w in data.PHONE_FORMATS]
        self.phone_cum = _cum([w for _f, w in data.PHONE_FORMATS])
        self.domains = [d for d, _w in data.MAIL_DOMAINS]
        self.domain_cum = _cum([w for _d, w in data.MAIL_DOMAINS])
        self.utm = [u for u, _w in data.UTM_SOURCES]
        self.utm_cum = _cum([w for _u, w in data.UTM_SOURCES])
        self.campaigns = [c for c, _w in data.UTM_CAMPAIGNS]
        self.campaign_cum = _cum([w for _c, w in data.UTM_CAMPAIGNS])
        self.hour_cum = _cum(HOURS)
        self.state_by_age = [
            (age, list(w), _cum(list(w.values())), converted) for age, w, converted in STATE_BY_AGE
        ]

    def _created(self, rng: random.Random, index: int) -> float:
        # Density grows linearly from 1 to 3 over the span: invert its CDF (τ + τ²)/2.
        x = (index + rng.random()) / self.total
        tau = (math.sqrt(1 + 8 * x) - 1) / 2
        day = int(tau * SPAN_DAYS)
        hour = bisect.bisect(self.hour_cum, rng.random() * self.hour_cum[-1]) - 3
        moment = self.start + day * 86400 + hour * 3600 + rng.random() * 3600
        return min(moment, self.end - rng.random() * 600)

    def _stage(self, rng: random.Random, age_days: float) -> tuple[str, float]:
        """new, in_progress or closed, and the share of closed leads of that age converted."""
        for max_age, stages, cum, converted in self.state_by_age:
            if age_days < max_age:
                return rng.choices(stages, cum_weights=cum)[0], converted
        raise AssertionError(age_days)

    def _phone(self, rng: random.Random, pool: list[str]) -> tuple[str, str, bool]:
        """(as typed, E.164, seen before), sometimes a number seen before."""
        reused = bool(pool) and rng.random() < REPEAT_PHONE
        if reused:
            national = rng.choice(pool)
        else:
            national = f"9{rng.randrange(10**9):09d}"
            pool.append(national)
        pattern = rng.choices(self.phone_formats, cum_weights=self.phone_cum)[0]
        typed = pattern.format(national[:3], national[3:6], national[6:8], national[8:])
        return typed, f"+7{national}", reused

    def _company(self, rng: random.Random, surname: str, first: str) -> str:
        if rng.random() < 0.2:
            return f"ИП {surname} {first[0]}."
        head, tail = rng.choice(data.COMPANY_HEADS), rng.choice(data.COMPANY_TAILS)
        suffix = rng.choice(data.COMPANY_SUFFIXES)
        return f"{rng.choice(data.COMPANY_FORMS)} «{head}{tail}{suffix}»"

    def _name(self, rng: random.Random, first: str, surname: str, female: bool) -> str:
        shape = rng.random()
        if shape < 0.5:
            return f"{first} {surname}"
        if shape < 0.75:
            return first
        if shape < 0.85:
            return f"{surname} {first}"
        if shape < 0.95:
            male = data.PATRONYMIC_MALE.get(rng.choice(data.MALE_FIRST), "Иванович")
            middle = data.patronymic_female(male) if female else male
            return f"{surname} {first} {middle}"
        return ""

    def _deal(
        self,
        rng: random.Random,
        *,
        index: int,
        created: float,
        owner: str,
        lead: str,
        repeat: bool,
        title: str,
        amount: str,
    ) -> str:
        """One deal's COPY row, opened at `created` (from lead id `lead` or by hand)."""
        pipeline = self.repeat_sales if repeat else self.sales
        course = history.deal_course(
            rng,
            created=created,
            end=self.end,
            pipeline=pipeline,
            repeat=repeat,
            reasons=self.reasons,
        )
        if amount == "0":
            amount = str(max(1000, round(rng.lognormvariate(11.0, 1.0), -2)))
        updated = course.closed or created
        fields = (
            str(self.deal_offset + index),
            history.ts(created),
            history.ts(updated),
            title,
            amount,
            self.currency,
            course.expected_close or NULL,
            course.loss_reason or NULL,
            course.outcome,
            "{}",
            history.ts(course.closed),
            owner,
            owner,
            lead,
            str(self.tenant_id),
            str(pipeline.id),
            str(course.stage),
        )
        return "\t".join(fields) + "\n"

    def row(self, rng: random.Random, index: int, pool: list[str]) -> tuple[str, str, str]:
        """Lead `index`: its COPY row, its deal's (or ""), its stays'."""
        created = self._created(rng, index)
        age_days = (self.end - created) / 86400
        stage, converted_share = self._stage(rng, age_days)
        source = rng.choices(self.sources, cum_weights=self.source_cum)[0]
        first, surname, female = person(rng)
        name = self._name(rng, first, surname, female)
        company = self._company(rng, surname, first) if rng.random() < 0.3 else ""
        phone = phone_e164 = email = email_key = messenger = messenger_id = ""
        repeat = False
        if rng.random() < PHONE_SHARE.get(source, 0.4):
            phone, phone_e164, repeat = self._phone(rng, pool)
        if rng.random() < EMAIL_SHARE.get(source, 0.15):
            domain = rng.choices(self.domains, cum_weights=self.domain_cum)[0]
            local = f"{data.latin(first)}.{data.latin(surname)}{rng.randrange(100)}"
            email = f"{local.capitalize() if rng.random() < 0.2 else local}@{domain}"
            email_key = email.lower()
        if source in ("telegram", "whatsapp", "vk") or rng.random() < 0.05:
            messenger = source if source in ("telegram", "whatsapp", "vk") else "telegram"
            if messenger == "whatsapp":
                messenger_id = phone_e164 or f"+79{rng.randrange(10**9):09d}"
            elif messenger == "vk":
                messenger_id = f"id{rng.randrange(10**8)}"
            else:
                messenger_id = f"@{data.latin(first)}_{data.latin(surname)}{rng.randrange(1000)}"
        if not (phone or email or messenger_id):
            phone, phone_e164, repeat = self._phone(rng, pool)
        repeat = repeat or rng.random() < REPEAT_OTHER
        topic = rng.choice(data.TOPICS)
        who = name or company or phone or email or messenger_id
        title = rng.choice(data.TITLE_PREFIX[source]).format(topic=topic, who=who)
        if source in ("web_form", "call", "email") and name and rng.random() < 0.3:
            title = f"{title} — {name}"
        message = ""
        if source in ("web_form", "email", "api") and rng.random() < 0.6:
            message = rng.choice(data.MESSAGES).format(topic=topic)
        utm = ("", "", "", "", "")
        if source == "web_form" and rng.random() < 0.75:
            utm_source = rng.choices(self.utm, cum_weights=self.utm_cum)[0]
            utm = (
                utm_source,
                data.UTM_MEDIUM[utm_source],
                rng.choices(self.campaigns, cum_weights=self.campaign_cum)[0],
                rng.choice(data.UTM_CONTENT),
                rng.choice(data.UTM_TERMS),
            )
        channel = NULL
        if source in self.channels:
            ids, cum = self.channels[source]
            channel = rng.choices(ids, cum_weights=cum)[0]
        temperature = rng.choices(("", "warm", "hot", "cold"), cum_weights=(45, 70, 85, 100))[0]
        custom = f'{{"city": "{rng.choice(data.CITIES)}"}}' if rng.random() < 0.08 else "{}"
        manager = bisect.bisect(self.manager_cum, rng.random() * self.manager_cum[-1])
        owner = self.managers[manager]
        speed, skill = self.speed[manager], self.skill[manager]
        converts = spam = False
        if stage == "closed":
            share = converted_share / CONVERSION_NORM * SOURCE_CONVERSION[source] * skill
            converts = rng.random() < min(0.9, share * (REPEAT_CONVERSION if repeat else 1))
            spam = not converts and rng.random() < UNASSIGNED_JUNK
        if spam or (stage == "new" and rng.random() < UNASSIGNED_NEW):
            owner, speed = NULL, SHARED_SPEED
        course = history.lead_course(
            rng,
            created=created,
            end=self.end,
            stage=stage,
            converts=converts,
            speed=speed,
            sla=self.sla,
            statuses=self.statuses,
            spam=spam,
        )
        state = course.state
        amount = "0"
        if rng.random() < AMOUNT_SHARE[state]:
            amount = str(min(99_999_900, round(rng.lognormvariate(10.6, 1.0), -2)))
        created_by = owner if source == "manual" else NULL
        lead_id = str(self.lead_offset + index)
        deal, deal_id = "", NULL
        if state == "converted" and rng.random() < DEAL_OF_CONVERTED:
            deal_id = str(self.deal_offset + index)
            deal = self._deal(
                rng,
                index=index,
                created=course.closed,
                owner=owner,
                lead=lead_id,
                repeat=repeat,
                title=f"{topic.capitalize()} — {company or name or who}",
                amount=amount,
            )
        elif rng.random() < DIRECT_DEALS:
            customer = company or self._company(rng, surname, first)
            deal = self._deal(
                rng,
                index=index,
                created=min(self.end, created + rng.random() * 86400),
                owner=self.managers[manager],
                lead=NULL,
                repeat=rng.random() < REPEAT_PIPELINE_DIRECT,
                title=f"{topic.capitalize()} — {customer}",
                amount="0",
            )
        archived = deleted = None
        if course.closed is not None and age_days > 365 and rng.random() < 0.1:
            archived = course.closed + 180 * 86400
        if rng.random() < 0.003:
            deleted = max(created, self.end - rng.random() * 30 * 86400)
        moments = (course.first_response, course.taken, course.closed, archived, deleted)
        updated = max([created, *(m for m in moments if m is not None)])
        fields = (
            lead_id,
            history.ts(created),
            history.ts(updated),
            title,
            name,
            company,
            phone,
            phone_e164,
            "[]",
            email,
            email_key,
            messenger,
            messenger_id,
            message,
            source,
            *utm,
            channel,
            amount,
            self.currency,
            temperature,
            custom,
            state,
            "t" if repeat else "f",
            history.ts(course.first_response),
            history.ts(course.taken),
            history.ts(course.escalated),
            history.ts(course.closed),
            history.ts(archived),
            history.ts(deleted),
            created_by,
            owner,
            str(self.tenant_id),
            str(course.status),
            deal_id,
            "",  # postpone_reason: none of them is postponed
        )
        tenant = str(self.tenant_id)
        stays = "".join(
            f"{history.ts(entered)}\t{history.ts(left or entered)}\t{history.ts(entered)}\t"
            f"{history.ts(left)}\t{lead_id}\t{status}\t{tenant}\n"
            for status, entered, left in course.stays
        )
        return "\t".join(fields) + "\n", deal, stays

    def chunk(self, start: int, count: int) -> tuple[str, str, str]:
        """Rows start…start+count-1 as COPY text of leads, deals and stays (deterministic:
        seeded by tenant and start)."""
        rng = random.Random(f"leads:{self.tenant_id}:{start}")
        pool: list[str] = []
        rows = [self.row(rng, index, pool) for index in range(start, start + count)]
        return tuple("".join(part) for part in zip(*rows, strict=True))  # type: ignore[return-value]
