"""The emulator's own GSM 03.38 segment counter: slow, obvious, and independent of the product.

A test double must not share the code it checks: if the emulator counted with ``sms.text``, a counting
bug in the provider would be billed and accepted identically on both sides and no test would see it.
This module therefore imports nothing from ``airflow_provider_isendpro.sms``. Its tables are written out
row by row from 3GPP TS 23.038 (the same layout as the table in SMS-FACTS §1), and it splits a message
the way a phone does, one character at a time, with no arithmetic shortcut.
"""

from __future__ import annotations

from typing import Final

#: 3GPP TS 23.038 default alphabet, code points 0x00-0x7F, one string per row of 16. ``\x1b`` (ESC, the
#: escape to the extension table) stands in its place and is removed from the character set below.
_BASIC_ROWS: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå",  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ",  # 0x10-0x1F
    " !\"#¤%&'()*+,-./",  # 0x20-0x2F
    "0123456789:;<=>?",  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO",  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§",  # 0x50-0x5F
    "¿abcdefghijklmno",  # 0x60-0x6F
    "pqrstuvwxyzäöñüà",  # 0x70-0x7F
)
#: The extension table: ESC followed by this code gives the character (2 septets each).
_EXTENSION_CODES: Final = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

BASIC: Final = frozenset("".join(_BASIC_ROWS)) - {"\x1b"}
EXTENSION: Final = frozenset(_EXTENSION_CODES.values())
ALPHABET: Final = BASIC | EXTENSION

#: Units iSendPro appends for its STOP mention (API-NOTES 8.2: 160 - 148 usable characters).
STOP_SUFFIX_LENGTH: Final = 12

GSM_SINGLE, GSM_PART = 160, 153  # septets: one SMS, one part of a concatenated SMS
UCS_SINGLE, UCS_PART = 70, 67  # UTF-16 code units


#: Characters that are not SMS text: C0 controls except LF, CR, FF and TAB; ESC; DEL; lone surrogates.
NOT_TEXT: Final = frozenset(
    [chr(c) for c in range(0x20) if chr(c) not in "\n\r\f\t"]
    + ["\x7f"]
    + [chr(c) for c in range(0xD800, 0xE000)]
)


def not_text(text: str) -> str | None:
    """The first character that is not SMS text (a control character, ESC, a lone surrogate), or ``None``.

    Line feed, carriage return, form feed and tab are text (tab is simply not GSM).
    """
    if set(text).isdisjoint(NOT_TEXT):
        return None
    return next(char for char in text if char in NOT_TEXT)


def non_gsm(text: str) -> list[str]:
    """The distinct characters of ``text`` outside both GSM tables, in order of first appearance."""
    return sorted(set(text) - ALPHABET, key=text.index)


def units_of(text: str) -> tuple[str, list[int]]:
    """``(encoding, units per character)``: GSM-7 septets, else UCS-2 UTF-16 code units."""
    if set(text) <= ALPHABET:
        return "GSM-7", [2 if char in EXTENSION else 1 for char in text]
    return "UCS-2", [len(char.encode("utf-16-le")) // 2 for char in text]


def count(text: str) -> tuple[str, int, int]:
    """``(encoding, units, segments)`` of ``text``, splitting it part by part like a handset.

    A character never straddles two parts (an ESC pair or a surrogate pair stays whole): if it does not
    fit in what is left of the current part, the part is closed and the character starts the next one.
    Raises ``ValueError`` for text that is not SMS text (see :func:`not_text`).
    """
    bad = not_text(text)
    if bad is not None:
        raise ValueError(f"contains the control character {bad!r}, which is not SMS text")
    if set(text) <= ALPHABET:
        encoding, single, part_size = "GSM-7", GSM_SINGLE, GSM_PART
        total = len(text) + sum(text.count(char) for char in EXTENSION)
    else:
        encoding, single, part_size = "UCS-2", UCS_SINGLE, UCS_PART
        total = len(text.encode("utf-16-le")) // 2
    if total == 0:
        return encoding, 0, 0
    if total <= single:
        return encoding, total, 1
    parts, used = 1, 0  # parts so far, units used in the last one
    for unit in units_of(text)[1]:
        if used + unit > part_size:
            parts, used = parts + 1, 0
        used += unit
    return encoding, total, parts
