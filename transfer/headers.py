"""Which column of an uploaded file fills which field: automatic matching by header.

Headers are compared after `normalize_header` (case, spacing, punctuation, invisible
characters and ё do not matter) against a table of synonyms per entity: Russian and English
names people type, plus the exact header rows that Bitrix24, amoCRM and HubSpot write into
their exports; after them, each field's own key and label in Russian and English (so
Voronka's own template and exports map back). Custom fields match by their label. The user
corrects the result in the wizard; this module only guesses, and never touches the database.

Where each CRM's headers come from (checked against public sources, see
tests/transfer/files/README.md for the links):

* Bitrix24: the CRM module's list components and language files
  (crm.lead.list / crm.contact.list / crm.company.list / crm.deal.list `lang/ru/component.php`,
  `lang/ru/classes/general/crm_lead.php`; one column per kind of phone, e-mail and messenger
  from `crm_field_multi.php`: "Рабочий телефон", "Мобильный телефон", "Рабочий e-mail",
  "Частный e-mail", "Контакт Telegram"...; UTM columns "UTM Source"... from `lib/utm.php`).
* amoCRM: the columns of a deals ("сделки") export as real files show them ("ID",
  "Название сделки", "Бюджет", "Ответственный", "Дата создания сделки", "Этап сделки",
  "Воронка", "Полное имя контакта", "Компания контакта", "Рабочий телефон", "Рабочий email",
  "Примечание" .. "Примечание 5"...); newer exports add "(контакт)" / "(компания)" after the
  contact's and the company's fields ("Рабочий телефон (контакт)", "Полное имя (контакт)",
  "Название (компания)"), which `_QUALIFIERS` strips where they name the imported record.
* HubSpot: the default properties of a contacts / companies / deals export ("Record ID",
  "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number", "Contact owner",
  "Lead Status", "Create Date", "Company name", "Deal Name", "Deal Stage", "Pipeline",
  "Close Date", "Deal owner"...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache

from django.utils import translation

from transfer.fields import FIELDS
from transfer.models import Entity

_PUNCTUATION = re.compile(r"[\W_]+")
# "E-mail", "e mail" and "email" are one word; so are the Cyrillic spellings of it.
_EMAIL = re.compile(r"\b[eе] ?mail\b")
_QUALIFIED = re.compile(r"^(?P<base>.*?)\s*\((?P<qualifier>[^()]*)\)\s*$", re.DOTALL)
_NUMBERED = re.compile(r"^(?P<base>.*\D)\s\d+$")


def normalize_header(text: str) -> str:
    """The comparable form of a header: NFKC, without invisible characters (BOM, zero-width
    spaces, soft hyphens), casefolded, ё as е, every run of spaces and punctuation as one
    space, "e-mail" as "email". `"  E-mail рабочий "` and `"E-MAIL  Рабочий"` give the same."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.casefold().replace("ё", "е")
    text = _PUNCTUATION.sub(" ", text).strip()
    return _EMAIL.sub("email", text)


