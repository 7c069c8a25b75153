"""The alert throttle: one SMS per recipient per window, the rest held back, recorded and listed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications.dispatch import alert_storage
from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.notifications.throttle import (
    DEFAULT_THROTTLE,
    HeldAlert,
    index_ranges,
    parse_throttle,
    summary_forms,
)
from airflow_provider_isendpro.sms import count_segments
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.notifications.conftest import T0, Clock, task_context

ONCALL = "06 12 34 56 78"
HEAD = "[Airflow] etl_sales.load[{}] failed (try 1/1) at 2026-01-01 03:00 UTC"


def events(logs: list[dict[str, Any]], level: str) -> list[str]:
    return [e["event"] for e in logs if e["log_level"] == level]


def fail(notifier: IsendproNotifier, map_index: int = -1, **changes: Any) -> None:
    notifier(task_context(ValueError("source down"), map_index=map_index, **changes))


# --------------------------------------------------------------------------------------------------
# Parameters and the summary


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("10m", 600.0), ("90s", 90.0), ("1h", 3600.0), ("1d", 86400.0), (" 2 M ", 120.0), ("45", 45.0),
     (30, 30.0), (1.5, 1.5), (dt.timedelta(minutes=5), 300.0), (None, None)],
)  # fmt: skip
def test_parse_throttle(value: Any, seconds: float | None) -> None:
    assert parse_throttle(value) == seconds


@pytest.mark.parametrize("value", ["", "10 minutes", "-5m", 0, True, "0s", [10]])
def test_bad_throttle_is_refused_at_parse_time(value: Any) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        IsendproNotifier(to=ONCALL, throttle=value)
    assert exc.value.field == "throttle"
    assert "10m" in exc.value.rule


@pytest.mark.parametrize("value", ["", "  ", None, 3])
def test_bad_scope_is_refused_at_parse_time(value: Any) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        IsendproNotifier(to=ONCALL, throttle_scope=value)
    assert exc.value.field == "throttle_scope"


def test_defaults() -> None:
    notifier = IsendproNotifier(to=ONCALL)
    assert (notifier.throttle, notifier.throttle_seconds, notifier.throttle_scope) == (
        DEFAULT_THROTTLE,
        600,
        "dag",
    )
    assert DEFAULT_THROTTLE == "10m"


@pytest.mark.parametrize(
    ("indexes", "text"),
    [([], ""), ([3], "3"), ([0, 1, 2, 3, 7, 9, 10], "0-3,7,9-10"), ([5, 1, 2, 2, 4], "1-2,4-5")],
)
def test_index_ranges(indexes: list[int], text: str) -> None:
    assert index_ranges(indexes) == text


def test_summary_forms_ranges_counts_and_total() -> None:
    held = [HeldAlert(T0 + i, "etl.load", i) for i in range(36)]
    held += [HeldAlert(T0 + 40, "etl.report"), HeldAlert(T0 + 50, "etl.load", 3)]  # a retry of load[3]
    assert summary_forms(list(reversed(held))) == [
        "(+38 more since 03:02: etl.load[0-35] x37, etl.report)",
        "(+38 more since 03:02: etl.load x37, etl.report)",
        "(+38 more since 03:02)",
    ]
    assert summary_forms([HeldAlert(T0, "DAG etl"), HeldAlert(T0, "DAG etl")]) == [
        "(+2 more since 03:02: DAG etl x2)",
        "(+2 more since 03:02)",
    ]
    assert summary_forms([]) == []


# --------------------------------------------------------------------------------------------------
# Windows


def test_first_alert_sent_the_rest_held_then_listed_by_the_next_window(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger, include_link=False)
    fail(notifier, 0)
    with structlog.testing.capture_logs() as logs:
        for index in range(1, 37):
            clock.now += 5
            fail(notifier, index)
        fail(IsendproNotifier(to=ONCALL, ledger_path=ledger, include_link=False), 36)  # fired twice: once
    assert [s.text for s in isendpro_emulator.sent] == [HEAD.format(0) + ": ValueError: source down"]
    warnings = events(logs, "warning")
    assert len(warnings) == 36
    assert warnings[0] == (
        f"iSendPro alert to 06****5678 held back, not sent (throttle 10m, scope 'dag'): {HEAD.format(1)}. "
        f"Recorded in {ledger}/_notifier/_throttle/dag/etl_sales/eb8ee2449ad37fd3; the first alert after "
        "03:12 UTC, or the alert digest, will list it"
    )
    assert events(logs, "info")[-1] == (
        "iSendPro alert to 06****5678 already held back by the throttle (and recorded) by an earlier "
        "invocation of this callback; not recording it again"
    )
    clock.now = T0 + 600  # the window has ended
    fail(notifier, 40)
    [_, second] = isendpro_emulator.sent
    assert (
        second.text
        == f"{HEAD.format(40)}: ValueError: source down (+36 more since 03:02: etl_sales.load[1-36])"
    )
    assert count_segments(second.text)[2] == 1
    clock.now += 60  # a new window is open: held again, and listed by the next one only
    fail(notifier, 41)
    assert len(isendpro_emulator.sent) == 2


def test_summary_is_fitted_to_the_budget(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger, include_link=False)
    fail(notifier, 0)
    for index in range(1, 200, 2):  # odd indexes: 100 ranges, far too long for one SMS
        fail(notifier, index)
    fail(notifier, task_id="extract")
    clock.now += 600
    fail(notifier, 500)
    text = isendpro_emulator.sent[-1].text
    assert text == (
        f"{HEAD.format(500)}: ValueError:... (+101 more since 03:02: etl_sales.extract, etl_sales.load x100)"
    )
    assert count_segments(text)[2] == 1
    for task in ("report", "publish", "archive"):  # the error is shortened first, the summary kept whole
        fail(notifier, task_id=task)
    clock.now += 600
    fail(notifier, 501)
    assert isendpro_emulator.sent[-1].text == (
        f"{HEAD.format(501)}:... (+3 more since 03:12: etl_sales.archive, etl_sales.publish, "
        "etl_sales.report)"
    )
    two = IsendproNotifier(to=ONCALL, ledger_path=ledger, include_link=False, max_segments=2)
    for index in range(1, 40, 2):
        fail(two, index, try_number=2)
    clock.now += 600
    fail(two, 600)
    assert isendpro_emulator.sent[-1].text == (
        f"{HEAD.format(600)}: ValueError: source down (+20 more since 03:22: "
        "etl_sales.load[1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39])"
    )
    assert count_segments(isendpro_emulator.sent[-1].text)[2] == 2


def test_with_summary_keeps_the_first_form_that_fits_next_to_the_headline() -> None:
    from airflow_provider_isendpro.notifications.text import with_summary

    body = "H" * 100 + ": detail"
    forms = ["(+3 more since 03:12: " + "x" * 60 + ")", "(+3 more since 03:12)"]
    assert with_summary(body, forms, keep=100, max_segments=1, stop_suffix=False) == (
        "H" * 100 + ": detail (+3 more since 03:12)"
    )
    assert with_summary(body, forms, keep=100, max_segments=2, stop_suffix=False) == f"{body} {forms[0]}"


def test_custom_text_keeps_the_summary(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="ETL {{ ti.task_id }} KO", ledger_path=ledger)
    fail(notifier, 0)
    fail(notifier, 1)
    clock.now += 601
    fail(notifier, 2)
    assert [s.text for s in isendpro_emulator.sent] == [
        "ETL load KO",
        "ETL load KO (+1 more since 03:02: etl_sales.load[1])",
    ]


def test_a_failed_send_reopens_the_window_and_keeps_the_held_alerts(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="KO {{ ti.map_index }}", ledger_path=ledger)
    fail(notifier, 0)
    fail(notifier, 1)  # held
    clock.now += 600
    isendpro_emulator.inject("http_400", path="/sms")  # refused whole: certainly not sent
    fail(notifier, 2)  # opens a window, lists load[1], is refused: window and listing released
    fail(notifier, 3)  # so this one goes out at once, still listing load[1]
    assert [s.text for s in isendpro_emulator.sent] == [
        "KO 0",
        "KO 3 (+1 more since 03:02: etl_sales.load[1])",
    ]


def test_recipients_have_their_own_windows(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    IsendproNotifier(to=ONCALL, text="A", ledger_path=ledger)(task_context(None))
    IsendproNotifier(to=f"{ONCALL}, 0698765432", text="B", ledger_path=ledger)(
        task_context(None, try_number=2)
    )
    assert [(s.tel, s.text) for s in isendpro_emulator.sent] == [("0612345678", "A"), ("0698765432", "B")]


@pytest.mark.parametrize(("scope", "sent"), [("dag", ["first", "other dag"]), ("global", ["first"]),
                                             ("team-a", ["first"])])  # fmt: skip
def test_scopes(isendpro_emulator: IsendproEmulator, ledger: str, scope: str, sent: list[str]) -> None:
    IsendproNotifier(to=ONCALL, text="first", ledger_path=ledger, throttle_scope=scope)(task_context(None))
    IsendproNotifier(to=ONCALL, text="other dag", ledger_path=ledger, throttle_scope=scope)(
        task_context(None, dag_id="billing")
    )
    assert [s.text for s in isendpro_emulator.sent] == sent


def test_throttle_off_sends_every_alert(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="x", ledger_path=ledger, throttle=None)
    for index in range(3):
        fail(notifier, index)
    assert len(isendpro_emulator.sent) == 3


def test_dag_level_and_deadline_paths_obey_the_same_throttle(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    from airflow.sdk import DAG

    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger, include_link=False)
    fail(notifier, 0)
    dag_context = task_context(None)
    dag_context.update(dag=DAG("etl_sales", schedule=None), reason="task_failure")
    with structlog.testing.capture_logs() as logs:
        notifier(dag_context)  # DAG-level on_failure_callback (DAG processor)
        deadline = {
            "dag_run": {
                "dag_id": "etl_sales",
                "dag_run_id": "manual__1",
                "logical_date": "2026-01-01T03:00:00Z",
            },
            "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
        }
        asyncio.run(notifier.async_notify(deadline))  # Deadline Alert (triggerer)
    assert len(isendpro_emulator.sent) == 1
    assert [w.split(": ")[0] for w in events(logs, "warning")] == [
        "iSendPro alert to 06****5678 held back, not sent (throttle 10m, scope 'dag')"
    ] * 2
    clock.now += 600
    asyncio.run(notifier.async_notify({**deadline, "deadline": {"id": "0199-abd"}}))  # async path sends too
    assert isendpro_emulator.sent[1].text == (
        "[Airflow] DAG etl_sales missed its deadline at 2026-12-07 14:05 UTC: run manual__1 (+2 more since "
        "03:02: DAG etl_sales, DAG etl_sales deadline)"
    )


def test_held_alert_records_are_in_the_ledger(
    ledger: str, isendpro_emulator: IsendproEmulator, clock: Clock
) -> None:
    from airflow_provider_isendpro.record_store import open_record_store

    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    fail(notifier, 0)
    fail(notifier, 7)
    store = open_record_store(f"{ledger}/_notifier/_throttle", ["dag", "etl_sales", "eb8ee2449ad37fd3"])
    names = sorted(store.names())
    assert names[-1] == "w00000001.json" and len(names) == 2
    held = json.loads(store.read(names[0]))
    assert held == {"version": 1, "at": T0, "label": "etl_sales.load", "map_index": 7,
                    "headline": HEAD.format(7)}  # fmt: skip
    assert json.loads(store.read("w00000001.json")) == {
        "version": 1, "start": T0, "until": T0 + 600, "by": "etl_sales.load",
    }  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Distributed set-ups: a local-disk ledger under a remote executor still alerts (tested under
# dag.test() in test_notifier_dag.py), throttling on this machine only


def test_ledger_conn_id_comes_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_CONN_ID", "aws_ledger")
    notifier = IsendproNotifier(to=ONCALL)
    storage = alert_storage(notifier)
    assert storage is not None and storage.location.conn_id == "aws_ledger"
    assert not storage.this_machine_only
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor,KubernetesExecutor")
    with structlog.testing.capture_logs() as logs:
        storage = alert_storage(notifier)
    assert storage is not None and storage.this_machine_only
    [error] = events(logs, "error")
    assert "but [core] executor = KubernetesExecutor runs callbacks on several machines" in error
    assert alert_storage(IsendproNotifier(to=ONCALL, dedupe=False, throttle=None)) is None
