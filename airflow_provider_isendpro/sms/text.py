"""GSM 03.38 alphabet and exact SMS segment counting (SMS-FACTS §1-3).

Counting decides what the customer is billed, so it follows the greedy splitter exactly: a 2-unit
character (an ESC pair in GSM-7, a surrogate pair in UCS-2) never straddles two parts. The common case,
plain ASCII text without extension characters, is answered by one C-level regex scan.
"""

from __future__ import annotations

import re
from typing import Final

from airflow_provider_isendpro.errors import IsendproValidationError

#: The 127 characters of the GSM 03.38 basic table (1 unit each). ESC (0x1B) is left out: it is the
#: escape to the extension table, not a character.
GSM_BASIC: Final[frozenset[str]] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The ten characters of the extension table; each costs 2 units (ESC + code).
GSM_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")

#: Units iSendPro appends for the mandatory STOP mention (e.g. " STOP 36xxx") on commercial messages
#: with a custom sender. API-NOTES 8.2 quotes both 148 and 149 usable characters; 12 (= 160 - 148) is
#: the conservative reading, so a message we accept never spills into a paid extra part.
STOP_SUFFIX_LENGTH: Final = 12
#: iSendPro refuses more than 6 concatenated parts (``smslong``), i.e. 918 GSM-7 units.
ISENDPRO_MAX_SEGMENTS: Final = 6

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"
_GSM_SINGLE, _GSM_PART = 160, 153
_UCS_SINGLE, _UCS_PART = 70, 67


def _char_class(chars: frozenset[str]) -> str:
    return "".join(sorted(re.escape(c) for c in chars))


# Control characters that are not text: C0 except TAB (transliterable to a space), LF, FF (GSM
# extension) and CR; ESC (a literal escape would corrupt the septet stream); DEL; lone surrogates
# (cannot be encoded on the wire).
_INVALID = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")
# ASCII characters that are not plain 1-unit GSM: the invalid controls, TAB, backtick (not GSM) and the
# extension characters. Text that is ASCII and free of these is GSM-7 with one unit per character.
_ASCII_SPECIAL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f`^{}\\\\\\[\\]~|]")
_NON_GSM = re.compile(f"[^{_char_class(GSM_BASIC | GSM_EXTENSION)}]")
_EXTENSION = re.compile(f"[{_char_class(GSM_EXTENSION)}]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _not_text(value: object) -> IsendproValidationError:
    return IsendproValidationError(
        field="text", value=value, rule=f"must be a string, not {type(value).__name__}"
    )


def _reject_invalid(text: str) -> None:
    if not isinstance(text, str):
        raise _not_text(text)
    bad = _INVALID.search(text)
    if bad is not None:
        raise IsendproValidationError(
            field="text",
            value=text,
            rule=(
                f"contains the control character {bad.group()!r} at position {bad.start()}, which is "
                "not SMS text (only line feed, carriage return, form feed and tab are allowed); remove it"
            ),
        )


def _parts(text: str, doubles: re.Pattern[str], total: int, single: int, per_part: int) -> int:
    """Parts used by the greedy splitter, without a loop over every character.

    Each 2-unit character that would start at the last unit of a part is pushed to the next part, which
    wastes one unit; counting that padding and dividing is the same as splitting greedily.
    """
    if total <= single:
        return 1 if total else 0
    padding = 0
    for k, match in enumerate(doubles.finditer(text)):
        # Units before this character = its index + one extra unit per earlier 2-unit character.
        if (match.start() + k + padding) % per_part == per_part - 1:
            padding += 1
    return -(-(total + padding) // per_part)


def count_segments(text: str) -> tuple[str, int, int]:
    """Return ``(encoding, units, segments)`` for ``text`` exactly as the network splits it.

    ``encoding`` is ``"GSM-7"`` or ``"UCS-2"``; UCS-2 units are UTF-16 code units (emoji cost 2).
    Raises :class:`IsendproValidationError` for control characters that are not text (e.g. ESC).
    """
    if not isinstance(text, str):
        raise _not_text(text)
    if text.isascii() and _ASCII_SPECIAL.search(text) is None:
        n = len(text)
        return GSM7, n, (1 if n else 0) if n <= _GSM_SINGLE else -(-n // _GSM_PART)
    _reject_invalid(text)
    if _NON_GSM.search(text) is None:
        total = len(text) + sum(1 for _ in _EXTENSION.finditer(text))
        return GSM7, total, _parts(text, _EXTENSION, total, _GSM_SINGLE, _GSM_PART)
    total = len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2
    return UCS2, total, _parts(text, _ASTRAL, total, _UCS_SINGLE, _UCS_PART)


def non_gsm_characters(text: str) -> list[str]:
    """The distinct characters of ``text`` outside both GSM tables, in order of first appearance.

    These are the characters that force the whole message into UCS-2; error messages name them.
    """
    _reject_invalid(text)
    return list(dict.fromkeys(_NON_GSM.findall(text)))


def is_gsm(text: str) -> bool:
    """Whether ``text`` fits the GSM-7 alphabet (basic or extension table)."""
    _reject_invalid(text)
    return _NON_GSM.search(text) is None