# Shared pieces of the tables below. Order matters: when several columns could fill one
# (single-valued) field, the one whose header comes first in its tuple wins.
_ID = (
    "ID",
    "Record ID",
    "Идентификатор",
    "Внешний ID",
    "Внешний идентификатор",
    "External ID",
    "ИД",
)
_LAST_NAME = ("Фамилия", "Last Name", "Surname", "Family name")
_FIRST_NAME = ("Имя", "First Name", "Given name")
_MIDDLE_NAME = ("Отчество", "Middle Name", "Second name", "Patronymic")
_PERSON = (
    "ФИО",
    "Полное имя",
    "Полное имя контакта",
    "Контакт",
    "Контактное лицо",
    "Основной контакт",
    "Имя и фамилия",
    "Фамилия Имя Отчество",
    "Full Name",
    "Contact",
    "Contact name",
    "Associated Contact",
)
_COMPANY = (
    "Компания",
    "Название компании",
    "Компания контакта",
    "Название (компания)",
    "Организация",
    "Наименование организации",
    "Company",
    "Company Name",
    "Associated Company",
    "Organization",
    "Organisation",
)
_POSITION = ("Должность", "Job Title", "Position", "Job position")
_PHONE = (
    "Телефон",
    "Рабочий телефон",
    "Мобильный телефон",
    "Домашний телефон",
    "Другой телефон",
    "Телефон для рассылок",
    "Рабочий прямой телефон",
    "Телефон мобильный",
    "Телефон рабочий",
    "Доп. телефон",
    "Дополнительный телефон",
    "Телефоны",
    "Номер телефона",
    "Контактный телефон",
    "Мобильный",
    "Сотовый",
    "Сотовый телефон",
    "Тел",
    "Моб",
    "Phone",
    "Phone Number",
    "Mobile Phone Number",
    "Mobile",
    "Mobile phone",
    "Work phone",
    "Home phone",
    "Cell",
    "Cell phone",
    "Telephone",
)
_EMAIL_HEADERS = (
    "E-mail",
    "Рабочий e-mail",
    "Частный e-mail",
    "Личный e-mail",
    "E-mail для рассылок",
    "Другой e-mail",
    "E-mail рабочий",
    "E-mail личный",
    "Электронная почта",
    "Эл. почта",
    "Почта",
    "Адрес электронной почты",
    "Email address",
    "Work email",
    "Personal email",
    "Емейл",
)
_TELEGRAM = ("Telegram", "Контакт Telegram", "Телеграм", "Телеграмм", "Telegram username")
_WHATSAPP = ("WhatsApp", "Контакт WhatsApp", "Ватсап", "Вотсап", "WhatsApp Phone Number")
_VK = ("VK", "ВКонтакте", "ВК", "Контакт ВКонтакте", "Страница ВКонтакте", "VKontakte")
_NOTES = (
    "Комментарий",
    "Комментарии",
    "Примечание",
    "Примечания",
    "Заметка",
    "Заметки",
    "Описание",
    "Comment",
    "Comments",
    "Notes",
    "Note",
    "Description",
)
_OWNER = (
    "Ответственный",
    "Ответственный менеджер",
    "Ответственный пользователь",
    "Менеджер",
    "Owner",
    "Responsible",
    "Assigned to",
)
_AMOUNT = (
    "Сумма",
    "Бюджет",
    "Бюджет сделки",
    "Бюджет, руб.",
    "Сумма сделки",
    "Возможная сумма",
    "Возможная сумма сделки",
    "Стоимость",
    "Amount",
    "Budget",
    "Deal amount",
)
_CURRENCY = ("Валюта", "Currency", "Currency code", "Deal currency code")
_CREATED = (
    "Дата создания",
    "Создан",
    "Создано",
    "Дата добавления",
    "Дата заявки",
    "Дата обращения",
    "Create Date",
    "Created",
    "Created at",
    "Created date",
    "Creation date",
    "Date created",
)
_UTM = {
    "utm_source": ("utm_source", "Рекламная система"),
    "utm_medium": ("utm_medium", "Тип трафика"),
    "utm_campaign": ("utm_campaign", "Обозначение рекламной кампании", "Рекламная кампания"),
    "utm_content": ("utm_content", "Содержание кампании"),
    "utm_term": ("utm_term", "Условие поиска кампании", "Ключевое слово"),
}

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    Entity.LEADS: {
        "external_id": (*_ID, "ID лида", "Lead ID"),
        "title": (
            "Название лида",
            "Название",
            "Название сделки",
            "Заголовок",
            "Тема",
            "Lead name",
            "Title",
        ),
        "name": (*_PERSON, "Name", "Клиент"),
        "last_name": _LAST_NAME,
        "first_name": _FIRST_NAME,
        "middle_name": _MIDDLE_NAME,
        "company_name": _COMPANY,
        "position": _POSITION,
        "phone": _PHONE,
        "email": _EMAIL_HEADERS,
        "telegram": _TELEGRAM,
        "whatsapp": _WHATSAPP,
        "vk": _VK,
        "message": (
            *_NOTES,
            "Сообщение",
            "Текст заявки",
            "Текст обращения",
            "Вопрос",
            "Message",
        ),
        "source": (
            "Источник",
            "Источник лида",
            "Источник сделки",
            "Канал",
            "Source",
            "Lead Source",
            "Original Source",
            "Original Traffic Source",
        ),
        "status": ("Статус", "Статус лида", "Этап сделки", "Статус сделки", "Этап", "Lead Status"),
        "owner": (*_OWNER, "Ответственный за сделку", "Lead owner", "Contact owner"),
        "amount": _AMOUNT,
        "currency": _CURRENCY,
        **_UTM,
        "created_at": (*_CREATED, "Дата создания лида", "Дата создания сделки"),
    },
    Entity.CONTACTS: {
        "external_id": (*_ID, "ID контакта", "Contact ID"),
        "name": (*_PERSON, "Name"),
        "last_name": _LAST_NAME,
        "first_name": _FIRST_NAME,
        "middle_name": _MIDDLE_NAME,
        "company": _COMPANY,
        "position": _POSITION,
        "phone": _PHONE,
        "email": _EMAIL_HEADERS,
        "telegram": _TELEGRAM,
        "whatsapp": _WHATSAPP,
        "vk": _VK,
        "notes": _NOTES,
        "owner": (*_OWNER, "Contact owner", "Ответственный за контакт"),
        "created_at": (*_CREATED, "Дата создания контакта"),
    },
    Entity.COMPANIES: {
        "external_id": (*_ID, "ID компании", "Company ID"),
        "name": (
            "Название компании",
            "Компания",
            "Название",
            "Наименование",
            "Наименование организации",
            "Полное наименование",
            "Организация",
            "Company name",
            "Company",
            "Name",
            "Organization",
        ),
        "tax_id": ("ИНН", "ИНН компании", "INN", "Tax ID", "VAT number"),
        "phone": _PHONE,
        "email": _EMAIL_HEADERS,
        "website": (
            "Сайт",
            "Корпоративный сайт",
            "Веб-сайт",
            "Адрес сайта",
            "Web",
            "Website",
            "Website URL",
            "Company Domain Name",
            "Domain",
            "URL",
        ),
        "address": (
            "Адрес",
            "Фактический адрес",
            "Юридический адрес",
            "Почтовый адрес",
            "Адрес (стр. 2)",
            "Город",
            "Регион",
            "Область",
            "Страна",
            "Почтовый индекс",
            "Address",
            "Street Address",
            "Street Address 2",
            "City",
            "State/Region",
            "Country/Region",
            "Postal Code",
        ),
        "notes": (*_NOTES, "About Us"),
        "owner": (*_OWNER, "Company owner", "Ответственный за компанию"),
        "created_at": (*_CREATED, "Дата создания компании"),
    },
    Entity.DEALS: {
        "external_id": (*_ID, "ID сделки", "Deal ID"),
        "title": ("Название сделки", "Название", "Сделка", "Deal Name", "Name", "Title"),
        "amount": _AMOUNT,
        "currency": _CURRENCY,
        "pipeline": ("Воронка", "Направление", "Воронка продаж", "Pipeline"),
        "stage": (
            "Стадия сделки",
            "Этап сделки",
            "Статус сделки",
            "Стадия",
            "Этап",
            "Статус",
            "Deal Stage",
            "Stage",
        ),
        "contact_name": (*_PERSON, "Клиент"),
        "phone": _PHONE,
        "email": _EMAIL_HEADERS,
        "company": _COMPANY,
        "owner": (*_OWNER, "Ответственный за сделку", "Deal owner"),
        "expected_close": (
            "Предполагаемая дата закрытия",
            "Плановая дата закрытия",
            "Close Date",
            "Expected close date",
        ),
        "closed_at": ("Дата закрытия", "Дата завершения", "Closed", "Closed date", "Date closed"),
        "notes": (*_NOTES, "Deal Description"),
        "created_at": (*_CREATED, "Дата создания сделки"),
    },
}

