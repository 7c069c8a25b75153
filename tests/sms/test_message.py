"""analyse_message, smslong_value and the UCS-2 policy of prepare_message."""

from __future__ import annotations

import pytest

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import (
    MessageInfo,
    PreparedMessage,
    analyse_message,
    prepare_message,
    region_name,
    smslong_value,
)


def test_analyse_plain() -> None:
    info = analyse_message("Bonjour")
    assert info == MessageInfo("Bonjour", "GSM-7", 7, 1, False, ())
    assert info.to_dict() == {
        "text": "Bonjour",
        "encoding": "GSM-7",
        "units": 7,
        "segments": 1,
        "stop_suffix": False,
        "non_gsm": [],
    }


def test_analyse_non_gsm_lists_characters() -> None:
    info = analyse_message("L’été « ok »")
    assert info.encoding == "UCS-2"
    assert info.non_gsm == ("’", "«", "»")
    assert info.to_dict()["non_gsm"] == ["’", "«", "»"]


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [("a" * 148, 160, 1), ("a" * 149, 161, 2), ("ç" * 58, 70, 1), ("ç" * 59, 71, 2)],
)
def test_stop_suffix_adds_twelve_units(text: str, units: int, segments: int) -> None:
    info = analyse_message(text, stop_suffix=True)
    assert (info.units, info.segments, info.stop_suffix) == (units, segments, True)
    assert info.text == text  # the suffix is counted, not added to the text


def test_cap_at_six_segments() -> None:
    assert analyse_message("a" * 918).segments == 6
    with pytest.raises(IsendproValidationError) as info:
        analyse_message("a" * 919)
    err = info.value
    assert err.field == "text"
    assert "is 919 GSM-7 units long, which needs 7 SMS parts, more than the cap of 6 (at most 918 units)" in (
        str(err)
    )
    assert str(err).endswith("shorten the message")


def test_cap_with_stop_suffix_names_it() -> None:
    with pytest.raises(
        IsendproValidationError,
        match=r"is 919 GSM-7 units long, including the 12-unit STOP suffix iSendPro appends, which needs 7",
    ):
        analyse_message("a" * 907, stop_suffix=True)


def test_custom_cap() -> None:
    with pytest.raises(IsendproValidationError) as info:
        analyse_message("a" * 161, max_segments=1)
    assert str(info.value).endswith(
        "is 161 GSM-7 units long, which needs 2 SMS parts, more than the cap of 1 (at most 160 units); "
        "shorten the message or raise it: max_segments=2"
    )
    with pytest.raises(IsendproValidationError) as info:  # beyond iSendPro's 6 parts: raising cannot help
        analyse_message("a" * 919, max_segments=2)
    assert str(info.value).endswith("more than the cap of 2 (at most 306 units); shorten the message")
    with pytest.raises(IsendproValidationError, match=r"141 UCS-2 units long, which needs 3 SMS parts, "):
        analyse_message("ç" * 141, max_segments=2)
    with pytest.raises(IsendproValidationError, match=r"the cap of 2 \(at most 134 units\)"):
        analyse_message("ç" * 141, max_segments=2)


