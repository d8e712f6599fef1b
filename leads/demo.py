"""Demo leads for `make run`: a few hundred realistic Russian inquiries over the last three
months, across sources, statuses and managers, with a history dashboards can read.

Each lead's path (new → in progress → clarifying → converted or junk) is planned first, in
the workspace's working hours, then walked through the real services (timelines, repeat
inquiries, conversion into contacts and deals, deals won and lost); last, the planned times
are written back in bulk — creation, first response (minutes to hours; some past the
response time limit), taken, closed, and the stays in each status — since the services
stamp everything "now". Seeded, so every run makes the same workspace.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from crm import periods
from crm.models import Activity, Membership
from deals.models import Deal, LossReason, Outcome, Stage
from deals.services import deal_activity_add, deal_move
from intake.services import REPEAT, inquiry_register
from leads import services
from leads.conversion import Target, lead_convert, lead_matches
from leads.models import Lead, LeadSource, LeadState, LeadStatus, LeadWord, StatusStay, Temperature

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


DAYS = 90
# Junk statuses by how often leads end there (by position: not our client, spam, wrong
# contacts, duplicate in the default set).
JUNK_WEIGHTS = [40, 25, 20, 15]


@dataclass
class Plan:
    """A demo lead's story: where it goes and when (steps after creation, in order)."""

    created: datetime
    data: dict[str, object]
    owner: Membership | None
    steps: list[tuple[LeadStatus, datetime]] = field(default_factory=list)
    products: list[services.ProductLine] = field(default_factory=list)
    repeat_of: Lead | None = None

    @property
    def last(self) -> datetime:
        return self.steps[-1][1] if self.steps else self.created


