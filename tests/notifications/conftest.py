"""Contexts shaped like the ones Airflow passes to callbacks, and a throw-away ledger for markers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_isendpro.testing import IsendproEmulator

LOGICAL_DATE = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.timezone.utc)
RUN_ID = "scheduled__2026-01-01T03:00:00+00:00"
#: "Now" for alerts whose context holds no end date (DAG-level and bare contexts): see ``_frozen_now``.
NOW = dt.datetime(2026, 12, 7, 14, 5, tzinfo=dt.timezone.utc)


def fake_ti(**changes: Any) -> SimpleNamespace:
    """The attributes of a RuntimeTaskInstance the notifier reads, for a failed first and only try."""
    values: dict[str, Any] = {
        "dag_id": "etl_sales",
        "task_id": "load",
        "run_id": RUN_ID,
        "map_index": -1,
        "try_number": 1,
        "max_tries": 0,
        "state": "failed",
        # The texts of most tests read "at 2026-01-01 03:00 UTC": the try ended at the logical date.
        # test_event_text.py covers an end date months after the logical date, and none at all.
        "end_date": LOGICAL_DATE,
        "log_url": "http://localhost:8080/dags/etl_sales/runs/x/tasks/load?try_number=1",
    }
    values.update(changes)
    return SimpleNamespace(**values)


def task_context(exception: BaseException | str | None = None, **ti_changes: Any) -> dict[str, Any]:
    """A task callback context: ``ti``, ``run_id``, ``logical_date``, ``exception`` (no ``reason``)."""
    ti = fake_ti(**ti_changes)
    return {
        "ti": ti,
        "task_instance": ti,
        "run_id": ti.run_id,
        "logical_date": LOGICAL_DATE,
        "ts": LOGICAL_DATE.isoformat(),
        "exception": exception,
    }


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    return str(tmp_path / "ledger")


@pytest.fixture(autouse=True)
def _frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The alert's "now" (its time when the context holds none) is :data:`NOW`."""
    from airflow_provider_isendpro.notifications import event

    monkeypatch.setattr(event, "_now", lambda: NOW)


@pytest.fixture(autouse=True)
def _own_default_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own ``[isendpro] ledger_path``: throttle windows must not leak between tests."""
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(tmp_path / "default-ledger"))


def read_markers(ledger: str, dag_id: str = "etl_sales", run_id: str = RUN_ID) -> list[dict[str, Any]]:
    """The de-duplication markers of one run, one per alert event (the record its state is read from:
    ``sent``/``held``, else the last outcome, else the ``pending`` claim), by event key."""
    from airflow_provider_isendpro.notifications.marker import current_records
    from airflow_provider_isendpro.record_store import open_record_store

    return list(current_records(open_record_store(f"{ledger}/_notifier", [dag_id, run_id])).values())


@pytest.fixture
def markers(ledger: str) -> Callable[..., list[dict[str, Any]]]:
    """``markers()``: the markers of the test run (``markers(run_id=...)`` for another run)."""

    def read(dag_id: str = "etl_sales", run_id: str = RUN_ID) -> list[dict[str, Any]]:
        return read_markers(ledger, dag_id, run_id)

    return read


@pytest.fixture
def wrong_key(isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """An ``isendpro_wrong_key`` connection to the emulator with a key it does not know."""
    key = "not-the-right-keyid-77"
    conn = {"conn_type": "isendpro", "host": isendpro_emulator.base_url, "password": key}
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_WRONG_KEY", json.dumps(conn))
    return key


def sync_dag(dag: Any) -> None:
    """Write an inline DAG to the metadata DB, as ``dag.test()`` needs (AIRFLOW-NOTES §10.3)."""
    from tests.dagruns import sync_dag as sync

    sync(dag)


@pytest.fixture
def run_dag(airflow_db: None) -> Callable[..., Any]:
    """Sync an inline DAG and run it once with ``dag.test(logical_date=LOGICAL_DATE)``; returns the run."""

    def run(dag: Any) -> Any:
        sync_dag(dag)
        return dag.test(logical_date=LOGICAL_DATE)

    return run


#: The throttle clock's start: 2026-01-01 03:02 UTC.
T0 = dt.datetime(2026, 1, 1, 3, 2, tzinfo=dt.timezone.utc).timestamp()


class Clock:
    """The throttle's wall clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from airflow_provider_isendpro.notifications import throttle

        self.now = T0
        monkeypatch.setattr(throttle, "_now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)
