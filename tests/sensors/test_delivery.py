"""SmsDeliverySensor: parse-time checks, what it waits for, poke / reschedule / deferrable, receipts and the
report, the XCom summary (also on timeout), asset events, dag.test()."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.errors import (
    IsendproAuthError,
    IsendproConfigError,
    IsendproError,
    IsendproValidationError,
)
from airflow_provider_isendpro.receipts import DeliveryReceipt, ReceiptStore
from airflow_provider_isendpro.receipts.progress import MET, UNREACHABLE, WAITING, needed, verdict
from airflow_provider_isendpro.sensors.delivery import SmsDeliverySensor, waited_for
from airflow_provider_isendpro.testing import IsendproEmulator
from airflow_provider_isendpro.triggers import delivery as trigger_module
from airflow_provider_isendpro.triggers.delivery import SmsDeliveryTrigger
from tests.compat import (
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from tests.dagruns import task_states, xcom_value

KEY = "emulator-fake-keyid"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
NOW = dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.timezone.utc)
RAW = {"delivered": "0", "failed": "1", "expired": "2"}
#: A SendSmsOperator result: two sent, one sent by an earlier try, one rejected, one invalid.
SEND: dict[str, Any] = {
    "input": 5,
    "recipients": [
        {"index": 0, "number": "0612345601", "status": "sent", "tracker": "trkA1", "segments": 1},
        {"index": 1, "number": "0612345602", "status": "sent", "tracker": "trkB2", "segments": 1},
        {"index": 2, "number": "0612345603", "status": "already_sent", "tracker": "trkC3"},
        {"index": 3, "number": "0600000011", "status": "rejected", "tracker": "trkD4", "code": 11},
        {"index": 4, "number": "0612", "status": "invalid", "message": "too short"},
    ],
}
NUMBERS = {"trkA1": "0612345601", "trkB2": "0612345602", "trkC3": "0612345603"}


class Ti:
    """The task instance a sensor sees outside a DAG run: records what it pushes."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = json.loads(json.dumps(value))  # what Airflow would store

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


def context(**extra: Any) -> dict[str, Any]:
    return {"ti": Ti(), **extra}


def sensor(**kwargs: Any) -> SmsDeliverySensor:
    kwargs.setdefault("trackers", SEND)
    kwargs.setdefault("poke_interval", 0)
    kwargs.setdefault("deferrable", False)
    return SmsDeliverySensor(task_id="delivery", **kwargs)


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
        "not_sent": 2,
        "condition": "every status final",
        "condition_met": True,
    }
    base.update(changes)
    return base


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReceiptStore:
    """A receiver configured (so source='auto' reads receipts) over a ledger in a temporary folder."""
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(tmp_path / "ledger"))
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_SECRET", "fake-dlr-secret-for-tests")
    return ReceiptStore.configured()


def receive(store: ReceiptStore, tracker: str, status: str, number: str | None = None) -> None:
    number = number or NUMBERS[tracker]
    store.record(DeliveryReceipt(tracker, number, status, RAW[status], "2026-12-07T17:01:00.000000+00:00"))


# --------------------------------------------------------------------------------------------------
# Parse time


REPORT_FLOOR = (
    "must be at least 300 seconds: each read downloads the whole report, and iSendPro documents no "
    "rate limit for it"
)
RATIO_RULE = "must be a share above 0 and at most 1 (e.g. 0.95), or None to wait until every status is final"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "dlr"}, "source='dlr': must be 'auto', 'receipts' or 'report'"),
        ({"report_interval": 60}, f"report_interval=60: {REPORT_FLOOR}"),
        (
            {"report_interval": dt.timedelta(minutes=4)},
            f"report_interval=datetime.timedelta(seconds=240): {REPORT_FLOOR}",
        ),
        ({"report_interval": "900"}, "report_interval='900': must be a number of seconds or a timedelta"),
        ({"min_delivered_ratio": 0}, f"min_delivered_ratio=0: {RATIO_RULE}"),
        ({"min_delivered_ratio": 1.01}, f"min_delivered_ratio=1.01: {RATIO_RULE}"),
        ({"min_delivered_ratio": True}, f"min_delivered_ratio=True: {RATIO_RULE}"),
        ({"trackers": []}, "trackers=[]: names no tracker to wait for"),
        ({"trackers": None}, "trackers=None: names no tracker to wait for"),
        ({"trackers": " , "}, "trackers=' , ': names no tracker to wait for"),
        (
            {"trackers": ["ok1", "not-ok"]},
            "trackers='not-ok': each tracker must be 1 to 49 letters or digits",
        ),
        ({"trackers": 42}, "trackers=42: must be a list of trackers or a send task's result"),
        (
            {"report_start": "yesterday"},
            "report_start='yesterday': must be a date or datetime like '2026-01-31 23:00'",
        ),
    ],
)
def test_literal_mistakes_fail_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        sensor(**kwargs)
    assert type(exc.value) is IsendproValidationError
    assert str(exc.value) == message


