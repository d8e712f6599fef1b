"""Demo leads for `make run`: a few hundred realistic Russian inquiries across sources,
statuses and managers, created through the real services (timelines included)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from crm.models import Membership
from leads import services
from leads.models import Lead, LeadSource, LeadState, LeadStatus, Temperature

FIRST = [
    "Александр",
    "Мария",
    "Дмитрий",
    "Елена",
    "Сергей",
    "Ольга",
    "Андрей",
    "Наталья",
    "Игорь",
    "Татьяна",
    "Павел",
    "Анна",
    "Михаил",
    "Ирина",
    "Николай",
    "Светлана",
    "Алексей",
    "Юлия",
    "Виктор",
    "Екатерина",
]
LAST = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
]
COMPANIES = [
    "ООО «Ромашка»",
    "АО «СтройИнвест»",
    "ИП Сидоров",
    "ООО «ТехноЛайн»",
    "ООО «Северный ветер»",
    "ЗАО «МегаТорг»",
    "ООО «Альфа-Логистик»",
    "ООО «Пекарня №1»",
    "АО «УралМаш-Сервис»",
    "",
]
TOPICS = [
    "Прошу перезвонить, интересует стоимость",
    "Нужен расчёт на 50 рабочих мест",
    "Хочу демо системы",
    "Сколько стоит годовая лицензия?",
    "Интересует внедрение под ключ",
    "Вопрос по интеграции с 1С",
    "Есть ли скидка для НКО?",
    "Нужна консультация по тарифам",
    "Хотим перейти с Битрикс24",
    "Подскажите сроки поставки",
    "Оставьте, пожалуйста, КП на почту",
    "Нужна интеграция с телефонией",
]
PRODUCTS = [
    ("Лицензия «Команда»", Decimal("24000")),
    ("Внедрение", Decimal("60000")),
    ("Обучение сотрудников", Decimal("15000")),
    ("Интеграция с 1С", Decimal("35000")),
]
# Share of leads per source, roughly like an inbound-heavy business.
SOURCES = [
    (LeadSource.WEB_FORM, 35),
    (LeadSource.CALL, 20),
    (LeadSource.TELEGRAM, 12),
    (LeadSource.EMAIL, 12),
    (LeadSource.WHATSAPP, 8),
    (LeadSource.VK, 5),
    (LeadSource.MANUAL, 5),
    (LeadSource.API, 3),
]


def _pick_source(rng: random.Random) -> str:
    return rng.choices([s for s, _ in SOURCES], weights=[w for _, w in SOURCES])[0]


def seed_demo_leads(*, admin: Membership, count: int = 300, seed: int = 42) -> int:
    """Create `count` demo leads in the admin's tenant; returns how many were made."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    managers = list(Membership.objects.filter(role__kind="manager", is_active=True))
    statuses = {state: list(LeadStatus.objects.filter(state=state)) for state in LeadState.values}
    now = timezone.now()
    ages: dict[int, timedelta] = {}
    for _ in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if first.endswith(("а", "я")):
            last += "а"
        source = _pick_source(rng)
        data = {
            "name": f"{first} {last}",
            "company_name": rng.choice(COMPANIES),
            "message": rng.choice(TOPICS),
            "source": source,
            "temperature": rng.choice(["", Temperature.HOT, Temperature.WARM, Temperature.COLD]),
            "utm_source": "yandex" if source == LeadSource.WEB_FORM and rng.random() < 0.6 else "",
            "utm_medium": "cpc" if source == LeadSource.WEB_FORM else "",
        }
        kind = rng.random()
        if source == LeadSource.TELEGRAM:
            data.update(messenger="telegram", messenger_id=f"@client_{rng.randint(1000, 99999)}")
        if kind < 0.8 or source == LeadSource.CALL:
            data["phone"] = rng.choice(
                ["+7 9{:02d} {:03d}-{:02d}-{:02d}", "8 (9{:02d}) {:03d}-{:02d}-{:02d}"]
            ).format(
                rng.randint(0, 99), rng.randint(0, 999), rng.randint(0, 99), rng.randint(0, 99)
            )
        if kind > 0.5 or ("phone" not in data and "messenger_id" not in data):
            data["email"] = f"client{rng.randint(1000, 99999)}@example.ru"
        products = []
        if rng.random() < 0.4:
            name, price = rng.choice(PRODUCTS)
            products = [
                services.ProductLine(name=name, quantity=Decimal(rng.randint(1, 5)), price=price)
            ]
        # Converted leads come with conversion (contacts and deals, a later issue).
        state = rng.choices(
            [LeadState.NEW, LeadState.IN_PROGRESS, LeadState.JUNK], weights=[35, 40, 25]
        )[0]
        owner = None if state == LeadState.NEW and rng.random() < 0.7 else rng.choice(managers)
        lead = services.lead_create(actor=admin, data=data, owner=owner, products=products)
        if state != LeadState.NEW:
            services.lead_move(actor=admin, lead=lead, status=rng.choice(statuses[state]))
        ages[lead.pk] = timedelta(minutes=rng.randint(5, 60 * 24 * 60))
    for pk, age in ages.items():
        Lead.objects.filter(pk=pk).update(created_at=now - age)
    return len(ages)
