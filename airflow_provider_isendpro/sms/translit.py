"""Opt-in transliteration of French text to the GSM-7 alphabet (SMS-FACTS §4).

One curly apostrophe switches a whole message to UCS-2, which iSendPro refuses for metropolitan French
numbers and which more than doubles the price elsewhere. Only characters outside the GSM tables are
replaced, so ``é è à ù É Ç €`` stay as they are, and every replacement is reported.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms.text import GSM_BASIC, GSM_EXTENSION, is_gsm, non_gsm_characters

_GSM = GSM_BASIC | GSM_EXTENSION


def _expand(mapping: dict[str, str]) -> dict[str, str]:
    """Turn ``{"ab": "x"}`` shorthand (several sources, one target) into one entry per character."""
    return {char: target for sources, target in mapping.items() for char in sources}


#: Explicit replacements; other Latin letters fall back to their Unicode decomposition without accents.
#: ``ç`` is not here: its target is the ``cedilla`` argument.
TRANSLITERATIONS: Final[dict[str, str]] = {
    **_expand(
        {
            "’‘‚′`‹›": "'",
            "“”„«»″": '"',
            "–—‐‑‒−": "-",
            "\u00a0\u202f\u2009\u2007\u2002\u2003\u2004\u2005\u2006\u2008\u200a\t": " ",
            # Invisible characters that word processors insert: dropping them changes nothing visible.
            "\u200b\u200c\u200d\u2060\ufeff\u00ad": "",
            "â": "a",
            "ê": "e",
            "î": "i",
            "ô": "o",
            "û": "u",
            "ÂÀ": "A",
            "ÊÈ": "E",
            "Î": "I",
            "Ô": "O",
            "ÛÙ": "U",
            "ë": "e",
            "ï": "i",
            "ÿ": "y",
            "Ë": "E",
            "Ï": "I",
            "Ÿ": "Y",
            "°": "o",
            # Letters without a Unicode decomposition, common in names.
            "ł": "l",
            "Ł": "L",
            "đ": "d",
            "Đ": "D",
            "ı": "i",
        }
    ),
    "…": "...",
    "œ": "oe",
    "Œ": "OE",
}
CEDILLA_CHOICES: Final = ("c", "Ç")


@dataclass(frozen=True)
class Transliteration:
    """The GSM-7 text and what was replaced (original character -> replacement), for the task log."""

    text: str
    replaced: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "replaced": dict(self.replaced)}


def _fallback(char: str) -> str | None:
    """Strip accents via compatibility decomposition (``ã`` -> ``a``, ``ﬁ`` -> ``fi``); None if not GSM."""
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if decomposed:
        return decomposed if all(c in _GSM for c in decomposed) else None
    # A lone combining mark (no base letter to sit on) has nothing to show in GSM: drop it.
    return ""


def _target(char: str, cedilla: str) -> str | None:
    """What ``char`` becomes in GSM-7, or None when it has no equivalent (an emoji, Cyrillic...)."""
    target = cedilla if char == "ç" else TRANSLITERATIONS.get(char)
    return _fallback(char) if target is None else target


def untransliterable(chars: list[str]) -> list[str]:
    """The characters of ``chars`` that :func:`transliterate` cannot replace: for them, ``transliterate``
    is no help, so an error must not advise it."""
    return [c for c in chars if _target(unicodedata.normalize("NFC", c), "c") is None]


def transliterate(text: str, *, cedilla: str = "c") -> Transliteration:
    """Return ``text`` rewritten in GSM-7, or raise naming the characters that have no equivalent.

    The text is first put in NFC form, so a decomposed ``e`` + combining acute becomes the GSM ``é``.
    ``cedilla`` chooses the target of ``ç``: ``"c"`` (default) or ``"Ç"`` (the GSM code point that old
    handsets display as ``ç``).
    """
    if cedilla not in CEDILLA_CHOICES:
        raise IsendproValidationError(
            field="cedilla", value=cedilla, rule='must be "c" or "Ç" (the replacement for "ç")'
        )
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if is_gsm(text):
        return Transliteration(text, {})
    replaced: dict[str, str] = {}
    missing: list[str] = []
    for char in non_gsm_characters(text):
        target = _target(char, cedilla)
        if target is None:
            missing.append(char)
        else:
            replaced[char] = target
    if missing:
        raise IsendproValidationError(
            field="text",
            value=text,
            rule=(
                f"has characters with no GSM-7 equivalent: {describe_characters(missing)}; remove them, "
                "or send without transliteration as UCS-2 to a number outside metropolitan France"
            ),
        )
    return Transliteration(text.translate({ord(c): r for c, r in replaced.items()}), replaced)


def describe_characters(chars: list[str], limit: int = 10) -> str:
    """``'’' (U+2019), '😀' (U+1F600)``: visible and unambiguous even for spaces and invisible marks."""
    shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")
