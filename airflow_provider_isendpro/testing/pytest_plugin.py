"""pytest fixtures for DAG and hook tests against the local iSendPro emulator.

Registered through the ``pytest11`` entry point, so pytest imports this module for every user of the
package: it imports nothing but pytest at import time; the emulator loads when a fixture is used.

- ``isendpro_emulator_server`` (session): one running emulator for the whole session.
- ``isendpro_emulator`` (function): that emulator, reset (fresh credit, logs, config, no faults), with
  ``AIRFLOW_CONN_ISENDPRO_DEFAULT`` pointing at it for the duration of the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_isendpro.testing.emulator import IsendproEmulator

CONN_ENV = "AIRFLOW_CONN_ISENDPRO_DEFAULT"


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
