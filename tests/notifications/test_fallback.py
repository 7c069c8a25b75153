"""The fallback channel: when iSendPro cannot take the alert, a second notifier gets the same callback.

The second channel is real: a second ``IsendproNotifier`` on another connection, to a second emulator
(another iSendPro account), which receives its SMS; the first one's request is refused by the first
emulator (credit, key, recipient), answered with a 500 (in doubt), or never reaches anything."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.testing import MAGIC_BLACKLISTED, IsendproEmulator
from tests.notifications.conftest import task_context

ONCALL = "06 12 34 56 78"
CREDIT = (
    "iSendPro alert not sent by SMS (IsendproCreditRefusedError: sendSms (POST /sms): iSendPro refused the "
    "request: code 10, 'Insufficient credit: this request costs 0.05 EUR, the account has 0.0 EUR'; the "
    "account's credit does not cover it: top it up in iSendPro's customer area); calling the fallback {name}"
)
BACKUP = "06 98 76 54 32"


def events(logs: list[dict[str, Any]], level: str) -> list[str]:
    return [e["event"] for e in logs if e["log_level"] == level]


@pytest.fixture(scope="module")
def backup_gateway() -> Iterator[IsendproEmulator]:
    """A second emulator: the fallback's own iSendPro account."""
    with IsendproEmulator() as emulator:
        yield emulator


@pytest.fixture
def backup(
    isendpro_emulator: IsendproEmulator, backup_gateway: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> IsendproNotifier:
    """The fallback: an ``IsendproNotifier`` on its own connection (``isendpro_backup``), to
    ``backup_gateway``."""
    backup_gateway.reset()
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_BACKUP", backup_gateway.connection_json())
    return IsendproNotifier(
        to=BACKUP, text="[backup] {{ ti.dag_id }}.{{ ti.task_id }} failed", isendpro_conn_id="isendpro_backup"
    )


def sent(emulator: IsendproEmulator) -> list[tuple[str, str]]:
    return [(s.tel, s.text) for s in emulator.sent]


def fallback_lines(logs: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in logs if "fallback" in str(e["event"])]


def test_credit_exhausted_goes_to_the_fallback(
    isendpro_emulator: IsendproEmulator, backup: Any, backup_gateway: IsendproEmulator
) -> None:
    isendpro_emulator.credit = 0.0  # the first account is empty
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, text="etl_sales.load failed", fallback=backup)(task_context(None))
    assert sent(backup_gateway) == [("0698765432", "[backup] etl_sales.load failed")]
    assert fallback_lines(logs) == [
        CREDIT.format(name="IsendproNotifier"),
        "iSendPro alert fallback IsendproNotifier done",
    ]


def test_key_refused_goes_to_the_fallback(
    isendpro_emulator: IsendproEmulator, backup: Any, backup_gateway: IsendproEmulator, wrong_key: str
) -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, isendpro_conn_id="isendpro_wrong_key", fallback=[backup])(
            task_context(None)
        )
    assert sent(backup_gateway) == [("0698765432", "[backup] etl_sales.load failed")]
    assert fallback_lines(logs) == [
        "iSendPro alert not sent by SMS (IsendproAuthError: sendSms (POST /sms): iSendPro refused the "
        "request: code 3, 'Your credentials are incorrect'; check the API key, and that this machine's "
        "public IP is on the account's allow-list (iSendPro customer area: Mon compte → Mon API)); calling "
        "the fallback "
        "IsendproNotifier",
        "iSendPro alert fallback IsendproNotifier done",
    ]
    assert wrong_key not in json.dumps([str(e) for e in logs])


def test_isendpro_down_goes_to_the_fallback(
    isendpro_emulator: IsendproEmulator,
    backup: Any,
    backup_gateway: IsendproEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = {"conn_type": "isendpro", "host": f"http://127.0.0.1:{port}/cgi-bin", "password": "k" * 12}
    from airflow_provider_isendpro import client
    from airflow_provider_isendpro.client.retry import NO_RETRY

    monkeypatch.setattr(client, "RetryPolicy", lambda: NO_RETRY)  # retries: tests/client; no waiting
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_DOWN", json.dumps(conn))
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, isendpro_conn_id="isendpro_down", fallback=backup)(task_context(None))
    assert sent(backup_gateway) == [("0698765432", "[backup] etl_sales.load failed")]
    assert fallback_lines(logs) == [
        "iSendPro alert not sent by SMS (IsendproConnectError: sendSms (POST /sms): could not connect to "
        f"iSendPro at http://127.0.0.1:{port} (connection refused); nothing was sent; nothing listens on "
        "that host and port: check the base URL's host and port, and that the server (or the local emulator: "
        "python -m airflow_provider_isendpro.testing) is running); calling the fallback IsendproNotifier",
        "iSendPro alert fallback IsendproNotifier done",
    ]


