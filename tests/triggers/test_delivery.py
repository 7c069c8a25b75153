"""SmsDeliveryTrigger run with asyncio: receipts in a ReceiptStore (temp dir), the report (emulator)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.receipts import DeliveryReceipt, ReceiptStore
from airflow_provider_isendpro.testing import IsendproEmulator
from airflow_provider_isendpro.triggers import delivery as trigger_module
from airflow_provider_isendpro.triggers.delivery import SmsDeliveryTrigger

KEY = "emulator-fake-keyid"
CLASSPATH = "airflow_provider_isendpro.triggers.delivery.SmsDeliveryTrigger"
NOW = dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.timezone.utc)
NUMBERS = {"trkA1": "0612345601", "trkB2": "0612345602", "trkC3": "0612345603"}
STATUSES = {"0": "delivered", "1": "failed", "2": "expired"}
RAW = {"delivered": "0", "failed": "1", "expired": "2"}


class Clock:
    """The trigger's clock and sleep: each sleep is recorded, moves the clock, then runs the next step."""

    def __init__(self, start: dt.datetime = NOW) -> None:
        self.now = start
        self.waits: list[float] = []
        self.steps: list[Callable[[], None]] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += dt.timedelta(seconds=seconds)
        if self.steps:
            self.steps.pop(0)()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(trigger_module, "sleep", clock.sleep)
    monkeypatch.setattr(trigger_module, "utcnow", lambda: clock.now)
    return clock


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReceiptStore:
    """The configured receipt store, under a ledger in a temporary folder."""
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(tmp_path / "ledger"))
    return ReceiptStore.configured()


def receive(store: ReceiptStore, tracker: str, status: str) -> None:
    store.record(
        DeliveryReceipt(tracker, NUMBERS[tracker], status, RAW[status], "2026-12-07T17:01:00.000000+00:00")
    )


def first_event(trigger: SmsDeliveryTrigger) -> TriggerEvent:
    async def run() -> TriggerEvent:
        events = trigger.run()
        event = await events.__anext__()
        with pytest.raises(StopAsyncIteration):  # one event, then the generator ends
            await events.__anext__()
        return event

    return asyncio.run(run())


def summary(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": "receipts",
        "total": 3,
        "counts": {"delivered": 3, "failed": 0, "expired": 0, "unknown": 0, "pending": 0},
        "delivered": 3,
        "delivered_ratio": 1.0,
        "failed": [],
        "expired": [],
        "unknown": [],
        "pending": [],
        "not_sent": 0,
        "condition": "every status final",
        "condition_met": True,
    }
    base.update(changes)
    return base


# --------------------------------------------------------------------------------------------------
# Arguments


def test_serialize_round_trips_exactly() -> None:
    trigger = SmsDeliveryTrigger(
        numbers={"trkA1": "0612345601", "trkB2": None},
        source="report",
        not_sent=2,
        min_delivered_ratio=0.95,
        poll_interval=900,
        deadline="2026-12-07T19:00:00+00:00",
        report_start="2026-12-07T17:55:00+01:00",
        statuses=STATUSES,
        isendpro_conn_id="sms_prod",
    )
    classpath, kwargs = trigger.serialize()
    assert (classpath, kwargs) == (
        CLASSPATH,
        {
            "numbers": {"trkA1": "0612345601", "trkB2": None},
            "source": "report",
            "not_sent": 2,
            "min_delivered_ratio": 0.95,
            "poll_interval": 900.0,
            "deadline": "2026-12-07T19:00:00+00:00",
            "report_start": "2026-12-07T17:55:00+01:00",
            "statuses": STATUSES,
            "isendpro_conn_id": "sms_prod",
        },
    )
    rebuilt = SmsDeliveryTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "auto"}, "source='auto': must be 'receipts' or 'report'"),
        ({"source": "report"}, "report_start=None: is needed to read the report"),
        ({"poll_interval": -1}, "poll_interval=-1: must be a number of seconds >= 0"),
        (
            {"deadline": "2026-12-07 19:00"},
            "deadline='2026-12-07 19:00': must be an ISO-8601 time with an offset",
        ),
        (
            {"min_delivered_ratio": 1.5},
            "min_delivered_ratio=1.5: must be a share above 0 and at most 1 (e.g. 0.95), or None to wait "
            "until every status is final",
        ),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"numbers": NUMBERS, "source": "receipts", **kwargs}
    with pytest.raises(IsendproValidationError) as exc:
        SmsDeliveryTrigger(**arguments)
    assert str(exc.value) == message


# --------------------------------------------------------------------------------------------------
# Receipts


