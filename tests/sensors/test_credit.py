"""CreditSensor: thresholds, poke / reschedule / deferrable modes, timeout and soft_fail, dag.test()."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
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
from airflow_provider_isendpro.sensors.credit import CreditSensor
from airflow_provider_isendpro.testing import IsendproEmulator
from airflow_provider_isendpro.triggers.credit import CreditTrigger
from tests.compat import (
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from tests.dagruns import task_states, xcom_value

KEY = "emulator-fake-keyid"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
FULL = {"euros": 100.0, "sms_estimate": 2000}  # the emulator's fresh account: 100 EUR at 0.05 EUR per SMS


def credit_calls(emu: IsendproEmulator) -> list[tuple[str, str, Any]]:
    return [(r.method, r.path, r.body) for r in emu.requests]


def sensor(**kwargs: Any) -> CreditSensor:
    kwargs.setdefault("poke_interval", 0)
    return CreditSensor(task_id="credit", **kwargs)


# --------------------------------------------------------------------------------------------------
# Thresholds


BOTH_OR_NEITHER = "give exactly one threshold, min_credit (euros) or min_sms (SMS to France); {}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, BOTH_OR_NEITHER.format("neither was given")),
        ({"min_credit": 5, "min_sms": 100}, BOTH_OR_NEITHER.format("both were given")),
        ({"min_credit": -0.01}, "min_credit=-0.01: must be a number >= 0 (euros)"),
        ({"min_credit": float("nan")}, "min_credit=nan: must be a number >= 0 (euros)"),
        ({"min_credit": True}, "min_credit=True: must be a number >= 0 (euros)"),
        ({"min_sms": -1}, "min_sms=-1: must be a whole number >= 0 (SMS)"),
        ({"min_sms": 2.5}, "min_sms=2.5: must be a whole number >= 0 (SMS)"),
    ],
)
def test_bad_thresholds_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        CreditSensor(task_id="credit", **kwargs)
    assert type(exc.value) is IsendproValidationError
    assert str(exc.value) == message


def test_templated_threshold_is_checked_once_rendered(isendpro_emulator: IsendproEmulator) -> None:
    op = sensor(min_credit="{{ params.budget }}")
    op.render_template_fields({"params": {"budget": "-3"}})
    with pytest.raises(IsendproValidationError) as exc:
        op.execute({})
    assert str(exc.value) == "min_credit='-3': must be a number >= 0 (euros)"
    assert isendpro_emulator.requests == []

    op = sensor(min_credit="{{ params.budget }}")
    op.render_template_fields({"params": {"budget": "99.5"}})
    assert op.execute({}) == FULL


# --------------------------------------------------------------------------------------------------
# Poke and reschedule


def test_poke_returns_the_credit(isendpro_emulator: IsendproEmulator) -> None:
    assert sensor(min_credit=100).execute({}) == FULL
    assert sensor(min_sms=2000).execute({}) == FULL
    assert credit_calls(isendpro_emulator) == [("POST", "/credit", {"keyid": KEY, "credit": "2"})] * 2


def test_poke_times_out_and_soft_fail_skips(isendpro_emulator: IsendproEmulator) -> None:
    with pytest.raises(AirflowSensorTimeout):
        sensor(min_sms=2001, timeout=0).execute({})
    with pytest.raises(AirflowSkipException):
        sensor(min_credit=100.01, timeout=0, soft_fail=True).execute({})


def test_transient_errors_are_not_fatal_in_poke_mode(isendpro_emulator: IsendproEmulator) -> None:
    isendpro_emulator.inject("http_429", "/credit", times=None, retry_after=0)
    with pytest.raises(AirflowSensorTimeout):  # kept poking (until the timeout), did not crash
        sensor(min_credit=1, timeout=0).execute({})
    assert len(isendpro_emulator.requests) == 4  # the client's own retries of one check


def test_refused_key_fails_the_poke(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json().replace(KEY, "bad-key-42")
    )
    with pytest.raises(IsendproAuthError) as exc:
        sensor(min_credit=1, timeout=0, soft_fail=True).execute({})
    assert "bad-key-42" not in str(exc.value)


def test_reschedule_mode(isendpro_emulator: IsendproEmulator) -> None:
    ti = SimpleNamespace(get_first_reschedule_date=lambda context: None)
    with pytest.raises(AirflowRescheduleException):
        sensor(min_credit=500, mode="reschedule", poke_interval=30).execute({"ti": ti})
    assert sensor(min_credit=5, mode="reschedule").execute({"ti": ti}) == FULL


# --------------------------------------------------------------------------------------------------
# Deferrable


def test_defers_with_a_serialisable_trigger_when_the_first_check_fails(
    isendpro_emulator: IsendproEmulator,
) -> None:
    op = sensor(min_credit=150, deferrable=True, poll_interval=5, timeout=dt.timedelta(hours=2))
    with pytest.raises(TaskDeferred) as exc:
        op.execute({})
    deferred = exc.value
    assert len(isendpro_emulator.requests) == 1  # checked once before deferring
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == dt.timedelta(hours=2)  # the sensor's timeout applies in the triggerer too
    assert isinstance(deferred.trigger, CreditTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_provider_isendpro.triggers.credit.CreditTrigger"
    assert kwargs == {
        "isendpro_conn_id": "isendpro_default",
        "min_credit": 150.0,
        "min_sms": None,
        "poll_interval": 5.0,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_deferrable_does_not_defer_when_the_credit_is_there(isendpro_emulator: IsendproEmulator) -> None:
    assert sensor(min_sms=10, deferrable=True).execute({}) == FULL


def test_defaults() -> None:
    assert CreditSensor(task_id="c", min_credit=1).deferrable is False  # [operators] default_deferrable
    assert CreditSensor(task_id="c", min_credit=1).poll_interval == 60.0  # poke_interval by default


def test_execute_complete(isendpro_emulator: IsendproEmulator) -> None:
    op = sensor(min_credit=5, deferrable=True)
    credit = {"euros": 7.5, "sms_estimate": 150}
    assert op.execute_complete({}, {"status": "success", "credit": credit}) == credit

    event = {"status": "error", "message": "getCredit: refused", "error_type": "IsendproAuthError", "code": 3}
    with pytest.raises(IsendproAuthError) as exc:
        op.execute_complete({}, event)
    assert (exc.value.message, exc.value.code) == (
        "iSendPro credit check failed in the triggerer: getCredit: refused",
        3,
    )
    with pytest.raises(IsendproConfigError):
        op.execute_complete(
            {}, {"status": "error", "message": "no conn", "error_type": "IsendproConfigError"}
        )
    with pytest.raises(IsendproError) as other:
        op.execute_complete({}, None)
    assert (
        other.value.message == "iSendPro credit check failed in the triggerer: unexpected trigger event None"
    )
    with pytest.raises(AirflowSkipException):
        sensor(min_credit=5, never_fail=True).execute_complete({}, event)


def test_timeout_in_the_triggerer_behaves_like_a_sensor_timeout() -> None:
    from airflow.sdk.bases.operator import TriggerFailureReason

    timed_out = {"error": TriggerFailureReason.TRIGGER_TIMEOUT}
    with pytest.raises(AirflowSensorTimeout):
        sensor(min_credit=5, deferrable=True).resume_execution("__fail__", timed_out, {})
    with pytest.raises(AirflowSkipException):
        sensor(min_credit=5, deferrable=True, soft_fail=True).resume_execution("__fail__", timed_out, {})


# --------------------------------------------------------------------------------------------------
# dag.test(): the trigger runs inline


@pytest.mark.integration
def test_dag_deferrable_sensor_waits_for_a_top_up(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import DAG, task

    from airflow_provider_isendpro.triggers import credit as trigger_module

    isendpro_emulator.credit = 10.0
    waits: list[float] = []

    async def top_up_while_waiting(seconds: float) -> None:  # the account is credited during the wait
        waits.append(seconds)
        isendpro_emulator.credit = 200.0

    monkeypatch.setattr(trigger_module, "asyncio", SimpleNamespace(sleep=top_up_while_waiting))

    with DAG("credit_deferred", schedule=None, start_date=START, catchup=False) as dag:
        wait = CreditSensor(task_id="credit", min_credit=150, deferrable=True, poll_interval=30)

        @task
        def campaign(credit: dict[str, Any]) -> float:
            return float(credit["euros"])

        campaign(wait.output)

    run = run_dag(dag)
    assert task_states(run) == {"credit": "success", "campaign": "success"}
    assert credit_calls(isendpro_emulator) == [("POST", "/credit", {"keyid": KEY, "credit": "2"})] * 3
    assert waits == [30.0]  # one poll below the threshold, then the top-up was seen
    assert xcom_value(run, "credit") == {"euros": 200.0, "sms_estimate": 4000}
    assert xcom_value(run, "campaign") == 200.0


@pytest.mark.integration
def test_dag_poke_sensor_soft_fail_skips_downstream(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any]
) -> None:
    from airflow.sdk import DAG, task

    with DAG("credit_soft_fail", schedule=None, start_date=START, catchup=False) as dag:
        wait = CreditSensor(task_id="credit", min_credit=1000, timeout=0, poke_interval=0, soft_fail=True)

        @task
        def campaign() -> None:
            raise AssertionError("must not run")

        wait >> campaign()

    run = run_dag(dag)
    assert task_states(run) == {"credit": "skipped", "campaign": "skipped"}
    assert len(isendpro_emulator.requests) == 1