# "Рабочий телефон (контакт)": what the parenthesis may say for the column to count as the
# bare header. In a leads or deals file the person's fields are the ones to take.
_QUALIFIERS: dict[str, frozenset[str]] = {
    Entity.LEADS: frozenset({"контакт", "contact", "лид", "lead"}),
    Entity.CONTACTS: frozenset({"контакт", "contact"}),
    Entity.COMPANIES: frozenset({"компания", "company"}),
    Entity.DEALS: frozenset({"контакт", "contact", "сделка", "deal"}),
}


# Rank of the fields' own keys and labels (Voronka's template and exports): after synonyms.
_OWN_NAME_RANK = 1000


@cache
def _lookup(entity: str) -> dict[str, tuple[str, int]]:
    """Normalized header -> (field key, its rank among the key's synonyms). The synonyms
    first, then each field's key and its label in Russian and English."""
    table: dict[str, tuple[str, int]] = {}
    for key, headers in SYNONYMS[entity].items():
        for rank, header in enumerate(headers):
            table.setdefault(normalize_header(header), (key, rank))
    for spec in FIELDS[entity]:
        table.setdefault(normalize_header(spec.key), (spec.key, _OWN_NAME_RANK))
        for language in ("ru", "en"):
            with translation.override(language):
                table.setdefault(normalize_header(str(spec.label)), (spec.key, _OWN_NAME_RANK))
    return table