def test_receipts_until_every_status_is_final(store: ReceiptStore, clock: Clock) -> None:
    receive(store, "trkA1", "delivered")  # before the trigger starts: read at its first poll
    clock.steps = [lambda: None, lambda: receive(store, "trkB2", "failed")]
    clock.steps.append(lambda: receive(store, "trkC3", "expired"))
    trigger = SmsDeliveryTrigger(numbers=NUMBERS, source="receipts", not_sent=1, poll_interval=30)
    event = first_event(trigger)
    assert event.payload == {
        "status": "success",
        "summary": summary(
            counts={"delivered": 1, "failed": 1, "expired": 1, "unknown": 0, "pending": 0},
            delivered=1,
            delivered_ratio=0.3333,
            failed=["0612345602"],
            expired=["0612345603"],
            not_sent=1,
        ),
    }
    assert clock.waits == [30.0, 30.0, 30.0]  # it sleeps first: the sensor has just checked


def test_receipts_ratio_met_before_every_status_is_final(store: ReceiptStore, clock: Clock) -> None:
    receive(store, "trkA1", "delivered")
    receive(store, "trkB2", "delivered")
    event = first_event(
        SmsDeliveryTrigger(numbers=NUMBERS, source="receipts", min_delivered_ratio=0.66, poll_interval=30)
    )
    assert event.payload == {
        "status": "success",
        "summary": summary(
            counts={"delivered": 2, "failed": 0, "expired": 0, "unknown": 0, "pending": 1},
            delivered=2,
            delivered_ratio=0.6667,
            pending=["0612345603"],
            condition="at least 0.66 of the SMS delivered",
        ),
    }
    assert clock.waits == [30.0]


def test_ratio_out_of_reach_ends_the_wait(store: ReceiptStore, clock: Clock) -> None:
    receive(store, "trkA1", "failed")
    event = first_event(
        SmsDeliveryTrigger(numbers=NUMBERS, source="receipts", min_delivered_ratio=0.9, poll_interval=30)
    )
    assert event.payload == {
        "status": "unreachable",
        "summary": summary(
            counts={"delivered": 0, "failed": 1, "expired": 0, "unknown": 0, "pending": 2},
            delivered=0,
            delivered_ratio=0.0,
            failed=["0612345601"],
            pending=["0612345602", "0612345603"],
            condition="at least 0.9 of the SMS delivered",
            condition_met=False,
        ),
    }


def test_deadline_fires_timeout_with_what_was_seen(store: ReceiptStore, clock: Clock) -> None:
    receive(store, "trkA1", "delivered")
    deadline = (NOW + dt.timedelta(seconds=70)).isoformat()
    trigger = SmsDeliveryTrigger(numbers=NUMBERS, source="receipts", poll_interval=30, deadline=deadline)
    event = first_event(trigger)
    assert event.payload == {
        "status": "timeout",
        "summary": summary(
            counts={"delivered": 1, "failed": 0, "expired": 0, "unknown": 0, "pending": 2},
            delivered=1,
            delivered_ratio=0.3333,
            pending=["0612345602", "0612345603"],
            condition_met=False,
        ),
    }
    assert clock.waits == [30.0, 30.0, 10.0]  # the last read is made at the deadline