def test_templated_values_are_checked_once_rendered(store: ReceiptStore) -> None:
    op = sensor(trackers="{{ params.trackers }}", min_delivered_ratio="{{ params.ratio }}")
    op.render_template_fields({"params": {"trackers": "trkA1", "ratio": "2"}})
    with pytest.raises(IsendproValidationError) as exc:
        op.execute(context())
    assert str(exc.value) == f"min_delivered_ratio='2': {RATIO_RULE}"

    receive(store, "trkA1", "delivered")
    op = sensor(trackers="{{ params.trackers }}", min_delivered_ratio="{{ params.ratio }}")
    op.render_template_fields({"params": {"trackers": "trkA1 trkB2", "ratio": "0.5"}})
    assert op.execute(context()) == summary(
        total=2,
        counts={"delivered": 1, "failed": 0, "expired": 0, "unknown": 0, "pending": 1},
        delivered=1,
        delivered_ratio=0.5,
        pending=["trkB2"],  # a tracker given alone, not seen yet: listed by its tracker
        not_sent=0,
        condition="at least 0.5 of the SMS delivered",
    )


def test_send_results_are_read_once_resolved() -> None:
    from airflow.sdk import DAG

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    with DAG("delivery_parse", schedule=None, start_date=START):
        one = SendSmsOperator(task_id="one", recipients=["0612345678"], text="a")
        two = SendSmsOperator(task_id="two", recipients=["0698765432"], text="b")
        op = SmsDeliverySensor(task_id="delivery", trackers=[one.output, two.output, "trkA1"])
    assert op.upstream_task_ids == {"one", "two"}


def test_defaults() -> None:
    op = SmsDeliverySensor(task_id="d", trackers=["trkA1"])
    assert (op.deferrable, op.source, op.report_interval, op.poll_interval) == (True, "auto", 900.0, 60.0)
    assert list(op.template_fields) == ["trackers", "min_delivered_ratio", "report_start", "isendpro_conn_id"]


# --------------------------------------------------------------------------------------------------
# What is waited for


def test_waits_only_for_what_the_send_sent(tmp_path: Path) -> None:
    targets = waited_for(SEND)
    assert (targets.numbers, targets.not_sent) == (NUMBERS, 2)

    mapped = [
        SEND,
        {"recipients": [{"index": 0, "number": "0699999999", "status": "sent", "tracker": "trkE5"}]},
    ]
    assert waited_for(mapped).numbers == {**NUMBERS, "trkE5": "0699999999"}

    details = tmp_path / "try-1.jsonl"  # a large send: its rows are in its details file
    details.write_text("".join(json.dumps(row) + "\n" for row in SEND["recipients"]))
    large = waited_for({"input": 5, "recipients": None, "details_path": str(details)})
    assert (large.numbers, large.not_sent) == (NUMBERS, 2)

    plain = waited_for("trkA1, trkB2 trkA1")
    assert (plain.numbers, plain.not_sent) == ({"trkA1": None, "trkB2": None}, 0)

    with pytest.raises(IsendproValidationError) as exc:
        waited_for({"dry_run": True, "input": 2})
    assert str(exc.value) == "trackers: a dry run's result (dry_run=True) sent nothing to wait for"


@pytest.mark.parametrize(
    ("total", "ratio", "count"), [(20, 0.95, 19), (21, 0.95, 20), (100, 0.07, 7), (3, 1.0, 3), (0, 0.5, 0)]
)
def test_needed_rounds_up_exactly(total: int, ratio: float, count: int) -> None:
    assert needed(total, ratio) == count


