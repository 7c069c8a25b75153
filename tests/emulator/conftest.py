"""Fixtures for the emulator's tests; ``isendpro_emulator`` itself comes from the package's pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from airflow_provider_isendpro.testing import IsendproEmulator

from .helpers import Api


@pytest.fixture
def api(isendpro_emulator: IsendproEmulator) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(isendpro_emulator, session)
