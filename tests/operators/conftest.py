"""Helpers to run inline DAGs under ``dag.test()`` and read back what they pushed to XCom."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest


def _sync(dag: Any) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def xcom_value(run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom a task instance of ``run`` pushed (None when it pushed nothing)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
                XComModel.map_index == map_index,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def task_states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def try_numbers(run: Any) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in run.get_task_instances()}


@pytest.fixture
def run_dag(airflow_db: None) -> Callable[[Any], Any]:
    """Write an inline DAG to the metadata DB and run it once with ``dag.test()``; returns the DagRun."""

    def run(dag: Any, **kwargs: Any) -> Any:
        _sync(dag)
        return dag.test(**kwargs)

    return run
