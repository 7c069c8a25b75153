"""Receipts, their format from the configuration, and the receiver's settings."""

from __future__ import annotations

import datetime as dt
import ipaddress
import pickle

import pytest

from airflow_provider_isendpro.errors import IsendproConfigError
from airflow_provider_isendpro.receipts import (
    DELIVERED,
    EXPIRED,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    UNKNOWN,
    DeliveryReceipt,
    InvalidReceipt,
    ReceiptFormat,
    parse_receipt,
    receipts_configured,
)
from airflow_provider_isendpro.receipts.config import allowed_networks, parse_networks

NOW = dt.datetime(2026, 12, 7, 19, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def test_parse_receipt_maps_the_statut_and_stamps_utc() -> None:
    got = parse_receipt({"tel": "0612345678", "statut": "0", "tracker": "abc", "other": "x"}, now=NOW)
    assert got == DeliveryReceipt("abc", "0612345678", DELIVERED, "0", "2026-12-07T18:00:00.000000+00:00")
    assert got.is_final
    assert DeliveryReceipt.from_json(got.to_json()) == got
    assert got.to_json() == (
        '{"number":"0612345678","raw_status":"0","received_at":"2026-12-07T18:00:00.000000+00:00",'
        '"status":"delivered","tracker":"abc"}'
    )
    assert {DELIVERED, FAILED, EXPIRED, UNKNOWN} == FINAL_STATUSES
    assert PENDING not in FINAL_STATUSES
    assert [parse_receipt({"tel": "123", "statut": s, "tracker": "t"}, now=NOW).status for s in "0129"] == [
        "delivered",
        "failed",
        "expired",
        "unknown",
    ]


def test_invalid_receipt_names_the_parameter_and_never_echoes_the_value() -> None:
    huge = "9" * 10_000
    with pytest.raises(InvalidReceipt) as caught:
        parse_receipt({"tel": huge, "statut": "0", "tracker": "t"}, now=NOW)
    assert str(caught.value) == "tel: must be 3 to 20 digits, optionally after +"
    assert (caught.value.param, isinstance(caught.value, ValueError)) == ("tel", True)
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)
    with pytest.raises(InvalidReceipt, match=r"^statut: must be 1 to 64"):
        parse_receipt({"tel": "123", "statut": " 0", "tracker": "t"}, now=NOW)
    with pytest.raises(ValueError, match="aware"):
        parse_receipt({"tel": "123", "statut": "0", "tracker": "t"}, now=dt.datetime(2026, 1, 1))


def test_format_from_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ReceiptFormat.from_config() == ReceiptFormat()
    assert dict(ReceiptFormat().statuses) == {"0": "delivered", "1": "failed", "2": "expired"}
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_NUMBER_PARAM", "to")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_STATUS_PARAM", "status")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_TRACKER_PARAM", "ref")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_STATUSES", " 0 : Delivered , 3:pending,")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_METHOD", "post")
    fmt = ReceiptFormat.from_config()
    assert (fmt.params, dict(fmt.statuses), fmt.method) == (
        ("to", "status", "ref"),
        {"0": "delivered", "3": "pending"},
        "POST",
    )
    assert (fmt.allows("POST"), fmt.allows("GET")) == (True, False)
    assert hash(fmt) == hash(fmt)


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("DLR_STATUSES", "0=delivered", "dlr_statuses: entry '0=delivered' is not 'statut:status'"),
        ("DLR_STATUSES", "0:arrived", "dlr_statuses: entry '0:arrived' maps to 'arrived'"),
        ("DLR_STATUSES", "0:unknown", "'unknown', which is not one of delivered, expired, failed, pending"),
        ("DLR_STATUSES", "0:delivered,0:failed", "[isendpro] dlr_statuses: statut '0' is mapped twice"),
        ("DLR_STATUSES", " , ", "[isendpro] dlr_statuses is empty: map at least one statut"),
        ("DLR_METHOD", "PUT", "[isendpro] dlr_method: 'PUT' is not GET, POST or ANY"),
        ("DLR_NUMBER_PARAM", "te l", "[isendpro] dlr_number_param: 'te l' is not a parameter name"),
        ("DLR_TRACKER_PARAM", "tel", "dlr_number_param, dlr_status_param and dlr_tracker_param must differ"),
    ],
)  # fmt: skip
def test_bad_format_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"AIRFLOW__ISENDPRO__{env}", value)
    with pytest.raises(IsendproConfigError) as caught:
        ReceiptFormat.from_config()
    assert message in str(caught.value)


def test_receipts_configured_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__ISENDPRO__DLR_SECRET", raising=False)
    assert receipts_configured() is False
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_SECRET", "  ")
    assert receipts_configured() is False
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_SECRET", "FAKE-dlr-secret-0123456789abcdef")
    assert receipts_configured() is True
    assert allowed_networks() == ()
    assert parse_networks(" 203.0.113.4, 2001:db8::/32 ,") == (
        ipaddress.ip_network("203.0.113.4/32"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert parse_networks("10.1.2.3/8") == (ipaddress.ip_network("10.0.0.0/8"),)


def test_the_secret_option_is_sensitive_so_cmd_and_secret_variants_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From Airflow 3.2; 3.1 computes its sensitive options before reading providers' (docs/receipts.md)."""
    from airflow_provider_isendpro._compat import conf
    from airflow_provider_isendpro.receipts.config import dlr_secret
    from tests.compat import airflow_version

    monkeypatch.delenv("AIRFLOW__ISENDPRO__DLR_SECRET", raising=False)
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_SECRET_CMD", "echo FAKE-from-a-command-0123456789")
    if airflow_version() >= (3, 2):
        assert ("isendpro", "dlr_secret") in conf.sensitive_config_values
        assert receipts_configured() is True
        assert dlr_secret() == "FAKE-from-a-command-0123456789"
    else:
        assert ("isendpro", "dlr_secret") not in conf.sensitive_config_values
        assert dlr_secret() == ""