def _created_times(rng: random.Random, count: int, now: datetime) -> list[datetime]:
    """Creation times over the last DAYS local days, more of them lately, fewer at
    weekends and at night, in the workspace's zone."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate(now)
    hours = list(range(7, 23))
    weights = [1, 3, 6, 8, 8, 7, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1]
    times: list[datetime] = []
    while len(times) < count:
        day = today - timedelta(days=min(int(rng.expovariate(1 / 30)), DAYS - 1))
        if day.weekday() >= 5 and rng.random() < 0.6:
            continue
        moment = datetime.combine(
            day,
            time(rng.choices(hours, weights)[0], rng.randint(0, 59), rng.randint(0, 59)),
            tzinfo=zone,
        )
        if moment < now - timedelta(minutes=3):
            times.append(moment)
    return sorted(times)


def _response_delay(rng: random.Random) -> timedelta:
    """How long a person waited for the first answer: mostly within the 15 minutes of the
    response time limit, some past it, a few for hours."""
    roll = rng.random()
    if roll < 0.7:
        return timedelta(minutes=rng.randint(1, 14), seconds=rng.randint(0, 59))
    if roll < 0.9:
        return timedelta(minutes=rng.randint(15, 90))
    return timedelta(minutes=rng.randint(90, 8 * 60))


def _steps(
    rng: random.Random, created: datetime, now: datetime, statuses: dict[str, list[LeadStatus]]
) -> list[tuple[LeadStatus, datetime]]:
    """The statuses a lead moves through after "new", each with its time (before now)."""
    age = now - created
    fates = ["new", "work", "junk_early", "junk_late", "converted"]
    if age < timedelta(days=1):
        weights = [55, 45, 0, 0, 0]
    elif age < timedelta(days=7):
        weights = [30, 35, 10, 5, 20]
    else:
        weights = [6, 22, 17, 20, 35]
    fate = rng.choices(fates, weights)[0]
    at = created + _response_delay(rng)
    in_progress = statuses[LeadState.IN_PROGRESS]
    junk = rng.choices(statuses[LeadState.JUNK], JUNK_WEIGHTS[: len(statuses[LeadState.JUNK])])[0]
    if fate == "new":
        return []
    if fate == "junk_early":
        return [(junk, at)]
    steps = [(in_progress[0], at)]
    if len(in_progress) > 1 and rng.random() < 0.5:
        at += timedelta(hours=rng.randint(2, 72))
        steps.append((rng.choice(in_progress[1:]), at))
    if fate == "junk_late":
        steps.append((junk, at + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 8))))
    elif fate == "converted":
        converted = statuses[LeadState.CONVERTED][0]
        steps.append((converted, at + timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 8))))
    return [(status, moment) for status, moment in steps if moment < now]


def _lead_data(rng: random.Random) -> dict[str, object]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if first.endswith(("а", "я")):
        last += "а"
    source = _pick_source(rng)
    data: dict[str, object] = {
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
        ).format(rng.randint(0, 99), rng.randint(0, 999), rng.randint(0, 99), rng.randint(0, 99))
    if kind > 0.5 or ("phone" not in data and "messenger_id" not in data):
        data["email"] = f"client{rng.randint(1000, 99999)}@example.ru"
    return data


def _plans(
    rng: random.Random,
    count: int,
    now: datetime,
    managers: list[Membership],
    statuses: dict[str, list[LeadStatus]],
) -> list[Plan]:
    plans = []
    for created in _created_times(rng, count, now):
        plan = Plan(created=created, data=_lead_data(rng), owner=None)
        plan.steps = _steps(rng, created, now, statuses)
        if plan.steps or rng.random() > 0.7:
            plan.owner = rng.choice(managers)
        if rng.random() < 0.4:
            name, price = rng.choice(PRODUCTS)
            quantity = Decimal(rng.randint(1, 5))
            plan.products = [services.ProductLine(name=name, quantity=quantity, price=price)]
        plans.append(plan)
    return plans


def _walk(admin: Membership, plan: Plan) -> Lead | None:
    """Make the planned lead through the services and move it along its steps (None: the
    repeat inquiry joined an open lead instead)."""
    if plan.repeat_of is not None:
        result = inquiry_register(
            actor=admin,
            data={**plan.data, "phone": plan.repeat_of.phone, "email": plan.repeat_of.email},
            source=str(plan.data["source"]),
            owner=plan.owner,
            products=plan.products,
        )
        if result.outcome != REPEAT or result.lead is None:
            return None
        lead = result.lead
    else:
        lead = services.lead_create(
            actor=admin, data=plan.data, owner=plan.owner, products=plan.products
        )
    for status, _at in plan.steps:
        if status.state == LeadState.CONVERTED:
            # A contact and a deal; no company, so the demo companies (contacts/demo.py)
            # stay the only ones of their names.
            contact, _company = lead_matches(actor=admin, lead=lead)
            lead_convert(actor=admin, lead=lead, contact=Target(record=contact), deal={})
        else:
            services.lead_move(actor=admin, lead=lead, status=status)
    return lead


def _rewrite_history(made: list[tuple[Lead, Plan]], new: LeadStatus) -> None:
    """Put the planned times on the leads and their stays (the services wrote "now")."""
    stays = []
    for lead, plan in made:
        lead.created_at, lead.updated_at = plan.created, plan.last
        lead.first_response_at = plan.steps[0][1] if plan.steps else None
        lead.taken_at = next((at for s, at in plan.steps if s.state != LeadState.JUNK), None)
        lead.closed_at = plan.last if lead.state in (LeadState.JUNK, LeadState.CONVERTED) else None
        path = [(new, plan.created), *plan.steps]
        for (status, entered), (_next, left) in zip(path, [*path[1:], (None, None)], strict=True):
            stays.append(
                StatusStay(
                    tenant_id=lead.tenant_id,
                    lead=lead,
                    status=status,
                    entered_at=entered,
                    left_at=left,
                )
            )
    leads = [lead for lead, _plan in made]
    Lead.objects.bulk_update(
        leads,
        ["created_at", "updated_at", "first_response_at", "taken_at", "closed_at"],
        batch_size=500,
    )
    LeadWord.objects.update(
        created_at=Subquery(Lead.objects.filter(pk=OuterRef("lead_id")).values("created_at")[:1])
    )
    StatusStay.objects.filter(lead__in=leads).delete()
    StatusStay.objects.bulk_create(stays, batch_size=500)


def _close_deals(rng: random.Random, admin: Membership, made: list[tuple[Lead, Plan]]) -> None:
    """The converted leads' deals: created at the conversion, some moved along their
    pipeline, some won and some lost (with a reason) days later."""
    now = timezone.now()
    deals = {d.pk: d for d in Deal.objects.filter(pk__in=[lead.deal_id for lead, _ in made])}
    reasons = list(LossReason.objects.filter(is_active=True))
    changed = []
    for lead, plan in made:
        deal = deals.get(lead.deal_id or 0)
        if deal is None:
            continue
        stages = list(Stage.objects.filter(pipeline_id=deal.pipeline_id).order_by("position"))
        closes = plan.last + timedelta(days=rng.randint(2, 25), hours=rng.randint(0, 8))
        roll = rng.random()
        if closes < now and roll < 0.4:
            deal_move(
                actor=admin,
                deal=deal,
                stage=next(s for s in stages if s.kind == Outcome.WON),
                amount=deal.amount or Decimal(rng.randrange(10_000, 300_000, 1_000)),
            )
        elif closes < now and roll < 0.7:
            lost = next(s for s in stages if s.kind == Outcome.LOST)
            deal_move(actor=admin, deal=deal, stage=lost, reason=rng.choice(reasons))
        else:
            deal_move(
                actor=admin,
                deal=deal,
                stage=rng.choice([s for s in stages if s.kind == Outcome.OPEN]),
            )
        deal.created_at = plan.last
        deal.closed_at = closes if deal.outcome != Outcome.OPEN else None
        deal.updated_at = deal.closed_at or plan.last
        changed.append(deal)
    Deal.objects.bulk_update(changed, ["created_at", "closed_at", "updated_at"], batch_size=500)


def _overdue_activities(rng: random.Random, made: list[tuple[Lead, Plan]]) -> None:
    """A few calls promised on leads in work and not made in time."""
    now = timezone.now()
    working = [lead for lead, _ in made if lead.state == LeadState.IN_PROGRESS and lead.owner]
    for lead in rng.sample(working, min(6, len(working))):
        due = now - timedelta(hours=rng.randint(2, 72))
        activity = services.lead_activity_add(
            actor=lead.owner, lead=lead, kind="call", subject="Перезвонить клиенту", due_at=due
        )
        Activity.objects.filter(pk=activity.pk).update(reminded_at=due)


# What a manager plans on leads in work and open deals: (kind, subject), by weight.
PLANNED = (
    ("call", "Перезвонить, уточнить потребность"),
    ("call", "Позвонить после отправки КП"),
    ("meeting", "Встреча в офисе клиента"),
    ("meeting", "Замер на объекте"),
    ("task", "Подготовить коммерческое предложение"),
)


def _planned_activities(rng: random.Random, made: list[tuple[Lead, Plan]]) -> None:
    """The days ahead of the task page and the calendar: calls, meetings and tasks on leads
    in work and on open deals, today to a week on, in office hours of the workspace's zone."""
    first = periods.today()
    records = [
        (lead, lead.owner) for lead, _ in made if lead.state == LeadState.IN_PROGRESS and lead.owner
    ]
    deals = Deal.objects.filter(outcome=Outcome.OPEN, owner__isnull=False).select_related("owner")
    records += [(deal, deal.owner) for deal in deals]
    for record, owner in rng.sample(records, min(40, len(records))):
        kind, subject = rng.choice(PLANNED)
        day = first + timedelta(days=rng.choice((0, 0, 1, 1, 2, 3, 4, 6)))
        due = periods.day_start(day) + timedelta(
            hours=rng.randint(10, 17), minutes=rng.choice((0, 30))
        )
        if due < timezone.now():
            due += timedelta(days=1)
        fields = {"kind": kind, "subject": subject, "due_at": due}
        if isinstance(record, Deal):
            deal_activity_add(actor=owner, deal=record, **fields)
        else:
            services.lead_activity_add(actor=owner, lead=record, **fields)


