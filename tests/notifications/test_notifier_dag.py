"""The notifier as Airflow runs it: task-level callbacks under ``dag.test()``, in the worker path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.sms import count_segments
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.compat import failure_alert_tail
from tests.dagruns import ended_at
from tests.notifications.conftest import LOGICAL_DATE

pytestmark = pytest.mark.integration

ONCALL = "06 12 34 56 78"


def failing_dag(dag_id: str, *, retries: int = 0, **notifier_kwargs: Any) -> Any:
    from airflow.sdk import DAG, task

    notifier = IsendproNotifier(to=ONCALL, **notifier_kwargs)
    with DAG(dag_id, schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:

        @task(on_failure_callback=notifier, on_retry_callback=notifier, retries=retries,
              retry_delay=dt.timedelta(0))  # fmt: skip
        def load() -> None:
            raise ValueError("warehouse rejected 3 rows")

        @task
        def report() -> None:
            pass

        load() >> report()
    return dag


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_task_failure_texts_on_call(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Any
) -> None:
    run = run_dag(
        failing_dag(
            "notifier_task_failure", ledger_path=str(tmp_path), include_link=False, timezone="Europe/Paris"
        )
    )
    assert str(run.state) == "failed"
    assert states(run) == {"load": "failed", "report": "upstream_failed"}
    [sms] = isendpro_emulator.sent
    assert sms.tel == "0612345678"
    assert sms.text == (
        # the time the task failed (not the run's logical date, 2026-01-01), in the zone asked for
        "[Airflow] notifier_task_failure.load failed (try 1/1) at "
        + ended_at(run, "load", zone="Europe/Paris", seen=sms.text)
        + failure_alert_tail("ValueError: warehouse rejected 3 rows")
    )
    assert count_segments(sms.text)[2] == 1 and sms.segments == 1


def test_retry_then_final_failure_with_only_on_final_failure(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Any
) -> None:
    dag = failing_dag("notifier_final_only", retries=1, only_on_final_failure=True, ledger_path=str(tmp_path))
    run = run_dag(dag)
    assert states(run) == {"load": "failed", "report": "upstream_failed"}
    [sms] = isendpro_emulator.sent  # the retry (try 1) was not texted
    assert sms.text.startswith(
        f"[Airflow] notifier_final_only.load failed (try 2/2) at {ended_at(run, 'load', seen=sms.text)}"
        + failure_alert_tail("ValueError")
    )


def test_broken_isendpro_leaves_the_task_failure_intact(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Any
) -> None:
    isendpro_emulator.inject("http_500", path="/sms", times=None)
    with structlog.testing.capture_logs() as logs:
        run = run_dag(failing_dag("notifier_broken_isendpro", ledger_path=str(tmp_path)))
    assert str(run.state) == "failed"
    assert states(run) == {"load": "failed", "report": "upstream_failed"}
    assert isendpro_emulator.sent == []
    assert len(isendpro_emulator.requests_to("/sms")) == 1
    alert_errors = [e["event"] for e in logs if "alert NOT sent" in str(e.get("event"))]
    assert len(alert_errors) == 1
    assert alert_errors[0].startswith(
        "iSendPro alert NOT sent via connection 'isendpro_default': IsendproUnknownOutcomeError: "
    )
    assert "http_status=500" in alert_errors[0]


def test_dag_level_notifier_also_fires_under_dag_test(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Any
) -> None:
    # BaseNotifier fails here (apache/airflow#64649: SerializedDAG has no get_template_env); this
    # notifier falls back to a plain template environment, so the DAG-level alert goes out.
    from airflow.sdk import DAG, task

    with DAG(
        "notifier_dag_level",
        schedule=None,
        start_date=LOGICAL_DATE,
        on_failure_callback=IsendproNotifier(
            to="06 98 76 54 32", ledger_path=str(tmp_path), include_link=False
        ),
    ) as dag:

        @task
        def extract() -> None:
            raise RuntimeError("source API down")

        extract()

    run = run_dag(dag)
    assert str(run.state) == "failed"
    assert [(s.tel, s.text) for s in isendpro_emulator.sent] == [
        ("0698765432", f"[Airflow] DAG notifier_dag_level failed at {ended_at(run)}: task extract failed")
    ]


def test_local_ledger_under_celery_still_texts_on_call(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """The misconfigured deployment of issue 20: CeleryExecutor, no ``[isendpro] ledger_path``. The alert
    goes out (once, though the task's failure and its retry both fire the notifier twice each), and the
    ERROR line says what is not guaranteed and which setting fixes it."""
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.delenv("AIRFLOW__ISENDPRO__LEDGER_PATH")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # a fresh default ledger
    notifier = IsendproNotifier(to=ONCALL, include_link=False)
    from airflow.sdk import DAG, task

    with DAG("notifier_celery_local_ledger", schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:

        @task(on_failure_callback=[notifier, notifier])  # fired twice: texted once
        def load() -> None:
            raise ValueError("warehouse rejected 3 rows")

        load()
    with structlog.testing.capture_logs() as logs:
        run = run_dag(dag)
    assert states(run) == {"load": "failed"}
    [sms] = isendpro_emulator.sent
    assert sms.tel == "0612345678"
    assert sms.text == (
        "[Airflow] notifier_celery_local_ledger.load failed (try 1/1) at "
        + ended_at(run, "load", seen=sms.text)
        + failure_alert_tail("ValueError: warehouse rejected 3 rows")
    )
    ledger = tmp_path / "isendpro" / "ledger"
    assert [e["event"] for e in logs if e["log_level"] == "error" and "iSendPro" in str(e["event"])] == [
        f"iSendPro alert: its ledger is on this machine's local disk ({ledger}, from the default "
        "($AIRFLOW_HOME/isendpro/ledger)) but [core] executor = CeleryExecutor runs callbacks on several "
        "machines: de-duplication and throttling hold on this machine only, so a callback repeated on "
        "another machine may send this alert again and alerts from other machines are not throttled with "
        "it. Sending it anyway; to fix, set [isendpro] ledger_path to storage every worker reaches (e.g. "
        "s3://my-bucket/isendpro-ledger, with [isendpro] ledger_conn_id), or [isendpro] ledger_is_shared "
        "= True for a volume mounted on every worker"
    ] * 2
