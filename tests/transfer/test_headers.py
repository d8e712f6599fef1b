"""Automatic column matching: header normalization, the synonym tables, and the header rows
of the real-shaped export files in tests/transfer/files (see its README)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.utils import translation
from openpyxl import load_workbook

from transfer.fields import FIELDS
from transfer.headers import SYNONYMS, field_for_header, guess_mapping, normalize_header
from transfer.models import Entity

FILES = Path(__file__).parent / "files"


def header_row(name: str, encoding: str, delimiter: str) -> list[str]:
    text = (FILES / name).read_bytes().decode(encoding)
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


BITRIX_LEADS = {
    0: "external_id",
    1: "status",
    2: "title",
    3: "first_name",
    4: "middle_name",
    5: "last_name",
    6: "created_at",
    7: "source",
    8: "phone",
    9: "phone",
    10: "phone",
    11: "phone",
    12: "email",
    13: "email",
    14: "telegram",
    15: "vk",
    16: "owner",
    # 17 "Дополнительно об источнике", 18 "Дата изменения": nothing to fill
    19: "company_name",
    20: "position",
    21: "message",
    22: "amount",
    23: "currency",
    24: "utm_source",
    25: "utm_medium",
    26: "utm_campaign",
    27: "utm_content",
    28: "utm_term",
    # 29: the empty column after Bitrix24's trailing ";"
}


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("bitrix24_leads_utf8_bom.csv", "utf-8-sig"), ("bitrix24_leads_cp1251.csv", "cp1251")],
)
def test_bitrix24_leads_export_maps_every_known_column(name, encoding):
    headers = header_row(name, encoding, ";")
    assert len(headers) == 30
    assert headers[29] == ""
    assert guess_mapping(Entity.LEADS, headers, {}) == BITRIX_LEADS


def test_the_header_row_is_matched_even_when_read_without_taking_the_bom_off():
    # The BOM stands before the first quote, so the csv module keeps the quotes as text.
    headers = header_row("bitrix24_leads_utf8_bom.csv", "utf-8", ";")
    assert headers[0] == '\ufeff"ID"'
    assert guess_mapping(Entity.LEADS, headers, {}) == BITRIX_LEADS


HUBSPOT_CONTACTS = {
    0: "external_id",
    1: "first_name",
    2: "last_name",
    3: "email",
    4: "phone",
    5: "phone",
    6: "company",
    7: "position",
    8: "owner",
    12: "created_at",
}


def test_hubspot_contacts_export_as_contacts():
    headers = header_row("hubspot_contacts.csv", "utf-8", ",")
    assert guess_mapping(Entity.CONTACTS, headers, {}) == HUBSPOT_CONTACTS


def test_hubspot_contacts_export_as_leads_takes_lead_status_and_source():
    headers = header_row("hubspot_contacts.csv", "utf-8", ",")
    mapping = guess_mapping(Entity.LEADS, headers, {})
    assert mapping == {
        **HUBSPOT_CONTACTS,
        6: "company_name",
        10: "status",  # "Lead Status"; "Lifecycle Stage" (9) stays unmapped
        11: "source",  # "Original Source"
    }


AMO_COMMON = {
    0: "external_id",
    1: "title",
    2: "amount",  # "Бюджет"
    3: "owner",
    4: "created_at",  # "Дата создания сделки"
    20: "company_name",  # "Компания" wins over "Компания контакта" (18)
    21: "phone",  # "Рабочий телефон (контакт)"
    22: "phone",
    23: "email",  # "Рабочий email (контакт)"
    24: "email",
}


def test_amocrm_deals_export_as_leads():
    headers = header_row("amocrm_leads.csv", "utf-8", ",")
    assert guess_mapping(Entity.LEADS, headers, {}) == {
        **AMO_COMMON,
        **dict.fromkeys(range(10, 15), "message"),  # "Примечание" .. "Примечание 5"
        15: "status",  # "Этап сделки"
        17: "name",  # "Полное имя контакта"
        25: "position",  # "Должность (контакт)"
        29: "utm_source",
        30: "utm_medium",
        31: "utm_campaign",
        32: "utm_term",
        33: "utm_content",
        34: "source",
    }


def test_amocrm_deals_export_as_deals():
    headers = header_row("amocrm_leads.csv", "utf-8", ",")
    assert guess_mapping(Entity.DEALS, headers, {}) == {
        **AMO_COMMON,
        20: "company",
        8: "closed_at",  # "Дата закрытия"
        **dict.fromkeys(range(10, 15), "notes"),
        15: "stage",
        16: "pipeline",  # "Воронка"
        17: "contact_name",
    }


def test_amocrm_xlsx_has_the_csv_header_row():
    sheet = load_workbook(FILES / "amocrm_leads.xlsx", read_only=True).active
    headers = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert headers == header_row("amocrm_leads.csv", "utf-8", ",")


def test_bitrix24_contacts_export():
    headers = header_row("bitrix24_contacts.csv", "utf-8-sig", ";")
    assert guess_mapping(Entity.CONTACTS, headers, {}) == {
        0: "external_id",
        1: "first_name",
        2: "middle_name",
        3: "last_name",
        5: "position",
        6: "company",
        9: "created_at",
        10: "owner",
        11: "phone",
        12: "phone",
        13: "email",
        14: "email",
        15: "telegram",
        16: "vk",
        17: "notes",
    }


def test_hubspot_companies_export():
    headers = header_row("hubspot_companies.csv", "utf-8", ",")
    assert guess_mapping(Entity.COMPANIES, headers, {}) == {
        0: "external_id",
        1: "name",  # "Company name"
        3: "website",  # "Website URL" before "Company Domain Name"
        4: "phone",
        5: "address",
        6: "address",
        7: "address",
        9: "owner",
        10: "created_at",
    }


def test_hubspot_deals_export():
    headers = header_row("hubspot_deals.csv", "utf-8", ",")
    assert guess_mapping(Entity.DEALS, headers, {}) == {
        0: "external_id",
        1: "title",
        2: "stage",
        3: "pipeline",
        4: "amount",
        5: "expected_close",
        6: "owner",
        7: "created_at",
        8: "company",
        9: "contact_name",
        10: "notes",
    }


def test_messy_hand_made_file():
    headers = header_row("messy.csv", "utf-8", "\t")
    assert headers[1] == " Телефон "
    assert headers[2] == "Доп.\u00a0телефон"
    assert guess_mapping(Entity.LEADS, headers, {}) == {
        0: "name",
        1: "phone",
        2: "phone",
        3: "email",
        4: "created_at",
        5: "company_name",
        6: "message",
        7: "source",
    }


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("  E-mail рабочий ", "E-MAIL  Рабочий"),
        ("Рабочий e-mail", "рабочий EMAIL"),
        ("\ufeffID", "id"),
        ("Теле\u200bфон", "Телефон"),
        ("Доп.\u00a0телефон", "доп телефон"),
        ("Соловьёв", "соловьев"),
        ("UTM_Source", "utm source"),
        ("Country/Region", "country region"),
        ("ＩＤ", "ID"),  # full-width letters
    ],
)
def test_normalize_header_ignores_case_spacing_punctuation_and_invisible_characters(one, other):
    assert normalize_header(one) == normalize_header(other)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  E-mail рабочий ", "email рабочий"),
        ("Сумма/Валюта", "сумма валюта"),
        ("Тел.:", "тел"),
        ("\u200b\u00a0", ""),
        ("Voice mail", "voice mail"),
    ],
)
def test_normalize_header_result(text, expected):
    assert normalize_header(text) == expected


def test_every_phone_and_email_column_is_kept():
    headers = ["Телефон", "Мобильный", "E-mail", "Другой e-mail", "Phone Number"]
    assert guess_mapping(Entity.CONTACTS, headers, {}) == {
        0: "phone",
        1: "phone",
        2: "email",
        3: "email",
        4: "phone",
    }


def test_a_header_given_twice_fills_a_single_field_from_its_first_column_only():
    headers = ["Имя", "Фамилия", "Имя", "Телефон", "Телефон"]
    assert guess_mapping(Entity.CONTACTS, headers, {}) == {
        0: "first_name",
        1: "last_name",
        3: "phone",
        4: "phone",
    }


def test_the_synonym_listed_first_wins_over_the_leftmost_column():
    headers = ["Компания контакта", "Компания"]
    assert guess_mapping(Entity.DEALS, headers, {}) == {1: "company"}


def test_an_exact_synonym_wins_over_a_qualified_one():
    headers = ["Должность (контакт)", "Должность"]
    assert guess_mapping(Entity.LEADS, headers, {}) == {1: "position"}


def test_numbered_headers_only_feed_fields_that_take_several_columns():
    headers = ["Телефон 2", "Примечание 3", "Имя 2", "Комментарий 10"]
    assert guess_mapping(Entity.LEADS, headers, {}) == {0: "phone", 1: "message", 3: "message"}


@pytest.mark.parametrize(
    ("entity", "header", "expected"),
    [
        (Entity.LEADS, "Рабочий телефон (контакт)", "phone"),
        (Entity.DEALS, "Рабочий email (контакт)", "email"),
        (Entity.DEALS, "Мобильный телефон (Contact)", "phone"),
        (Entity.LEADS, "Рабочий телефон (компания)", None),
        (Entity.LEADS, "Полное имя (контакт)", "name"),
        (Entity.LEADS, "Название (компания)", "company_name"),
        (Entity.DEALS, "Основной контакт", "contact_name"),
        (Entity.CONTACTS, "Дата создания (контакт)", "created_at"),
        (Entity.COMPANIES, "Рабочий телефон (компания)", "phone"),
        (Entity.COMPANIES, "Web (компания)", "website"),
        (Entity.CONTACTS, "Телефон (факс)", None),
        (Entity.CONTACTS, "Телефон (рабочий)", "phone"),  # "телефон рабочий"
        (Entity.LEADS, "Record ID", "external_id"),
        (Entity.LEADS, "Идентификатор", "external_id"),
        (Entity.LEADS, "Record ID - Company", None),
        (Entity.CONTACTS, "Lifecycle Stage", None),
        (Entity.LEADS, "Название лида", "title"),
        (Entity.DEALS, "Стадия сделки", "stage"),
        (Entity.DEALS, "Предполагаемая дата закрытия", "expected_close"),
        (Entity.COMPANIES, "ИНН", "tax_id"),
    ],
)
def test_field_for_header(entity, header, expected):
    assert field_for_header(entity, header) == expected


@pytest.mark.parametrize("entity", list(Entity))
def test_the_fields_own_keys_and_labels_are_recognised(entity):
    for spec in FIELDS[entity]:
        assert field_for_header(entity, spec.key) == spec.key
        for language in ("ru", "en"):
            with translation.override(language):
                label = str(spec.label)
            assert field_for_header(entity, label) == spec.key, (language, label)


def test_a_synonym_wins_over_a_fields_own_label():
    with translation.override("en"):
        label = str(next(s.label for s in FIELDS[Entity.COMPANIES] if s.key == "tax_id"))
    assert normalize_header(label) not in map(
        normalize_header, SYNONYMS[Entity.COMPANIES]["tax_id"]
    )
    assert guess_mapping(Entity.COMPANIES, [label, "ИНН"], {}) == {1: "tax_id"}


def test_unknown_and_empty_headers_are_left_out():
    headers = ["Любимый цвет", "", "   ", None, "Shoe size", "Имя"]
    assert guess_mapping(Entity.LEADS, headers, {}) == {5: "first_name"}


def test_a_custom_label_wins_over_a_synonym_when_the_header_equals_it():
    custom = {"Источник": "cf_origin", "Размер склада, м²": "cf_area"}
    headers = ["Имя", "ИСТОЧНИК", "Размер склада (м2)", "Источник лида"]
    assert guess_mapping(Entity.LEADS, headers, custom) == {
        0: "first_name",
        1: "cf_origin",
        2: "cf_area",  # "м²" is "м2" after NFKC, the brackets are punctuation
        3: "source",  # not the custom label: the built-in synonym applies
    }


def test_a_custom_label_does_not_win_over_a_synonym_it_only_resembles():
    custom = {"Телефон офиса": "cf_office_phone"}
    assert field_for_header(Entity.CONTACTS, "Телефон", custom) == "phone"
    assert field_for_header(Entity.CONTACTS, "телефон  офиса", custom) == "cf_office_phone"


def test_a_custom_field_fills_one_column_only():
    custom = {"Бонусная карта": "cf_card"}
    headers = ["Бонусная карта", "Бонусная карта"]
    assert guess_mapping(Entity.CONTACTS, headers, custom) == {0: "cf_card"}


def test_an_unknown_entity_is_refused():
    with pytest.raises(ValueError, match="Unknown import entity"):
        guess_mapping("tickets", ["Имя"], {})
    with pytest.raises(ValueError, match="Unknown import entity"):
        field_for_header("tickets", "Имя")


def test_every_entity_has_a_table_naming_only_its_fields():
    assert set(SYNONYMS) == set(FIELDS)
    for entity, table in SYNONYMS.items():
        keys = {spec.key for spec in FIELDS[entity]}
        assert set(table) <= keys, entity


def test_no_header_means_two_fields_of_one_entity():
    for entity, table in SYNONYMS.items():
        owner: dict[str, str] = {}
        for key, headers in table.items():
            for header in headers:
                norm = normalize_header(header)
                assert norm, (entity, header)
                assert owner.setdefault(norm, key) == key, (entity, header, owner[norm], key)
