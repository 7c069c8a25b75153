"""Test environment: a throw-away AIRFLOW_HOME set before anything imports Airflow.

Airflow registers no pytest plugin, so this top-level conftest runs first. Hooks, clients and operators
need no database; tests that run DAGs use the ``airflow_db`` fixture (migrated once per session).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

_home = tempfile.mkdtemp(prefix="airflow-home-")
atexit.register(shutil.rmtree, _home, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = _home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent.parent / "dags_examples")
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
# Every DAG sync writes (the default skips a write within 30 s of the last one): what the metadata DB holds
# must not depend on how fast the machine runs the tests (see tests.compat.bundle_dag_bag).
os.environ["AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL"] = "0"
for _name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
    del os.environ[_name]

# Property tests run beside a loaded machine in CI: no per-example deadline, no "too slow" health check
# (they measure the machine, not the code). Example counts are set per test.
settings.register_profile("isendpro", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("isendpro")

#: Obviously fake keys. The distinctive one is searched for in logs and errors by the leak tests.
FAKE_KEY = "emulator-fake-keyid"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated, empty metadata DB (SQLite in the temporary AIRFLOW_HOME)."""
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(autouse=True)
def _no_dag_records_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the metadata DB, delete every DAG record it left (see forget_all_dags)."""
    yield
    if "airflow_db" in request.fixturenames:
        from tests.dagruns import forget_all_dags

        forget_all_dags()


@pytest.fixture(scope="session")
def isendpro_airflow_db(airflow_db: None) -> None:
    """``isendpro_dag_test``'s DB: this suite's own (the plugin's ``keep`` mode, reset once)."""


@pytest.fixture
def run_dag(airflow_db: None) -> Callable[..., Any]:
    """Write an inline DAG to the metadata DB and run it once with ``dag.test()``; returns the DagRun."""
    from tests.dagruns import sync_dag

    def run(dag: Any, **kwargs: Any) -> Any:
        sync_dag(dag)
        return dag.test(**kwargs)

    return run


# -- random order (issue 19): `pytest --shuffle SEED` or `--shuffle random`; the seed is in the header ------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shuffle",
        metavar="SEED",
        default=None,
        help="run the tests in an order shuffled from SEED (an integer, or 'random' to draw one); the "
        "header prints the seed, and --shuffle SEED repeats that order",
    )


def _shuffle_seed(config: pytest.Config) -> int | None:
    value = config.getoption("--shuffle")
    if value is None:
        return None
    if value == "random":
        import random

        config.option.shuffle = value = str(random.SystemRandom().randrange(10**6))
    return int(value)


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = _shuffle_seed(config)
    return None if seed is None else f"test order shuffled with seed {seed} (--shuffle {seed} repeats it)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = _shuffle_seed(config)
    if seed is not None:
        import random

        random.Random(seed).shuffle(items)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    seed = _shuffle_seed(config)
    if seed is not None:  # also with -q, which prints no header
        terminalreporter.write_line(f"test order shuffled with seed {seed} (--shuffle {seed} repeats it)")
