"""Recipient numbers: parse, validate, normalise to iSendPro's wire form, deduplicate (SMS-FACTS §5).

``phonenumbers`` is imported inside functions only: importing this module stays cheap for DAG parsing.
Already-clean metropolitan mobiles (the bulk of a French send) take a fast path that checks the same
metadata patterns as ``phonenumbers.is_valid_number`` without building its objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Final

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms.numberset import NumberSet

#: National significant number prefixes (the national number without its leading 0) of the French
#: overseas departments, which share the ``06 9x`` look of French mobiles but have their own country codes.
OVERSEAS_PREFIXES: Final[dict[str, str]] = {
    "690": "GP",
    "691": "GP",
    "694": "GF",
    "696": "MQ",
    "697": "MQ",
    "692": "RE",
    "693": "RE",
    "639": "YT",
}
#: Regions of the French overseas departments (+262, +590, +594, +596): SMS-FACTS §4 defaults them to GSM.
#: iSendPro's rule is "UCS-2 only outside metropolitan France" (API-NOTES 8.1), which literally admits
#: them, but these numbers share the French numbering plan (``06 9x``) and French operators; whether
#: iSendPro routes them as "France" (GSM-7 only) is not documented. GSM-7 is delivered either way, so it
#: stays the default; ``ucs2_overseas=True`` (operator, notifier, client) opts in to UCS-2 for them.
FRENCH_OVERSEAS_REGIONS: Final = frozenset({"RE", "YT", "GP", "BL", "MF", "GF", "MQ"})
#: Names used in messages, so an error names the number's real region.
REGION_NAMES: Final[dict[str, str]] = {
    "FR": "metropolitan France",
    "RE": "Réunion",
    "YT": "Mayotte",
    "GP": "Guadeloupe",
    "BL": "Saint-Barthélemy",
    "MF": "Saint-Martin",
    "GF": "French Guiana",
    "MQ": "Martinique",
}

_KIND_OK: Final = frozenset({"mobile", "fixed_line_or_mobile", "pager", "personal_number", "unknown"})
_KIND_LANDLINE: Final = frozenset({"fixed_line", "voip"})
_KIND_WORDS: Final = {
    "fixed_line": "landline",
    "voip": "VoIP",
    "toll_free": "toll-free",
    "premium_rate": "premium-rate",
    "shared_cost": "shared-cost",
    "uan": "universal access (UAN)",
    "voicemail": "voicemail",
}
# Characters a written phone number may contain; letters are refused rather than read as a keypad word.
_ALLOWED: Final = re.compile(r"[0-9+.\-()/\s]+")


@dataclass(frozen=True)
class PhoneNumber:
    """A validated recipient. ``wire`` is what goes in iSendPro's ``num`` field."""

    raw: str
    e164: str
    wire: str
    region: str
    metropolitan: bool
    kind: str

    @property
    def gsm_only(self) -> bool:
        """Whether to send GSM-7 only: metropolitan France, and by default its overseas departments."""
        return self.metropolitan or self.region in FRENCH_OVERSEAS_REGIONS

    def gsm_only_for(self, *, ucs2_overseas: bool = False) -> bool:
        """:attr:`gsm_only`, unless ``ucs2_overseas`` allows UCS-2 to the French overseas departments.

        Metropolitan France is always GSM-7 only: iSendPro refuses UCS-2 there (API-NOTES 8.1).
        """
        return self.metropolitan or (not ucs2_overseas and self.region in FRENCH_OVERSEAS_REGIONS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "e164": self.e164,
            "wire": self.wire,
            "region": self.region,
            "metropolitan": self.metropolitan,
            "kind": self.kind,
            "gsm_only": self.gsm_only,
        }


class NumberCheck(str, Enum):
    """What became of one input number in :func:`normalise_numbers`."""

    VALID = "valid"
    INVALID = "invalid"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class NumberOutcome:
    """One input number's fate: ``number`` for valid and duplicate, ``error`` for invalid."""

    index: int
    raw: str
    status: NumberCheck
    number: PhoneNumber | None = None
    error: IsendproValidationError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "raw": self.raw,
            "status": self.status.value,
            "number": None if self.number is None else self.number.to_dict(),
            "error": None if self.error is None else str(self.error),
        }


def _invalid(raw: object, rule: str) -> IsendproValidationError:
    return IsendproValidationError(
        field="recipient", value=raw, rule=rule, recipient=raw if isinstance(raw, str) else None
    )


# Clean metropolitan mobile spellings -> the 9-digit national significant number.
_FAST_SHAPE: Final = re.compile(r"(?:0|\+33|0033|33)([67]\d{8})")


