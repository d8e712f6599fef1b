"""The demo tenant's qualification: BANT and CHAMP on, a set of scoring rules a sales team
would start with, behaviour events, framework answers and funnel levels on part of the
demo leads, every lead scored (so the card, the list's badges and the reports show it)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from crm.models import Membership
from leads.models import OPEN_STATES, Lead, LeadEvent, LeadState, ScoringRule, ScoringSettings
from leads.qualification import leads_rescore

# (name, subject, operator, values, low, points, max_times, half-life days)
RULES = (
    ("Заявка с сайта", "source", "is", ["web_form", "widget"], None, 15, 1, None),
    ("Звонок", "source", "is", ["call"], None, 10, 1, None),
    ("Бюджет от 100 000", "bant:budget", "between", [], Decimal(100000), 25, 1, None),
    ("Решает сам", "bant:authority", "is", ["decides"], None, 15, 1, None),
    ("Начать в этом месяце", "bant:timing", "is", ["now"], None, 15, 1, None),
    ("Мы — первый выбор", "champ:prioritization", "is", ["high"], None, 10, 1, None),
    ("Смотрел цены", "event", "is", ["pricing_page"], None, 5, 3, 14),
    ("Спросил цену", "event", "is", ["price_asked"], None, 15, 1, 14),
    ("Запросил демо", "event", "is", ["demo_requested"], None, 25, 1, 30),
    ("Запросил счёт", "event", "is", ["invoice_requested"], None, 30, 1, 30),
    ("Написал ещё раз", "event", "is", ["wrote_again"], None, 5, 2, 7),
)
EVENTS = ("pricing_page", "pricing_page", "price_asked", "demo_requested", "invoice_requested")


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max((end - start).total_seconds(), 60)
    return start + timedelta(seconds=rng.uniform(0, span))


def seed_demo_qualification(*, admin: Membership, seed: int = 43) -> int:
    """Switch qualification on for the admin's tenant and qualify part of its leads;
    returns how many leads were scored."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    tenant = admin.tenant
    ScoringSettings.objects.update_or_create(tenant=tenant, defaults={"bant": True, "champ": True})
    for position, (name, subject, op, values, low, points, times, half) in enumerate(RULES):
        ScoringRule.objects.get_or_create(
            tenant=tenant,
            name=name,
            defaults={
                "position": position,
                "subject": subject,
                "operator": op,
                "values": values,
                "low": low,
                "points": points,
                "max_times": times,
                "half_life_days": half,
            },
        )
    now = timezone.now()
    events, changed = [], []
    for lead in Lead.objects.filter(deleted_at=None).order_by("pk"):
        lead.temperature_by_hand = False
        last = lead.closed_at or now
        if rng.random() < 0.45:
            lead.qualification = {
                "bant": {
                    "budget": str(Decimal(rng.choice([50, 120, 250, 600])) * 1000),
                    "authority": rng.choice(["decides", "influences", "no", ""]),
                    "need": rng.choice(["Ремонт офиса", "Оснащение склада", "Поставка мебели"]),
                    "timing": rng.choice(["now", "quarter", "year", "none"]),
                }
            }
        roll = rng.random()
        level = "sql" if roll < 0.1 else "sal" if roll < 0.25 else "mql" if roll < 0.5 else ""
        if lead.state == LeadState.CONVERTED and not level:
            level = "sql"
        if level:
            reached = _between(rng, lead.created_at, last)
            lead.level, lead.level_set_at, lead.level_set_by = level, reached, admin
            lead.mql_at = lead.created_at + (reached - lead.created_at) / 3
            lead.sal_at = reached if level in ("sal", "sql") else None
            lead.sql_at = reached if level == "sql" else None
        for _ in range(rng.choice([0, 0, 1, 2, 3]) if lead.state in OPEN_STATES else 0):
            name = rng.choice(EVENTS)
            at = _between(rng, max(lead.created_at, now - timedelta(days=30)), now)
            events.append(LeadEvent(tenant=tenant, lead=lead, name=name, occurred_at=at))
        changed.append(lead)
    fields = ["temperature_by_hand", "qualification", "level", "level_set_at", "level_set_by"]
    Lead.objects.bulk_update(changed, [*fields, "mql_at", "sal_at", "sql_at"], batch_size=500)
    LeadEvent.objects.bulk_create(events, batch_size=500)
    return leads_rescore(tenant=tenant, open_only=False, now=now)
