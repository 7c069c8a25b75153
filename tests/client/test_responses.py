"""Envelope quirks and error classification (API-NOTES §5), on the shared parser both clients use."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from airflow_provider_isendpro.client import endpoints, responses
from airflow_provider_isendpro.client.calls import ApiCall
from airflow_provider_isendpro.client.config import ClientConfig
from airflow_provider_isendpro.errors import (
    IsendproApiError,
    IsendproAuthError,
    IsendproConfigError,
    IsendproCreditRefusedError,
    IsendproRateLimitError,
    IsendproResponseError,
    IsendproServerError,
    IsendproUnknownOutcomeError,
)

READ = endpoints.get_credit()
SEND = ApiCall("sendSms", "POST", "/sms", {}, "json", responses.parse_send, repeatable=False)


def body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    "envelope",
    [
        {"etat": {"etat": [{"code": 0, "tel": "0612345678", "message": "ok"}]}},  # A: list
        {"etat": {"etat": {"code": 0, "tel": "0612345678", "message": "ok"}}},  # B: single object
        {"etat": {"code": 0, "tel": "0612345678", "message": "ok"}},  # C: flat
    ],
    ids=["list", "object", "flat"],
)
def test_the_three_json_shapes_normalise_to_the_same_entries(envelope: dict[str, Any]) -> None:
    assert responses.decode(SEND, 200, {}, body(envelope)) == [
        {"code": 0, "tel": "0612345678", "message": "ok"}
    ]


@pytest.mark.parametrize("code", [0, "0", " 0 "])
def test_code_compares_as_an_int_whatever_its_json_type(code: Any) -> None:
    entries = responses.decode(SEND, 200, {}, body({"etat": {"etat": [{"code": code, "tel": "06"}]}}))
    assert responses.parse_send(entries).recipients[0].code == 0


def test_per_recipient_failures_inside_http_200_are_results_not_errors() -> None:
    mixed = {"etat": {"etat": [
        {"code": "21", "tel": "0600208432", "message": "Le numéro de téléphone n'est pas attribué!"},
        {"code": "11", "tel": "0771058335", "message": "Le numéro de téléphone est dans la liste noire!"},
        {"code": "0", "tel": "0695208432", "message": "Votre message a bien ete envoye", "smslong": "2"},
    ]}}  # fmt: skip
    result = responses.parse_send(responses.decode(SEND, 200, {}, body(mixed)))
    assert [(r.number, r.code, r.accepted) for r in result.recipients] == [
        ("0600208432", 21, False),
        ("0771058335", 11, False),
        ("0695208432", 0, True),
    ]
    assert result.segments_billed == 2
    assert result.to_dict()["recipients"][1]["message"] == "Le numéro de téléphone est dans la liste noire!"


def test_an_error_entry_without_tel_in_http_200_is_a_request_level_error() -> None:
    with pytest.raises(IsendproApiError) as err:
        responses.decode(
            SEND, 200, {}, body({"etat": {"etat": [{"code": "9", "message": "champ manquant"}]}})
        )
    assert err.value.code == 9
    assert err.value.http_status == 200
    assert str(err.value) == "sendSms (POST /sms): iSendPro refused the request: code 9, 'champ manquant'"


def test_http_400_erreur_body_raises_with_code_and_message_verbatim() -> None:
    erreur = {"etat": {"etat": [{"code": "45", "message": "Le champ num est obligatoire"}]}}
    with pytest.raises(IsendproApiError) as err:
        responses.decode(READ, 400, {}, body(erreur))
    assert (err.value.code, err.value.http_status, err.value.retryable) == (45, 400, False)
    assert "'Le champ num est obligatoire'" in str(err.value)
    assert type(err.value) is IsendproApiError


def test_code_3_is_an_auth_error_that_points_at_the_ip_allow_list() -> None:
    erreur = {"etat": {"etat": [{"code": "3", "message": "Your credentials are incorrect"}]}}
    with pytest.raises(IsendproAuthError) as err:
        responses.decode(READ, 400, {}, body(erreur))
    assert "allow-list" in str(err.value) and "Mon compte → Mon API" in str(err.value)


def test_credit_codes_are_credit_errors_and_nothing_else_is() -> None:
    erreur = {"etat": {"etat": [{"code": "10", "message": "Insufficient credit"}]}}
    with pytest.raises(IsendproCreditRefusedError) as err:
        responses.decode(SEND, 400, {}, body(erreur))
    assert (err.value.code, err.value.http_status, err.value.retryable) == (10, 400, False)
    assert err.value.message == (
        "sendSms (POST /sms): iSendPro refused the request: code 10, 'Insufficient credit'; the account's "
        "credit does not cover it: top it up in iSendPro's customer area"
    )
    with pytest.raises(IsendproApiError) as plain:  # an account whose credit code is another one
        responses.decode(SEND, 400, {}, body(erreur), credit_codes=frozenset({42}))
    assert type(plain.value) is IsendproApiError


@pytest.mark.parametrize(
    ("value", "codes"),
    [(10, {10}), ("10, 42", {10, 42}), ([10, "42"], {10, 42}), ("", set()), (None, set())],
)
def test_credit_error_codes_setting(value: Any, codes: set[int]) -> None:
    assert ClientConfig(api_key="FAKE-test-key", credit_error_codes=value).credit_error_codes == codes


def test_credit_error_codes_that_are_not_codes_are_refused() -> None:
    with pytest.raises(IsendproConfigError) as err:
        ClientConfig(api_key="FAKE-test-key", credit_error_codes="ten")
    assert err.value.message == (
        "credit_error_codes must be iSendPro return codes (integers), e.g. 10 or \"10, 42\", got 'ten'"
    )


def test_success_codes_of_creations_are_not_errors() -> None:
    shortlink = {
        "etat": {"etat": {"code": 250, "message": "Le lien court a ete genere", "shortlink": "ww.sms.ht/a"}}
    }
    assert responses.parse_short_link(responses.decode(READ, 200, {}, body(shortlink))).url == "ww.sms.ht/a"


def test_429_carries_retry_after_in_seconds_or_http_date() -> None:
    with pytest.raises(IsendproRateLimitError) as err:
        responses.decode(READ, 429, {"Retry-After": "7"}, b"")
    assert err.value.retry_after == 7.0 and err.value.retryable
    ten_am = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert responses.retry_after_seconds("Wed, 25 Nov 2026 10:00:30 GMT", now=ten_am) == 30.0
    assert responses.retry_after_seconds("soon") is None


def test_5xx_is_retryable_for_reads_and_an_unknown_outcome_for_sends() -> None:
    with pytest.raises(IsendproServerError) as read_err:
        responses.decode(READ, 503, {}, b"<html>")
    assert read_err.value.retryable and read_err.value.http_status == 503
    with pytest.raises(IsendproUnknownOutcomeError) as send_err:
        responses.decode(SEND, 502, {}, b"")
    assert not send_err.value.retryable
    assert "may or may not have carried it out" in str(send_err.value)


@pytest.mark.parametrize(
    ("raw", "why"),
    [(b"<html>oops</html>", "an HTML page"), (b"", "not JSON"), (b'{"etat": {"etat', "not JSON"),
     (b'{"status": "ok"}', "the answer has no 'etat' object"),
     (b'{"etat": {"etat": [1, 2]}}', "the answer's 'etat' is neither an object nor a list of objects")],
)  # fmt: skip
def test_unreadable_bodies(raw: bytes, why: str) -> None:
    with pytest.raises(IsendproResponseError) as read_err:
        responses.decode(READ, 200, {}, raw)
    assert str(read_err.value) == f"getCredit (POST /credit): unreadable answer ({why})"
    assert read_err.value.retryable
    with pytest.raises(IsendproUnknownOutcomeError):
        responses.decode(SEND, 200, {}, raw)


def test_unreadable_4xx_is_an_api_error() -> None:
    with pytest.raises(IsendproApiError) as err:
        responses.decode(READ, 404, {}, b"Not Found")
    assert err.value.http_status == 404 and not err.value.retryable


def test_credit_parses_string_or_number_values() -> None:
    assert responses.parse_credit([{"credit": "10.0", "quantite": "200"}]).to_dict() == {
        "euros": 10.0,
        "sms_estimate": 200,
    }
    assert responses.parse_credit([{"credit": 3.5}]).sms_estimate is None
    with pytest.raises(IsendproResponseError):
        responses.parse_credit([{"quantite": "1"}])


def test_hlr_markers_mean_invalid() -> None:
    results = responses.parse_hlr(
        [{"tel": "0612345678", "operateur": "ORAN"}, {"tel": "0600000001", "operateur": "?"}]
    )
    assert [(r.number, r.operator, r.valid) for r in results] == [
        ("0612345678", "ORAN", True),
        ("0600000001", None, False),
    ]


def test_sub_account_key_is_a_secret_kept_out_of_to_dict() -> None:
    entry = {"code": 230, "subAccountId": 20150, "subAccountKeyId": "subkey-fake-123",
             "subAccountLogin": "agence06", "tel": "Le sous compte a ete ajoute"}  # fmt: skip
    account = responses.parse_sub_account([entry])
    assert account.secrets() == ("subkey-fake-123",)
    assert "subkey-fake-123" not in repr(account)
    assert account.to_dict() == {
        "account_id": "20150",
        "login": "agence06",
        "code": 230,
        "message": "Le sous compte a ete ajoute",
    }