def seed_demo_leads(*, admin: Membership, count: int = 300, seed: int = 42) -> int:
    """Create `count` demo leads in the admin's tenant (fewer when a repeat inquiry joins an
    open lead), with their deals, a few overdue calls and the week's planned activities;
    returns how many leads were made."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    managers = list(Membership.objects.filter(role__kind="manager", is_active=True))
    statuses = {
        state: list(LeadStatus.objects.filter(state=state).order_by("-is_default", "position"))
        for state in LeadState.values
    }
    now = timezone.now()
    made: list[tuple[Lead, Plan]] = []
    closed: list[tuple[Lead, Plan]] = []
    for plan in _plans(rng, count, now, managers, statuses):
        earlier = [
            lead for lead, done in closed if done.last < plan.created and (lead.phone or lead.email)
        ]
        if earlier and rng.random() < 0.08:
            plan.repeat_of = rng.choice(earlier)
        lead = _walk(admin, plan)
        if lead is None:
            continue
        made.append((lead, plan))
        if lead.state in (LeadState.JUNK, LeadState.CONVERTED):
            closed.append((lead, plan))
    _overdue_activities(rng, made)
    _rewrite_history(made, statuses[LeadState.NEW][0])
    _close_deals(rng, admin, made)
    _planned_activities(rng, made)
    return len(made)
