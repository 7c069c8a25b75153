"""The example DAGs of ``dags_examples/`` (the DAGS_FOLDER of the tests), run with ``dag.test()``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
LOGICAL_DATE = pendulum.datetime(2026, 1, 1, 3, tz="UTC")


@pytest.fixture(scope="session")
def example_bag() -> Any:
    """Every example DAG, parsed once in this process exactly as ``dag.test()`` parses its bundle."""
    from tests.compat import bundle_dag_bag

    return bundle_dag_bag(EXAMPLES)


@pytest.fixture
def run_example(
    airflow_db: None, example_bag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """``run_example(dag_id, run_conf=...)``: write the DAG to the metadata DB, run it with ``dag.test()``.

    Each test has its own ledger, so that no alert throttle window (10 minutes by default) carries over.
    After each run, the DAG's ``Param`` objects get their parsed values back: Airflow merges a run's conf
    into them (``process_params`` copies the task's ``Param`` objects by reference, then ``Param.resolve``
    stores the conf value on each, in 3.1, 3.2 and 3.3), so a DAG object run with ``run_conf`` kept that
    conf as its defaults for every later run in the process. A worker parses the file for each task and
    never sees this; tests sharing one parsed DAG did (a run without ``source`` read the source file of
    the test before it). A deep copy of the DAG does not help: tasks copy ``params`` shallowly."""
    from tests.dagruns import sync_dag

    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(tmp_path / "ledger"))

    def run(dag_id: str, **kwargs: Any) -> Any:
        dag = example_bag.dags[dag_id]
        parsed = _param_values(dag)
        sync_dag(dag)
        kwargs.setdefault("logical_date", LOGICAL_DATE)
        try:
            return dag.test(**kwargs)
        finally:
            for param, value in parsed:
                param.value = value

    return run


def _param_values(dag: Any) -> list[tuple[Any, Any]]:
    """Every ``Param`` object of the DAG and of its tasks, with a copy of its value as parsed."""
    import copy

    found: dict[int, tuple[Any, Any]] = {}
    for params in [dag.params, *(getattr(t, "params", None) for t in dag.tasks)]:
        for key in params or {}:
            param = params.get_param(key)
            found.setdefault(id(param), (param, copy.deepcopy(param.value)))
    return list(found.values())


@pytest.fixture
def isendpro_pool(airflow_db: None) -> Iterator[str]:
    """The ``isendpro`` pool the bulk example sends through (users create it with ``airflow pools set``)."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(
        name="isendpro", slots=4, description="iSendPro API calls", include_deferred=False
    )
    yield "isendpro"
    Pool.delete_pool("isendpro")


@pytest.fixture
def wrong_key_default(isendpro_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """``isendpro_default`` pointing at the emulator with a key it refuses (code 3)."""
    import json

    key = "revoked-keyid-0000"
    conn = {"conn_type": "isendpro", "host": isendpro_emulator.base_url, "password": key}
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_DEFAULT", json.dumps(conn))
    return key
