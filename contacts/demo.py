"""Demo contacts and companies for `make run`: Russian people and firms, some of them
duplicates to merge (the same phone typed another way, the same e-mail in capitals), some
sharing a phone or e-mail with demo leads, created through the real services."""

from __future__ import annotations

import random

from contacts import services
from contacts.models import Company
from contacts.normalize import phone_e164
from crm.models import Membership
from leads.models import Lead

COMPANIES = [
    ("ООО «Ромашка»", "7701234567", "Москва, ул. Лесная, 5", "romashka.ru"),
    ("АО «СтройИнвест»", "7812345670", "Санкт-Петербург, Невский пр., 28", "stroyinvest.ru"),
    ("ООО «ТехноЛайн»", "5401234561", "Новосибирск, Красный пр., 77", "technoline.ru"),
    ("ООО «Северный ветер»", "2901234565", "Архангельск, наб. Северной Двины, 30", ""),
    ("ЗАО «МегаТорг»", "6601234568", "Екатеринбург, ул. Малышева, 51", "megatorg.ru"),
    ("ООО «Альфа-Логистик»", "5001234563", "Химки, Ленинградское ш., 1", "alfa-log.ru"),
    ("ООО «Пекарня №1»", "1601234564", "Казань, ул. Баумана, 12", ""),
    ("АО «УралМаш-Сервис»", "7401234562", "Челябинск, пр. Ленина, 21", "uralmash-s.ru"),
    ("ИП Сидоров Пётр Ильич", "770123456789", "Москва, Варшавское ш., 9", ""),
    ("ООО «Грин Хаус»", "2301234560", "Краснодар, ул. Красная, 120", "greenhouse.ru"),
]
PEOPLE = [
    ("Смирнова", "Елена", "Викторовна", "Главный бухгалтер"),
    ("Кузнецов", "Алексей", "Игоревич", "Генеральный директор"),
    ("Попова", "Мария", "Сергеевна", "Менеджер по закупкам"),
    ("Васильев", "Дмитрий", "Олегович", "ИТ-директор"),
    ("Петрова", "Ольга", "Андреевна", "Руководитель отдела продаж"),
    ("Соколов", "Игорь", "Павлович", "Коммерческий директор"),
    ("Михайлова", "Наталья", "Юрьевна", "Офис-менеджер"),
    ("Новиков", "Сергей", "Николаевич", "Владелец"),
    ("Фёдорова", "Татьяна", "Михайловна", "Юрист"),
    ("Морозов", "Павел", "Алексеевич", "Инженер"),
    ("Волкова", "Анна", "Дмитриевна", "Маркетолог"),
    ("Алексеев", "Николай", "Владимирович", "Финансовый директор"),
    ("Лебедева", "Ирина", "Константиновна", "Секретарь"),
    ("Семёнов", "Виктор", "Петрович", "Начальник склада"),
    ("Егорова", "Юлия", "Романовна", "HR-директор"),
    ("Павлов", "Михаил", "Евгеньевич", "Технический директор"),
    ("Козлова", "Светлана", "Ивановна", "Менеджер проекта"),
    ("Степанов", "Андрей", "Геннадьевич", "Директор по развитию"),
    ("Николаева", "Екатерина", "Артёмовна", "Аналитик"),
    ("Орлов", "Артём", "Максимович", "Закупщик"),
    ("Андреева", "Ксения", "Львовна", "Логист"),
    ("Макаров", "Роман", "Степанович", "Главный инженер"),
    ("Захарова", "Дарья", "Олеговна", "Бренд-менеджер"),
    ("Зайцев", "Георгий", "Ильич", "Предприниматель"),
]
TRANSLIT = str.maketrans(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "abvgdeejziiklmnoprstufhccss_y_eua",
)


def _russian_way(e164: str) -> str:
    """+79161234567 as a person in Russia types it: 8 (916) 123-45-67."""
    d = e164[2:]
    return f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"


def _login(last: str, first: str) -> str:
    return f"{first[0]}.{last}".lower().translate(TRANSLIT).replace("_", "")


def seed_demo_contacts(*, admin: Membership, seed: int = 7) -> tuple[int, int]:
    """Create the demo companies and contacts in the admin's tenant; returns their counts."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    managers = list(Membership.objects.filter(role__kind="manager", is_active=True))
    companies: list[Company] = []
    for name, inn, address, site in COMPANIES:
        companies.append(
            services.company_create(
                actor=admin,
                data={
                    "name": name,
                    "tax_id": inn,
                    "address": address,
                    "website": site,
                    "phones": [f"+7 495 {rng.randint(100, 999)}-{rng.randint(10, 99)}-00"],
                    "emails": [f"info@{site}"] if site else [],
                },
                owner=rng.choice(managers),
            )
        )
    # A duplicate company: the same INN and name written another way.
    services.company_create(
        actor=admin,
        data={"name": "Ромашка ООО", "tax_id": "7701234567", "phones": ["8 800 555-35-35"]},
        owner=rng.choice(managers),
    )
    leads = list(Lead.objects.exclude(phone_e164="").order_by("pk")[:6])
    contacts = 0
    for index, (last, first, middle, position) in enumerate(PEOPLE):
        company = companies[index % len(companies)] if index % 5 else None
        domain = company.website if company and company.website else "mail.ru"
        data = {
            "last_name": last,
            "first_name": first,
            "middle_name": middle,
            "position": position if company else "",
            "company": company,
            "phones": [
                f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-"
                f"{rng.randint(10, 99)}"
            ],
            "emails": [f"{_login(last, first)}@{domain}"],
            "telegram": f"@{_login(last, first).replace('.', '_')}" if index % 3 == 0 else "",
        }
        if index < len(leads):  # a customer who also wrote in as a lead
            data["phones"] = [leads[index].phone]
        contact = services.contact_create(actor=admin, data=data, owner=rng.choice(managers))
        contacts += 1
        if index in (1, 4, 9):
            # A duplicate: the same phone typed the Russian way, the e-mail in capitals.
            twin = {
                "last_name": last,
                "first_name": first,
                "phones": [_russian_way(phone_e164(contact.phones[0], "RU"))],
                "emails": [contact.emails[0].upper()],
                "notes": "Звонил повторно, записал с другого телефона",
            }
            services.contact_create(actor=admin, data=twin, owner=rng.choice(managers))
            contacts += 1
    return len(companies) + 1, contacts
