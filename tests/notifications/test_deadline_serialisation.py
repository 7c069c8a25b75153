"""A notifier with ``fallback=`` as a Deadline Alert callback: Airflow stores ``AsyncCallback``'s kwargs
as JSON with the serialised DAG, and the triggerer builds the notifier from them.

A notifier *object* in those kwargs cannot be stored: the DAG fails to serialise (an import error in the
UI). Its JSON form, an import path or ``{"path": ..., "kwargs": {...}}``, survives the round trip and is
built when the fallback is called."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.compat import needs_deadline_alerts
from tests.notifications.conftest import task_context

ONCALL = "06 12 34 56 78"
BACKUP = "06 98 76 54 32"
NOTIFIER = "airflow_provider_isendpro.notifications.sms.IsendproNotifier"
DEADLINE_CONTEXT = {
    "dag_run": {"dag_id": "etl_sales", "dag_run_id": "manual__1", "logical_date": "2026-01-01T03:00:00Z"},
    "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
}
SEEN: list[dict[str, Any]] = []


def record(context: dict[str, Any]) -> None:
    """A fallback named by its import path."""
    SEEN.append(context)


@pytest.fixture(scope="module")
def backup_gateway() -> Iterator[IsendproEmulator]:
    with IsendproEmulator() as emulator:
        yield emulator


@pytest.fixture
def backup_spec(backup_gateway: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    backup_gateway.reset()
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_BACKUP", backup_gateway.connection_json())
    return {
        "path": NOTIFIER,
        "kwargs": {
            "to": BACKUP,
            "text": "[backup] {{ dag_run.dag_id }} late: {{ isendpro_alert.reason[:40] }}",
            "isendpro_conn_id": "isendpro_backup",
        },
    }


def deadline_dag(callback_class: type, fallback: Any) -> Any:
    from airflow.sdk import DAG, DeadlineAlert, DeadlineReference, task

    alert = DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=dt.timedelta(minutes=30),
        callback=callback_class(IsendproNotifier, kwargs={"to": ONCALL, "fallback": fallback}),
    )
    with DAG("etl_sales", schedule=None, deadline=alert) as dag:

        @task
        def load() -> None:
            pass

        load()
    return dag


def round_trip(dag: Any) -> tuple[str, dict[str, Any]]:
    """The DAG through Airflow's serialisation and JSON, as the DAG processor stores it: the callback's
    path and kwargs read back."""
    from airflow.serialization import serialized_objects

    # Airflow 3.3 names it DagSerialization; 3.2 SerializedDAG
    serialization = getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG
    stored = json.loads(json.dumps(serialization.to_dict(dag)))
    [alert] = serialization.from_dict(stored).deadline
    callback = alert["callback"] if isinstance(alert, dict) else alert.callback
    if isinstance(callback, dict):  # Airflow's serde form
        data = callback["__data__"]
        return data["path"], data["kwargs"]
    return callback.path, callback.kwargs


def callback_classes() -> list[Any]:
    from airflow.sdk.definitions import callback

    return [getattr(callback, name) for name in ("AsyncCallback", "SyncCallback") if hasattr(callback, name)]


@needs_deadline_alerts
def test_a_notifier_object_as_fallback_fails_the_dags_serialisation() -> None:
    from airflow.exceptions import SerializationError

    backup = IsendproNotifier(to=BACKUP, isendpro_conn_id="isendpro_backup")
    for callback_class in callback_classes():
        with pytest.raises(SerializationError) as exc:
            round_trip(deadline_dag(callback_class, [backup]))
        assert "Failed to serialize DAG 'etl_sales'" in str(exc.value)
        assert "IsendproNotifier" in str(exc.value)


@needs_deadline_alerts
def test_its_json_form_survives_the_round_trip(backup_spec: dict[str, Any]) -> None:
    fallback = [backup_spec, "tests.notifications.test_deadline_serialisation.record"]
    for callback_class in callback_classes():
        path, kwargs = round_trip(deadline_dag(callback_class, fallback))
        assert (path, kwargs) == (NOTIFIER, {"to": ONCALL, "fallback": fallback})


@needs_deadline_alerts
def test_the_triggerer_calls_the_fallback_built_from_the_stored_kwargs(
    isendpro_emulator: IsendproEmulator, backup_gateway: IsendproEmulator, backup_spec: dict[str, Any]
) -> None:
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.triggers.callback import CallbackTrigger

    path, kwargs = round_trip(deadline_dag(AsyncCallback, [backup_spec]))
    isendpro_emulator.credit = 0.0  # the first account is empty: the SMS is refused
    trigger = CallbackTrigger(
        callback_path=path, callback_kwargs={**kwargs, "context": dict(DEADLINE_CONTEXT)}
    )

    async def run() -> list[Any]:
        return [event.payload async for event in trigger.run()]

    with structlog.testing.capture_logs() as logs:
        payloads = asyncio.run(run())
    assert [p["state"] for p in payloads] == ["running", "success"]
    assert isendpro_emulator.sent == []
    assert [(s.tel, s.text) for s in backup_gateway.sent] == [
        ("0698765432", "[backup] etl_sales late: IsendproCreditRefusedError: sendSms (POS")
    ]
    assert "iSendPro alert fallback IsendproNotifier done" in [e["event"] for e in logs]


def test_an_import_path_is_called_with_the_context(isendpro_emulator: IsendproEmulator) -> None:
    SEEN.clear()
    isendpro_emulator.credit = 0.0
    IsendproNotifier(to=ONCALL, fallback="tests.notifications.test_deadline_serialisation.record")(
        task_context(None)
    )
    [context] = SEEN
    assert context["ti"].task_id == "load" and context["isendpro_alert"]["sms_sent"] is False


def test_a_path_that_does_not_import_is_logged_never_raised(isendpro_emulator: IsendproEmulator) -> None:
    isendpro_emulator.credit = 0.0
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, fallback={"path": "no_such_module.Notifier", "kwargs": {}})(
            task_context(None)
        )
    assert [e["event"] for e in logs if e["log_level"] == "error" and "fallback" in e["event"]] == [
        "iSendPro alert fallback Notifier failed: ModuleNotFoundError: No module named 'no_such_module'"
    ]


@pytest.mark.parametrize(
    "fallback",
    ["not a path", {"path": NOTIFIER, "kwargs": "to=0612345678"}, {"path": NOTIFIER, "args": []}, 42],
)
def test_anything_else_is_refused_when_the_dag_is_parsed(fallback: Any) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        IsendproNotifier(to=ONCALL, fallback=fallback)
    assert exc.value.field == "fallback"
    assert exc.value.rule == (
        "must be an Airflow notifier (or any callable taking the callback context), an import path to one, "
        "{'path': 'module.Class', 'kwargs': {...}}, or a list of them"
    )