@pytest.mark.parametrize(
    ("delivered", "pending", "ratio", "expected"),
    [
        (2, 1, None, WAITING),
        (2, 0, None, MET),
        (0, 0, None, MET),
        (2, 1, 0.66, MET),
        (1, 1, 0.66, WAITING),
        (1, 0, 0.66, UNREACHABLE),
    ],
)
def test_verdict(delivered: int, pending: int, ratio: float | None, expected: str) -> None:
    counts = {"delivered": delivered, "failed": 3 - delivered - pending, "pending": pending}
    assert verdict({"total": 3, "counts": counts}, ratio) == expected


# --------------------------------------------------------------------------------------------------
# Poke mode, receipts


def test_poke_until_every_status_is_final(store: ReceiptStore) -> None:
    receive(store, "trkA1", "delivered")
    receive(store, "trkB2", "failed")
    ctx = context()
    with pytest.raises(AirflowSensorTimeout):
        sensor(timeout=0).execute(ctx)
    waiting = summary(
        counts={"delivered": 1, "failed": 1, "expired": 0, "unknown": 0, "pending": 1},
        delivered=1,
        delivered_ratio=0.3333,
        failed=["0612345602"],
        pending=["0612345603"],
        condition_met=False,
    )
    assert ctx["ti"].pushed == {"delivery_report": waiting}  # what was seen, before failing

    ctx = context()
    with pytest.raises(AirflowSkipException):
        sensor(timeout=0, soft_fail=True).execute(ctx)
    assert ctx["ti"].pushed == {"delivery_report": waiting}

    receive(store, "trkC3", "expired")
    ctx = context()
    assert sensor(timeout=0).execute(ctx) == summary(
        counts={"delivered": 1, "failed": 1, "expired": 1, "unknown": 0, "pending": 0},
        delivered=1,
        delivered_ratio=0.3333,
        failed=["0612345602"],
        expired=["0612345603"],
    )
    assert ctx["ti"].pushed == {}  # success: the summary is the return value


