"""pytest fixtures for DAG and hook tests against the local iSendPro emulator.

Registered through the ``pytest11`` entry point, so pytest imports this module for every user of the
package: it imports nothing but pytest at import time; the emulator loads when a fixture is used.

- ``isendpro_emulator_server`` (session): one running emulator for the whole session.
- ``isendpro_emulator`` (function): that emulator, reset (fresh credit, logs, config, no faults), with
  ``AIRFLOW_CONN_ISENDPRO_DEFAULT`` pointing at it for the duration of the test.
- ``isendpro_dlr_recorder`` (function): a loopback receiver for the emulator's delivery receipts, the
  emulator's ``dlr_url`` pointing at it.
- ``isendpro_receipts_receiver`` (function): the provider's own receipt receiver on loopback, the
  emulator posting to it, for ``SmsDeliverySensor(source="receipts")`` under ``isendpro_dag_test``.
- ``isendpro_dag_test`` (function): the emulator plus a migrated metadata DB; ``.run(dag or file)`` runs
  a DAG with ``dag.test()`` and returns a ``DagTestResult`` (states, XComs, SMS received, each failed
  task's exception); each run starts with an empty send ledger, alert markers and throttle windows.

``dag.test()`` needs Airflow's home (config, SQLite DB) chosen before Airflow is imported, which happens
when pytest imports your test modules. The ini option ``isendpro_airflow_home`` decides it:

- ``isolated``: the plugin creates a throw-away ``AIRFLOW_HOME`` with a SQLite DB at start-up (removed at
  the end), before anything imports Airflow; database settings and ``AIRFLOW_CONFIG`` from the
  environment are dropped, so the reset can only touch that DB; example DAGs are off;
- ``keep``: use the ``AIRFLOW_HOME`` your own conftest set up (its DB is reset once per session);
- unset: ``isendpro_dag_test`` refuses, so that a test run never resets the DB of a real Airflow home.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_isendpro.testing.dagtest import DagTestKit
    from airflow_provider_isendpro.testing.emulator import IsendproEmulator
    from airflow_provider_isendpro.testing.receipts_server import ReceiptsReceiver
    from airflow_provider_isendpro.testing.recorder import DlrRecorder

CONN_ENV = "AIRFLOW_CONN_ISENDPRO_DEFAULT"
HOME_OPTION = "isendpro_airflow_home"
_MODES = ("isolated", "keep")
_DB_SETTINGS = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_SCHEMA")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        HOME_OPTION,
        "isolated: a throw-away AIRFLOW_HOME for isendpro_dag_test; keep: the AIRFLOW_HOME already set",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    mode = str(config.getini(HOME_OPTION)).strip()
    if mode and mode not in _MODES:
        raise pytest.UsageError(f"{HOME_OPTION} = {mode!r}: use 'isolated' or 'keep'")
    if mode != "isolated":
        return
    if "airflow.configuration" in sys.modules:
        raise pytest.UsageError(
            f"{HOME_OPTION} = isolated, but Airflow was imported before the plugin could set AIRFLOW_HOME "
            "(by a conftest.py or another plugin): import Airflow inside tests or fixtures, or set "
            f"{HOME_OPTION} = keep and an AIRFLOW_HOME of your own"
        )
    home = tempfile.mkdtemp(prefix="isendpro-airflow-home-")
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    # The DB is reset: nothing from the environment may point it at a real one.
    for name in [n for n in os.environ if n.startswith(_DB_SETTINGS)] + ["AIRFLOW_CONFIG"]:
        os.environ.pop(name, None)
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{os.path.join(home, 'airflow.db')}"
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(home, "dags")
    os.makedirs(os.path.join(home, "dags"))  # Airflow warns on every run about a bundle path that is missing


@pytest.fixture(scope="session")
def isendpro_emulator_server() -> Iterator[IsendproEmulator]:
    """A session-wide emulator on a free loopback port."""
    from airflow_provider_isendpro.testing.emulator import IsendproEmulator

    emulator = IsendproEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def isendpro_emulator(
    isendpro_emulator_server: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IsendproEmulator]:
    """The session emulator, reset, with the ``isendpro_default`` connection pointing at it."""
    emulator = isendpro_emulator_server
    emulator.reset()
    monkeypatch.setenv(CONN_ENV, emulator.connection_json())
    try:
        yield emulator
    finally:
        emulator.release_hangs()
        emulator.clear_faults()


@pytest.fixture
def isendpro_dlr_recorder(isendpro_emulator: IsendproEmulator) -> Iterator[DlrRecorder]:
    """A loopback HTTP receiver that records the emulator's delivery receipts: ``dlr_url`` points at it
    for the test (``recorder.requests``, ``recorder.wait(n)``; ``isendpro_emulator.dlr_calls``)."""
    from airflow_provider_isendpro.testing.recorder import DlrRecorder

    with DlrRecorder() as recorder:
        isendpro_emulator.configure(dlr_url=recorder.url)
        yield recorder


@pytest.fixture
def isendpro_receipts_receiver(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReceiptsReceiver]:
    """The provider's delivery-receipt receiver on loopback (as the API server would serve it), with
    ``[isendpro] dlr_secret`` set and the emulator's ``dlr_url`` pointing at it for the test: receipts
    land in the run's ledger, where ``SmsDeliverySensor(source="receipts")`` reads them."""
    from airflow_provider_isendpro.testing.receipts_server import SECRET_ENV, ReceiptsReceiver

    with ReceiptsReceiver() as receiver:
        monkeypatch.setenv(SECRET_ENV, receiver.secret)
        isendpro_emulator.configure(dlr_url=receiver.dlr_url)
        yield receiver


@pytest.fixture(scope="session")
def isendpro_airflow_db(request: pytest.FixtureRequest) -> None:
    """A migrated, empty metadata DB in the AIRFLOW_HOME chosen by ``isendpro_airflow_home``."""
    mode = str(request.config.getini(HOME_OPTION)).strip()
    if mode not in _MODES:
        pytest.fail(
            "isendpro_dag_test resets Airflow's metadata DB, so it needs to know which one: add "
            f"'{HOME_OPTION} = isolated' to your pytest configuration ([pytest] in pytest.ini, or "
            "[tool.pytest.ini_options] in pyproject.toml) for a throw-away AIRFLOW_HOME, or "
            f"'{HOME_OPTION} = keep' if your conftest.py already sets a throw-away AIRFLOW_HOME",
            pytrace=False,
        )
    from airflow.utils import db

    db.resetdb()


@pytest.fixture
def isendpro_dag_test(
    isendpro_airflow_db: None, isendpro_emulator: IsendproEmulator, tmp_path: Path
) -> DagTestKit:
    """Run DAGs with ``dag.test()`` against the emulator: ``isendpro_dag_test.run(dag_or_file)``.

    Each run has its own empty send ledger, alert markers and throttle windows (under ``tmp_path``).
    """
    from airflow_provider_isendpro.testing.dagtest import DagTestKit

    return DagTestKit(isendpro_emulator, workdir=tmp_path)