@cache
def _fast_mobile() -> re.Pattern[str]:
    """A 9-digit national number ``phonenumbers`` calls a valid French MOBILE, built once from metadata.

    Same test as ``is_valid_number`` + ``number_type``: the general pattern and lengths, the mobile pattern
    and lengths, and no other type's pattern (which would make it FIXED_LINE_OR_MOBILE or something else).
    """
    from phonenumbers import PhoneMetadata

    meta = PhoneMetadata.metadata_for_region("FR")
    assert meta is not None and meta.general_desc is not None and meta.mobile is not None

    def desc(pattern: str | None, lengths: Iterable[int]) -> str:
        pattern = pattern or "(?!)"  # no pattern: matches nothing
        length = "|".join(rf"\d{{{n}}}" for n in lengths) or r"\d+"
        return rf"(?=(?:{length})\Z)(?:{pattern})\Z"

    others = [
        desc(d.national_number_pattern, d.possible_length)
        for d in (
            meta.fixed_line,
            meta.toll_free,
            meta.premium_rate,
            meta.shared_cost,
            meta.personal_number,
            meta.voip,
            meta.pager,
            meta.uan,
            meta.voicemail,
        )
        if d is not None and d.national_number_pattern
    ]
    general = desc(meta.general_desc.national_number_pattern, meta.general_desc.possible_length)
    mobile = desc(meta.mobile.national_number_pattern, meta.mobile.possible_length)
    overseas = "|".join(OVERSEAS_PREFIXES)
    return re.compile(rf"(?!{overseas})(?={general})(?!{'|'.join(others)}){mobile}")


def _fast_number(raw: str, nsn: str) -> PhoneNumber:
    """Build the result without the frozen dataclass's per-field ``object.__setattr__`` (hot path)."""
    number = object.__new__(PhoneNumber)
    number.__dict__.update(
        raw=raw, e164="+33" + nsn, wire="0" + nsn, region="FR", metropolitan=True, kind="mobile"
    )
    return number


@cache
def _kind_names() -> dict[int, str]:
    from phonenumbers import PhoneNumberType

    return {value: name.lower() for name, value in vars(PhoneNumberType).items() if name.isupper()}


def _check_region(region: object) -> str | None:
    import phonenumbers

    if region is not None and (not isinstance(region, str) or region not in phonenumbers.SUPPORTED_REGIONS):
        raise IsendproValidationError(
            field="region",
            value=region,
            rule=(
                "must be an ISO 3166 two-letter region code known to phonenumbers, such as 'FR', or None "
                "to accept only international numbers"
            ),
        )
    return region


def normalise_number(
    raw: str, *, region: str | None = "FR", strict: bool = True, allow_landline: bool = False
) -> PhoneNumber:
    """Validate ``raw`` and return it in E.164 and in iSendPro's wire form.

    Accepts ``06…``, ``+33…``, ``0033…``, ``33…``, spaces, dots, dashes, parentheses and ``(0)``.
    ``06 9x`` numbers invalid in France are re-read as overseas numbers (``0692…`` is Réunion).
    ``strict`` requires an allocated range (``is_valid_number``); ``strict=False`` only a possible
    length and the country's general numbering pattern, for when the metadata lags behind new ranges
    (``07 1…``). Landlines and VoIP numbers cannot receive most SMS, so they are refused unless
    ``allow_landline``; toll-free, premium-rate, shared-cost and UAN numbers always are. Only
    ``region="FR"`` takes the fast path.
    """
    if region == "FR" and isinstance(raw, str):
        shape = _FAST_SHAPE.fullmatch(raw.replace(" ", "").replace(".", "").replace("-", ""))
        if shape is not None and _fast_mobile().fullmatch(nsn := shape.group(1)) is not None:
            return _fast_number(raw, nsn)
    return _normalise_slow(raw, region=region, strict=strict, allow_landline=allow_landline)


def _normalise_slow(raw: str, *, region: str | None, strict: bool, allow_landline: bool) -> PhoneNumber:
    """The general path, through ``phonenumbers`` objects."""
    import phonenumbers

    region = _check_region(region)
    if not isinstance(raw, str):
        raise _invalid(
            raw, f"must be a string, not {type(raw).__name__} (a number read as an integer loses its 0)"
        )
    if not raw.strip():
        raise _invalid(raw, "is empty; give a phone number such as 06 12 34 56 78 or +33612345678")
    if _ALLOWED.fullmatch(raw) is None:
        raise _invalid(
            raw, "contains characters other than digits, spaces and + . - ( ) /; give only the number"
        )
    try:
        primary = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise _invalid(
            raw, f"cannot be read as a phone number with default region {region} ({exc}); check it"
        ) from None
    fallback = None
    for candidate in _readings(raw, primary):
        if phonenumbers.is_valid_number(candidate):
            parsed = candidate
            break
        if fallback is None and _plausible(candidate):
            fallback = candidate
    else:
        if strict or fallback is None:
            raise _invalid(raw, _problem(primary, strict))
        parsed = fallback
    kind = _kind_names()[phonenumbers.number_type(parsed)]
    if kind in _KIND_LANDLINE:
        if not allow_landline:
            raise _invalid(
                raw,
                f"is a {_KIND_WORDS[kind]} number, which usually cannot receive SMS; "
                "pass allow_landline=True to send anyway",
            )
    elif kind not in _KIND_OK:
        raise _invalid(raw, f"is a {_KIND_WORDS[kind]} number, which cannot receive SMS")
    number_region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
        parsed.country_code or 0
    )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    metropolitan = number_region == "FR"
    wire = "0" + phonenumbers.national_significant_number(parsed) if metropolitan else e164[1:]
    return PhoneNumber(raw, e164, wire, number_region, metropolitan, kind)


