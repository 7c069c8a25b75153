"""The API-NOTES rules the spec's schemas cannot express: numbers, sender, dates, tracker, segments.

Pure functions without I/O, so the request handlers stay readable and each rule is tested on its own.
"""

from __future__ import annotations

import re
from datetime import datetime

from . import gsm

_DIGITS = re.compile(r"[0-9]+")
_FR_NATIONAL = re.compile(r"0[1-9][0-9]{8}")
_FR_INTERNATIONAL = re.compile(r"33[1-9][0-9]{8}")
_INTERNATIONAL = re.compile(r"[1-9][0-9]{7,14}")
_SENDER = re.compile(r"(?=.*[A-Z ])[0-9A-Z ]{4,11}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}")
DATE_FORMAT = "%Y-%m-%d %H:%M"
# National prefixes that look French but belong to overseas departments (SMS-FACTS §5): not
# "metropolitan France" for the ucs2 rule.
_OVERSEAS = (
    "0639",
    "0690",
    "0691",
    "0692",
    "0693",
    "0694",
    "0696",
    "0697",
    "0262",
    "0269",
    "0590",
    "0594",
    "0596",
)


def normalise_number(raw: str, *, accept_plus: bool = True) -> str | None:
    """The number as iSendPro would route it, or ``None`` when it is not a possible number.

    National French ``0XXXXXXXXX`` and international digits are accepted; a leading ``+`` only when
    ``accept_plus`` (API-NOTES §11 #11). Anything else (spaces, letters, wrong length) is invalid, which
    the send operations report as code 21.
    """
    text = raw
    if text.startswith("+"):
        if not accept_plus:
            return None
        text = text[1:]
    if not _DIGITS.fullmatch(text):
        return None
    if _FR_NATIONAL.fullmatch(text) or _FR_INTERNATIONAL.fullmatch(text):
        return text
    if _INTERNATIONAL.fullmatch(text) and not text.startswith("33"):
        return text
    return None


def national(number: str) -> str:
    """French numbers in national form (``33612345678`` -> ``0612345678``); others unchanged.

    One key per subscriber, so the blacklist, répertoires and magic numbers match either form.
    """
    if _FR_INTERNATIONAL.fullmatch(number):
        return "0" + number[2:]
    return number


def is_metropolitan_french(number: str) -> bool:
    """Whether a normalised number is a metropolitan French one (where UCS-2 is refused)."""
    nat = national(number)
    return bool(_FR_NATIONAL.fullmatch(nat)) and not nat.startswith(_OVERSEAS)


def check_sender(value: str, *, accept_lowercase: bool) -> str | None:
    """The sender as it will be used, or ``None`` if invalid (4-11 of ``[0-9A-Z ]``, not only digits)."""
    candidate = value.upper() if accept_lowercase else value
    return candidate if _SENDER.fullmatch(candidate) else None


def parse_date(value: str) -> datetime | None:
    """``YYYY-MM-DD hh:mm`` (24 h, no seconds) as a naive datetime, or ``None`` if malformed."""
    if not _DATE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        return None


def check_tracker(value: str, pattern: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def stop_suffix(configured: int | None) -> int:
    """Units the STOP mention adds: the emulator's own constant (12) unless the config overrides it."""
    return gsm.STOP_SUFFIX_LENGTH if configured is None else configured


def count(text: str, *, with_stop: bool, suffix: int) -> tuple[str, int, int]:
    """``(encoding, units, segments)`` of ``text`` as billed, the STOP mention included when it applies.

    Counted by the emulator's own :mod:`.gsm` module, never by the provider's code it is checking.
    Raises ``ValueError`` for text that is not SMS text (control characters).
    """
    if with_stop and suffix > 0:
        text = text + " " * suffix
    return gsm.count(text)


def non_gsm_characters(text: str) -> list[str]:
    """The characters that make ``text`` UCS-2, for error messages."""
    return gsm.non_gsm(text)
