"""Phone numbers: SMS-FACTS §5 rows, overseas prefixes, errors, fast path, streaming dedupe, masking."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import (
    NumberCheck,
    NumberOutcome,
    PhoneNumber,
    mask_number,
    normalise_number,
    normalise_numbers,
    phones,
)


def _mobile(raw: str) -> PhoneNumber:
    return PhoneNumber(raw, "+33612345678", "0612345678", "FR", True, "mobile")


@pytest.mark.parametrize(
    "raw",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "612345678",
        "+33612345678",
        "0033612345678",
        "33612345678",
        "+33 (0)6 12 34 56 78",
        "(06) 12-34-56-78",
        "06-12-34-56-78",
        "+33 6 12 34 56 78",
        "00 33 6 12 34 56 78",
        "06\u00a012\u00a034\u00a056\u00a078",
    ],
)
def test_french_mobile_spellings(raw: str) -> None:
    assert normalise_number(raw) == _mobile(raw)


def test_sms_facts_table_rows() -> None:
    assert normalise_number("+33 (0)6 12 34 56 78", region=None) == _mobile("+33 (0)6 12 34 56 78")
    assert normalise_number("0752345678") == PhoneNumber(
        "0752345678", "+33752345678", "0752345678", "FR", True, "mobile"
    )
    assert normalise_number("0142345678", allow_landline=True) == PhoneNumber(
        "0142345678", "+33142345678", "0142345678", "FR", True, "fixed_line"
    )
    assert normalise_number("0692123456", region="RE") == PhoneNumber(
        "0692123456", "+262692123456", "262692123456", "RE", False, "mobile"
    )


def test_no_region_and_no_plus() -> None:
    with pytest.raises(IsendproValidationError) as info:
        normalise_number("33612345678", region=None)
    assert str(info.value) == (
        "recipient='33612345678': cannot be read as a phone number with default region None "
        "((0) Missing or invalid default region.); check it"
    )
    assert info.value.field == "recipient"
    assert info.value.recipient == "33612345678"


def test_0712_strict_and_lenient() -> None:
    with pytest.raises(IsendproValidationError) as info:
        normalise_number("0712345678")
    assert str(info.value) == (
        "recipient='0712345678': is not in an allocated number range (phonenumbers metadata); check the "
        "number, or use strict_numbers=False to accept any number of a plausible length"
    )
    assert normalise_number("0712345678", strict=False) == PhoneNumber(
        "0712345678", "+33712345678", "0712345678", "FR", True, "unknown"
    )


def test_landline_rejected_by_default() -> None:
    with pytest.raises(IsendproValidationError) as info:
        normalise_number("01 42 34 56 78")
    assert str(info.value) == (
        "recipient='01 42 34 56 78': is a landline number, which usually cannot receive SMS; "
        "pass allow_landline=True to send anyway"
    )
    with pytest.raises(IsendproValidationError, match="is a VoIP number, which usually cannot receive SMS"):
        normalise_number("0912345678")
    assert normalise_number("0912345678", allow_landline=True).kind == "voip"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("0800123456", "toll-free"),
        ("0836123456", "premium-rate"),
        ("0810123456", "shared-cost"),
        ("0806123456", "universal access (UAN)"),
    ],
)
def test_numbers_that_cannot_receive_sms(raw: str, words: str) -> None:
    for allow_landline in (False, True):
        with pytest.raises(IsendproValidationError) as info:
            normalise_number(raw, allow_landline=allow_landline)
        assert str(info.value) == f"recipient={raw!r}: is a {words} number, which cannot receive SMS"


def test_default_region_matters() -> None:
    with pytest.raises(IsendproValidationError, match="is not in an allocated number range"):
        normalise_number("0612345678", region="GB")
    with pytest.raises(IsendproValidationError) as info:
        normalise_number("0612345678", region="GB", strict=False)
    assert str(info.value) == (
        "recipient='0612345678': does not fit the numbering plan of +44; check the digits"
    )


def test_lenient_still_needs_the_numbering_plan() -> None:
    # is_possible_number alone would accept this as +33060000000.
    with pytest.raises(IsendproValidationError, match="does not fit the numbering plan of \\+33"):
        normalise_number("060000000", strict=False)


def test_hlr_example_is_too_long() -> None:
    for strict in (True, False):
        with pytest.raises(IsendproValidationError) as info:
            normalise_number("06123456789", strict=strict)
        assert str(info.value) == (
            "recipient='06123456789': is not a possible phone number (+33): too long; check the digits"
        )


def test_too_short() -> None:
    with pytest.raises(IsendproValidationError, match=r"is not a possible phone number \(\+33\): too short"):
        normalise_number("06123", strict=False)


@pytest.mark.parametrize(
    ("raw", "e164", "region"),
    [
        ("0690001234", "+590690001234", "GP"),
        ("0694201234", "+594694201234", "GF"),
        ("0696201234", "+596696201234", "MQ"),
        ("0697201234", "+596697201234", "MQ"),
        ("0692123456", "+262692123456", "RE"),
        ("0693001234", "+262693001234", "RE"),
        ("0639012345", "+262639012345", "YT"),
        ("+33 6 92 12 34 56", "+262692123456", "RE"),
    ],
)
def test_overseas_prefixes(raw: str, e164: str, region: str) -> None:
    number = normalise_number(raw)
    assert number == PhoneNumber(raw, e164, e164[1:], region, False, "mobile")
    assert number.gsm_only is True
    assert number.gsm_only_for() is True
    assert number.gsm_only_for(ucs2_overseas=True) is False
    assert number.to_dict() == {
        "raw": raw,
        "e164": e164,
        "wire": e164[1:],
        "region": region,
        "metropolitan": False,
        "kind": "mobile",
        "gsm_only": True,
    }


def test_overseas_lenient_keeps_overseas_region() -> None:
    with pytest.raises(IsendproValidationError, match="is not in an allocated number range"):
        normalise_number("0691001234")
    assert normalise_number("0691001234", strict=False) == PhoneNumber(
        "0691001234", "+590691001234", "590691001234", "GP", False, "unknown"
    )


def test_international_numbers() -> None:
    us = normalise_number("+1 650 253 0000")
    assert us == PhoneNumber(
        "+1 650 253 0000", "+16502530000", "16502530000", "US", False, "fixed_line_or_mobile"
    )
    assert us.gsm_only is False
    assert (us.gsm_only_for(), us.gsm_only_for(ucs2_overseas=True)) == (False, False)
    paris = normalise_number("0612345678")
    assert (paris.gsm_only_for(), paris.gsm_only_for(ucs2_overseas=True)) == (True, True)
    # iSendPro's own international form (digits without +) is understood.
    assert normalise_number("262692123456").e164 == "+262692123456"
    assert normalise_number("32470123456").to_dict()["region"] == "BE"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("", "is empty; give a phone number such as 06 12 34 56 78 or +33612345678"),
        ("   ", "is empty; give a phone number such as 06 12 34 56 78 or +33612345678"),
        (
            "06 12 AB CD EF",
            "contains characters other than digits, spaces and + . - ( ) /; give only the number",
        ),
        ("0612345678 ext 2", "contains characters other than digits, spaces and + . - ( ) /; give only"),
        ("+999123", "cannot be read as a phone number with default region FR ((0) Could not interpret"),
        ("1", "cannot be read as a phone number with default region FR ((1) The string supplied did not"),
        ("9991234567", "is not a possible phone number (+33): too long; check the digits"),
    ],
)
def test_invalid_numbers(raw: str, rule: str) -> None:
    with pytest.raises(IsendproValidationError) as info:
        normalise_number(raw)
    err = info.value
    assert err.field == "recipient"
    assert err.value == raw
    assert str(err).startswith(f"recipient={raw!r}: {rule}")


def test_non_string_number() -> None:
    with pytest.raises(IsendproValidationError) as info:
        normalise_number(612345678)  # type: ignore[arg-type]
    assert str(info.value) == (
        "recipient=612345678: must be a string, not int (a number read as an integer loses its 0)"
    )
    assert info.value.recipient is None


@pytest.mark.parametrize("region", ["XX", "fr", ""])
def test_unknown_region(region: str) -> None:
    with pytest.raises(IsendproValidationError) as info:
        normalise_number("0612345678", region=region)
    assert info.value.field == "region"
    assert str(info.value) == (
        f"region={region!r}: must be an ISO 3166 two-letter region code known to phonenumbers, such as "
        "'FR', or None to accept only international numbers"
    )


# --- fast path ------------------------------------------------------------------------------------------


@pytest.fixture
def no_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> PhoneNumber:
        raise AssertionError("slow path used")

    monkeypatch.setattr(phones, "_normalise_slow", fail)


@pytest.mark.parametrize(
    "raw", ["0612345678", "0752345678", "+33612345678", "33612345678", "0033612345678", "06 12 34 56 78"]
)
@pytest.mark.usefixtures("no_slow_path")
def test_fast_path_taken_for_clean_mobiles(raw: str) -> None:
    number = normalise_number(raw)
    nsn = raw.replace(" ", "")[-9:]
    assert number == PhoneNumber(raw, "+33" + nsn, "0" + nsn, "FR", True, "mobile")
    assert number.gsm_only is True
    with pytest.raises(AttributeError, match="cannot assign to field 'wire'"):
        number.wire = "x"  # type: ignore[misc]


@pytest.mark.parametrize("raw", ["0712345678", "0692123456", "0639012345", "0142345678"])
@pytest.mark.usefixtures("no_slow_path")
def test_fast_path_not_taken_outside_proven_ranges(raw: str) -> None:
    with pytest.raises(AssertionError, match="slow path used"):
        normalise_number(raw)


@pytest.mark.usefixtures("no_slow_path")
def test_fast_path_only_for_region_fr() -> None:
    with pytest.raises(AssertionError, match="slow path used"):
        normalise_number("0612345678", region="RE")


def _slow(raw: str, strict: bool) -> PhoneNumber | str:
    try:
        return phones._normalise_slow(raw, region="FR", strict=strict, allow_landline=False)
    except IsendproValidationError as exc:
        return str(exc)


def _fast(raw: str, strict: bool) -> PhoneNumber | str:
    try:
        return normalise_number(raw, strict=strict)
    except IsendproValidationError as exc:
        return str(exc)


separator = st.sampled_from(["", "", "", " ", ".", "-"])


@st.composite
def french_like_numbers(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["0", "+33", "0033", "33", "", "+33 (0)", "00 33 ", "+262", "0590"]))
    first = draw(st.sampled_from("6677123489"))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=9))
    digits = first + rest
    parts = [prefix]
    for char in digits:
        parts.append(draw(separator) + char)
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(french_like_numbers(), st.booleans())
def test_fast_path_equals_slow_path(raw: str, strict: bool) -> None:
    assert _fast(raw, strict) == _slow(raw, strict)


@settings(max_examples=300, deadline=None)
@given(french_like_numbers(), st.booleans(), st.booleans())
@example(raw="67200000", strict=False, allow_landline=True)  # +672 (Norfolk Island): wire 672300000
def test_normalised_numbers_reparse_to_themselves(raw: str, strict: bool, allow_landline: bool) -> None:
    try:
        number = normalise_number(raw, strict=strict, allow_landline=allow_landline)
    except IsendproValidationError:
        return
    # iSendPro reads a wire number without a leading 0 as international digits: re-read it that way
    # (read with region FR, the 9-digit wire of a +672 number would be taken for a French mobile).
    wire_as_isendpro_reads_it = number.wire if number.wire.startswith("0") else "+" + number.wire
    for again in (number.e164, wire_as_isendpro_reads_it):
        same = normalise_number(again, strict=strict, allow_landline=allow_landline)
        assert (same.e164, same.wire, same.region, same.metropolitan, same.kind) == (
            number.e164,
            number.wire,
            number.region,
            number.metropolitan,
            number.kind,
        )


# --- streaming ------------------------------------------------------------------------------------------


def test_normalise_numbers_buckets() -> None:
    outcomes = list(
        normalise_numbers(["06 12 34 56 78", "nope", "+33612345678", "0692123456", 612345678])  # type: ignore[list-item]
    )
    assert [o.status for o in outcomes] == [
        NumberCheck.VALID,
        NumberCheck.INVALID,
        NumberCheck.DUPLICATE,
        NumberCheck.VALID,
        NumberCheck.INVALID,
    ]
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    assert outcomes[0] == NumberOutcome(
        0, "06 12 34 56 78", NumberCheck.VALID, number=_mobile("06 12 34 56 78")
    )
    assert outcomes[2].number == _mobile("+33612345678")
    assert outcomes[4].raw == "612345678"
    invalid = outcomes[1].to_dict()
    assert invalid == {
        "index": 1,
        "raw": "nope",
        "status": "invalid",
        "number": None,
        "error": "recipient='nope': contains characters other than digits, spaces and + . - ( ) /; "
        "give only the number",
    }
    assert isinstance(outcomes[1].error, IsendproValidationError)
    assert outcomes[2].to_dict()["number"]["wire"] == "0612345678"
    assert outcomes[2].to_dict()["status"] == "duplicate"


def test_normalise_numbers_streams() -> None:
    consumed: list[int] = []

    def numbers() -> Iterator[str]:
        for i in range(10**9):
            consumed.append(i)
            yield f"06{i:08d}"

    stream = normalise_numbers(numbers())
    first = next(stream)
    assert first.number is not None and first.number.wire == "0600000000"
    assert consumed == [0]


def test_normalise_numbers_checks_region_eagerly() -> None:
    with pytest.raises(IsendproValidationError, match="region='ZZ'"):
        normalise_numbers(["0612345678"], region="ZZ")


def test_normalise_numbers_lenient_and_landlines() -> None:
    outcomes = normalise_numbers(["0712345678", "0142345678"], strict=False, allow_landline=True)
    assert [(o.status.value, o.number.kind if o.number else None) for o in outcomes] == [
        ("valid", "unknown"),
        ("valid", "fixed_line"),
    ]


def test_mask_number() -> None:
    assert mask_number("0612345678") == "06****5678"
    assert mask_number("262692123456") == "26******3456"
    assert mask_number("12345678") == "12**5678"
    assert mask_number("1234567") == "*******"
    assert mask_number("") == ""


def test_importing_the_package_does_not_import_phonenumbers() -> None:
    code = (
        "import sys, airflow_provider_isendpro.sms as s; "
        "assert 'phonenumbers' not in sys.modules, 'phonenumbers imported'; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'airflow'], 'airflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
