"""Words of a lead for prefix search: how names, titles and companies are cut into words.

A word is a run of letters, digits or underscores, upper-cased, with Ё read as Е, at least
MIN_WORD characters long and cut to MAX_WORD. The same rule exists in SQL, for
the benchmark loader (`WORDS_SQL`) and the migration's backfill (a frozen copy); a test keeps
them alike.
"""

from __future__ import annotations

import re

MIN_WORD = 2  # single letters are initials and conjunctions: too many rows, no use alone
MAX_WORD = 32
SOURCE_FIELDS = ("title", "name", "company_name")
_WORD = re.compile(r"\w+")


def _normalize(text: str) -> str:
    return text.upper().replace("Ё", "Е")


def text_words(*texts: str) -> set[str]:
    """The distinct searchable words of some texts."""
    return {
        word[:MAX_WORD]
        for text in texts
        for word in _WORD.findall(_normalize(text))
        if len(word) >= MIN_WORD
    }


def query_words(query: str) -> list[str]:
    """The distinct words of a search query (prefixes), longest first."""
    words = {word[:MAX_WORD] for word in _WORD.findall(_normalize(query))}
    return sorted(words, key=lambda word: (-len(word), word))


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high): every string starting with `prefix`, in code point order (collation "C")."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


# The same rule in SQL, as a lateral subquery over a lead row aliased `l` (PostgreSQL):
# `FROM leads_lead l CROSS JOIN LATERAL (<WORDS_SQL>) w` gives its distinct words, `w.word`.
WORDS_SQL = (
    f"SELECT DISTINCT left(part, {MAX_WORD}) AS word "  # noqa: S608 - constants only
    "FROM regexp_split_to_table("
    "translate(upper(l.title || ' ' || l.name || ' ' || l.company_name), 'Ё', 'Е'), '\\W+'"
    f") AS part WHERE length(part) >= {MIN_WORD}"
)