_MULTI = {entity: {s.key for s in specs if s.multi} for entity, specs in FIELDS.items()}

# How sure a match is: a custom field's exact label, a synonym, a synonym with a qualifier
# or a number after it ("Примечание 2", "Телефон 3", for fields that take several columns).
_CUSTOM, _EXACT, _LOOSE = 0, 1, 2


def _match(entity: str, header: str, custom: Mapping[str, str]) -> tuple[str, int, int] | None:
    """(field key, tier, rank) for one header, or None."""
    norm = normalize_header(header)
    if not norm:
        return None
    if norm in custom:
        return custom[norm], _CUSTOM, 0
    lookup = _lookup(entity)
    if norm in lookup:
        key, rank = lookup[norm]
        return key, _EXACT, rank
    qualified = _QUALIFIED.match(header)
    if qualified and normalize_header(qualified["qualifier"]) in _QUALIFIERS[entity]:
        base = normalize_header(qualified["base"])
        if base in lookup:
            key, rank = lookup[base]
            return key, _LOOSE, rank
    numbered = _NUMBERED.match(norm)
    if numbered and numbered["base"] in lookup:
        key, rank = lookup[numbered["base"]]
        if key in _MULTI[entity]:
            return key, _LOOSE, rank
    return None


def _custom_index(custom_labels: Mapping[str, str] | None) -> dict[str, str]:
    index: dict[str, str] = {}
    for label, key in (custom_labels or {}).items():
        norm = normalize_header(label)
        if norm:
            index.setdefault(norm, key)
    return index


def _check_entity(entity: str) -> None:
    if entity not in SYNONYMS:
        raise ValueError(f"Unknown import entity: {entity!r}")


def field_for_header(
    entity: str, header: str, custom_labels: Mapping[str, str] | None = None
) -> str | None:
    """The field key one header means for `entity` on its own (without the other columns of
    the file competing for it), or None when it is not recognised.

    `custom_labels` maps a custom field's label to its key (`cf_<key>`); a label wins over
    a built-in synonym only when the header equals it (after normalization).
    Raises ValueError for an unknown entity."""
    _check_entity(entity)
    found = _match(entity, header, _custom_index(custom_labels))
    return found[0] if found else None


def guess_mapping(
    entity: str, headers: Sequence[str | None], custom_labels: Mapping[str, str] | None = None
) -> dict[int, str]:
    """Column index -> field key for every column of a header row that is recognised.

    A field that takes one value goes to one column only: the best match (a custom label
    over an exact synonym over a qualified or numbered one, then the synonym listed first,
    then the leftmost column). A `multi` field (phones, e-mails, notes...) takes every
    column that matches it. Unrecognised and empty (None) headers are absent. Pure: no
    database access, the caller passes the workspace's custom labels (label -> `cf_<key>`).
    Raises ValueError for an unknown entity."""
    _check_entity(entity)
    custom = _custom_index(custom_labels)
    multi = _MULTI[entity]
    best: dict[str, tuple[int, int, int]] = {}
    mapping: dict[int, str] = {}
    for column, header in enumerate(headers):
        found = _match(entity, "" if header is None else str(header), custom)
        if found is None:
            continue
        key, tier, rank = found
        if key in multi:
            mapping[column] = key
        elif key not in best or (tier, rank, column) < best[key]:
            best[key] = (tier, rank, column)
    for key, (_tier, _rank, column) in best.items():
        mapping[column] = key
    return dict(sorted(mapping.items()))
