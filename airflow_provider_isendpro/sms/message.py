"""What a message costs and whether iSendPro will take it: encoding, segments, STOP suffix, caps.

``prepare_message`` applies the provider's UCS-2 policy (API-NOTES 8.1): iSendPro accepts UCS-2 only
for numbers outside metropolitan France, so non-GSM text to a French number is transliterated (opt-in)
or refused before anything is sent. The overseas departments get GSM-7 only by default too (see
``phones.FRENCH_OVERSEAS_REGIONS`` for why); ``ucs2_overseas=True`` lets them have UCS-2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms.phones import FRENCH_OVERSEAS_REGIONS, region_name
from airflow_provider_isendpro.sms.text import (
    GSM7,
    ISENDPRO_MAX_SEGMENTS,
    STOP_SUFFIX_LENGTH,
    UCS2,
    count_segments,
    non_gsm_characters,
)
from airflow_provider_isendpro.sms.translit import describe_characters, untransliterable
from airflow_provider_isendpro.sms.translit import transliterate as _transliterate

# Stands in for iSendPro's STOP mention, whose exact text is unknown (API-NOTES 8.2): twelve 1-unit
# characters, GSM and ASCII, so appending them never changes the encoding.
_STOP_PLACEHOLDER = " " * STOP_SUFFIX_LENGTH


@dataclass(frozen=True)
class MessageInfo:
    """Encoding and billed size of one message (``units`` and ``segments`` include the STOP suffix)."""

    text: str
    encoding: str
    units: int
    segments: int
    stop_suffix: bool
    non_gsm: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "encoding": self.encoding,
            "units": self.units,
            "segments": self.segments,
            "stop_suffix": self.stop_suffix,
            "non_gsm": list(self.non_gsm),
        }


@dataclass(frozen=True)
class PreparedMessage:
    """The text to send and the request flags that go with it (``ucs2``, ``smslong``)."""

    text: str
    encoding: str
    ucs2: bool
    units: int
    segments: int
    smslong: str
    replaced: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "encoding": self.encoding,
            "ucs2": self.ucs2,
            "units": self.units,
            "segments": self.segments,
            "smslong": self.smslong,
            "replaced": dict(self.replaced),
        }


def _check_max_segments(value: object, name: str = "max_segments") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ISENDPRO_MAX_SEGMENTS:
        raise IsendproValidationError(
            field=name,
            value=value,
            rule=f"must be a whole number from 1 to {ISENDPRO_MAX_SEGMENTS} (iSendPro's limit of SMS parts)",
        )
    return value


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():  # blanks only: an empty SMS, billed all the same
        raise IsendproValidationError(
            field="text", value=text, rule="must be a non-empty string: there is nothing to send"
        )
    return text


def smslong_value(segments: int) -> str:
    """The ``smslong`` request field: how many parts iSendPro may use (it refuses the message beyond).

    Sending the caller's cap rather than ``"999"`` means a count that differs from ours (an unexpected
    STOP text, say) is refused instead of silently billed above budget.
    """
    return str(_check_max_segments(segments, "smslong"))


def analyse_message(text: str, *, stop_suffix: bool = False, max_segments: int = 6) -> MessageInfo:
    """Count ``text`` (plus the STOP suffix when ``stop_suffix``) and enforce the ``max_segments`` cap."""
    max_segments = _check_max_segments(max_segments)
    text = _check_text(text)
    encoding, units, segments = count_segments(text + _STOP_PLACEHOLDER if stop_suffix else text)
    if segments > max_segments:
        single, per_part = (160, 153) if encoding == GSM7 else (70, 67)
        cap = single if max_segments == 1 else max_segments * per_part
        suffix = (
            f", including the {STOP_SUFFIX_LENGTH}-unit STOP suffix iSendPro appends" if stop_suffix else ""
        )
        raise IsendproValidationError(
            field="text",
            value=text,
            rule=(
                f"is {units} {encoding} units long{suffix}, which needs {segments} SMS parts, more than "
                f"the cap of {max_segments} (at most {cap} units); shorten the message"
                # raising the cap helps only up to iSendPro's own limit of 6 parts
                + (f" or raise it: max_segments={segments}" if segments <= ISENDPRO_MAX_SEGMENTS else "")
            ),
        )
    non_gsm = tuple(non_gsm_characters(text)) if encoding == UCS2 else ()
    return MessageInfo(text, encoding, units, segments, stop_suffix, non_gsm)


def _gsm_only_reason(region: str | None, *, can_transliterate: bool = True) -> str:
    """Why the recipient gets GSM-7 only and what to do, naming the number's real region.

    ``transliterate=True`` is advised only when it would replace every character (``can_transliterate``):
    it has nothing for an emoji, which must be removed (or, overseas, sent as UCS-2).
    """
    fix = "replace them, or pass transliterate=True to convert them automatically"
    if not can_transliterate:
        fix = "remove them (transliterate=True has no GSM-7 equivalent for them)"
    if region == "FR":
        return f"iSendPro only sends GSM-7 text to metropolitan French numbers: {fix}"
    if region in FRENCH_OVERSEAS_REGIONS:
        overseas_fix = (
            "replace them, pass transliterate=True to convert them automatically, or"
            if can_transliterate
            else "remove them (transliterate=True has no GSM-7 equivalent for them), or pass"
        )
        return (
            f"the number is in {region_name(region)}, a French overseas department, which gets GSM-7 text "
            f"only by default: {overseas_fix} ucs2_overseas=True to send UCS-2 (iSendPro allows it outside "
            "metropolitan France)"
        )
    if region is None:
        return "the recipients are not known in advance (a contact list), so only GSM-7 text is sent: " + fix
    return f"the number is in {region_name(region)} and was sent as GSM-7 only: {fix}"


def prepare_message(
    text: str,
    *,
    metropolitan: bool,
    region: str | None = "FR",
    transliterate: bool = False,
    stop_suffix: bool = False,
    max_segments: int = 6,
) -> PreparedMessage:
    """Apply the UCS-2 policy, then count and cap: the ready-to-send text with its ``ucs2``/``smslong``.

    ``metropolitan`` means the recipient needs GSM-only text: metropolitan France always, the French
    overseas departments by default (SMS-FACTS §4); :meth:`PhoneNumber.gsm_only_for` gives that answer
    for a number. ``region`` (the number's region code, ``None`` when the recipients are unknown) only
    words the error. GSM text is sent as is; non-GSM text to a GSM-only recipient is transliterated when
    ``transliterate`` is on, otherwise refused; non-GSM text to any other number is sent with ``ucs2``.
    """
    max_segments = _check_max_segments(max_segments)
    text = _check_text(text)
    replaced: dict[str, str] = {}
    non_gsm = non_gsm_characters(text)
    if non_gsm and metropolitan:
        missing = untransliterable(non_gsm)
        if missing:  # transliterate=True cannot help: say so, whether it is on or not
            raise IsendproValidationError(
                field="text",
                value=text,
                rule=(
                    f"has characters with no GSM-7 equivalent: {describe_characters(missing)}; "
                    + _gsm_only_reason(region, can_transliterate=False)
                ),
            )
        if not transliterate:
            raise IsendproValidationError(
                field="text",
                value=text,
                rule=(
                    f"has characters outside the GSM-7 alphabet: {describe_characters(non_gsm)}; "
                    + _gsm_only_reason(region)
                ),
            )
        result = _transliterate(text)
        text, replaced = result.text, result.replaced
    info = analyse_message(text, stop_suffix=stop_suffix, max_segments=max_segments)
    return PreparedMessage(
        text=info.text,
        encoding=info.encoding,
        ucs2=info.encoding == UCS2,
        units=info.units,
        segments=info.segments,
        smslong=smslong_value(max_segments),
        replaced=replaced,
    )
