"""The receiver's acceptance rules, through the ASGI app mounted under ``/isendpro``: exact status codes,
exact answers, exact records on disk."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_isendpro.receipts import ReceiptStore
from tests.receipts.conftest import NUMBER, SECRET, TRACKER, Client, dlr_path, mounted, stored

NOW = dt.datetime(2026, 12, 7, 18, 30, 5, 123456, tzinfo=dt.timezone.utc)
RECEIVED = "2026-12-07T18:30:05.123456+00:00"
VALID = {"tel": NUMBER, "statut": "0", "tracker": TRACKER}
TEL_RULE = "invalid receipt: tel: must be 3 to 20 digits, optionally after +"
STATUT_RULE = (
    "invalid receipt: statut: must be 1 to 64 letters, digits, spaces or . : / + - _ (no space at either end)"
)
TRACKER_RULE = "invalid receipt: tracker: must be 1 to 49 letters or digits"
TWICE = "invalid receipt: {}: given more than once"
MISCONFIGURED = (503, "receiver misconfigured: see the API server's log\n")


@pytest.fixture(autouse=True)
def _frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_isendpro.receipts import app

    monkeypatch.setattr(app, "now", lambda: NOW)


def receipt_json(**changes: str) -> dict[str, str]:
    fields = {
        "tracker": TRACKER,
        "number": NUMBER,
        "status": "delivered",
        "raw_status": "0",
        "received_at": RECEIVED,
    }
    fields.update(changes)
    return fields


def only_record(ledger: Path) -> dict[str, str]:
    [text] = stored(ledger).values()
    return dict(json.loads(text))


def test_a_callback_is_stored_once_and_a_replay_changes_nothing(client: Any, ledger: Path) -> None:
    first = client.get(dlr_path(), params=VALID)
    assert (first.status_code, first.text) == (200, "stored\n")
    assert first.headers["content-type"] == "text/plain; charset=utf-8"
    records = stored(ledger)
    assert only_record(ledger) == receipt_json()
    replay = client.get(dlr_path(), params=VALID)
    assert (replay.status_code, replay.text) == (200, "already stored\n")
    assert stored(ledger) == records
    assert ReceiptStore.configured().receipts_for([TRACKER, "other"]) == {
        TRACKER: ReceiptStore.configured().receipts_for([TRACKER])[TRACKER]
    }
    assert ReceiptStore.configured().receipts_for([TRACKER])[TRACKER].to_json() == json.dumps(
        receipt_json(), separators=(",", ":"), sort_keys=True
    )


def test_an_unknown_statut_is_kept_raw_and_extra_parameters_are_ignored(client: Any, ledger: Path) -> None:
    answer = client.get(
        dlr_path(), params={**VALID, "statut": "NON DELIVRE:42", "msgid": "x" * 300, "date": "2026-12-07"}
    )
    assert (answer.status_code, answer.text) == (200, "stored\n")
    assert only_record(ledger) == receipt_json(status="unknown", raw_status="NON DELIVRE:42")


@pytest.mark.parametrize(
    ("query", "number"),
    [
        ("tel=+33612345678", "+33612345678"),
        ("tel=%2B33612345678", "+33612345678"),
        ("tel=33612345678", "33612345678"),
    ],
)
def test_a_plus_sent_unencoded_or_encoded_is_kept(client: Any, ledger: Path, query: str, number: str) -> None:
    answer = client.get(f"{dlr_path()}?{query}&statut=1&tracker={TRACKER}")
    assert (answer.status_code, answer.text) == (200, "stored\n")
    assert only_record(ledger) == receipt_json(number=number, status="failed", raw_status="1")


def test_a_final_receipt_wins_over_a_later_pending_one(
    client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_STATUSES", "0:delivered,1:failed,2:expired,3:pending")
    assert client.get(dlr_path(), params={**VALID, "statut": "3"}).status_code == 200
    assert client.get(dlr_path(), params=VALID).status_code == 200
    from airflow_provider_isendpro.receipts import app

    monkeypatch.setattr(app, "now", lambda: NOW + dt.timedelta(minutes=1))
    assert client.get(dlr_path(), params={**VALID, "statut": "3", "x": "1"}).text == "already stored\n"
    assert len(stored(ledger)) == 2
    latest = ReceiptStore.configured().receipts_for([TRACKER])[TRACKER]
    assert (latest.status, latest.raw_status, latest.received_at) == ("delivered", "0", RECEIVED)


NOT_FOUND = (404, "Not Found\n")


@pytest.mark.parametrize(
    "path",
    [
        dlr_path("FAKE-dlr-secret-0123456789abcdeX"),
        dlr_path(SECRET[:-1]),
        dlr_path(SECRET + "0"),
        dlr_path(SECRET.lower()),
        dlr_path(SECRET + "/extra"),
        dlr_path("x" * 5000),
        dlr_path("%C3%A9t%C3%A9"),
        "/isendpro/dlr/",
        "/isendpro/dlr",
        "/isendpro/",
        "/isendpro/docs",
        "/isendpro/openapi.json",
        f"/isendpro/DLR/{SECRET}",
        f"/isendpro/receipts/{SECRET}",
    ],
)
def test_a_wrong_or_missing_secret_reads_exactly_like_an_unknown_path(
    client: Any, ledger: Path, path: str
) -> None:
    unknown = client.get("/isendpro/nothing-here", params=VALID)
    answer = client.get(path, params=VALID)
    assert (answer.status_code, answer.text) == NOT_FOUND
    assert (unknown.status_code, unknown.text) == NOT_FOUND
    assert dict(answer.headers) == dict(unknown.headers)
    assert stored(ledger) == {}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_a_wrong_method_gets_405_with_the_right_secret_and_404_without(
    client: Any, ledger: Path, method: str
) -> None:
    answer = client.request(method, dlr_path(), params=VALID)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    if method != "HEAD":
        assert answer.text == "Method Not Allowed\n"
    wrong = client.request(method, dlr_path("FAKE-wrong-secret-00000000000"), params=VALID)
    assert wrong.status_code == 404
    assert stored(ledger) == {}


def test_post_form_when_dlr_method_allows_it(
    client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_METHOD", "POST")
    assert client.get(dlr_path(), params=VALID).status_code == 405
    answer = client.post(dlr_path(), data=VALID)
    assert (answer.status_code, answer.text) == (200, "stored\n")
    assert only_record(ledger) == receipt_json()
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_METHOD", "any")
    assert client.get(dlr_path(), params=VALID).text == "already stored\n"
    put = client.put(dlr_path(), data=VALID)
    assert (put.status_code, put.headers["allow"]) == (405, "GET, POST")
    # a parameter in the query string and again in the body is a repeated parameter
    both = client.post(f"{dlr_path()}?tracker={TRACKER}", data=VALID)
    assert (both.status_code, both.text) == (400, "invalid receipt: tracker: given more than once\n")


@pytest.mark.parametrize(
    ("kwargs", "status", "text"),
    [
        ({"content": b"tel=1", "headers": {"content-type": "application/json"}}, 415,
         "send the parameters in the query string or as application/x-www-form-urlencoded\n"),
        ({"data": {"tel": "1" * 3000}}, 413, "body too large (at most 2048 bytes)\n"),
        ({"content": [b"tel=" + b"1" * 1500, b"1" * 1500],
          "headers": {"content-type": "application/x-www-form-urlencoded"}}, 413,
         "body too large (at most 2048 bytes)\n"),
        ({"content": b"\xff\xfe=1", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 400,
         "invalid receipt: body: is not UTF-8\n"),
    ],
)  # fmt: skip
def test_bad_post_bodies(
    client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], status: int, text: str
) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_METHOD", "POST")
    answer = client.post(dlr_path(), **kwargs)
    assert (answer.status_code, answer.text) == (status, text)
    assert stored(ledger) == {}


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        (f"tel={NUMBER}&statut=0&tracker={TRACKER}&pad=" + "x" * 2048, 414,
         "query string too long (at most 2048 bytes)"),
        ("&".join(f"p{i}=1" for i in range(17)), 400,
         "invalid receipt: query string: has more than 16 parameters"),
        (f"tel={NUMBER}&statut=0", 400, "invalid receipt: tracker: missing"),
        (f"statut=0&tracker={TRACKER}", 400, "invalid receipt: tel: missing"),
        (f"tel={NUMBER}&tracker={TRACKER}", 400, "invalid receipt: statut: missing"),
        ("", 400, "invalid receipt: tracker: missing"),
        (f"tel={NUMBER}&statut=0&tracker={TRACKER}&tracker=b", 400, TWICE.format("tracker")),
        (f"tel={NUMBER}&tel={NUMBER}&statut=0&tracker={TRACKER}", 400, TWICE.format("tel")),
        (f"tel={NUMBER}&statut=0&tracker=a-b", 400, TRACKER_RULE),
        (f"tel={NUMBER}&statut=0&tracker=" + "a" * 50, 400,
         TRACKER_RULE),
        (f"tel={NUMBER}&statut=0&tracker=", 400, TRACKER_RULE),
        (f"tel=06&statut=0&tracker={TRACKER}", 400, TEL_RULE),
        (f"tel=06+12+34+56+78&statut=0&tracker={TRACKER}", 400,
         TEL_RULE),
        (f"tel={'1' * 21}&statut=0&tracker={TRACKER}", 400,
         TEL_RULE),
        (f"tel={NUMBER}&statut=&tracker={TRACKER}", 400,
         STATUT_RULE),
        (f"tel={NUMBER}&statut={'9' * 65}&tracker={TRACKER}", 400,
         STATUT_RULE),
        (f"tel={NUMBER}&statut=0%0Aforged&tracker={TRACKER}", 400,
         STATUT_RULE),
        (f"tel={NUMBER}&statut=%3Cb%3E&tracker={TRACKER}", 400,
         STATUT_RULE),
        (f"tel={NUMBER}&statut=%FF&tracker={TRACKER}", 400, "invalid receipt: query string: is not UTF-8"),
    ],
)  # fmt: skip
def test_bad_input_gets_400_or_414_naming_the_parameter_never_its_value(
    client: Any, ledger: Path, query: str, status: int, text: str
) -> None:
    answer = client.get(f"{dlr_path()}?{query}")
    assert (answer.status_code, answer.text) == (status, text + "\n")
    assert stored(ledger) == {}


def test_configured_parameter_names_and_statuses(
    client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_NUMBER_PARAM", "msisdn")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_STATUS_PARAM", "etat")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_TRACKER_PARAM", "ref")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_STATUSES", "DELIVRD:delivered, UNDELIV:failed")
    assert client.get(dlr_path(), params=VALID).text == "invalid receipt: ref: missing\n"
    answer = client.get(dlr_path(), params={"msisdn": NUMBER, "etat": "UNDELIV", "ref": TRACKER})
    assert (answer.status_code, answer.text) == (200, "stored\n")
    assert only_record(ledger) == receipt_json(status="failed", raw_status="UNDELIV")


def test_source_networks(client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_ALLOWED_NETWORKS", "198.51.100.0/24, 2001:db8::/32")
    refused = client.get(dlr_path(), params=VALID, headers={"X-Forwarded-For": "198.51.100.9"})
    assert (refused.status_code, refused.text) == (403, "Forbidden\n")
    # the secret is not even looked at: a wrong one gets the same answer
    assert client.get(dlr_path("FAKE-wrong-secret-00000000000"), params=VALID).status_code == 403
    assert stored(ledger) == {}
    inside = Client(mounted(), client=("198.51.100.9", 1))
    assert inside.get(dlr_path(), params=VALID).text == "stored\n"
    inside6 = Client(mounted(), client=("2001:db8::7", 1))
    assert inside6.get(dlr_path(), params={**VALID, "statut": "2"}).text == "stored\n"
    assert len(stored(ledger)) == 2
    assert (
        "iSendPro receipts: refused a callback from 203.0.113.7 (not in [isendpro] dlr_allowed_networks)"
        in caplog.messages
    )


def test_a_bad_network_setting_refuses_everything_and_says_so_once(
    client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_ALLOWED_NETWORKS", "198.51.100.0/24, office")
    for _ in range(2):
        answer = client.get(dlr_path(), params=VALID)
        assert (answer.status_code, answer.text) == MISCONFIGURED
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "iSendPro receipts: refusing every callback (503): [isendpro] dlr_allowed_networks: 'office' is not "
        "an address or network (write CIDRs separated by commas, e.g. 203.0.113.0/24, 2001:db8::/32)"
    ]
    assert stored(ledger) == {}


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("", "[isendpro] dlr_secret is not set"),
        ("short-secret", "[isendpro] dlr_secret is unusable"),
        ("FAKE secret with spaces 0123456789", "[isendpro] dlr_secret is unusable"),
    ],
)
def test_without_a_usable_secret_everything_is_404_and_said_once_at_error(
    ledger: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any, value: str, said: str
) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_SECRET", value)
    test_client = Client(mounted())
    for path in (dlr_path(value or "x"), dlr_path(), dlr_path(value or "x")):
        assert (test_client.get(path, params=VALID).status_code, test_client.get(path).text) == NOT_FOUND
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert said in errors[0]
    if value:
        assert value not in errors[0]
    assert stored(ledger) == {}


def test_an_unreachable_store_answers_503_and_logs_without_the_secret(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(blocker))
    answer = client.get(dlr_path(), params=VALID)
    assert (answer.status_code, answer.text) == (503, "receipt store unavailable, try again later\n")
    assert (
        f"iSendPro receipts: could not store the receipt of tracker {TRACKER} in {blocker}/_receipts "
        "(NotADirectoryError): answered 503; check [isendpro] ledger_path and ledger_conn_id"
    ) in caplog.messages
    assert not any(SECRET in r.getMessage() for r in caplog.records)


def test_a_bad_statuses_setting_answers_503(
    client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_STATUSES", "0:arrived")
    answer = client.get(dlr_path(), params=VALID)
    assert (answer.status_code, answer.text) == MISCONFIGURED
    assert stored(ledger) == {}


def test_local_receipts_under_a_remote_executor_are_said_once(
    client: Any, ledger: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    assert client.get(dlr_path(), params=VALID).text == "stored\n"
    assert client.get(dlr_path(), params={**VALID, "statut": "1"}).text == "stored\n"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"iSendPro receipts: stored on this API server's local disk ({ledger}, from [isendpro] ledger_path) "
        "while [core] executor = CeleryExecutor runs tasks on other machines, which will not see them. Set "
        "[isendpro] ledger_path to shared storage (s3://...) or declare a shared volume with "
        "[isendpro] ledger_is_shared = True"
    ]


def test_a_wrong_secret_is_logged_without_the_secret_tried(client: Any, ledger: Path, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="airflow_provider_isendpro.receipts")
    tried = "FAKE-dlr-secret-0123456789abcdeX"
    assert client.get(dlr_path(tried), params=VALID).status_code == 404
    assert client.get("/isendpro/nothing-here").status_code == 404  # not the receiver: not logged
    assert [r.getMessage() for r in caplog.records if r.name == "airflow_provider_isendpro.receipts"] == [
        "iSendPro receipts: refused a callback from 203.0.113.7: wrong or missing secret (404); check "
        "the DLR URL in iSendPro's customer area"
    ]
    assert tried not in caplog.text
