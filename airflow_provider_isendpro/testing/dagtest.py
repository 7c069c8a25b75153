"""Run a user's DAG under ``dag.test()`` against the emulator and read back what it did.

Used through the pytest fixture ``isendpro_dag_test`` (``pytest_plugin``)::

    def test_nightly_report(isendpro_dag_test):
        result = isendpro_dag_test.run("dags/nightly_report.py")
        assert result.state == "success"
        assert [sms.tel for sms in result.sms] == ["0612345678"]

``dag.test()`` needs a migrated metadata DB, the DAG serialised in it, and the pools its tasks use; the
kit does the three (through Airflow's own DAG-processor functions), so a test needs none of Airflow's
internals. Nothing here imports Airflow at module import time: pytest loads the plugin for every user.

Each run starts from empty provider state: its own send ledger, alert markers and throttle windows (a
new ``[isendpro] ledger_path`` folder per run), so tests do not depend on each other's order. To test
what a second run sees of the first (a re-run, a retry), pass both runs the same ``ledger_path``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import IsendproEmulator
    from .state import ReceivedRequest, SentSms

#: Slots of a pool the kit creates because a task names it and it does not exist yet.
DEFAULT_POOL_SLOTS = 16
#: Lines of a failed try's log (its traceback included) kept in :attr:`TaskFailure.log_tail`.
LOG_TAIL_LINES = 30
#: Lines of the traceback kept in the log tail (the innermost frames and the error), after its first.
TRACEBACK_LINES = 12
LEDGER_ENV = "AIRFLOW__ISENDPRO__LEDGER_PATH"


@dataclass(frozen=True)
class TaskFailure:
    """Why a task instance failed (its last failed try in the run)."""

    task: str
    """The task's key, as in :attr:`DagTestResult.task_states` (``"load"``, ``"load[3]"``)."""
    try_number: int
    exception_type: str
    """The exception's class: ``"ValueError"`` for a builtin, else ``"module.Class"``."""
    message: str
    """``str(exception)``."""
    log_tail: str
    """The try's last log lines (``[level] event``); the line that logged the exception (``[error] Task
    failed with exception``) is followed by its traceback's innermost frames and the error."""
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.task} (try {self.try_number}): {self.exception_type}: {self.message}"


@dataclass(frozen=True)
class DagTestResult:
    """What one ``dag.test()`` run did."""

    dag_id: str
    run_id: str
    state: str
    """The DAG run's final state: ``"success"``, ``"failed"``..."""
    task_states: dict[str, str]
    """``{task_id: state}``; mapped task instances as ``"task_id[map_index]"``."""
    xcoms: dict[str, Any]
    """Each task's ``return_value`` XCom (keyed like ``task_states``); absent if it pushed none."""
    sms: list[SentSms] = field(default_factory=list)
    """Every SMS the emulator accepted during this run, oldest first."""
    requests: list[ReceivedRequest] = field(default_factory=list)
    """Every API request the emulator received during this run (bodies parsed)."""
    dag_run: Any = None
    """Airflow's ``DagRun`` object, for anything else."""
    failures: dict[str, TaskFailure] = field(default_factory=dict)
    """Each task instance that ended ``failed``: its exception type, message and traceback tail."""
    ledger_path: str = ""
    """The ``[isendpro] ledger_path`` of this run (send ledger, alert markers, throttle windows)."""


def _key(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def _failure(key: str, try_number: int, error: BaseException, log: list[str]) -> TaskFailure:
    cls = type(error)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return TaskFailure(
        task=key,
        try_number=try_number,
        exception_type=name,
        message=str(error),
        log_tail="\n".join(log[-LOG_TAIL_LINES:]),
        exception=error,
    )


def _traceback(error: BaseException) -> list[str]:
    """The traceback's first line and its last ``TRACEBACK_LINES`` (the innermost frames, the error)."""
    lines = "".join(traceback.format_exception(error)).rstrip("\n").splitlines()
    if len(lines) <= TRACEBACK_LINES + 1:
        return lines
    skipped = f"  ... ({len(lines) - TRACEBACK_LINES - 1} lines of outer frames)"
    return [lines[0], skipped, *lines[-TRACEBACK_LINES:]]


def _log_line(method: str, event: Any, error: BaseException | None) -> list[str]:
    """A log event as ``[level] event``; the one carrying the exception is followed by its traceback."""
    lines = [f"[{method}] {event.get('event', '')}"]
    if error is not None and event.get("exc_info"):
        lines += _traceback(error)
    return lines


@contextlib.contextmanager
def _recording_task_errors() -> Iterator[dict[str, TaskFailure]]:
    """Record the exception and the log lines of every task try ``dag.test()`` runs.

    ``dag.test()`` (3.1 to 3.3) imports ``run_task_in_process`` from the supervisor module each time it
    runs a task, and its result carries the try's ``error``: the kit wraps it for the run's duration. The
    try's log events are read by a structlog processor put first in the configured chain meanwhile (the
    in-process task logs through it), so Airflow's own output is unchanged.
    """
    import structlog
    from airflow.sdk.execution_time import supervisor

    errors: dict[str, TaskFailure] = {}
    events: list[tuple[str, dict[str, Any]]] | None = None
    original = supervisor.run_task_in_process

    def listen(logger: Any, method: str, event: Any) -> Any:
        if events is not None and isinstance(event, dict):
            events.append((method, dict(event)))
        return event

    def recording(ti: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal events
        events = []
        try:
            result = original(ti, task, *args, **kwargs)
        finally:
            seen, events = events, None
        error = getattr(result, "error", None)
        if isinstance(error, BaseException):
            key = _key(ti.task_id, ti.map_index)
            log = [line for method, event in seen for line in _log_line(method, event, error)]
            if not any(event.get("exc_info") for _, event in seen):  # the traceback, even if not logged
                log += _traceback(error)
            errors[key] = _failure(key, int(ti.try_number), error, log)
        return result

    configured = structlog.get_config().get("processors")
    processors: list[Any] = configured if isinstance(configured, list) else []
    processors.insert(0, listen)
    supervisor.run_task_in_process = recording
    try:
        yield errors
    finally:
        supervisor.run_task_in_process = original
        if listen in processors:
            processors.remove(listen)


@contextlib.contextmanager
def _ledger_setting(path: str) -> Iterator[None]:
    """``[isendpro] ledger_path`` = ``path`` for the run (Airflow reads the variable at each lookup)."""
    before = os.environ.get(LEDGER_ENV)
    os.environ[LEDGER_ENV] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LEDGER_ENV, None)
        else:
            os.environ[LEDGER_ENV] = before


def load_dag(path: str | os.PathLike[str], dag_id: str | None = None) -> Any:
    """The DAG defined in a DAG file (the only one, or ``dag_id``); import errors are raised, not skipped."""
    from airflow_provider_isendpro._compat import dagbag_module

    DagBag = dagbag_module().DagBag
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"DAG file {str(file)!r} does not exist (relative to {os.getcwd()!r})")
    bag = DagBag(dag_folder=str(file), safe_mode=False)  # a file is named: import it, whatever it holds
    if bag.import_errors:
        details = "\n".join(f"{name}: {error}" for name, error in bag.import_errors.items())
        raise RuntimeError(f"{file} failed to import:\n{details}")
    if dag_id is not None:
        if dag_id not in bag.dags:
            raise LookupError(f"{file} defines no DAG {dag_id!r}; it defines {sorted(bag.dags)}")
        return bag.dags[dag_id]
    if len(bag.dags) != 1:
        raise LookupError(f"{file} defines {len(bag.dags)} DAGs {sorted(bag.dags)}: pass dag_id=")
    return next(iter(bag.dags.values()))


