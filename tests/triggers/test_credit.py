"""CreditTrigger against the emulator: serialisation, polling, transient errors, error events."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.testing import IsendproEmulator
from airflow_provider_isendpro.triggers import credit as trigger_module
from airflow_provider_isendpro.triggers.credit import CreditTrigger

KEY = "emulator-fake-keyid"
CLASSPATH = "airflow_provider_isendpro.triggers.credit.CreditTrigger"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The trigger's waits, recorded instead of slept."""
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(trigger_module, "asyncio", SimpleNamespace(sleep=sleep))
    return recorded


def first_event(trigger: CreditTrigger) -> TriggerEvent:
    async def run() -> TriggerEvent:
        events = trigger.run()
        event = await events.__anext__()
        with pytest.raises(StopAsyncIteration):  # one event, then the generator ends
            await events.__anext__()
        return event

    return asyncio.run(run())


def test_serialize_round_trips_exactly() -> None:
    trigger = CreditTrigger(isendpro_conn_id="sms_prod", min_sms=500, poll_interval=12.5)
    classpath, kwargs = trigger.serialize()
    assert (classpath, kwargs) == (
        CLASSPATH,
        {"isendpro_conn_id": "sms_prod", "min_credit": None, "min_sms": 500, "poll_interval": 12.5},
    )
    rebuilt = CreditTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert CreditTrigger(min_credit=5).serialize()[1] == {
        "isendpro_conn_id": "isendpro_default",
        "min_credit": 5.0,
        "min_sms": None,
        "poll_interval": 60.0,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"min_credit": 1, "min_sms": 1},
            "give exactly one threshold, min_credit (euros) or min_sms (SMS to France); both were given",
        ),
        ({"min_credit": -1}, "min_credit=-1: must be a number >= 0 (euros)"),
        ({"min_credit": 1, "poll_interval": -5}, "poll_interval=-5: must be a number of seconds >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        CreditTrigger(**kwargs)
    assert str(exc.value) == message


def test_success_when_the_credit_is_there(isendpro_emulator: IsendproEmulator, waits: list[float]) -> None:
    event = first_event(CreditTrigger(min_credit=100, poll_interval=30))
    assert event.payload == {"status": "success", "credit": {"euros": 100.0, "sms_estimate": 2000}}
    assert [(r.method, r.path, r.body) for r in isendpro_emulator.requests] == [
        ("POST", "/credit", {"keyid": KEY, "credit": "2"})
    ]
    assert waits == []


def test_polls_until_the_threshold(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    isendpro_emulator.credit = 1.0
    seen: list[float] = []

    async def sleep(seconds: float) -> None:
        seen.append(seconds)
        isendpro_emulator.credit += 1.0

    monkeypatch.setattr(trigger_module, "asyncio", SimpleNamespace(sleep=sleep))
    event = first_event(CreditTrigger(min_sms=60, poll_interval=30))  # 60 SMS = 3 EUR
    assert event.payload == {"status": "success", "credit": {"euros": 3.0, "sms_estimate": 60}}
    assert seen == [30.0, 30.0]
    assert len(isendpro_emulator.requests) == 3


def test_server_errors_twice_then_success(isendpro_emulator: IsendproEmulator, waits: list[float]) -> None:
    isendpro_emulator.inject("http_500", "/credit", times=2)
    event = first_event(CreditTrigger(min_credit=50, poll_interval=30))
    assert event.payload["status"] == "success"
    assert len(isendpro_emulator.requests_to("/credit")) == 3
    assert waits == [1.0, 2.0]  # short backoff after each transient error, not a whole poll interval


def test_rate_limit_waits_for_retry_after(isendpro_emulator: IsendproEmulator, waits: list[float]) -> None:
    isendpro_emulator.inject("http_429", "/credit", retry_after=45)
    assert first_event(CreditTrigger(min_credit=50, poll_interval=30)).payload["status"] == "success"
    assert waits == [45.0]


def test_refused_key_is_an_error_event(
    isendpro_emulator: IsendproEmulator, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "bad-key-for-trigger-42"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json().replace(KEY, secret)
    )
    event = first_event(CreditTrigger(min_credit=50))
    assert event.payload == {
        "status": "error",
        "message": "getCredit (POST /credit): iSendPro refused the request: code 3, 'Your credentials are "
        "incorrect'; check the API key, and that this machine's public IP is on the account's allow-list "
        "(iSendPro customer area: Mon compte → Mon API)",
        "error_type": "IsendproAuthError",
        "code": 3,
    }
    assert secret not in json.dumps(event.payload)
    assert len(isendpro_emulator.requests) == 1 and waits == []  # not retried


def test_missing_connection_is_an_error_event(waits: list[float]) -> None:
    event = first_event(CreditTrigger(isendpro_conn_id="nowhere", min_credit=1))
    assert event.payload["status"] == "error"
    assert event.payload["error_type"] == "IsendproConfigError"
    assert event.payload["message"].startswith("connection 'nowhere' could not be read")


def test_unexpected_failure_is_an_error_event(
    isendpro_emulator: IsendproEmulator, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(trigger_module, "credit_reached", boom)
    event = first_event(CreditTrigger(min_credit=1))
    assert event.payload == {
        "status": "error",
        "message": "unexpected RuntimeError while polling the credit",
        "error_type": "RuntimeError",
        "code": None,
    }
