"""Run a user's DAG under ``dag.test()`` against the emulator and read back what it did.

Used through the pytest fixture ``isendpro_dag_test`` (``pytest_plugin``)::

    def test_nightly_report(isendpro_dag_test):
        result = isendpro_dag_test.run("dags/nightly_report.py")
        assert result.state == "success"
        assert [sms.tel for sms in result.sms] == ["0612345678"]

``dag.test()`` needs a migrated metadata DB, the DAG serialised in it, and the pools its tasks use; the
kit does the three (through Airflow's own DAG-processor functions), so a test needs none of Airflow's
internals. Nothing here imports Airflow at module import time: pytest loads the plugin for every user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import IsendproEmulator
    from .state import ReceivedRequest, SentSms

#: Slots of a pool the kit creates because a task names it and it does not exist yet.
DEFAULT_POOL_SLOTS = 16


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


def _key(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


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
    """Runs DAGs with ``dag.test()`` against ``emulator`` (which ``isendpro_default`` points at)."""

    def __init__(self, emulator: IsendproEmulator) -> None:
        self.emulator = emulator

    def run(
        self,
        dag: Any,
        *,
        dag_id: str | None = None,
        pools: dict[str, int] | None = None,
        **test_kwargs: Any,
    ) -> DagTestResult:
        """Run ``dag`` (a DAG object, or the path of a DAG file) once; ``test_kwargs`` go to ``dag.test()``.

        ``pools`` sets slots for pools the tasks use (missing ones are created with 16 slots). A
        ``logical_date`` may be an ISO 8601 string (``"2026-01-02T00:00:00+00:00"``).
        """
        if isinstance(test_kwargs.get("logical_date"), str):
            from datetime import datetime

            test_kwargs["logical_date"] = datetime.fromisoformat(test_kwargs["logical_date"])
        if isinstance(dag, (str, os.PathLike)):
            dag = load_dag(dag, dag_id)
        sync_dag(dag)
        ensure_pools(dag, pools)
        sent_before, requests_before = len(self.emulator.sent), len(self.emulator.requests)
        run = dag.test(**test_kwargs)
        return DagTestResult(
            dag_id=run.dag_id,
            run_id=run.run_id,
            state=str(run.state),
            task_states={_key(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()},
            xcoms=return_values(run),
            sms=self.emulator.sent[sent_before:],
            requests=self.emulator.requests[requests_before:],
            dag_run=run,
        )