def sync_dag(dag: Any) -> None:
    """Write a DAG to the metadata DB, as the DAG processor would (``dag.test()`` needs it serialised)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    from airflow_provider_isendpro._compat import dagbag_module

    dagbag = dagbag_module()
    DagBundlesManager().sync_bundles_to_db()
    bag = dagbag.DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    dagbag.sync_bag_to_db(bag, "dags-folder", None)


def ensure_pools(dag: Any, slots: dict[str, int] | None = None) -> None:
    """Create the pools the DAG's tasks use (``slots`` per pool, else ``DEFAULT_POOL_SLOTS``) if missing."""
    from airflow.models.pool import Pool

    wanted = dict(slots or {})
    for task in dag.tasks:
        pool = getattr(task, "pool", None)
        if pool and pool != Pool.DEFAULT_POOL_NAME:
            wanted.setdefault(pool, DEFAULT_POOL_SLOTS)
    for name, count in wanted.items():
        if Pool.get_pool(name) is None or name in (slots or {}):
            Pool.create_or_update_pool(name, count, "created by isendpro_dag_test", include_deferred=False)


def return_values(run: Any) -> dict[str, Any]:
    """Each task instance's ``return_value`` XCom."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.key == "return_value",
            )
        ).all()
        return {_key(row.task_id, row.map_index): XComModel.deserialize_value(row) for row in rows}


class DagTestKit:
    """Runs DAGs with ``dag.test()`` against ``emulator`` (which ``isendpro_default`` points at).

    ``workdir`` holds each run's ledger folder (the fixture gives the test's ``tmp_path``).
    """

    def __init__(self, emulator: IsendproEmulator, workdir: str | os.PathLike[str] | None = None) -> None:
        self.emulator = emulator
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="isendpro-kit-"))
        )
        self._runs = itertools.count(1)

    def run(
        self,
        dag: Any,
        *,
        dag_id: str | None = None,
        pools: dict[str, int] | None = None,
        ledger_path: str | os.PathLike[str] | None = None,
        **test_kwargs: Any,
    ) -> DagTestResult:
        """Run ``dag`` (a DAG object, or the path of a DAG file) once; ``test_kwargs`` go to ``dag.test()``.

        ``pools`` sets slots for pools the tasks use (missing ones are created with 16 slots). A
        ``logical_date`` may be an ISO 8601 string (``"2026-01-02T00:00:00+00:00"``). ``ledger_path``:
        the run's send ledger, alert markers and throttle windows; by default a new empty folder per
        run, so pass the same path to two runs that must share them.
        """
        if isinstance(test_kwargs.get("logical_date"), str):
            from datetime import datetime

            test_kwargs["logical_date"] = datetime.fromisoformat(test_kwargs["logical_date"])
        if isinstance(dag, (str, os.PathLike)):
            dag = load_dag(dag, dag_id)
        if ledger_path is None:
            ledger_path = self.workdir / f"isendpro-run-{next(self._runs)}" / "ledger"
        ledger = os.fspath(ledger_path)
        sync_dag(dag)
        ensure_pools(dag, pools)
        sent_before, requests_before = len(self.emulator.sent), len(self.emulator.requests)
        with _ledger_setting(ledger), _recording_task_errors() as errors:
            run = dag.test(**test_kwargs)
        task_states = {_key(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
        return DagTestResult(
            dag_id=run.dag_id,
            run_id=run.run_id,
            state=str(run.state),
            task_states=task_states,
            xcoms=return_values(run),
            sms=self.emulator.sent[sent_before:],
            requests=self.emulator.requests[requests_before:],
            dag_run=run,
            failures={k: f for k, f in errors.items() if task_states.get(k) == "failed"},
            ledger_path=ledger,
        )
