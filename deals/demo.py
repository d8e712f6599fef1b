"""Demo deals for `make run`: a few dozen Russian sales across both pipelines' stages, for
the demo companies and contacts, some won, some lost with a reason, created through the
real services."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from contacts.models import Company, Contact
from crm.lineitems import ProductLine
from crm.models import Membership
from deals import services
from deals.models import Deal, LossReason, Outcome, Pipeline

PRODUCTS = [
    ("Лицензия CRM на год, 10 мест", Decimal("120000")),
    ("Внедрение и настройка", Decimal("85000")),
    ("Обучение сотрудников (день)", Decimal("25000")),
    ("Техническая поддержка, месяц", Decimal("15000")),
    ("Интеграция с 1С", Decimal("60000")),
    ("Поставка серверного оборудования", Decimal("340000")),
    ("Аудит бизнес-процессов", Decimal("45000")),
    ("Доработка отчётов", Decimal("30000")),
]
TITLES = [
    "Внедрение CRM",
    "Продление лицензий",
    "Интеграция с 1С",
    "Обучение отдела продаж",
    "Поставка оборудования",
    "Аудит процессов",
    "Расширение на филиал",
    "Техподдержка на год",
]


def seed_demo_deals(*, admin: Membership, seed: int = 11) -> int:
    """Create the demo deals in the admin's tenant (after the demo contacts); returns how
    many were created."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    owners = list(Membership.objects.filter(role__kind__in=("manager", "admin"), is_system=False))
    contacts = list(Contact.objects.filter(merged_into=None, deleted_at=None).order_by("pk"))
    companies = list(Company.objects.filter(merged_into=None, deleted_at=None).order_by("pk"))
    sales = Pipeline.objects.get(is_default=True)
    repeat = Pipeline.objects.filter(is_repeat=True).first() or sales
    reasons = list(LossReason.objects.filter(is_active=True))
    now = timezone.now()
    created = 0
    for index in range(36):
        pipeline = repeat if index % 4 == 3 else sales
        contact = contacts[index % len(contacts)] if contacts else None
        company = (contact.company if contact and contact.company_id else None) or (
            companies[index % len(companies)] if companies and index % 3 == 0 else None
        )
        lines = [
            ProductLine(name, Decimal(rng.choice((1, 1, 2, 3))), price)
            for name, price in rng.sample(PRODUCTS, rng.randint(1, 3))
        ]
        customer = company.name if company else str(contact)
        stages = list(pipeline.stages.all())
        open_stages = [s for s in stages if s.kind == Outcome.OPEN]
        deal = services.deal_create(
            actor=admin,
            data={
                "title": f"{rng.choice(TITLES)} — {customer}",
                "contact": contact,
                "company": company,
                "expected_close": timezone.localdate(now + timedelta(days=rng.randint(-10, 60))),
            },
            owner=rng.choice(owners),
            pipeline=pipeline,
            stage=rng.choice(open_stages),
            products=lines,
        )
        roll = rng.random()
        if roll < 0.2:
            won = next(s for s in stages if s.kind == Outcome.WON)
            amount = deal.amount or Decimal(rng.randrange(10_000, 300_000, 1_000))
            services.deal_move(actor=admin, deal=deal, stage=won, amount=amount)
        elif roll < 0.32:
            lost = next(s for s in stages if s.kind == Outcome.LOST)
            services.deal_move(actor=admin, deal=deal, stage=lost, reason=rng.choice(reasons))
        created_at = now - timedelta(days=rng.randint(0, 45), hours=rng.randint(0, 23))
        # Closed some days after it was opened (the services stamped "now").
        closed_at = None
        if deal.outcome != Outcome.OPEN:
            closed_at = min(now, created_at + timedelta(days=rng.randint(1, 20)))
        Deal.objects.filter(pk=deal.pk).update(created_at=created_at, closed_at=closed_at)
        created += 1
    return created
