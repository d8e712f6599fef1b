"""A person's full name split into last, first and middle name (the conversion dialog
prefills a new contact with it; the manager corrects it there).

Recognised: the Russian official order "Фамилия Имя Отчество" and the everyday "Имя
Фамилия" (also "Имя Отчество Фамилия" and "Имя Отчество"), told apart by the patronymic's
ending (-ович, -евич, -овна, -ична, -инична…, Turkic "оглы"/"кызы") and the surname's
(-ов, -ева, -ский, -енко…); "Фамилия, Имя" with a comma; Latin names as "First [Middle]
Last". Anything it cannot tell goes to the first name, so nothing typed is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm.text import clean_line

# Endings of patronymics: Иванович, Сергеевич, Ильич, Петровна, Никитична, Ильинична.
_PATRONYMIC = re.compile(r"(ович|евич|ёвич|овна|евна|ёвна|ична|инична)$", re.IGNORECASE)
# Short forms (Ильич, Лукич, Кузьмич, Фомич) count only in the patronymic's place.
_PATRONYMIC_SHORT = re.compile(r"(ьич|кич|мич)$", re.IGNORECASE)
# The second word of a Turkic patronymic (Гейдар оглы, Алиевна is caught above).
_TURKIC = {"оглы", "оглу", "улы", "кызы", "гызы"}
# Endings of Russian, Ukrainian, Belarusian and Caucasian surnames.
_SURNAME = re.compile(
    r"(ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ский|цкий|ская|цкая|ской|цкой|ых|их|енко|ко|ук|юк|"
    r"чук|ян|янц|дзе|швили|ий|ая|ич)$",
    re.IGNORECASE,
)
# Common first names that the surname endings above would take for surnames.
_FIRST_NAMES = {
    "ирина",
    "марина",
    "галина",
    "полина",
    "алина",
    "карина",
    "нина",
    "кристина",
    "валентина",
    "екатерина",
    "ангелина",
    "регина",
    "арина",
    "дарина",
    "зарина",
    "анатолий",
    "василий",
    "виталий",
    "григорий",
    "юрий",
    "дмитрий",
    "георгий",
    "аркадий",
    "евгений",
    "валерий",
    "геннадий",
    "иннокентий",
    "николай",
    "сергей",
    "алексей",
    "андрей",
    "матвей",
    "тимофей",
    "майя",
    "мария",
    "наталия",
    "юлия",
    "лидия",
    "софия",
    "анастасия",
    "виктория",
    "валерия",
    "дарья",
    "ксения",
    "олеся",
    "тая",
    "зоя",
    "рая",
    "лев",
    "яков",
    "елизавета",
    "станислав",
    "вячеслав",
    "ярослав",
    "мирослав",
    "святослав",
    "владислав",
    "ростислав",
    "борислав",
}


@dataclass(frozen=True)
class PersonName:
    """A name in its parts; each may be empty."""

    last: str = ""
    first: str = ""
    middle: str = ""


def _is_patronymic(word: str, *, strict: bool) -> bool:
    if _PATRONYMIC.search(word) and len(word) > 5:
        return True
    return not strict and bool(_PATRONYMIC_SHORT.search(word)) and len(word) > 4


def _looks_like_surname(word: str) -> bool:
    return word.casefold() not in _FIRST_NAMES and bool(_SURNAME.search(word))


def _is_cyrillic(words: list[str]) -> bool:
    return any("\u0400" <= char <= "\u04ff" for word in words for char in word)


def _join_turkic(words: list[str]) -> list[str]:
    """The Turkic patronymic ("Алиев Рашид Гейдар оглы") is two words, kept as one."""
    if len(words) >= 3 and words[-1].casefold() in _TURKIC:
        return [*words[:-2], f"{words[-2]} {words[-1]}"]
    return words


def _two(first: str, second: str) -> PersonName:
    if _is_patronymic(second, strict=True) and not _is_patronymic(first, strict=True):
        return PersonName(first=first, middle=second)  # Иван Петрович
    if _looks_like_surname(first) and not _looks_like_surname(second):
        return PersonName(last=first, first=second)  # Иванов Иван
    return PersonName(first=first, last=second)  # Иван Иванов, John Smith


def split_full_name(text: str | None) -> PersonName:
    """The parts of the full name `text` (invisible characters and extra spaces ignored)."""
    line = clean_line(text)
    if "," in line:  # "Иванов, Иван Иванович", "Smith, John"
        last, _comma, rest = line.partition(",")
        rest_words = rest.replace(",", " ").split()
        if last.strip() and rest_words:
            return PersonName(
                last=" ".join(last.split()),
                first=rest_words[0],
                middle=" ".join(rest_words[1:]),
            )
        line = line.replace(",", " ")
    words = line.split()
    if not words:
        return PersonName()
    if len(words) == 1:
        return PersonName(first=words[0])
    words = _join_turkic(words)
    if len(words) == 2:
        if " " in words[1]:  # Рашид Гейдар оглы
            return PersonName(first=words[0], middle=words[1])
        return _two(*words)
    # Three words or more: find the patronymic, in the places it stands in.
    last_word = words[-1]
    if " " in last_word or _is_patronymic(last_word, strict=False):
        # Фамилия Имя Отчество (a double surname may take several words).
        return PersonName(last=" ".join(words[:-2]), first=words[-2], middle=last_word)
    if _is_patronymic(words[1], strict=True):
        # Имя Отчество Фамилия
        return PersonName(first=words[0], middle=words[1], last=" ".join(words[2:]))
    if len(words) == 3 and _is_cyrillic(words) and _looks_like_surname(words[0]):
        return PersonName(last=words[0], first=words[1], middle=words[2])
    # First [Middle…] Last (Latin names, or an order we cannot tell).
    return PersonName(first=words[0], middle=" ".join(words[1:-1]), last=words[-1])
