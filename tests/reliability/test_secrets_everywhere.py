"""The API key appears nowhere a user can look, whatever the DAG does and however it fails.

Every example DAG, and DAGs that drive every operator, the sensor (poke and deferred), the hook's
connection test and the failure notifier through each failure path (wrong key, HTTP 400, 429, 5xx,
timeouts, invalid input, a failing notifier), run under ``dag.test()`` against an emulator that accepts
a distinctive fake key. Then everything a user could see is searched for that key (and for the wrong
one): all console output (``dag.test()`` prints task logs unmasked, so a leak cannot hide behind
masking), every exception the tasks raised with its ``__cause__``/``__context__`` chain, ``repr`` and
formatted traceback, every XCom row and rendered template field of the runs, the whole metadata
database file, any log file under ``AIRFLOW_HOME``, and every SMS text the emulator received. Logs are
taken from all three channels at once (structlog events, stdlib records at DEBUG for the provider and
the HTTP libraries, and the process's stdout/stderr), so a line is searched whichever way it is printed.

On the wire, the key travels in the JSON or form body, never in a URL or header, except for
``/campagne`` and the liste-noire calls, whose query string holds it by spec: those URLs are therefore
asserted absent from every text above (the search for the key covers them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
import structlog.testing

from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import sync_dag, task_states
from tests.reliability.conftest import (
    CONN_ENV,
    KEY,
    SECRETS,
    WRONG_KEY,
    Sleeps,
    conn_json,
)

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
#: Paths whose fields (keyid included) the spec puts in the query string (API-NOTES §2).
QUERY_PATHS = frozenset({"/campagne", "/setlistenoire", "/dellistenoire", "/getlistenoire"})
NUMBERS = ["0612345678", "0756123456"]
BLACKLISTED = ["0699887766"]  # kept apart from NUMBERS: the blacklist tasks run in any order


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def exception_chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


class Scenario:
    """What one scenario ran and raised: its DAG runs, and the exceptions its tasks failed with."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.runs: list[Any] = []
        self.errors: list[BaseException] = []

    def record(self, context: Any) -> None:
        """A task ``on_failure_callback``: keep the exception the task failed with."""
        if isinstance(context.get("exception"), BaseException):
            self.errors.append(context["exception"])

    def run(self, dag: Any, **kwargs: Any) -> Any:
        sync_dag(dag)
        run = dag.test(**kwargs)
        self.runs.append(run)
        return run


# --------------------------------------------------------------------------------------------------
# DAGs that exercise every operator, the sensor, the hook and the notifier