def test_receipts_on_a_local_disk_under_a_remote_executor_are_refused(
    store: ReceiptStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver stores on the API server's disk, the task runs on a Celery worker: it would wait until
    its timeout for receipts it can never read. Refused before the first check, naming the setting;
    a shared volume (ledger_is_shared) or the report is fine."""
    receive(store, "trkA1", "delivered")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    ctx = context()
    with pytest.raises(IsendproConfigError) as exc:
        sensor(timeout=0).execute(ctx)
    assert str(exc.value) == (
        f"SmsDeliverySensor refuses to wait for delivery receipts: they are stored on a local disk "
        f"({tmp_path / 'ledger'}, from [isendpro] ledger_path) but [core] executor = CeleryExecutor runs "
        "this task on another machine than the API server's receiver, so it would never see them. Set "
        "[isendpro] ledger_path to storage every component reaches (s3://...), or declare a shared volume "
        "with [isendpro] ledger_is_shared = True, or use source='report'"
    )
    assert ctx["ti"].pushed == {}
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_IS_SHARED", "True")
    with pytest.raises(AirflowSensorTimeout):
        sensor(timeout=0).execute(ctx)  # read, and still waiting for trkB2 and trkC3


def test_ratio_out_of_reach_fails_at_once(store: ReceiptStore) -> None:
    receive(store, "trkA1", "failed")
    receive(store, "trkB2", "expired")
    ctx = context()
    with pytest.raises(IsendproError) as exc:
        sensor(min_delivered_ratio=0.5, timeout=3600).execute(ctx)
    assert type(exc.value) is IsendproError
    assert exc.value.message == (
        "SMS delivery: 0/3 delivered, 1 failed, 1 expired, 1 pending (receipts); the condition (at least "
        "0.5 of the SMS delivered) can no longer be met, so the sensor stops waiting (the summary is in "
        "the XCom 'delivery_report')"
    )
    assert ctx["ti"].pushed["delivery_report"]["counts"] == {
        "delivered": 0, "failed": 1, "expired": 1, "unknown": 0, "pending": 1,
    }  # fmt: skip


def test_reschedule_mode(store: ReceiptStore) -> None:
    with pytest.raises(AirflowRescheduleException):
        sensor(mode="reschedule", poke_interval=30).execute(context())
    for tracker in NUMBERS:
        receive(store, tracker, "delivered")
    assert sensor(mode="reschedule").execute(context()) == summary()


# --------------------------------------------------------------------------------------------------
# The report


def send(emulator: IsendproEmulator, numbers: dict[str, str]) -> None:
    """Send one SMS per number with its tracker, as SendSmsOperator would have."""
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    hook = IsendproHook()
    try:
        hook.client.send_sms_multi(list(numbers.values()), "Votre colis arrive", trackers=list(numbers))
    finally:
        hook.close()


def test_auto_reads_the_report_without_a_receiver(isendpro_emulator: IsendproEmulator) -> None:
    # the emulator's magic numbers: a receipt that says failed, one expired, none at all (row pending)
    numbers = {"trkA1": "0612345601", "trkF1": "0600000301", "trkE1": "0600000302", "trkN1": "0600000300"}
    send(isendpro_emulator, numbers)
    rows = [{"number": n, "status": "sent", "tracker": t} for t, n in numbers.items()]
    run_started = pendulum.now("UTC")
    ctx = context(dag_run=SimpleNamespace(start_date=run_started))
    with pytest.raises(AirflowSensorTimeout):
        sensor(trackers={"recipients": rows}, timeout=0).execute(ctx)
    seen = summary(
        source="report",
        total=4,
        counts={"delivered": 1, "failed": 1, "expired": 1, "unknown": 0, "pending": 1},
        delivered=1,
        delivered_ratio=0.25,
        failed=["0600000301"],
        expired=["0600000302"],
        pending=["0600000300"],
        not_sent=0,
        condition_met=False,
    )
    assert ctx["ti"].pushed == {"delivery_report": seen}
    [query] = [r.query for r in isendpro_emulator.requests_to("/campagne")]
    opened = (run_started - dt.timedelta(minutes=5)).in_timezone("Europe/Paris")
    assert query["date_deb"] == opened.strftime("%Y-%m-%d %H:%M")  # the run's start, minus 5 minutes
    assert (query["keyid"], query["rapportCampagne"]) == (KEY, "1")

    quarter = sensor(trackers={"recipients": rows}, min_delivered_ratio=0.25)
    assert quarter.execute(ctx) == {
        **seen,
        "condition": "at least 0.25 of the SMS delivered",
        "condition_met": True,
    }


def test_report_in_poke_mode_keeps_its_floor(isendpro_emulator: IsendproEmulator) -> None:
    send(isendpro_emulator, NUMBERS)
    isendpro_emulator.configure(campaign_statut="")  # nothing final yet
    op = sensor(source="report", mode="reschedule", poke_interval=30, report_start=pendulum.now("UTC"))
    with pytest.raises(AirflowRescheduleException):
        op.execute(context())
    assert op.poke_interval == 900.0  # the report is read every report_interval, not every poke_interval
    assert len(isendpro_emulator.requests_to("/campagne")) == 1


def test_a_send_that_sent_nothing_is_not_waited_for(isendpro_emulator: IsendproEmulator) -> None:
    rejected = {"recipients": [SEND["recipients"][3]], "details_path": None}
    op = sensor(trackers=rejected, source="report", report_start="2026-12-07 17:00", deferrable=True)
    assert op.execute(context()) == summary(
        source="report",
        total=0,
        counts={"delivered": 0, "failed": 0, "expired": 0, "unknown": 0, "pending": 0},
        delivered=0,
        delivered_ratio=None,
        not_sent=1,
    )
    assert isendpro_emulator.requests == []  # nothing read


def test_report_refused_key_fails_the_poke(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json().replace(KEY, "bad-key-42")
    )
    with pytest.raises(IsendproAuthError) as exc:
        sensor(source="report", report_start="2026-12-07 17:00").execute(context())
    assert "bad-key-42" not in str(exc.value)


# --------------------------------------------------------------------------------------------------
# Deferrable


def test_defers_with_a_serialisable_trigger(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigger_module, "utcnow", lambda: NOW)
    isendpro_emulator.configure(campaign_statut="")
    op = sensor(
        deferrable=True,
        source="report",
        min_delivered_ratio=0.9,
        report_start="2026-12-07 17:55",
        timeout=dt.timedelta(hours=2),
        isendpro_conn_id="isendpro_default",
    )
    with pytest.raises(TaskDeferred) as exc:
        op.execute(context())
    deferred = exc.value
    assert len(isendpro_emulator.requests_to("/campagne")) == 1  # checked once before deferring
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == dt.timedelta(hours=2, minutes=10)  # a backstop: the trigger ends first
    assert isinstance(deferred.trigger, SmsDeliveryTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_provider_isendpro.triggers.delivery.SmsDeliveryTrigger"
    assert kwargs == {
        "numbers": NUMBERS,
        "source": "report",
        "not_sent": 2,
        "min_delivered_ratio": 0.9,
        "poll_interval": 900.0,
        "deadline": "2026-12-07T19:00:00+00:00",
        "report_start": "2026-12-07T17:55:00+01:00",
        "statuses": {"0": "delivered", "1": "failed", "2": "expired"},
        "isendpro_conn_id": "isendpro_default",
    }
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_deferrable_does_not_defer_when_delivered(store: ReceiptStore) -> None:
    for tracker in NUMBERS:
        receive(store, tracker, "delivered")
    assert sensor(deferrable=True).execute(context()) == summary()


def test_receipts_trigger_polls_at_poll_interval(store: ReceiptStore) -> None:
    with pytest.raises(TaskDeferred) as exc:
        sensor(deferrable=True, poll_interval=20).execute(context())
    kwargs = exc.value.trigger.serialize()[1]
    assert (kwargs["source"], kwargs["poll_interval"], kwargs["report_start"]) == ("receipts", 20.0, None)


def test_execute_complete() -> None:
    op = sensor(deferrable=True)
    done = summary()
    assert op.execute_complete(context(), {"status": "success", "summary": done}) == done

    late = summary(condition_met=False, pending=["0612345603"])
    ctx = context()
    with pytest.raises(AirflowSensorTimeout) as timeout:
        sensor(deferrable=True, timeout=600).execute_complete(ctx, {"status": "timeout", "summary": late})
    assert str(timeout.value) == (
        "Sensor has timed out after 600 seconds; SMS delivery: 3/3 delivered (receipts)"
    )
    assert ctx["ti"].pushed == {"delivery_report": late}

    ctx = context()
    with pytest.raises(AirflowSkipException):
        sensor(deferrable=True, soft_fail=True).execute_complete(ctx, {"status": "timeout", "summary": None})
    assert ctx["ti"].pushed == {}  # nothing was read: nothing to push

    ctx = context()
    with pytest.raises(IsendproError) as unreachable:
        op.execute_complete(ctx, {"status": "unreachable", "summary": late})
    assert "can no longer be met" in unreachable.value.message
    assert ctx["ti"].pushed == {"delivery_report": late}

    event = {
        "status": "error",
        "message": "getCampagne: refused",
        "error_type": "IsendproAuthError",
        "code": 3,
    }
    with pytest.raises(IsendproAuthError) as error:
        op.execute_complete(context(), event)
    assert (error.value.message, error.value.code) == (
        "iSendPro delivery check failed in the triggerer: getCampagne: refused",
        3,
    )
    with pytest.raises(IsendproError) as other:
        op.execute_complete(context(), None)
    assert (
        other.value.message
        == "iSendPro delivery check failed in the triggerer: unexpected trigger event None"
    )
    with pytest.raises(AirflowSkipException):
        sensor(deferrable=True, never_fail=True).execute_complete(context(), event)


# --------------------------------------------------------------------------------------------------
# dag.test(): a send, then the deferred sensor (the trigger runs inline) and an asset event


def asset_events(name: str) -> list[tuple[Any, str]]:
    """``(extra, source_task_id)`` of every event of the asset ``name``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_task_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == name)
        ).all()
    return [(row[0], row[1]) for row in rows]


