"""Fixtures for the client tests: one scenario, two transports.

``client`` (and ``make_client``) are parametrized over the sync :class:`IsendproClient` and the async
:class:`AsyncIsendproClient`: a test calls ``client("get_credit")`` and runs once per transport. The sleep
between retries is injected and recorded in ``client.delays``; nothing ever really waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_isendpro.client import (
    AsyncIsendproClient,
    ClientConfig,
    IsendproClient,
    RetryPolicy,
)
from airflow_provider_isendpro.testing import IsendproEmulator, ReceivedRequest

NO_RETRY = RetryPolicy(max_attempts=1)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


class Client:
    """A client of one transport behind one call signature: ``client(method_name, *args, **kwargs)``.

    The sync client is created once and reused (its pooled session); the async one is created inside
    ``asyncio.run`` for each call and closed there. ``on_sleep(n)`` runs at the n-th retry wait.
    """

    def __init__(
        self, transport: str, config: ClientConfig, on_sleep: Callable[[int], None] | None = None
    ) -> None:
        self.transport = transport
        self.config = config
        self.delays: list[float] = []
        self._on_sleep = on_sleep
        self._sync: IsendproClient | None = None
        if transport == "sync":
            self._sync = IsendproClient(config, sleep=self._record)

    def _record(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._on_sleep is not None:
            self._on_sleep(len(self.delays))

    async def _arecord(self, seconds: float) -> None:
        self._record(seconds)

    def __call__(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        if self._sync is not None:
            return getattr(self._sync, method)(*args, **kwargs)
        return asyncio.run(self.run_async(method, *args, **kwargs))

    async def run_async(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        async with AsyncIsendproClient(self.config, sleep=self._arecord) as client:
            return await getattr(client, method)(*args, **kwargs)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()


MakeClient = Callable[..., Client]


@pytest.fixture(params=["sync", "async"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu(isendpro_emulator: IsendproEmulator) -> IsendproEmulator:
    """The session emulator, reset for this test."""
    return isendpro_emulator


@pytest.fixture
def make_client(transport: str, emu: IsendproEmulator) -> Iterator[MakeClient]:
    """Build a client of the test's transport; defaults: the emulator, its key, no retries, 5 s read."""
    made: list[Client] = []

    def make(
        *,
        on_sleep: Callable[[int], None] | None = None,
        **overrides: Any,
    ) -> Client:
        settings: dict[str, Any] = {
            "api_key": emu.api_key,
            "base_url": emu.base_url,
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            "retry": NO_RETRY,
            **overrides,
        }
        client = Client(transport, ClientConfig(**settings), on_sleep)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> Client:
    return make_client()


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (reserved, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_requests(emu: IsendproEmulator, since: int) -> list[ReceivedRequest]:
    """Requests the emulator received after the first ``since`` ones."""
    return emu.requests[since:]


def only_request(emu: IsendproEmulator, since: int = 0) -> ReceivedRequest:
    """The single request received after the first ``since`` ones (fails if there are none or more)."""
    (request,) = new_requests(emu, since)
    return request


def assert_request(
    request: ReceivedRequest,
    method: str,
    path: str,
    *,
    json: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> None:
    """Exactly one of ``json``/``form``/``query`` holds every field the emulator must have received."""
    assert (request.method, request.path) == (method, path)
    if json is not None:
        assert (request.content_type, request.body, request.query) == (JSON, json, {})
    elif form is not None:
        assert (request.content_type, request.body, request.query) == (FORM, form, {})
    else:
        assert (request.body, request.query) == (None, query)


class TruncatingServer:
    """Answers every request with HTTP 200, the start of a zip, then closes the connection mid-body.

    The emulator has no "truncated body" fault; this stands in for a connection lost during a download.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = int(self._sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/cgi-bin"
        self.hits = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                self.hits += 1
                conn.settimeout(2.0)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: 1000000\r\n\r\n"
                # More than one 64 KiB read: the client has written part of the file when the body stops.
                conn.sendall(head + b"PK\x03\x04" + b"\x00" * 200_000)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def truncating_server() -> Iterator[TruncatingServer]:
    server = TruncatingServer()
    yield server
    server.close()