def operators_dag(scenario: Scenario, dag_id: str, *, invalid: bool = False) -> Any:
    """One task per provider entry point; with ``invalid``, each gets an input it must refuse."""
    from airflow.sdk import DAG, task

    from airflow_provider_isendpro.notifications.sms import IsendproNotifier
    from airflow_provider_isendpro.operators.blacklist import (
        BlacklistAddOperator,
        BlacklistDownloadOperator,
        BlacklistRemoveOperator,
    )
    from airflow_provider_isendpro.operators.hlr import HlrLookupOperator
    from airflow_provider_isendpro.operators.reports import CampaignReportOperator
    from airflow_provider_isendpro.operators.sms import SendSmsOperator
    from airflow_provider_isendpro.sensors.credit import CreditSensor

    tmp, ledger = scenario.tmp, str(scenario.tmp / "ledger")
    notifier = IsendproNotifier(to="06 12 34 56 79", ledger_path=ledger, include_link=False)
    default_args = {"on_failure_callback": [scenario.record, notifier], "retries": 0}
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, default_args=default_args) as dag:
        SendSmsOperator(
            task_id="send",
            # templated, so that the task refuses them when it runs (written literally, they raise when
            # the DAG file is parsed, with no connection read and nothing to leak)
            recipients=["{{ '0612' }}"] if invalid else NUMBERS,
            text="Bonjour {{ dag.dag_id }}",
            sender="{{ 'BAD!' }}" if invalid else "ACME",
            batch_size=1,
            ledger_path=ledger,
        )
        SendSmsOperator(
            task_id="send_later",
            recipients=NUMBERS[0],
            text="Rappel",
            send_at="2000-01-01T09:00:00+01:00" if invalid else "2099-01-01T09:00:00+01:00",
            ledger_path=ledger,
        )
        HlrLookupOperator(task_id="hlr", numbers="{{ '' }}" if invalid else NUMBERS)
        CreditSensor(
            task_id="credit",
            min_credit="{{ -1 }}" if invalid else 1,
            mode="poke",
            poke_interval=0.05,
            timeout=0.2,
        )
        CampaignReportOperator(
            task_id="report",
            destination=str(tmp / "report-{{ ds }}.zip"),
            start="2026-02-01" if invalid else "2000-01-01",
            end="{{ '2026-01-01' }}" if invalid else "2099-01-01",
            trackers=["abc123"],
        )
        BlacklistAddOperator(task_id="bl_add", numbers=["06 12"] if invalid else BLACKLISTED)
        BlacklistRemoveOperator(task_id="bl_remove", numbers=["hello"] if invalid else BLACKLISTED)
        BlacklistDownloadOperator(task_id="bl_download", destination=str(tmp / "bl.zip"), parse=True)

        @task
        def test_connection() -> list[Any]:
            from airflow_provider_isendpro.hooks.isendpro import IsendproHook

            return list(IsendproHook().test_connection())  # what the UI's Test button would show

        @task
        def boom() -> None:
            raise ValueError("the warehouse refused the load")  # the notifier texts this one

        test_connection()
        boom()
    return dag


def deferred_sensor_dag(scenario: Scenario, dag_id: str) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_isendpro.sensors.credit import CreditSensor

    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        CreditSensor(
            task_id="credit_deferred",
            min_credit=150,  # the emulator starts at 100: the first poke defers
            deferrable=True,
            poll_interval=0.01,
            on_failure_callback=scenario.record,
        )
    return dag


# --------------------------------------------------------------------------------------------------
# Scenarios


