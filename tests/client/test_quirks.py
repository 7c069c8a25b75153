"""Envelope quirks and every error class, through the real HTTP path (sync and async clients).

``test_responses.py`` checks the parser on literal bodies; here the emulator produces each variant
(its config switches and faults) and the client must read it the same way over the wire.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_isendpro.client import RetryPolicy
from airflow_provider_isendpro.errors import (
    IsendproApiError,
    IsendproAuthError,
    IsendproCreditError,
    IsendproCreditRefusedError,
    IsendproError,
    IsendproRateLimitError,
    IsendproResponseError,
    IsendproServerError,
    IsendproTimeoutError,
    IsendproTransportError,
    IsendproUnknownOutcomeError,
    IsendproValidationError,
)
from airflow_provider_isendpro.testing import (
    MAGIC_BLACKLISTED,
    MAGIC_HTTP_400,
    MAGIC_UNASSIGNED,
    IsendproEmulator,
)

from .conftest import Client, MakeClient

SENT = "Votre message a bien ete envoye"
ALLOW_LIST = (
    "check the API key, and that this machine's public IP is on the account's allow-list "
    "(iSendPro customer area: Mon compte → Mon API)"
)
BAD_KEY = "wrong-fake-keyid-0000"


def raised_by(client: Client, method: str, *args: Any, **kwargs: Any) -> IsendproError:
    with pytest.raises(IsendproError) as info:
        client(method, *args, **kwargs)
    return info.value


def codes(result: Any) -> list[tuple[str, int, bool]]:
    return [(r.number, r.code, r.accepted) for r in result.recipients]


# --------------------------------------------------------------------------------------------------
# Envelope shapes and code types


@pytest.mark.parametrize("envelope", ["list", "object", "flat"])
@pytest.mark.parametrize("code_style", ["spec", "int", "str"])
def test_single_entry_answers_read_the_same_in_every_shape_and_code_type(
    client: Client, emu: IsendproEmulator, envelope: str, code_style: str
) -> None:
    emu.configure(envelope=envelope, code_style=code_style)

    sent = client("send_sms", "0612345678", "Bonjour")
    refused = client("send_sms", MAGIC_UNASSIGNED, "Bonjour")
    link = client("create_short_link", "https://example.com/a")
    sub = client("create_sub_account", "agence06", "pw")
    (hlr,) = client("hlr_lookup", ["0612345678"])
    count = client("count_message", "0612345678", "Bonjour")
    contact_list = client("create_contact_list", "Astreinte")

    assert codes(sent) == [("0612345678", 0, True)]
    assert sent.recipients[0].segments == 1
    assert codes(refused) == [(MAGIC_UNASSIGNED, 21, False)]  # per recipient: a result, not an error
    assert (link.url, link.code) == ("ww.sms.ht/aaab", 250)
    assert (sub.account_id, sub.code, sub.message) == ("20150", 230, "Le sous compte a ete ajoute")
    assert (hlr.number, hlr.operator) == ("0612345678", "SFR")
    assert (count.characters, count.segments) == (7, 1)
    assert (contact_list.list_id, contact_list.code) == ("1001", 0)
    assert type(sent.recipients[0].raw["code"]) is (str if code_style == "str" else int)


@pytest.mark.parametrize("code_style", ["spec", "int", "str"])
def test_per_recipient_11_and_21_inside_http_200_next_to_successes(
    client: Client, emu: IsendproEmulator, code_style: str
) -> None:
    emu.configure(code_style=code_style)

    result = client("send_sms_multi", [MAGIC_UNASSIGNED, MAGIC_BLACKLISTED, "0612345678"], "Hi")

    assert codes(result) == [(MAGIC_UNASSIGNED, 21, False), (MAGIC_BLACKLISTED, 11, False),
                             ("0612345678", 0, True)]  # fmt: skip
    assert [r.number for r in result.accepted] == ["0612345678"]
    assert result.segments_billed == 1
    assert [s.tel for s in emu.sent] == ["0612345678"]


def test_a_number_blacklisted_on_the_account_is_code_11(client: Client, emu: IsendproEmulator) -> None:
    client("blacklist_add", "0756123456")
    result = client("send_sms_multi", ["0756123456", "0612345678"], "Hi")
    assert codes(result) == [("0756123456", 11, False), ("0612345678", 0, True)]


@pytest.mark.parametrize("as_number", [False, True])
def test_credit_as_string_or_number(client: Client, emu: IsendproEmulator, as_number: bool) -> None:
    emu.configure(credit_as_number=as_number)
    emu.credit = 12.35
    assert client("get_credit").to_dict() == {"euros": 12.35, "sms_estimate": 247}


def test_sub_account_message_under_tel_like_the_spec_example(client: Client, emu: IsendproEmulator) -> None:
    emu.configure(subaccount_message_under_tel=True, envelope="object")
    result = client("create_sub_account", "agence06", "pw")
    assert result.to_dict() == {
        "account_id": "20150", "login": "agence06", "code": 230, "message": "Le sous compte a ete ajoute",
    }  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Request-level errors: HTTP 400 or HTTP 200, in every error envelope


@pytest.mark.parametrize("status", [400, 200])
@pytest.mark.parametrize("error_envelope", ["list", "object", "flat"])
@pytest.mark.parametrize("code_style", ["spec", "int"])
def test_request_level_errors_raise_whatever_their_status_and_shape(
    make_client: MakeClient, emu: IsendproEmulator, status: int, error_envelope: str, code_style: str
) -> None:
    emu.configure(request_error_status=status, error_envelope=error_envelope, code_style=code_style)
    emu.credit = 0.01

    no_credit = raised_by(make_client(), "send_sms", "0612345678", "Bonjour")
    bad_key = raised_by(make_client(api_key=BAD_KEY), "get_credit")

    assert type(no_credit) is IsendproCreditRefusedError
    assert isinstance(no_credit, IsendproApiError) and isinstance(no_credit, IsendproCreditError)
    assert (no_credit.code, no_credit.http_status) == (10, status)
    assert no_credit.message == (
        "sendSms (POST /sms): iSendPro refused the request: code 10, "
        "'Insufficient credit: this request costs 0.05 EUR, the account has 0.01 EUR'; the account's "
        "credit does not cover it: top it up in iSendPro's customer area"
    )
    assert type(bad_key) is IsendproAuthError
    assert (bad_key.code, bad_key.http_status) == (3, status)
    assert emu.sent == []


def test_credit_error_codes_are_configurable(make_client: MakeClient, emu: IsendproEmulator) -> None:
    """iSendPro's "insufficient credit" code is unknown (API-NOTES §5.4): the client's
    ``credit_error_codes`` names it; any other code stays a plain IsendproApiError."""
    emu.configure(error_codes={"insufficient_credit": (42, "Credit insuffisant")})
    emu.credit = 0.01

    other = raised_by(make_client(), "send_sms", "0612345678", "Bonjour")
    named = raised_by(make_client(credit_error_codes="10, 42"), "send_sms", "0612345678", "Bonjour")

    assert type(other) is IsendproApiError and other.code == 42
    assert type(named) is IsendproCreditRefusedError and named.code == 42
    assert named.message == (
        "sendSms (POST /sms): iSendPro refused the request: code 42, 'Credit insuffisant: this request "
        "costs 0.05 EUR, the account has 0.01 EUR'; the account's credit does not cover it: top it up in "
        "iSendPro's customer area"
    )
    assert emu.sent == []


# --------------------------------------------------------------------------------------------------
# Every error class, raised through HTTP


def test_auth_error_on_a_wrong_key_mentions_the_allow_list(make_client: MakeClient) -> None:
    error = raised_by(make_client(api_key=BAD_KEY), "get_credit")

    assert type(error) is IsendproAuthError
    assert (error.code, error.http_status, error.retryable) == (3, 400, False)
    assert error.message == (
        f"getCredit (POST /credit): iSendPro refused the request: code 3, 'Your credentials are incorrect'; "
        f"{ALLOW_LIST}"
    )
    assert BAD_KEY not in str(error)


def test_api_error_on_http_400(client: Client, emu: IsendproEmulator) -> None:
    error = raised_by(client, "send_sms_multi", ["0612345678", MAGIC_HTTP_400], "Hi")

    assert type(error) is IsendproApiError
    assert (error.code, error.http_status, error.retryable) == (98, 400, False)
    assert error.message == (
        "sendSmsMulti (POST /smsmulti): iSendPro refused the request: code 98, "
        "'Request rejected: number 0600000400 is refused (emulator magic number)'"
    )
    assert emu.sent == []


def test_api_error_on_an_injected_400_for_a_read(client: Client, emu: IsendproEmulator) -> None:
    emu.inject("http_400", "/comptage")
    error = raised_by(client, "count_message", "0612345678", "Hi")
    assert type(error) is IsendproApiError
    assert (error.code, error.http_status) == (99, 400)
    assert error.message == "comptage (POST /comptage): iSendPro refused the request: code 99, " \
        "\"Injected fault: fault 'http_400'\""  # fmt: skip


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_on_a_read(client: Client, emu: IsendproEmulator, status: int) -> None:
    emu.inject(f"http_{status}", "/credit")
    error = raised_by(client, "get_credit")
    assert type(error) is IsendproServerError
    assert (error.http_status, error.retryable) == (status, True)
    assert error.message == f"getCredit (POST /credit): iSendPro answered HTTP {status}"


def test_rate_limit_error_carries_retry_after(client: Client, emu: IsendproEmulator) -> None:
    emu.inject("http_429", "/credit", retry_after=7)
    error = raised_by(client, "get_credit")
    assert type(error) is IsendproRateLimitError
    assert (error.http_status, error.retry_after, error.retryable) == (429, 7.0, True)
    assert error.message == "getCredit (POST /credit): iSendPro is rate limiting (HTTP 429, retry after 7 s)"


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ("malformed", "not JSON"),
        ("empty", "not JSON"),
        ("no_etat", "the answer has no 'etat' object"),
    ],
)
def test_response_error_on_an_unreadable_read(
    client: Client, emu: IsendproEmulator, fault: str, why: str
) -> None:
    emu.inject(fault, "/credit")
    error = raised_by(client, "get_credit")
    assert type(error) is IsendproResponseError
    assert (error.http_status, error.retryable) == (200, True)
    assert error.message == f"getCredit (POST /credit): unreadable answer ({why})"


@pytest.mark.parametrize("fault", ["malformed", "html", "empty", "no_etat"])
def test_an_unreadable_answer_to_a_send_is_an_unknown_outcome(
    client: Client, emu: IsendproEmulator, fault: str
) -> None:
    emu.inject(fault, "/sms")
    error = raised_by(client, "send_sms", "0612345678", "Hi")
    assert type(error) is IsendproUnknownOutcomeError
    assert (error.http_status, error.retryable) == (200, False)
    assert error.message.startswith("sendSms (POST /sms): an unreadable answer ")


def test_timeout_error_on_a_hanging_read(make_client: MakeClient, emu: IsendproEmulator) -> None:
    emu.inject("hang", "/credit")
    error = raised_by(make_client(read_timeout=0.3), "get_credit")
    assert type(error) is IsendproTimeoutError
    assert (error.http_status, error.retryable) == (None, True)
    assert error.message == "getCredit (POST /credit): no answer from iSendPro in time (read timeout)"
    assert len(emu.requests) == 1


def test_transport_error_on_a_reset_read(client: Client, emu: IsendproEmulator) -> None:
    emu.inject("reset", "/credit")
    error = raised_by(client, "get_credit")
    assert type(error) is IsendproTransportError
    assert error.retryable is True
    assert error.message.startswith("getCredit (POST /credit): connection lost (")


def test_unknown_outcome_when_a_send_times_out_after_acceptance(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    emu.inject("hang_after_accept", "/sms")
    client = make_client(read_timeout=0.3, retry=RetryPolicy(jitter=False))  # retries allowed, still once

    error = raised_by(client, "send_sms", "0612345678", "Alerte")

    assert type(error) is IsendproUnknownOutcomeError
    assert (error.http_status, error.retryable) == (None, False)
    assert error.message == (
        "sendSms (POST /sms): read timeout after the request was sent; iSendPro may or may not have "
        "carried it out, so it was not retried (a resend could duplicate it)"
    )
    assert emu.wait_hanging(1)  # the server acted, then held the answer back
    assert [(s.tel, s.text) for s in emu.sent] == [("0612345678", "Alerte")]
    assert len(emu.requests) == 1
    assert client.delays == []


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "field"),
    [
        ("send_sms", ("0612", "Hi"), {}, "recipient"),
        ("send_sms", ("0612345678", ""), {}, "text"),
        ("send_sms", ("0612345678", "x" * 1000), {}, "text"),
        ("send_sms", ("0612345678", "Hi"), {"sender": "12345"}, "sender"),
        ("send_sms", ("0612345678", "Hi"), {"tracker": "not valid!"}, "tracker"),
        ("send_sms", ("0612345678", "Hi"), {"send_at": "2031-07-14 12:00"}, "when"),
        ("send_sms", ("0612345678", "Hi"), {"send_at": "2001-07-14T12:00+02:00"}, "when"),
        ("send_sms_multi", ([], "Hi"), {}, "to"),
        ("send_sms_multi", (["0612345678"], ["a", "b"]), {}, "text"),
        ("send_sms_multi", (["0612345678"], "Hi"), {"trackers": ["a", "b"]}, "trackers"),
        ("send_sms_multi", (["0612345678", "+79123456789"], ["Hi", "Привет"]), {}, "to"),
        ("send_to_contact_list", ("abc", "Hi"), {}, "list_id"),
        ("hlr_lookup", ("0612345678",), {}, "numbers"),
        ("count_message", ("0612345678", ""), {}, "text"),
        ("download_campaign_report", ("2026-02-01", "2026-01-01", "/tmp/never.zip"), {}, "end"),
        ("download_campaign_report", ("yesterday", "2026-01-01", "/tmp/never.zip"), {}, "start"),
        ("create_contact_list", ("  ",), {}, "name"),
        ("add_to_contact_list", ("1001", ["0612345678"]), {"names": ["a", "b"]}, "champ1"),
        ("add_to_contact_list", ("1001", ["0612345678"]), {"custom_fields": {"AB": ["x"]}}, "custom_fields"),
        ("blacklist_add", ("hello",), {}, "recipient"),
        ("create_short_link", ("ftp://example.com",), {}, "url"),
        ("create_sub_account", ("agence06", ""), {}, "password"),
        ("set_sub_account_price", ("key", -1, "33"), {}, "price"),
        ("set_sub_account_price", ("key", 0.04, "FR"), {}, "country_code"),
        ("add_sub_account_credit", ("", 5), {}, "sub_account_key"),
    ],
)  # fmt: skip
def test_validation_error_before_any_request(
    client: Client,
    emu: IsendproEmulator,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    field: str,
) -> None:
    error = raised_by(client, method, *args, **kwargs)
    assert type(error) is IsendproValidationError
    assert error.field == field
    assert emu.requests == []
