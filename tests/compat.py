"""Test-side differences between Airflow 3.1, 3.2 and 3.3 (the product's own are in ``_compat.py``).

Tests import Airflow internals from here so that the same suite runs on every supported minor (see
``make matrix``). Imports are lazy: ``tests/conftest.py`` must set ``AIRFLOW_HOME`` before Airflow loads.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

#: The bundle ``dag.test()`` syncs: the DAGS_FOLDER that ``tests/conftest.py`` points at ``dags_examples``.
BUNDLE_NAME = "dags-folder"


#: Task exceptions: ``airflow.sdk.exceptions`` from task-sdk 1.2 (Airflow 3.2), ``airflow.exceptions`` on 3.1.
#: ``from tests.compat import TaskDeferred`` resolves them lazily (module ``__getattr__``).
SDK_EXCEPTIONS = (
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "TaskDeferred",
)


def __getattr__(name: str) -> Any:
    if name in SDK_EXCEPTIONS:
        try:  # Airflow 3.2+
            module = importlib.import_module("airflow.sdk.exceptions")
            return getattr(module, name)
        except (ImportError, AttributeError):  # Airflow 3.1
            return getattr(importlib.import_module("airflow.exceptions"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def airflow_version() -> tuple[int, int]:
    """``(major, minor)`` of the installed Airflow, e.g. ``(3, 2)``."""
    from importlib.metadata import version

    major, minor = version("apache-airflow-core").split(".")[:2]
    return int(major), int(minor)


#: Deadline Alerts (``airflow.sdk.DeadlineAlert``, ``airflow.triggers.callback``) arrived in Airflow 3.2.
needs_deadline_alerts = pytest.mark.skipif(
    airflow_version() < (3, 2), reason="Airflow 3.1 has no Deadline Alerts (added in 3.2)"
)


def cron_data_interval_timetable() -> type:
    """``CronDataIntervalTimetable``: in ``airflow.sdk`` from 3.2, ``airflow.timetables.interval`` on 3.1."""
    try:
        from airflow.sdk import CronDataIntervalTimetable
    except ImportError:  # Airflow 3.1
        from airflow.timetables.interval import CronDataIntervalTimetable
    return CronDataIntervalTimetable


def provider_hooks() -> Any:
    """The hooks registry a worker uses (task-sdk's runtime manager from 3.2, ProvidersManager on 3.1)."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:  # Airflow 3.1
        from airflow.providers_manager import ProvidersManager

        return ProvidersManager().hooks
    return ProvidersManagerTaskRuntime().hooks


def dagbag_module() -> ModuleType:
    """Where ``DagBag``, ``BundleDagBag`` and ``sync_bag_to_db`` live (moved in Airflow 3.2)."""
    from airflow_provider_isendpro._compat import dagbag_module as product_dagbag_module

    return product_dagbag_module()  # type: ignore[no-any-return]


def dag_bag(folder: str | Path) -> Any:
    """A plain ``DagBag`` over ``folder`` (import errors, parse-time checks); nothing is written to the DB."""
    return dagbag_module().DagBag(dag_folder=str(folder))


def bundle_dag_bag(folder: str | Path) -> Any:
    """``folder`` parsed exactly as ``dag.test()`` parses the DAGS_FOLDER bundle before every run.

    A DAG written to the DB from this bag serialises to the same hash as the one ``dag.test()`` writes (the
    same ``relative_fileloc``), so running it again adds no second ``SerializedDagModel`` row. A plain
    ``DagBag`` records the absolute path there: the hashes then alternate and, once the first version has
    task instances, every run adds a version, and ``DagRun.serialized_dag`` (joined on ``dag_id`` alone)
    finds several rows (``SAWarning: Multiple rows returned with uselist=False``).
    """
    module = dagbag_module()
    kwargs: dict[str, Any] = {"dag_folder": str(folder), "bundle_path": Path(folder)}
    if airflow_version() >= (3, 2):
        kwargs["bundle_name"] = BUNDLE_NAME
    return module.BundleDagBag(**kwargs)


def sync_bag_to_db(bag: Any, bundle_name: str = BUNDLE_NAME) -> None:
    """Write every DAG of ``bag`` to the metadata DB as the DAG processor does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    dagbag_module().sync_bag_to_db(bag, bundle_name, None)


def failure_alert_tail(error: str) -> str:
    """The end of a task-failure alert sent under ``dag.test()``: ``": <error>"``, or nothing before 3.3.

    Before Airflow 3.3, ``dag.test()`` runs the failure callback without ``exception`` in its context (a
    worker's task runner sets it on every version, so deployed alerts name the error on 3.1 and 3.2 too).
    """
    return f": {error}" if airflow_version() >= (3, 3) else ""