def test_an_unreachable_store_is_read_again(
    store: ReceiptStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for tracker in NUMBERS:
        receive(store, tracker, "delivered")
    calls: list[list[str]] = []
    real = ReceiptStore.receipts_for

    def flaky(self: ReceiptStore, trackers: list[str]) -> dict[str, DeliveryReceipt]:
        calls.append(list(trackers))
        if len(calls) == 1:
            raise OSError("storage unreachable")
        return real(self, trackers)

    monkeypatch.setattr(ReceiptStore, "receipts_for", flaky)
    event = first_event(SmsDeliveryTrigger(numbers=NUMBERS, source="receipts", poll_interval=30))
    assert event.payload == {"status": "success", "summary": summary()}
    assert calls == [list(NUMBERS)] * 2
    assert clock.waits == [30.0, 30.0]


def test_unexpected_failure_is_an_error_event(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(trigger_module, "summarise", boom)
    monkeypatch.setattr(ReceiptStore, "receipts_for", lambda self, trackers: {})
    event = first_event(SmsDeliveryTrigger(numbers=NUMBERS, source="receipts"))
    assert event.payload == {
        "status": "error",
        "message": "unexpected RuntimeError while waiting for delivery",
        "error_type": "RuntimeError",
        "code": None,
    }


# --------------------------------------------------------------------------------------------------
# The /campagne report (the emulator)


def send(emulator: IsendproEmulator, numbers: dict[str, str]) -> None:
    """Send one SMS per number with its tracker, as SendSmsOperator would have."""
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    hook = IsendproHook()
    try:
        hook.client.send_sms_multi(list(numbers.values()), "Votre colis arrive", trackers=list(numbers))
    finally:
        hook.close()
    assert [s.tracker for s in emulator.sent] == list(numbers)


def report_trigger(**kwargs: Any) -> SmsDeliveryTrigger:
    arguments: dict[str, Any] = {
        "numbers": NUMBERS,
        "source": "report",
        "poll_interval": 900,
        "report_start": "2026-12-07T17:55:00+01:00",
        "statuses": STATUSES,
        **kwargs,
    }
    return SmsDeliveryTrigger(**arguments)


def campagne_queries(emulator: IsendproEmulator) -> list[dict[str, Any]]:
    return [r.query for r in emulator.requests_to("/campagne")]


def test_report_until_every_row_is_final(
    isendpro_emulator: IsendproEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    clock.now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    isendpro_emulator.clock = lambda: clock.now.astimezone(paris)  # the report follows the trigger's clock
    isendpro_emulator.configure(dlr_delay=1200)  # receipts due 20 minutes after the send
    numbers = {"trkA1": "0612345601", "trkB2": "0600000301", "trkC3": "0612345603"}  # B2: failed
    monkeypatch.setattr(trigger_module, "utcnow", lambda: clock.now)
    send(isendpro_emulator, numbers)
    start = clock.now - dt.timedelta(minutes=5)
    event = first_event(report_trigger(numbers=numbers, report_start=start.isoformat()))
    assert event.payload == {
        "status": "success",
        "summary": summary(
            source="report",
            counts={"delivered": 2, "failed": 1, "expired": 0, "unknown": 0, "pending": 0},
            delivered=2,
            delivered_ratio=0.6667,
            failed=["0600000301"],
        ),
    }
    assert clock.waits == [900.0, 900.0]  # at 15 minutes every row was pending, at 30 final

    def minute(moment: dt.datetime) -> str:
        return moment.astimezone(paris).strftime("%Y-%m-%d %H:%M")

    assert campagne_queries(isendpro_emulator) == [
        {
            "keyid": KEY,
            "rapportCampagne": "1",
            "date_deb": minute(start),
            "date_fin": minute(clock.now - dt.timedelta(seconds=900 - 60)),
        },
        {
            "keyid": KEY,
            "rapportCampagne": "1",
            "date_deb": minute(start),
            "date_fin": minute(clock.now + dt.timedelta(seconds=60)),
        },
    ]


def test_report_statut_outside_the_mapping_is_unknown_and_final(
    isendpro_emulator: IsendproEmulator, clock: Clock
) -> None:
    clock.now = dt.datetime.now(dt.timezone.utc)
    send(isendpro_emulator, NUMBERS)
    isendpro_emulator.configure(campaign_statut="9")
    event = first_event(report_trigger(report_start=(clock.now - dt.timedelta(minutes=5)).isoformat()))
    assert event.payload == {
        "status": "success",
        "summary": summary(
            source="report",
            counts={"delivered": 0, "failed": 0, "expired": 0, "unknown": 3, "pending": 0},
            delivered=0,
            delivered_ratio=0.0,
            unknown=list(NUMBERS.values()),
        ),
    }


def test_report_transient_error_waits_for_the_next_poll(
    isendpro_emulator: IsendproEmulator, clock: Clock
) -> None:
    clock.now = dt.datetime.now(dt.timezone.utc)
    send(isendpro_emulator, NUMBERS)
    isendpro_emulator.inject("http_500", "/campagne")
    event = first_event(report_trigger(report_start=(clock.now - dt.timedelta(minutes=5)).isoformat()))
    assert event.payload == {"status": "success", "summary": summary(source="report")}
    assert len(isendpro_emulator.requests_to("/campagne")) == 2  # no retry inside a poll
    assert clock.waits == [900.0, 900.0]


def test_report_refused_key_is_an_error_event(
    isendpro_emulator: IsendproEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "bad-key-for-delivery-42"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json().replace(KEY, secret)
    )
    event = first_event(report_trigger())
    assert event.payload["status"] == "error"
    assert event.payload["error_type"] == "IsendproAuthError"
    assert event.payload["message"].startswith("getCampagne (GET /campagne): iSendPro refused the request")
    assert secret not in json.dumps(event.payload)
    assert clock.waits == [900.0]
