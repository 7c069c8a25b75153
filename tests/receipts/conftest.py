"""The receiver mounted as the API server mounts it (under ``/isendpro``), a throw-away ledger, a secret.

Settings go through ``AIRFLOW__ISENDPRO__...`` variables, read by Airflow's configuration at each use,
as the receiver reads them per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
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


class Client:
    """A synchronous client for the ASGI app through httpx's ASGI transport (Starlette's TestClient warns
    on import with Airflow 3.1's anyio). ``content`` given as a list of chunks is streamed (chunked, no
    Content-Length)."""

    def __init__(self, app: Any, client: tuple[str, int] = ("203.0.113.7", 40000)) -> None:
        self.app = app
        self.peer = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        chunks = kwargs.pop("content", None)
        if isinstance(chunks, list):

            async def stream() -> AsyncIterator[bytes]:
                for chunk in chunks:
                    yield chunk

            kwargs["content"] = stream()
        elif chunks is not None:
            kwargs["content"] = chunks

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=self.peer)
            async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
                return await http.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)


@pytest.fixture
def client(ledger: Path, secret: str) -> Client:
    return Client(mounted())


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
