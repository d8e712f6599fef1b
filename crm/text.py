"""Text from outside (forms, channels, imports): what intake removes and how pages show it.

Real inputs carry characters nobody sees: a byte-order mark pasted with a phone, zero-width
spaces and joiners from messengers and web pages, direction marks, bidi embeddings,
overrides and isolates (U+202A–U+202E, U+2066–U+2069) that make "+7 999" read backwards.

- `clean_line` is for one-line values that identify or label a record — names, phones,
  e-mails, messenger handles, titles, company names, UTM values. It removes every format
  character (Unicode category Cf: soft hyphen, ZWSP, ZWNJ, ZWJ, LRM/RLM/ALM, the bidi
  embeddings, overrides and isolates, word joiner and invisible operators, BOM, interlinear
  annotation and tag characters…) and the other default-ignorable code points (combining
  grapheme joiner, Hangul fillers — Telegram's "invisible names" — Khmer inherent vowels,
  Mongolian variation selectors, variation selectors). Emoji keep what makes them emoji: a
  ZWJ between two symbols (👩‍💻), a variation selector after a symbol (❤️) and a flag's tag
  sequence after 🏴. Control characters and line/paragraph separators become spaces, runs
  of white space one space, and the ends are stripped.
- `clean_text` is for free text (messages, notes): invisible and direction characters are
  kept — they are the person's text — but control characters other than tab and line
  breaks (NUL cannot even be stored by PostgreSQL) are removed.
- Both turn lone surrogates (from JSON `\\ud800` escapes; no database can store them)
  into U+FFFD.
- `bidi_balanced` is for showing free text: unmatched closers are dropped and what is
  left open is closed at the end of each line, so the text cannot break out of the
  `<bdi>`/`dir="auto"` element around it and reorder what follows on the page.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

ZWJ = "\u200d"
BLACK_FLAG = "\U0001f3f4"
EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")  # LRE, RLE, LRO, RLO
ISOLATES = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI
PDF, PDI = "\u202c", "\u2069"
FSI = "\u2068"
BIDI_CONTROLS = EMBEDDINGS | ISOLATES | {PDF, PDI}
# Default-ignorable code points that are not in category Cf (DerivedCoreProperties.txt).
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement
)
_SPACES = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_IGNORABLE_PRINTABLE = re.compile(
    "[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _IGNORABLE_RANGES) + "]"
)
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko, Samaritan, Mandaic and their
# presentation forms; the historic RTL blocks of plane 1), RLM/ALM and the bidi controls.
_RIGHT_TO_LEFT = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff"
    "\U0001e800-\U0001efff\u061c\u200f\u202a-\u202e\u2066-\u2069]"
)


def _ignorable(char: str) -> bool:
    """Invisible: a format character or another default-ignorable code point."""
    if unicodedata.category(char) == "Cf":
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _symbol(char: str) -> bool:
    """A pictograph or an emoji modifier (skin tones are Sk)."""
    return unicodedata.category(char) in ("So", "Sk")


def _kept_in_emoji(text: str, index: int, previous: str) -> bool:
    """Whether the invisible character at `index` is part of an emoji sequence."""
    char = text[index]
    following = text[index + 1] if index + 1 < len(text) else ""
    if char == ZWJ:
        return bool(previous) and _symbol(previous) and bool(following) and _symbol(following)
    if char in ("\ufe0e", "\ufe0f"):  # text / emoji presentation
        return bool(previous) and _symbol(previous)
    if 0xE0020 <= ord(char) <= 0xE007F:  # a flag's tag sequence: 🏴 + tags + cancel tag
        return previous == BLACK_FLAG or 0xE0020 <= ord(previous or "\0") <= 0xE007F
    return False


def _surrogates_replaced(text: str) -> str:
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _visible(char: str) -> str:
    """A character of a one-line value: line breaks, tabs and other spacing controls become
    a space, other controls (NUL, escapes) nothing; the rest stays."""
    if char.isprintable():
        return char
    if char.isspace():
        return " "
    return "" if unicodedata.category(char) == "Cc" else char


def clean_line(value: str | None) -> str:
    """A one-line value without invisible or direction characters (module docstring)."""
    text = _surrogates_replaced(value or "")
    # Format, control and separator characters are not printable (str.isprintable), the
    # other default-ignorables are looked for: most values have neither.
    if text.isprintable() and (text.isascii() or not _IGNORABLE_PRINTABLE.search(text)):
        return _SPACES.sub(" ", text).strip()
    if text.isascii():  # only controls to tidy
        return _SPACES.sub(" ", "".join(map(_visible, text))).strip()
    kept: list[str] = []
    for index, char in enumerate(text):
        if _ignorable(char):
            if _kept_in_emoji(text, index, kept[-1] if kept else ""):
                kept.append(char)
            continue
        kept.append(_visible(char))
    return _SPACES.sub(" ", "".join(kept)).strip()


def clean_text(value: str | None) -> str:
    """Free text with its control characters removed, except tab and line breaks; invisible
    and direction characters are kept (module docstring)."""
    text = _surrogates_replaced(value or "")
    if text.isprintable():
        return text
    return "".join(char for char in text if char in "\t\n\r" or unicodedata.category(char) != "Cc")


def clean_data(value: Any) -> Any:
    """`clean_text` over every string inside a JSON-like value (dicts, lists)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(item) for item in value]
    return value


def _balanced_line(line: str) -> str:
    opened: list[str] = []  # "E" for an embedding or override, "I" for an isolate
    out: list[str] = []
    for char in line:
        if char in EMBEDDINGS:
            opened.append("E")
        elif char in ISOLATES:
            opened.append("I")
        elif char == PDF:
            if not opened or opened[-1] != "E":
                continue  # closes nothing opened here: it would close the page's own
            opened.pop()
        elif char == PDI:
            if "I" not in opened:
                continue
            while opened.pop() != "I":  # a PDI also ends the embeddings inside its isolate
                pass
        out.append(char)
    out.extend(PDF if kind == "E" else PDI for kind in reversed(opened))
    return "".join(out)


def bidi_balanced(value: str | None) -> str:
    """Free text as shown: each line's bidi embeddings, overrides and isolates matched, so
    it cannot reorder what surrounds it (module docstring)."""
    text = value or ""
    if not _BIDI_CONTROL.search(text):
        return text
    return "\n".join(_balanced_line(line) for line in text.split("\n"))


def isolated(value: str) -> str:
    """A value put inside a sentence, as plain text: wrapped in FSI…PDI (a Unicode isolate)
    when it holds right-to-left letters or bidi controls, so neither can reorder the
    sentence around it (timeline sentences, notifications); other values are unchanged."""
    if value.isascii() or not _RIGHT_TO_LEFT.search(value):
        return value
    return FSI + bidi_balanced(value).replace("\n", " ") + PDI
