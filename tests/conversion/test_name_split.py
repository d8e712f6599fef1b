"""The full name split into last, first and middle name (the conversion dialog's prefill)."""

from __future__ import annotations

import pytest

from contacts.names import PersonName, split_full_name

CASES = [
    # Фамилия Имя Отчество
    ("Иванов Иван Иванович", ("Иванов", "Иван", "Иванович")),
    ("Шостакович Дмитрий Дмитриевич", ("Шостакович", "Дмитрий", "Дмитриевич")),
    ("Смирнова Ольга Ильинична", ("Смирнова", "Ольга", "Ильинична")),
    ("Ульянов Владимир Ильич", ("Ульянов", "Владимир", "Ильич")),
    ("Салтыков-Щедрин Михаил Евграфович", ("Салтыков-Щедрин", "Михаил", "Евграфович")),
    ("Алиев Рашид Гейдар оглы", ("Алиев", "Рашид", "Гейдар оглы")),
    ("Кузнецова Анна Сергеевна", ("Кузнецова", "Анна", "Сергеевна")),
    # Имя Отчество Фамилия
    ("Мария Петровна Сидорова", ("Сидорова", "Мария", "Петровна")),
    # Имя Фамилия and Фамилия Имя
    ("Иван Иванов", ("Иванов", "Иван", "")),
    ("Иванов Иван", ("Иванов", "Иван", "")),
    ("Ирина Белова", ("Белова", "Ирина", "")),
    ("Белова Ирина", ("Белова", "Ирина", "")),
    ("Дмитрий Соколов", ("Соколов", "Дмитрий", "")),
    ("Тарас Шевченко", ("Шевченко", "Тарас", "")),
    # Имя Отчество
    ("Иван Петрович", ("", "Иван", "Петрович")),
    # A comma says the surname comes first
    ("Петров, Пётр Петрович", ("Петров", "Пётр", "Петрович")),
    ("Smith, John", ("Smith", "John", "")),
    # Latin
    ("John Smith", ("Smith", "John", "")),
    ("John Ronald Reuel Tolkien", ("Tolkien", "John", "Ronald Reuel")),
    ("Anna", ("", "Anna", "")),
    # One word, nothing, extra spaces and invisible characters
    ("Ольга", ("", "Ольга", "")),
    ("", ("", "", "")),
    ("   ", ("", "", "")),
    ("  Иванов \u00a0 Иван\u200b   Иванович  ", ("Иванов", "Иван", "Иванович")),
    ("\u2066Иван\u2069 \ufeffИванов", ("Иванов", "Иван", "")),
    ("Иван\tИванов\n", ("Иванов", "Иван", "")),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_a_full_name_is_split_into_its_parts(text, expected):
    last, first, middle = expected
    assert split_full_name(text) == PersonName(last=last, first=first, middle=middle)


def test_none_is_an_empty_name():
    assert split_full_name(None) == PersonName()