@pytest.mark.integration
def test_dag_mapped_send_then_deferred_sensor_emits_an_asset_event(
    isendpro_emulator: IsendproEmulator,
    store: ReceiptStore,
    run_dag: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk import DAG, Asset

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    waits: list[float] = []
    outcomes = {"0612345678": "delivered", "0698765432": "failed"}

    async def receipts_arrive(seconds: float) -> None:  # iSendPro calls back while the sensor waits
        waits.append(seconds)
        sms = isendpro_emulator.sent[len(waits) - 1]  # map indexes may run in either order
        receive(store, sms.tracker or "", outcomes[sms.tel], sms.tel)

    monkeypatch.setattr(trigger_module, "sleep", receipts_arrive)
    delivered = Asset("isendpro_delivery_test")
    with DAG("delivery_deferred", schedule=None, start_date=START, catchup=False) as dag:
        sent = SendSmsOperator.partial(task_id="send", text="Alerte", on_rejected="warn").expand(
            recipients=[["0612345678"], ["0698765432", "0600000011"]]  # 0600000011: refused (code 11)
        )
        SmsDeliverySensor(task_id="delivery", trackers=sent.output, poll_interval=45, outlets=[delivered])

    run = run_dag(dag)
    assert task_states(run) == {"send[0]": "success", "send[1]": "success", "delivery": "success"}
    assert waits == [45.0, 45.0]
    counts = {"delivered": 1, "failed": 1, "expired": 0, "unknown": 0, "pending": 0}
    assert xcom_value(run, "delivery") == {
        "source": "receipts",
        "total": 2,
        "counts": counts,
        "delivered": 1,
        "delivered_ratio": 0.5,
        "failed": ["0698765432"],
        "expired": [],
        "unknown": [],
        "pending": [],
        "not_sent": 1,
        "condition": "every status final",
        "condition_met": True,
    }
    extra = {"source": "receipts", "total": 2, "delivered": 1, "counts": counts}
    assert asset_events("isendpro_delivery_test") == [(extra, "delivery")]


@pytest.mark.integration
def test_dag_dry_run_then_sensor_skips(
    isendpro_emulator: IsendproEmulator, store: ReceiptStore, run_dag: Callable[..., Any]
) -> None:
    """ "Dry run, then real": with dry_run=True (mapped, fed by XCom) the send sends nothing, and the sensor
    is skipped (so is what follows it), instead of failing the dry run's DAG run or waiting."""
    from airflow.sdk import DAG, Asset

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    with DAG("delivery_dry_run", schedule=None, start_date=START, catchup=False) as dag:
        sent = SendSmsOperator.partial(task_id="send", text="Alerte", dry_run=True).expand(
            recipients=[["0612345678"], ["0698765432"]]
        )
        waited = SmsDeliverySensor(
            task_id="delivery", trackers=sent.output, outlets=[Asset("isendpro_delivery_dry_run")]
        )
        waited >> SendSmsOperator(task_id="follow_up", recipients=["0612345678"], text="Bilan")

    run = run_dag(dag)
    assert task_states(run) == {
        "send[0]": "success",
        "send[1]": "success",
        "delivery": "skipped",
        "follow_up": "skipped",
    }
    assert isendpro_emulator.requests == []
    assert asset_events("isendpro_delivery_dry_run") == []


@pytest.mark.integration
def test_dag_deferred_timeout_pushes_what_was_seen(
    isendpro_emulator: IsendproEmulator,
    store: ReceiptStore,
    run_dag: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk import DAG, Asset

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    clock = [dt.datetime.now(dt.timezone.utc)]
    waits: list[float] = []

    async def time_passes(seconds: float) -> None:  # one receipt arrives, the other never does
        waits.append(seconds)
        clock[0] += dt.timedelta(seconds=seconds)
        sms = isendpro_emulator.sent[0]
        receive(store, sms.tracker or "", "delivered", sms.tel)

    monkeypatch.setattr(trigger_module, "sleep", time_passes)
    monkeypatch.setattr(trigger_module, "utcnow", lambda: clock[0])
    with DAG("delivery_timeout", schedule=None, start_date=START, catchup=False) as dag:
        sent = SendSmsOperator(task_id="send", recipients=["0612345678", "0698765432"], text="Alerte")
        SmsDeliverySensor(
            task_id="delivery",
            trackers=sent.output,
            poll_interval=50,
            timeout=120,
            outlets=[Asset("isendpro_delivery_timeout_test")],
        )

    run = run_dag(dag)
    assert task_states(run) == {"send": "success", "delivery": "failed"}
    assert waits == [50.0, 50.0, 20.0]  # the last read at the sensor's timeout
    assert xcom_value(run, "delivery", key="delivery_report") == {
        "source": "receipts",
        "total": 2,
        "counts": {"delivered": 1, "failed": 0, "expired": 0, "unknown": 0, "pending": 1},
        "delivered": 1,
        "delivered_ratio": 0.5,
        "failed": [],
        "expired": [],
        "unknown": [],
        "pending": ["0698765432"],
        "not_sent": 0,
        "condition": "every status final",
        "condition_met": False,
    }
    assert asset_events("isendpro_delivery_timeout_test") == []  # no event: the SMS were not delivered
