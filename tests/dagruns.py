"""Running DAGs under ``dag.test()`` in tests, and reading back what they did (one copy for every suite)."""

from __future__ import annotations

from typing import Any

from airflow_provider_isendpro.testing.dagtest import sync_dag

__all__ = ["ended_at", "serialized_versions", "sync_dag", "task_states", "try_numbers", "xcom_value"]


def serialized_versions(dag_id: str) -> int:
    """How many serialised versions of ``dag_id`` the metadata DB holds."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        query = select(func.count()).select_from(SerializedDagModel)
        return int(session.scalar(query.where(SerializedDagModel.dag_id == dag_id)) or 0)


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


def forget_all_dags() -> None:
    """Delete every DAG's records (runs, task instances, XComs, versions, serialised DAGs) from the test DB.

    Run after each test that used the DB: a test then never meets another test's serialisation of the
    same ``dag_id`` (an example parsed with other settings, an inline DAG reusing an id). Two serialised
    versions of one ``dag_id`` make ``DagRun.serialized_dag``, a relationship on ``dag_id`` alone, find
    several rows when a new run is flushed (``SAWarning: Multiple rows returned with uselist=False``).
    """
    from airflow.api.common.delete_dag import delete_dag
    from airflow.models import DagModel, TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select, update

    with create_session() as session:
        dag_ids = list(session.scalars(select(DagModel.dag_id)))
        # A test that killed a task on purpose may leave it "running"; delete_dag refuses those.
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.state == TaskInstanceState.RUNNING)
            .values(state=TaskInstanceState.FAILED)
        )
    for dag_id in dag_ids:
        delete_dag(dag_id, keep_records_in_log=False)


def ended_at(
    run: Any, task_id: str | None = None, map_index: int = -1, zone: str = "UTC", *, seen: str = ""
) -> str:
    """When a task instance of ``run`` ended (the run itself when ``task_id`` is None), as alerts write
    it: ``2026-12-07 14:05 UTC`` (``... 15:05 CET`` in ``Europe/Paris``), read back from the metadata DB.

    A task that failed for good gets its ``end_date`` in the DB when its process exits, after its failure
    callbacks (Airflow 3.1-3.3 call ``finish`` then), so the alert's time, the failure's own, can be a few
    seconds earlier and so a minute earlier: pass the alert's text as ``seen`` and, if it names the minute
    before the DB's, that is the answer (a retried try's end date is the same in both)."""
    import datetime as dt
    import zoneinfo

    end = run.end_date
    if task_id is not None:
        tis = run.get_task_instances()
        [end] = [ti.end_date for ti in tis if ti.task_id == task_id and ti.map_index == map_index]
    local = end.astimezone(zoneinfo.ZoneInfo(zone))
    written = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    before = (local - dt.timedelta(minutes=1)).astimezone(zoneinfo.ZoneInfo(zone))
    earlier = f"{before:%Y-%m-%d %H:%M} {before.tzname()}"
    if task_id is not None and earlier in seen and written not in seen:
        return earlier
    return written