def _examples(scenario: Scenario, emu: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.compat import bundle_dag_bag

    tmp = scenario.tmp
    monkeypatch.setenv("ISENDPRO_REPORT_DIR", str(tmp / "reports"))
    monkeypatch.setenv("ISENDPRO_BULK_DIR", str(tmp / "bulk"))
    bag = bundle_dag_bag(EXAMPLES)  # as dag.test() parses it: one serialised version per example
    assert bag.import_errors == {}
    confs = {
        "isendpro_bulk_mapped": {"demo_size": 25, "batch_size": 10, "work_dir": str(tmp / "bulk")},
        "isendpro_campaign": {"report_after_hours": 0, "report_dir": str(tmp / "reports")},
        "isendpro_credit_monitoring": {"min_credit": 500},  # above the credit: the alert is sent
    }
    assert len(bag.dags) >= 5
    for dag_id, dag in sorted(bag.dags.items()):
        before = len(emu.requests)
        scenario.run(dag, run_conf=confs.get(dag_id))
        assert len(emu.requests) > before, f"example {dag_id} never called iSendPro"


def _success(scenario: Scenario, emu: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    run = scenario.run(operators_dag(scenario, "leak_success"))
    states = task_states(run)
    assert states.pop("boom") == "failed"
    assert set(states.values()) == {"success"}
    assert len(emu.requests_to("/sms")) == 2  # send_later, and the alert for boom


def _wrong_key(scenario: Scenario, emu: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONN_ENV, conn_json(emu, key=WRONG_KEY))
    run = scenario.run(operators_dag(scenario, "leak_wrong_key"))
    assert set(task_states(run).values()) == {"failed", "success"}  # test_connection returns (False, ...)
    assert emu.sent == []


def _fault(fault: str, **inject: Any) -> Callable[[Scenario, IsendproEmulator, pytest.MonkeyPatch], None]:
    def scenario_fn(scenario: Scenario, emu: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
        # A hang costs one read timeout per attempt (reads make 4): keep it tiny, no answer is expected.
        monkeypatch.setenv(CONN_ENV, conn_json(emu, read_timeout=0.05 if "hang" in fault else 5.0))
        emu.inject(fault, times=None, **inject)
        run = scenario.run(operators_dag(scenario, f"leak_{fault}"))
        emu.release_hangs()
        emu.clear_faults()
        states = task_states(run)
        assert states.pop("test_connection") == "success"
        assert set(states.values()) == {"failed"}, states
        if fault == "http_400":  # and the deferred sensor's trigger meets the 400 in the triggerer
            emu.inject("http_400", "/credit", after=1)
            deferred = scenario.run(deferred_sensor_dag(scenario, "leak_deferred_400"))
            assert task_states(deferred) == {"credit_deferred": "failed"}

    return scenario_fn


def _invalid(scenario: Scenario, emu: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    run = scenario.run(operators_dag(scenario, "leak_invalid", invalid=True))
    states = task_states(run)
    assert {k: states[k] for k in ("send", "send_later", "hlr", "credit", "report")} == dict.fromkeys(
        ("send", "send_later", "hlr", "credit", "report"), "failed"
    )
    assert {r.path for r in emu.requests} <= {"/setlistenoire", "/dellistenoire", "/getlistenoire", "/sms",
                                              "/credit"}  # fmt: skip


SCENARIOS: dict[str, Callable[[Scenario, IsendproEmulator, pytest.MonkeyPatch], None]] = {
    "examples": _examples,
    "success": _success,
    "wrong_key": _wrong_key,
    "http_400": _fault("http_400"),
    "http_429": _fault("http_429", retry_after=0),
    "http_500": _fault("http_500"),
    "http_503": _fault("http_503", retry_after=0),
    "reset": _fault("reset"),
    "timeout": _fault("hang", delay=5.0),
    "unknown_outcome": _fault("hang_after_accept", delay=5.0),
    "invalid_input": _invalid,
}


# --------------------------------------------------------------------------------------------------
# The search


def _db_rows(runs: list[Any]) -> dict[str, list[str]]:
    """Every XCom row and rendered-template-fields row of ``runs``, each as text."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    rows: dict[str, list[str]] = {"xcom": [], "rendered_task_instance_fields": []}
    with create_session() as session:
        for run in runs:
            for table in rows:
                result = session.execute(
                    text(f"SELECT * FROM {table} WHERE dag_id = :dag_id AND run_id = :run_id"),
                    {"dag_id": run.dag_id, "run_id": run.run_id},
                )
                rows[table] += [f"{run.dag_id} {tuple(row)!r}" for row in result]
    return rows


def _airflow_home_files() -> Iterator[Path]:
    home = Path(os.environ["AIRFLOW_HOME"])
    for path in home.rglob("*"):
        if path.is_file():
            yield path


@pytest.fixture
def scenario_env(
    emu: IsendproEmulator, airflow_db: None, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Scenario:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(tmp_path / "ledger"))
    return Scenario(tmp_path)


def _log_text(record: logging.LogRecord) -> str:
    return f"{record.getMessage()} {record.args!r} {record.exc_text} {vars(record)!r}"


def _event_text(event: dict[str, Any]) -> str:
    error = event.get("exc_info")
    if isinstance(error, BaseException):
        return f"{event!r} {''.join(traceback.format_exception(error))}"
    if isinstance(error, tuple) and len(error) == 3 and error[1] is not None:
        return f"{event!r} {''.join(traceback.format_exception(*error))}"
    return repr(event)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_key_appears_nowhere(
    name: str,
    scenario_env: Scenario,
    emu: IsendproEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three log channels, all searched: structlog events (Airflow's task logs and the operators' own
    ``self.log``), stdlib records (the provider's and the HTTP libraries' loggers, at DEBUG), and
    whatever reached the process's stdout/stderr file descriptors (prints, tracebacks)."""
    scenario = scenario_env
    caplog.set_level(logging.INFO)
    for logger in ("airflow_provider_isendpro", "urllib3", "httpx", "httpcore", "requests"):
        caplog.set_level(logging.DEBUG, logger)
    with structlog.testing.capture_logs() as events:
        SCENARIOS[name](scenario, emu, monkeypatch)
    out, err = capfd.readouterr()

    found: dict[str, list[str]] = {}
    for number, line in enumerate((out + err).splitlines()):
        found.update({f"console line {number}: {line[:160]}": leaks(line)})
    for event in events:
        found.update({f"structlog {str(event.get('event'))[:120]!r}": leaks(_event_text(event))})
    for record in caplog.records:
        found.update({f"log {record.name}: {record.getMessage()[:120]}": leaks(_log_text(record))})
    for error in scenario.errors:
        for link in exception_chain(error):
            text = f"{link} {link!r} {link.args!r} {''.join(traceback.format_exception(link))}"
            found.update({f"exception {type(link).__name__}: {str(link)[:120]}": leaks(text)})
    db_rows = _db_rows(scenario.runs)
    for table, rows in db_rows.items():
        for row in rows:
            found.update({f"{table}: {row[:160]}": leaks(row)})
    for path in _airflow_home_files():
        data = path.read_bytes()
        found.update({f"file {path.name}": [s for s in SECRETS if s.encode() in data]})
    for sms in emu.sent:
        found.update({f"SMS to {sms.tel}: {sms.text[:80]}": leaks(sms.text)})
    assert {where: secrets for where, secrets in found.items() if secrets} == {}

    # The search had something to search: output, rows, and (failure paths) exceptions.
    assert scenario.runs and events and caplog.records
    assert any("iSendPro" in _event_text(e) for e in events) or any(
        "iSendPro" in r.getMessage() for r in caplog.records
    )
    assert db_rows["rendered_task_instance_fields"] and db_rows["xcom"]
    if name not in ("examples", "success"):
        assert scenario.errors
    # On the wire: in the body, never in a URL or a header, except where the spec says query string.
    assert emu.requests
    for request in emu.requests:
        assert leaks(json.dumps(request.headers)) == []
        assert leaks(request.path) == []
        if request.path in QUERY_PATHS:
            assert (request.query["keyid"] in SECRETS, request.body) == (True, None)
        else:
            assert leaks(json.dumps(request.query)) == []
            assert request.body["keyid"] in SECRETS


def test_the_failure_alert_never_carries_the_key(
    emu: IsendproEmulator, run_dag: Callable[..., Any], sleeps: Sleeps, tmp_path: Path
) -> None:
    """A failing task whose own error message holds the key: the SMS that leaves the company does not."""
    from airflow.sdk import DAG, task

    from airflow_provider_isendpro.notifications.sms import IsendproNotifier

    notifier = IsendproNotifier(to="0612345678", ledger_path=str(tmp_path), include_link=False)
    with DAG("leak_alert_text", schedule=None, start_date=START, catchup=False) as dag:

        @task(on_failure_callback=notifier, retries=0, retry_delay=dt.timedelta(0))
        def load() -> None:
            from airflow.sdk import BaseHook

            key = BaseHook.get_connection("isendpro_default").password  # masked from here on
            raise RuntimeError(f"login failed with keyid={key}")

        load()
    run = run_dag(dag)
    assert task_states(run) == {"load": "failed"}
    [sms] = emu.sent
    assert sms.text.startswith("[Airflow] leak_alert_text.load failed (try 1/1)")
    assert "RuntimeError: login failed with keyid=***" in sms.text
    assert KEY not in sms.text
