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

#: The bundle ``dag.test()`` syncs: the DAGS_FOLDER that ``tests/conftest.py`` points at ``dags_examples``.
BUNDLE_NAME = "dags-folder"


@cache
def airflow_version() -> tuple[int, int]:
    """``(major, minor)`` of the installed Airflow, e.g. ``(3, 2)``."""
    from importlib.metadata import version

    major, minor = version("apache-airflow-core").split(".")[:2]
    return int(major), int(minor)


def dagbag_module() -> ModuleType:
    """Where ``DagBag``, ``BundleDagBag`` and ``sync_bag_to_db`` live (moved in Airflow 3.2)."""
    try:  # Airflow 3.2+
        return importlib.import_module("airflow.dag_processing.dagbag")
    except ImportError:  # Airflow 3.1
        return importlib.import_module("airflow.models.dagbag")


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