def test_every_recipient_refused_goes_to_the_fallback(
    isendpro_emulator: IsendproEmulator, backup: Any, backup_gateway: IsendproEmulator
) -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=MAGIC_BLACKLISTED, fallback=backup)(task_context(None))
    assert sent(backup_gateway) == [("0698765432", "[backup] etl_sales.load failed")]
    assert fallback_lines(logs) == [
        "iSendPro alert not sent by SMS (iSendPro refused every recipient (code 11)); calling the fallback "
        "IsendproNotifier",
        "iSendPro alert fallback IsendproNotifier done",
    ]


def test_in_doubt_calls_the_fallback_only_when_asked(
    isendpro_emulator: IsendproEmulator, backup: Any, backup_gateway: IsendproEmulator
) -> None:
    isendpro_emulator.inject("http_500", path="/sms", times=1)
    IsendproNotifier(to=ONCALL, fallback=backup, dedupe=False)(task_context(None))
    assert sent(backup_gateway) == []  # the SMS may have gone: no second alert by default
    isendpro_emulator.inject("http_500", path="/sms", times=1)
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, fallback=backup, fallback_on_unknown=True, dedupe=False, throttle=None)(
            task_context(None)
        )
    assert sent(backup_gateway) == [("0698765432", "[backup] etl_sales.load failed")]
    assert fallback_lines(logs) == [
        "iSendPro alert not sent by SMS (in doubt, the SMS may have gone: sendSms (POST /sms): HTTP 500 "
        "after the request was sent; iSendPro may or may not have carried it out, so it was not retried "
        "(a resend could duplicate it)); calling the fallback IsendproNotifier",
        "iSendPro alert fallback IsendproNotifier done",
    ]


def test_sent_or_held_alerts_call_no_fallback(
    isendpro_emulator: IsendproEmulator, backup: Any, backup_gateway: IsendproEmulator
) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="x", fallback=backup)
    notifier(task_context(None))
    notifier(task_context(None, try_number=2))  # held back by the throttle
    notifier(task_context(None))  # de-duplicated
    assert sent(isendpro_emulator) == [("0612345678", "x")]


def test_a_failing_fallback_never_raises(isendpro_emulator: IsendproEmulator) -> None:
    def broken(context: Any) -> None:
        raise RuntimeError("smtp server down")

    isendpro_emulator.credit = 0.0
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, fallback=[broken])(task_context(None))
    assert fallback_lines(logs) == [
        CREDIT.format(name="broken"),
        "iSendPro alert fallback broken failed: RuntimeError: smtp server down",
    ]


def test_deadline_alert_falls_back_in_the_triggerer(
    isendpro_emulator: IsendproEmulator, backup: Any, backup_gateway: IsendproEmulator
) -> None:
    isendpro_emulator.credit = 0.0
    context = {
        "dag_run": {"dag_id": "etl_sales", "dag_run_id": "manual__1"},
        "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
    }
    fallback = IsendproNotifier(
        to=BACKUP, text="[backup] deadline missed", isendpro_conn_id="isendpro_backup"
    )
    with structlog.testing.capture_logs() as logs:
        asyncio.run(IsendproNotifier(to=ONCALL, fallback=fallback).async_notify(context))
    assert sent(backup_gateway) == [("0698765432", "[backup] deadline missed")]
    assert fallback_lines(logs) == [
        CREDIT.format(name="IsendproNotifier"),
        "iSendPro alert fallback IsendproNotifier done",
    ]


def test_fallback_must_be_callable() -> None:
    from airflow_provider_isendpro.errors import IsendproValidationError

    with pytest.raises(IsendproValidationError, match="fallback"):
        IsendproNotifier(to=ONCALL, fallback="ops@example.com")
