"""What the alert says: reading the callback context (task, DAG, deadline) and the default text."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications.event import alert_zone
from airflow_provider_isendpro.notifications.sms import (
    MIN_DETAIL_WITH_LINK,
    AlertEvent,
    default_alert_text,
    describe_event,
    exception_summary,
    format_when,
    split_recipients,
)
from airflow_provider_isendpro.sms import count_segments
from tests.notifications.conftest import LOGICAL_DATE, RUN_ID, task_context

HEAD = "[Airflow] etl_sales.load failed (try 1/1) at 2026-01-01 03:00 UTC"
LOG_URL = "http://localhost:8080/dags/etl_sales/runs/x/tasks/load?try_number=1"


# --------------------------------------------------------------------------------------------------
# describe_event


def test_task_context() -> None:
    event = describe_event(task_context(ValueError("bad row 42\n  at line 7")))
    assert event == AlertEvent(
        level="task",
        dag_id="etl_sales",
        run_id=RUN_ID,
        task_id="load",
        map_index=-1,
        try_number=1,
        max_tries=0,
        state="failed",
        detail="ValueError: bad row 42 at line 7",
        when="2026-01-01 03:00 UTC",
        url=LOG_URL,
    )
    assert event.will_retry is False


def test_task_context_retry_mapped_and_enum_state() -> None:
    state = SimpleNamespace(value="up_for_retry")  # TaskInstanceState is a str enum with .value
    event = describe_event(task_context(None, state=state, map_index=3, try_number=2, max_tries=3))
    assert (event.state, event.map_index, event.detail, event.will_retry) == ("up_for_retry", 3, "", True)
    assert (
        event.headline() == "[Airflow] etl_sales.load[3] failed, will retry (try 2/4) at 2026-01-01 03:00 UTC"
    )


@pytest.mark.parametrize(
    ("state", "try_number", "max_tries", "will_retry"),
    [
        ("failed", 1, 3, False),  # Airflow decided: final
        ("success", 1, 3, False),
        (None, 1, 3, True),  # unknown state (DAG-processor zombie callback): tries left
        (None, 4, 3, False),
        (None, 1, 0, False),
        ("running", None, None, False),
    ],
)
def test_will_retry(
    state: str | None, try_number: int | None, max_tries: int | None, will_retry: bool
) -> None:
    event = describe_event(task_context(None, state=state, try_number=try_number, max_tries=max_tries))
    assert event.will_retry is will_retry


def test_task_headlines() -> None:
    def headline(**changes: Any) -> str:
        return describe_event(task_context(None, **changes)).headline()

    assert headline(state="success") == "[Airflow] etl_sales.load succeeded (try 1/1) at 2026-01-01 03:00 UTC"
    assert (
        headline(state="skipped", max_tries=None)
        == "[Airflow] etl_sales.load was skipped (try 1) at 2026-01-01 03:00 UTC"
    )
    assert (
        headline(state="queued", try_number=None)
        == "[Airflow] etl_sales.load is queued at 2026-01-01 03:00 UTC"
    )
    assert headline(state=None) == HEAD


def test_the_alert_tells_when_the_task_failed_not_the_logical_date() -> None:
    # issue 20: "failed (try 1/1) at 2026-03-04 00:00 UTC" for a task that failed on 2026-12-07
    context = task_context(None, end_date=dt.datetime(2026, 12, 7, 13, 58, 41, tzinfo=dt.timezone.utc))
    assert describe_event(context).headline() == (
        "[Airflow] etl_sales.load failed (try 1/1) at 2026-12-07 13:58 UTC"
    )
    paris = describe_event(context, zone=alert_zone("Europe/Paris"))
    assert paris.headline() == "[Airflow] etl_sales.load failed (try 1/1) at 2026-12-07 14:58 CET"
    summer = task_context(None, end_date="2026-07-01T03:30:00+00:00")  # a JSON context: a string
    assert describe_event(summer, zone=alert_zone("Europe/Paris")).when == "2026-07-01 05:30 CEST"
    naive = task_context(None, end_date=dt.datetime(2026, 2, 3, 4, 5))  # naive: taken as UTC
    assert describe_event(naive).when == "2026-02-03 04:05 UTC"
    # No end date in the context (a callback fired before Airflow set it): the callback's own time.
    assert describe_event(task_context(None, end_date=None)).when == "2026-12-07 14:05 UTC"  # NOW


def test_unknown_time_zone_is_refused_at_parse_time() -> None:
    with pytest.raises(IsendproValidationError, match="timezone"):
        alert_zone("Europe/Lutece")


def test_log_url_that_raises_is_left_out() -> None:
    class Ti(SimpleNamespace):
        @property
        def log_url(self) -> str:
            raise RuntimeError("no [api] base_url")

    context = task_context(None)
    context["ti"] = Ti(dag_id="d", task_id="t", run_id="r", map_index=None, try_number=None, max_tries=None)
    event = describe_event(context)
    assert (event.url, event.map_index, event.try_number, event.state) == (None, -1, None, None)


def test_dag_context_from_the_dag_processor() -> None:
    # DAG callbacks get the last task instance's context plus the scheduler's reason.
    context = task_context(None)
    context["reason"] = "task_failure"
    event = describe_event(context)
    assert event.level == "dag"
    assert event.state == "task_failure"
    assert event.detail == "task load failed"
    assert (
        event.url == "http://localhost:8080/dags/etl_sales/runs/scheduled__2026-01-01T03%3A00%3A00%2B00%3A00"
    )
    assert event.headline() == "[Airflow] DAG etl_sales failed at 2026-01-01 03:00 UTC"
    assert event.will_retry is False


@pytest.mark.parametrize(
    ("reason", "headline"),
    [
        ("timed_out", "[Airflow] DAG etl_sales timed out at 2026-12-07 14:05 UTC"),
        ("all_tasks_deadlocked", "[Airflow] DAG etl_sales failed (tasks deadlocked) at 2026-12-07 14:05 UTC"),
        ("success", "[Airflow] DAG etl_sales succeeded at 2026-12-07 14:05 UTC"),
        ("odd", "[Airflow] DAG etl_sales is odd at 2026-12-07 14:05 UTC"),
    ],
)
def test_dag_reasons(reason: str, headline: str) -> None:
    event = describe_event({"dag": SimpleNamespace(dag_id="etl_sales"), "run_id": "r1", "reason": reason})
    assert event.headline() == headline
    assert event.detail == ""


def test_bare_dag_context_as_in_a_direct_call() -> None:
    event = describe_event({"dag": SimpleNamespace(dag_id="d")})
    assert event == AlertEvent(level="dag", dag_id="d", when="2026-12-07 14:05 UTC")  # now
    assert event.headline() == "[Airflow] DAG d run finished at 2026-12-07 14:05 UTC"
    assert event.dedupe_key(["0612345678"]) is None  # no run: nothing to de-duplicate on


def test_dag_context_state_from_dag_run_and_exception() -> None:
    context = {
        "dag_run": SimpleNamespace(
            dag_id="d",
            run_id="r",
            state=SimpleNamespace(value="failed"),
            logical_date=None,
            run_after=LOGICAL_DATE,
            end_date=dt.datetime(2026, 12, 7, 13, 59, tzinfo=dt.timezone.utc),
        ),
        "exception": KeyError("x"),
    }  # fmt: skip
    event = describe_event(context)
    assert (event.level, event.dag_id, event.run_id, event.state) == ("dag", "d", "r", "failed")
    assert (event.detail, event.when) == ("KeyError: 'x'", "2026-12-07 13:59 UTC")  # the run's end


def test_deadline_context_as_the_triggerer_passes_it() -> None:
    # models/deadline.py: {"dag_run": DAGRunResponse JSON, "deadline": {"id", "deadline_time"}}
    context = {
        "dag_run": {"dag_id": "etl_sales", "dag_run_id": "manual__1", "logical_date": "2026-01-01T03:00:00Z"},
        "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
    }
    event = describe_event(context)
    assert event == AlertEvent(
        level="deadline",
        dag_id="etl_sales",
        run_id="manual__1",
        state="missed",
        detail="run manual__1",
        when="2026-01-01 03:30 UTC",
        url="http://localhost:8080/dags/etl_sales/runs/manual__1",
        deadline_id="0199-abc",
    )
    assert event.headline() == "[Airflow] DAG etl_sales missed its deadline at 2026-01-01 03:30 UTC"
    paris = describe_event(context, zone=alert_zone("Europe/Paris"))
    assert paris.headline() == "[Airflow] DAG etl_sales missed its deadline at 2026-01-01 04:30 CET"


def test_deadline_context_without_details() -> None:
    event = describe_event({"deadline": None, "dag_run": None})
    assert event == AlertEvent(level="deadline", dag_id="?", state="missed", when="2026-12-07 14:05 UTC")


def test_dedupe_key_tells_events_and_recipients_apart() -> None:
    def key(*recipients: str, **changes: Any) -> str | None:
        return describe_event(task_context(None, **changes)).dedupe_key(list(recipients))

    both = key("0612345678", "0698765432")
    assert both is not None and len(both) == 32
    assert both == key("0698765432", "0612345678")  # order does not matter
    # One try is one failure, whatever state the callback saw (worker, DAG processor, retry mix-up).
    assert both == key("0612345678", "0698765432", state="up_for_retry")
    assert both == key("0612345678", "0698765432", state="running")
    assert both == key("0612345678", "0698765432", state=None)
    others = {
        key("0612345678", "0698765432", try_number=2),  # the next try alerts again
        key("0612345678", "0698765432", state="success"),
        key("0612345678", "0698765432", state="skipped"),
        key("0612345678"),  # other recipients
    }
    assert both not in others and len(others) == 4


def test_outcome() -> None:
    assert describe_event(task_context(None, state="upstream_failed")).outcome == "failure"
    assert describe_event(task_context(None, state="success")).outcome == "success"
    assert describe_event(
        {"dag": SimpleNamespace(dag_id="d"), "run_id": "r", "reason": "timed_out"}
    ).outcome == ("timed_out")


# --------------------------------------------------------------------------------------------------
# Small helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        (ValueError("bad\n\trow  42 "), "ValueError: bad row 42"),
        (OSError("\x1b[1;31mdisk\x1b[0m full\x1b]"), "OSError: disk full"),
        (RuntimeError(), "RuntimeError"),
        ("Task exited with return code -9\n", "Task exited with return code -9"),
    ],
)
def test_exception_summary(value: object, expected: str) -> None:
    assert exception_summary(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2026, 7, 1, 5, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2026-07-01 03:30 UTC"),
        ("2026-07-01T05:30:00+02:00", "2026-07-01 03:30 UTC"),
        ("2026-07-01T03:30:00Z", "2026-07-01 03:30 UTC"),
        ("not a date", ""),
        ("", ""),
        (None, ""),
        (12, ""),
    ],
)
def test_format_when(value: object, expected: str) -> None:
    assert format_when(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("06 12 34 56 78", ["06 12 34 56 78"]),
        (
            "06 12 34 56 78, +33 6 98 76 54 32; 0611111111",
            ["06 12 34 56 78", "+33 6 98 76 54 32", "0611111111"],
        ),
        (["0612345678", "0698765432, 0611111111"], ["0612345678", "0698765432", "0611111111"]),
        ("['0612345678', '0698765432']", ["0612345678", "0698765432"]),  # a list rendered to a string
        (" , ", []),
        (None, []),
    ],
)
def test_split_recipients(value: object, expected: list[str]) -> None:
    assert split_recipients(value) == expected


# --------------------------------------------------------------------------------------------------
# default_alert_text


def text_for(exception: object, **kwargs: Any) -> str:
    return default_alert_text(describe_event(task_context(exception)), **kwargs)  # type: ignore[arg-type]


def test_default_text_with_link_when_everything_fits() -> None:
    text = text_for(ValueError("bad row 42"))
    assert text == f"{HEAD}: ValueError: bad row 42 {LOG_URL}"
    assert count_segments(text) == ("GSM-7", 159, 1)  # '[' and ']' are GSM extension characters: 2 units


def test_default_text_keeps_the_error_and_drops_the_link_when_both_do_not_fit() -> None:
    error = ValueError(
        'Warehouse rejected 3 rows: duplicate key value violates unique constraint "sales_pkey"'
    )
    text = text_for(error)
    assert (
        text
        == f"{HEAD}: ValueError: Warehouse rejected 3 rows: duplicate key value violates unique constraint..."
    )
    assert count_segments(text) == ("GSM-7", 157, 1)


def test_default_text_keeps_the_link_next_to_enough_of_the_error() -> None:
    error = ValueError("x" * 200)
    text = text_for(error, max_segments=2)
    # 2 parts = 306 units: the link (69 with its space) stays, the error is cut to fit.
    assert text.endswith("... " + LOG_URL)
    assert text.startswith(f"{HEAD}: ValueError: xxx")
    assert count_segments(text) == ("GSM-7", 306, 2)
    detail_kept = len(text) - len(HEAD) - 2 - len("... " + LOG_URL)
    assert detail_kept >= MIN_DETAIL_WITH_LINK


def test_default_text_without_link() -> None:
    assert text_for(ValueError("bad row 42"), include_link=False) == f"{HEAD}: ValueError: bad row 42"


def test_default_text_link_too_long_for_the_budget() -> None:
    event = describe_event(task_context(None, log_url="http://x/" + "y" * 200))
    assert default_alert_text(event) == HEAD


def test_default_text_reserves_the_stop_suffix() -> None:
    text = text_for(ValueError("e" * 200), stop_suffix=True)
    assert count_segments(text + " " * 12) == ("GSM-7", 160, 1)
    assert text == f"{HEAD}: ValueError: " + "e" * 64 + "..."  # 67 + 14 + 64 + 3 = 148 = 160 - 12


def test_default_text_is_gsm_for_french_numbers_and_unicode_elsewhere() -> None:
    error = ValueError("L’entrepôt a refusé 😀")
    assert text_for(error, include_link=False) == f"{HEAD}: ValueError: L'entrepot a refusé ?"
    # To a number abroad the text may stay Unicode; here the cut falls before the first non-GSM
    # character, where the GSM-7 budget (160) still applies, rather than keep it and fall to 70 units.
    foreign = text_for(error, include_link=False, gsm_only=False)
    assert foreign == f"{HEAD}: ValueError:..."
    assert count_segments(foreign) == ("GSM-7", 83, 1)
    assert text_for(ValueError("Ошибка"), include_link=False, gsm_only=False) == f"{HEAD}: ValueError:..."


def test_default_text_strips_ansi_codes_and_redacts_secrets() -> None:
    from airflow.sdk.log import mask_secret

    mask_secret("s3cr3t-password-42")
    error = RuntimeError("\x1b[31mlogin failed with s3cr3t-password-42\x1b[0m")
    assert text_for(error, include_link=False) == f"{HEAD}: RuntimeError: login failed with ***"
