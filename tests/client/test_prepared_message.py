"""Issue 14: ``/comptage`` takes the same prepared message as ``/sms``; UCS-2 to the overseas departments.

The builders are pure (they return an ``ApiCall``), so most checks compare the request fields of a count
and of the send it predicts; the emulator tests then show what iSendPro would receive and answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_isendpro.client import endpoints
from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import normalise_number, prepare_message
from airflow_provider_isendpro.testing import IsendproEmulator

from .conftest import Client, assert_request, only_request

KEY = "emulator-fake-keyid"
# Fields of /sms that a count has no use for (scheduling, correlation) or sets its own way.
SEND_ONLY = {"tracker", "date_envoi", "gmt_zone", "smslong"}


def _count_vs_send(to: str, text: str, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    count = endpoints.count_message(to, text, **kwargs).fields
    send = endpoints.send_sms(to, text, tracker="t1", **kwargs).fields
    return count, send


@pytest.mark.parametrize(
    ("to", "text", "kwargs"),
    [
        ("0612345678", "Bonjour", {}),
        ("0612345678", "Bonjour", {"sender": "ACME"}),
        ("0612345678", "Bonjour", {"sender": "ACME", "nostop": True}),
        ("0612345678", "l’été « chaud »", {"transliterate": True}),
        ("0612345678", "a" * 300, {"max_segments": 2}),
        ("+447911123456", "Привет 😀", {}),
        ("0692123456", "Привет", {"ucs2_overseas": True}),
        ("0692123456", "Привет", {"ucs2_overseas": True, "sender": "ACME"}),
        ("+262639012345", "Noël à l’île", {"transliterate": True}),
    ],
)
def test_count_carries_the_send_fields(to: str, text: str, kwargs: dict[str, Any]) -> None:
    count, send = _count_vs_send(to, text, **kwargs)
    assert count.pop("comptage") == "1"
    assert count.pop("smslong") == "999"  # the only value the spec allows on /comptage
    assert count == {k: v for k, v in send.items() if k not in SEND_ONLY}


def test_count_sends_ucs2_for_a_foreign_number() -> None:
    count, _send = _count_vs_send("+447911123456", "Привет")
    assert count == {"comptage": "1", "num": "447911123456", "sms": "Привет", "smslong": "999", "ucs2": "1"}


def test_count_transliterates_like_the_send() -> None:
    count, send = _count_vs_send("0612345678", "l’été", transliterate=True)
    assert count["sms"] == send["sms"] == "l'été"
    assert "ucs2" not in count


@pytest.mark.parametrize("text", ["l’été", "Привет"])
def test_count_refuses_what_the_send_refuses(text: str) -> None:
    with pytest.raises(IsendproValidationError) as send_error:
        endpoints.send_sms("0612345678", text)
    with pytest.raises(IsendproValidationError) as count_error:
        endpoints.count_message("0612345678", text)
    assert str(count_error.value) == str(send_error.value)
    assert "iSendPro only sends GSM-7 text to metropolitan French numbers" in str(count_error.value)


def test_count_applies_the_segment_cap_like_the_send() -> None:
    with pytest.raises(IsendproValidationError, match="needs 2 SMS parts, more than the cap of 1"):
        endpoints.count_message("0612345678", "a" * 200, max_segments=1)


def test_count_accepts_a_prepared_message() -> None:
    prepared = prepare_message("Привет", metropolitan=False, region="GB")
    count = endpoints.count_message("+447911123456", prepared).fields
    assert (count["sms"], count["ucs2"]) == ("Привет", "1")


def test_count_message_against_the_emulator(client: Client, emu: IsendproEmulator) -> None:
    result = client("count_message", "0692123456", "Привет " * 12, ucs2_overseas=True, sender="ACME")

    assert_request(
        only_request(emu), "POST", "/comptage",
        json={"keyid": KEY, "comptage": "1", "num": "262692123456", "sms": "Привет " * 12,
              "smslong": "999", "emetteur": "ACME", "ucs2": "1"},
    )  # fmt: skip
    # 84 UCS-2 units + the 12 of the STOP mention: 96 units, 2 parts of 67.
    assert result.to_dict() == {"number": "262692123456", "characters": 96, "segments": 2}


# --------------------------------------------------------------------------------------------------
# UCS-2 to the French overseas departments


OVERSEAS = [
    ("0692123456", "262692123456", "Réunion (RE)"),
    ("0639012345", "262639012345", "Mayotte (YT)"),
    ("0690001234", "590690001234", "Guadeloupe (GP)"),
    ("0694201234", "594694201234", "French Guiana (GF)"),
    ("0696201234", "596696201234", "Martinique (MQ)"),
]


@pytest.mark.parametrize(("raw", "wire", "region"), OVERSEAS)
def test_overseas_is_gsm_only_by_default_and_the_error_names_the_region(
    raw: str, wire: str, region: str
) -> None:
    with pytest.raises(IsendproValidationError) as info:
        endpoints.send_sms(raw, "Привет")
    assert str(info.value) == (
        # Cyrillic has no GSM-7 transliteration: the error must not advise transliterate=True (issue 19)
        "text='Привет': has characters with no GSM-7 equivalent: 'П' (U+041F), 'р' (U+0440), "
        "'и' (U+0438), 'в' (U+0432), 'е' (U+0435), 'т' (U+0442); "
        f"the number is in {region}, a French overseas department, which gets GSM-7 text only by "
        "default: remove them (transliterate=True has no GSM-7 equivalent for them), or pass "
        "ucs2_overseas=True to send UCS-2 (iSendPro allows it outside metropolitan France)"
    )
    assert "metropolitan French numbers" not in str(info.value)


@pytest.mark.parametrize(("raw", "wire", "region"), OVERSEAS)
def test_overseas_ucs2_when_allowed(raw: str, wire: str, region: str) -> None:
    fields = endpoints.send_sms(raw, "Привет", ucs2_overseas=True).fields
    assert fields == {"num": wire, "sms": "Привет", "smslong": "6", "ucs2": "1"}


def test_ucs2_overseas_never_reaches_metropolitan_numbers() -> None:
    with pytest.raises(
        IsendproValidationError, match="iSendPro only sends GSM-7 text to metropolitan French"
    ):
        endpoints.send_sms("0612345678", "Привет", ucs2_overseas=True)
    # A caller-prepared UCS-2 message is refused for a metropolitan number too.
    prepared = prepare_message("Привет", metropolitan=False, region="GB")
    with pytest.raises(IsendproValidationError) as info:
        endpoints.send_sms("0612345678", prepared)
    assert str(info.value) == (
        "to='0612345678': this request needs UCS-2, which is not sent to numbers of metropolitan France "
        "(GSM-7 only): send those numbers in a separate request, or transliterate"
    )


def test_multi_with_overseas_and_foreign_numbers() -> None:
    fields = endpoints.send_sms_multi(["0692123456", "+447911123456"], "Привет", ucs2_overseas=True).fields
    assert fields == {"num": ["262692123456", "447911123456"], "sms": ["Привет"], "smslong": "6", "ucs2": "1"}
    with pytest.raises(IsendproValidationError, match=r"the number is in Réunion \(RE\)"):
        endpoints.send_sms_multi(["+447911123456", "0692123456"], "Привет")


def test_multi_refuses_ucs2_next_to_a_gsm_only_number() -> None:
    with pytest.raises(IsendproValidationError) as info:
        endpoints.send_sms_multi(["0692123456", "+447911123456"], ["Bonjour", "Привет"])
    assert str(info.value) == (
        "to='262692123456': this request needs UCS-2, which is not sent to numbers of Réunion (RE) "
        "(GSM-7 only): send those numbers in a separate request, or transliterate"
    )
    with pytest.raises(IsendproValidationError, match="numbers of metropolitan France"):
        endpoints.send_sms_multi(["0612345678", "+447911123456"], ["Bonjour", "Привет"], ucs2_overseas=True)
    # Allowed overseas: one UCS-2 request for both.
    fields = endpoints.send_sms_multi(
        ["0692123456", "+447911123456"], ["Bonjour", "Привет"], ucs2_overseas=True
    ).fields
    assert (fields["sms"], fields["ucs2"]) == (["Bonjour", "Привет"], "1")


def test_overseas_ucs2_is_accepted_by_the_emulator(client: Client, emu: IsendproEmulator) -> None:
    client("send_sms", "0692123456", "Привет", ucs2_overseas=True)
    [sms] = emu.sent
    assert (sms.tel, sms.text, sms.encoding, sms.ucs2) == ("262692123456", "Привет", "UCS-2", True)


def test_gsm_only_for() -> None:
    reunion, paris, london = (normalise_number(n) for n in ("0692123456", "0612345678", "+447911123456"))
    assert (reunion.gsm_only_for(), reunion.gsm_only_for(ucs2_overseas=True)) == (True, False)
    assert (paris.gsm_only_for(), paris.gsm_only_for(ucs2_overseas=True)) == (True, True)
    assert (london.gsm_only_for(), london.gsm_only_for(ucs2_overseas=True)) == (False, False)