@pytest.mark.parametrize("bad", [0, 7, -1, True, 2.0, "3", None])
def test_max_segments_range(bad: object) -> None:
    for call in (
        lambda: analyse_message("x", max_segments=bad),  # type: ignore[arg-type]
        lambda: prepare_message("x", metropolitan=True, max_segments=bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(IsendproValidationError) as info:
            call()
        assert info.value.field == "max_segments"
        assert str(info.value) == (
            f"max_segments={bad!r}: must be a whole number from 1 to 6 (iSendPro's limit of SMS parts)"
        )


@pytest.mark.parametrize("bad", ["", None, 12])
def test_empty_text(bad: object) -> None:
    for call in (
        lambda: analyse_message(bad),  # type: ignore[arg-type]
        lambda: prepare_message(bad, metropolitan=False),  # type: ignore[arg-type]
    ):
        with pytest.raises(IsendproValidationError) as info:
            call()
        assert info.value.field == "text"
        assert "must be a non-empty string: there is nothing to send" in str(info.value)


def test_smslong_value() -> None:
    assert [smslong_value(n) for n in range(1, 7)] == ["1", "2", "3", "4", "5", "6"]
    for bad in (0, 7, 999):
        with pytest.raises(
            IsendproValidationError, match=r"^smslong=\d+: must be a whole number from 1 to 6"
        ):
            smslong_value(bad)


def test_prepare_gsm_as_is() -> None:
    prepared = prepare_message("Bonjour éè@€", metropolitan=True)
    assert prepared == PreparedMessage("Bonjour éè@€", "GSM-7", False, 13, 1, "6", {})
    assert prepared.to_dict() == {
        "text": "Bonjour éè@€",
        "encoding": "GSM-7",
        "ucs2": False,
        "units": 13,
        "segments": 1,
        "smslong": "6",
        "replaced": {},
    }


def test_prepare_non_gsm_to_metropolitan_refused() -> None:
    with pytest.raises(IsendproValidationError) as info:
        prepare_message("L’équipe « Noël »", metropolitan=True)
    err = info.value
    assert err.field == "text"
    assert err.value == "L’équipe « Noël »"
    assert str(err) == (
        "text='L’équipe « Noël »': has characters outside the GSM-7 alphabet: '’' (U+2019), '«' (U+00AB), "
        "'ë' (U+00EB), '»' (U+00BB); iSendPro only sends GSM-7 text to metropolitan French numbers: "
        "replace them, or pass transliterate=True to convert them automatically"
    )


def test_prepare_transliterates_for_metropolitan() -> None:
    prepared = prepare_message("L’équipe « Noël »", metropolitan=True, transliterate=True, max_segments=2)
    assert prepared.text == 'L\'équipe " Noel "'
    assert prepared.encoding == "GSM-7"
    assert prepared.ucs2 is False
    assert prepared.smslong == "2"
    assert prepared.replaced == {"’": "'", "«": '"', "ë": "e", "»": '"'}
    assert prepared.to_dict()["replaced"] == {"’": "'", "«": '"', "ë": "e", "»": '"'}


def test_prepare_ucs2_elsewhere() -> None:
    prepared = prepare_message("Привет 😀", metropolitan=False, transliterate=True)
    assert (prepared.encoding, prepared.ucs2, prepared.units, prepared.segments) == ("UCS-2", True, 9, 1)
    assert prepared.replaced == {}


def test_prepare_applies_cap_after_transliteration() -> None:
    # 80 "…" become 240 GSM units: 2 parts, over a cap of 1.
    with pytest.raises(IsendproValidationError, match=r"is 240 GSM-7 units long, which needs 2 SMS parts"):
        prepare_message("…" * 80, metropolitan=True, transliterate=True, max_segments=1)


def test_prepare_stop_suffix() -> None:
    prepared = prepare_message("a" * 149, metropolitan=True, stop_suffix=True)
    assert (prepared.units, prepared.segments) == (161, 2)


NON_GSM = "'ê' (U+00EA)"


@pytest.mark.parametrize(
    ("region", "reason"),
    [
        ("FR", "iSendPro only sends GSM-7 text to metropolitan French numbers: replace them, or pass "
               "transliterate=True to convert them automatically"),
        ("RE", "the number is in Réunion (RE), a French overseas department, which gets GSM-7 text only "
               "by default: replace them, pass transliterate=True to convert them automatically, or "
               "ucs2_overseas=True to send UCS-2 (iSendPro allows it outside metropolitan France)"),
        ("GF", "the number is in French Guiana (GF), a French overseas department, which gets GSM-7 text "
               "only by default: replace them, pass transliterate=True to convert them automatically, or "
               "ucs2_overseas=True to send UCS-2 (iSendPro allows it outside metropolitan France)"),
        (None, "the recipients are not known in advance (a contact list), so only GSM-7 text is sent: "
               "replace them, or pass transliterate=True to convert them automatically"),
        ("NC", "the number is in NC and was sent as GSM-7 only: replace them, or pass transliterate=True "
               "to convert them automatically"),
    ],
)  # fmt: skip
def test_prepare_refusal_names_the_real_region(region: str | None, reason: str) -> None:
    with pytest.raises(IsendproValidationError) as info:
        prepare_message("fête", metropolitan=True, region=region)
    assert str(info.value) == f"text='fête': has characters outside the GSM-7 alphabet: {NON_GSM}; {reason}"


def test_region_name() -> None:
    assert [region_name(r) for r in ("FR", "RE", "YT", "MQ", "BL", "PF", None)] == [
        "metropolitan France",
        "Réunion (RE)",
        "Mayotte (YT)",
        "Martinique (MQ)",
        "Saint-Barthélemy (BL)",
        "PF",
        "an unknown region",
    ]


@pytest.mark.parametrize(
    ("region", "reason"),
    [
        ("FR", "iSendPro only sends GSM-7 text to metropolitan French numbers: remove them "
               "(transliterate=True has no GSM-7 equivalent for them)"),
        ("RE", "the number is in Réunion (RE), a French overseas department, which gets GSM-7 text only "
               "by default: remove them (transliterate=True has no GSM-7 equivalent for them), or pass "
               "ucs2_overseas=True to send UCS-2 (iSendPro allows it outside metropolitan France)"),
        (None, "the recipients are not known in advance (a contact list), so only GSM-7 text is sent: "
               "remove them (transliterate=True has no GSM-7 equivalent for them)"),
        ("NC", "the number is in NC and was sent as GSM-7 only: remove them (transliterate=True has no "
               "GSM-7 equivalent for them)"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("transliterate", [False, True])
def test_an_emoji_is_never_advised_transliterate(
    region: str | None, reason: str, transliterate: bool
) -> None:
    """Issue 19: an emoji's error advised transliterate=True, which then failed ("no GSM-7 equivalent")."""
    with pytest.raises(IsendproValidationError) as info:
        prepare_message("fête 😀", metropolitan=True, region=region, transliterate=transliterate)
    assert str(info.value) == (
        f"text='fête 😀': has characters with no GSM-7 equivalent: '😀' (U+1F600); {reason}"
    )
