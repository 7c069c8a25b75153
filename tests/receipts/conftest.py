"""The receiver mounted as the API server mounts it (under ``/isendpro``), a throw-away ledger, a secret.

Settings go through ``AIRFLOW__ISENDPRO__...`` variables, read by Airflow's configuration at each use,
as the receiver reads them per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The S3 tests' loopback moto server and its s3:// attachment, shared with the notifier's race tests.
from tests.notifications.test_throttle_race import CONN_ID, s3, s3_endpoint  # noqa: F401

#: Obviously fake, and long enough for the receiver's rule (16+ URL-safe characters).
SECRET = "FAKE-dlr-secret-0123456789abcdef"
NUMBER = "0612345678"
TRACKER = "a1b2c3d4e5f6a1b2c3d4e5f6"


def dlr_path(secret: str = SECRET) -> str:
    return f"/isendpro/dlr/{secret}"


@pytest.fixture(autouse=True)
def _fresh_receiver() -> Iterator[None]:
    """Each test starts with the receiver's once-per-process messages unsaid and no store cached."""
    from airflow_provider_isendpro.receipts import app

    app.once.reset()
    app._stores.clear()
    yield
    app.once.reset()
    app._stores.clear()


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ledger"
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(root))
    return root


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_SECRET", SECRET)
    return SECRET


def mounted() -> Any:
    """The receiver as ``init_plugins`` mounts it: ``app.mount("/isendpro", subapp)``."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from airflow_provider_isendpro.receipts.app import app

    return Starlette(routes=[Mount("/isendpro", app)])


@pytest.fixture
def client(ledger: Path, secret: str) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(mounted(), client=("203.0.113.7", 40000)) as test_client:
        yield test_client


def stored(ledger: Path) -> dict[str, str]:
    """Every receipt record under the ledger's ``_receipts`` (name -> text), read straight from disk."""
    from airflow_provider_isendpro.receipts.store import SHARDS
    from airflow_provider_isendpro.record_store import LocalRecordStore

    records = {}
    for shard in SHARDS:
        store = LocalRecordStore(ledger / "_receipts" / shard)
        for name in store.names():
            records[f"{shard}/{name}"] = store.read(name)
    return records
