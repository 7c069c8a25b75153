"""Fit a message into an SMS budget by shortening it, never by producing an invalid or longer SMS.

Alerts are machine-made: an exception message can be 10 kB long, hold ANSI colour codes, curly quotes
or emoji. :func:`make_sendable` turns such text into something iSendPro accepts (GSM-7 only for French
numbers, SMS-FACTS §4); :func:`fit_message` then cuts it to ``max_segments`` parts (default one SMS),
at a word boundary when one is close, and marks the cut with an ellipsis.

Python strings hold whole code points, so a cut never splits a 2-unit GSM extension character (``€``)
or a UTF-16 surrogate pair (an emoji): both are one character here and :func:`count_segments` charges
them their real cost. Cuts also avoid splitting what a reader sees as one character: a letter and its
combining accents, ``\\r\\n``, an emoji joined with ZWJ or followed by a variation selector or skin-tone
modifier, and a flag (two regional indicators).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms.text import (
    ISENDPRO_MAX_SEGMENTS,
    STOP_SUFFIX_LENGTH,
    count_segments,
    is_gsm,
    non_gsm_characters,
)
from airflow_provider_isendpro.sms.translit import transliterate

#: Marks a shortened message; three GSM-7 dots cost 3 units in either encoding (``…`` is not GSM).
ELLIPSIS: Final = "..."
#: How far back (in characters) :func:`fit_message` looks for a word boundary before cutting mid-word.
WORD_BACKTRACK: Final = 20
#: A single GSM-7 SMS holds 160 units and every character costs at least one: no longer prefix can fit
#: in ``n`` parts than ``160 * n`` characters (bounds the search on huge inputs).
_MAX_CHARS_PER_PART: Final = 160

_ZWJ: Final = "\u200d"
_REGIONAL_INDICATORS: Final = range(0x1F1E6, 0x1F200)
# Code points that attach to the character before them (besides combining marks): ZWJ, variation
# selectors, emoji skin-tone modifiers, tag characters (subdivision flags).
_ATTACHING = re.compile(
    "[\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
# What iSendPro cannot carry: C0 controls other than LF, CR, FF and TAB, ESC, DEL (SMS-FACTS §1.1).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")


def _check_max_segments(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ISENDPRO_MAX_SEGMENTS:
        raise IsendproValidationError(
            field="max_segments",
            value=value,
            rule=f"must be a whole number from 1 to {ISENDPRO_MAX_SEGMENTS} (iSendPro's limit of SMS parts)",
        )
    return value


def _check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise IsendproValidationError(
            field=name, value=value, rule=f"must be a string, not {type(value).__name__}"
        )
    return value


def _is_regional_indicator(char: str) -> bool:
    return ord(char) in _REGIONAL_INDICATORS


def is_safe_cut(text: str, k: int) -> bool:
    """Whether ``text[:k]`` ends on a whole user-visible character (see the module docstring).

    ``0`` and ``len(text)`` are always safe.
    """
    if k <= 0 or k >= len(text):
        return True
    before, after = text[k - 1], text[k]
    if unicodedata.category(after) in ("Mn", "Mc", "Me") or _ATTACHING.match(after) or before == _ZWJ:
        return False
    if before == "\r" and after == "\n":
        return False
    if _is_regional_indicator(before) and _is_regional_indicator(after):
        run = 0
        while run < k and _is_regional_indicator(text[k - 1 - run]):
            run += 1
        return run % 2 == 0  # an odd run before the cut would leave half a flag
    return True


def _safe_floor(text: str, k: int) -> int:
    while not is_safe_cut(text, k):
        k -= 1
    return k


def _clean_cut(text: str, k: int) -> int:
    """The end of ``text[:k]`` once trailing whitespace is dropped and the cut moved to a safe place."""
    while True:
        k = _safe_floor(text, k)
        stripped = len(text[:k].rstrip())
        if stripped == k:
            return k
        k = stripped


def fit_message(
    text: str,
    *,
    max_segments: int = 1,
    stop_suffix: bool = False,
    ellipsis: str = ELLIPSIS,
    suffix: str = "",
) -> str:
    """Return ``text + suffix`` if it fits in ``max_segments`` SMS parts, else the longest shortened form.

    The shortened form is ``text[:k].rstrip() + ellipsis + suffix``, where ``k`` is the largest safe cut
    (see :func:`is_safe_cut`) for which ``text[:k] + ellipsis + suffix`` fits, moved back to the last word
    boundary (a whitespace character) if that drops at most :data:`WORD_BACKTRACK` characters. ``suffix``
    is never shortened: use it for what must stay whole, such as a link.

    Fitting counts exactly as the network splits (:func:`count_segments`), including the encoding: a
    non-GSM character makes the whole text UCS-2 (70 units). ``stop_suffix`` reserves the
    :data:`STOP_SUFFIX_LENGTH` units iSendPro appends to commercial messages with a custom sender.

    :raises IsendproValidationError: ``max_segments`` is not 1-6; ``text``, ``ellipsis`` or ``suffix``
        is not a string or holds a control character that is not SMS text; or ``ellipsis + suffix`` alone
        does not fit (the message cannot be shortened into the budget).
    """
    max_segments = _check_max_segments(max_segments)
    text = _check_str("text", text)
    ellipsis = _check_str("ellipsis", ellipsis)
    suffix = _check_str("suffix", suffix)
    stop = " " * STOP_SUFFIX_LENGTH if stop_suffix else ""

    def fits(candidate: str) -> bool:
        return count_segments(candidate + stop)[2] <= max_segments

    count_segments(text)  # control characters are refused even when the text would be cut before them
    if fits(text + suffix):
        return text + suffix
    tail = ellipsis + suffix
    if not fits(tail):
        raise IsendproValidationError(
            field="suffix",
            value=tail,
            rule=(
                f"with the ellipsis, needs more than {max_segments} SMS part(s) on its own"
                + (f" (plus the {STOP_SUFFIX_LENGTH}-unit STOP suffix)" if stop_suffix else "")
                + ": nothing of the message would fit; shorten the suffix or raise max_segments"
            ),
        )
    # fits(text[:k] + tail) only turns from True to False as k grows: a longer prefix never needs fewer
    # units, never switches back from UCS-2 to GSM-7, and greedy part filling is monotone. So the
    # largest fitting k is found by bisection (k = 0 fits, k = len(text) does not).
    low, high = 0, min(len(text), _MAX_CHARS_PER_PART * max_segments + 1)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(text[:middle] + tail):
            low = middle
        else:
            high = middle
    longest = _safe_floor(text, low)
    cut = longest
    for k in range(longest, max(longest - WORD_BACKTRACK - 1, 0), -1):
        if text[k].isspace() and is_safe_cut(text, k):
            cut = k
            break
    return text[: _clean_cut(text, cut)] + tail


def make_sendable(text: str, *, gsm_only: bool, replacement: str = "?") -> str:
    """Turn machine-made text (an exception message, a log line) into text iSendPro accepts.

    Control characters that are not SMS text (ESC of ANSI colour codes, NUL, ...) become spaces and lone
    surrogates (undecodable bytes) become ``replacement``. With ``gsm_only`` (a French recipient),
    characters outside GSM-7 are transliterated (``’`` -> ``'``, ``œ`` -> ``oe``, SMS-FACTS §4) and those
    with no equivalent (emoji, Cyrillic...) become ``replacement``, so the result is always GSM-7.
    The text is put in NFC form first (a decomposed ``e`` + accent becomes the GSM ``é``).
    """
    text = _check_str("text", text)
    replacement = _check_str("replacement", replacement)
    if _CONTROLS.search(replacement) or _LONE_SURROGATES.search(replacement) or not is_gsm(replacement):
        raise IsendproValidationError(
            field="replacement", value=replacement, rule="must be GSM-7 text without control characters"
        )
    text = _LONE_SURROGATES.sub(replacement, _CONTROLS.sub(" ", text))
    text = unicodedata.normalize("NFC", text)
    if not gsm_only or is_gsm(text):
        return text
    table: dict[int, str] = {}
    for char in non_gsm_characters(text):
        try:
            table[ord(char)] = transliterate(char).text
        except IsendproValidationError:
            table[ord(char)] = replacement
    return text.translate(table)