def _readings(raw: str, primary: Any) -> Iterator[Any]:
    """The ways to read ``raw``, most likely first; later ones are only tried if earlier ones are invalid.

    As a French overseas number when it has an overseas prefix (``06 92…`` looks French but is Réunion);
    as parsed; as international digits without ``+`` (iSendPro's own ``num`` form, ``262692123456``).
    """
    import phonenumbers

    if primary.country_code == 33:
        nsn = phonenumbers.national_significant_number(primary)
        overseas = OVERSEAS_PREFIXES.get(nsn[:3])
        if overseas is not None and len(nsn) == 9:
            yield phonenumbers.parse("0" + nsn, overseas)
    yield primary
    digits = re.sub(r"\D", "", raw)
    if "+" not in raw and not digits.startswith("0"):
        try:
            yield phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            return


def _plausible(parsed: Any) -> bool:
    """Lenient validity: a possible length and the country's general numbering pattern.

    ``is_possible_number`` alone checks only the length, and accepts ``060000000`` as ``+33060000000``.
    """
    import phonenumbers

    if not phonenumbers.is_possible_number(parsed):
        return False
    region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(parsed.country_code, region)
    pattern = meta.general_desc.national_number_pattern if meta and meta.general_desc else None
    nsn = phonenumbers.national_significant_number(parsed)
    return pattern is not None and re.fullmatch(pattern, nsn) is not None


def _problem(parsed: Any, strict: bool) -> str:
    """Why ``parsed`` was refused, in words that say what to do."""
    import phonenumbers

    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE:
        if strict:
            return (
                "is not in an allocated number range (phonenumbers metadata); check the number, or use "
                "strict_numbers=False to accept any number of a plausible length"
            )
        return f"does not fit the numbering plan of +{parsed.country_code}; check the digits"
    words = {
        phonenumbers.ValidationResult.TOO_SHORT: "too short",
        phonenumbers.ValidationResult.TOO_LONG: "too long",
    }.get(reason, "has the wrong number of digits")
    return f"is not a possible phone number (+{parsed.country_code}): {words}; check the digits"


def normalise_numbers(
    raws: Iterable[str], *, region: str | None = "FR", strict: bool = True, allow_landline: bool = False
) -> Iterator[NumberOutcome]:
    """Yield one outcome per input, in order, streaming: valid, invalid (with its error) or duplicate.

    Duplicates are detected after normalisation (``06 12…`` and ``+336 12…`` are the same recipient);
    only the numbers seen are kept, in a :class:`NumberSet` (about 8 bytes each). ``region`` is checked
    now, before iteration starts.
    """
    region = _check_region(region)
    return _outcomes(iter(raws), region, strict, allow_landline)


def _outcomes(
    raws: Iterator[str], region: str | None, strict: bool, allow_landline: bool
) -> Iterator[NumberOutcome]:
    seen = NumberSet()
    for index, raw in enumerate(raws):
        text = raw if isinstance(raw, str) else repr(raw)
        try:
            number = normalise_number(raw, region=region, strict=strict, allow_landline=allow_landline)
        except IsendproValidationError as exc:
            yield NumberOutcome(index, text, NumberCheck.INVALID, error=exc)
            continue
        if number.wire in seen:
            yield NumberOutcome(index, text, NumberCheck.DUPLICATE, number=number)
        else:
            seen.add(number.wire)
            yield NumberOutcome(index, text, NumberCheck.VALID, number=number)


def region_name(region: str | None) -> str:
    """``"RE"`` -> ``"Réunion (RE)"``, ``"FR"`` -> ``"metropolitan France"``; other codes as given."""
    if region is None:
        return "an unknown region"
    if region == "FR":
        return REGION_NAMES["FR"]
    name = REGION_NAMES.get(region)
    return region if name is None else f"{name} ({region})"


def mask_number(wire: str) -> str:
    """``0612345678`` -> ``06****5678``: enough to tell numbers apart in logs without exposing them.

    Numbers shorter than 8 characters are masked completely.
    """
    if len(wire) < 8:
        return "*" * len(wire)
    return wire[:2] + "*" * (len(wire) - 6) + wire[-4:]
