"""Running DAGs under ``dag.test()`` in tests, and reading back what they did (one copy for every suite)."""

from __future__ import annotations

from typing import Any

from airflow_provider_isendpro.testing.dagtest import sync_dag

__all__ = ["sync_dag", "task_states", "try_numbers", "xcom_value"]


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
    """``{task_id: state}``; mapped task instances as ``task_id[map_index]``."""
    return {
        (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state)
        for ti in run.get_task_instances()
    }


def try_numbers(run: Any) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in run.get_task_instances()}
