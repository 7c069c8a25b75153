"""Shared pieces of the reliability suite: a probe key, an emulator that accepts it, clients that never
wait, a port that refuses connections until told otherwise, and DAG runs under ``dag.test()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_isendpro.client import AsyncIsendproClient, ClientConfig, IsendproClient, RetryPolicy
from airflow_provider_isendpro.testing import IsendproEmulator

#: The distinctive fake key every leak check searches for, and a second one the emulator refuses.
KEY = "LEAK-probe-7Qx9-fake"
WRONG_KEY = "LEAK-wrong-3Zt8-fake"
SECRETS = (KEY, WRONG_KEY)
CONN_ENV = "AIRFLOW_CONN_ISENDPRO_DEFAULT"
#: Retries that never wait: backoff 0.5 s, 1 s, 2 s are recorded by the injected sleep, not slept.
RETRY = RetryPolicy(max_attempts=4, backoff_initial=0.5, jitter=False)
NO_RETRY = RetryPolicy(max_attempts=1)


def conn_json(emu: IsendproEmulator, *, key: str = KEY, host: str | None = None, **extra: Any) -> str:
    """An ``isendpro`` connection to ``emu`` (or ``host``) as ``AIRFLOW_CONN_*`` JSON."""
    conn: dict[str, Any] = {"conn_type": "isendpro", "host": host or emu.base_url, "password": key}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


@pytest.fixture(scope="session")
def probe_server() -> Iterator[IsendproEmulator]:
    """One emulator for the whole suite that accepts only the probe key."""
    emulator = IsendproEmulator(api_keys=(KEY,))
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def emu(probe_server: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[IsendproEmulator]:
    """The probe emulator, reset, with ``isendpro_default`` pointing at it with the probe key."""
    probe_server.reset()
    monkeypatch.setenv(CONN_ENV, conn_json(probe_server))
    yield probe_server
    probe_server.release_hangs()
    probe_server.clear_faults()


class Sleeps:
    """The injected sleep: records each wait (seconds) and may run a hook at each one."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.hooks: list[Callable[[int], None]] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        for hook in self.hooks:
            hook(len(self.delays))

    async def asleep(self, seconds: float) -> None:
        self(seconds)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Every client built during the test (also by hooks, operators and sensors) waits through this."""
    recorder = Sleeps()
    monkeypatch.setitem(IsendproClient.__init__.__kwdefaults__, "sleep", recorder)
    monkeypatch.setitem(AsyncIsendproClient.__init__.__kwdefaults__, "sleep", recorder.asleep)
    return recorder


def call(transport: str, config: ClientConfig, sleep: Sleeps, method: str, /, *args: Any, **kw: Any) -> Any:
    """Run one client method on a fresh client of ``transport`` (``sync`` or ``async``)."""
    if transport == "sync":
        with IsendproClient(config, sleep=sleep) as client:
            return getattr(client, method)(*args, **kw)

    async def main() -> Any:
        async with AsyncIsendproClient(config, sleep=sleep.asleep) as client:
            return await getattr(client, method)(*args, **kw)

    return asyncio.run(main())


def free_port() -> int:
    """A loopback port nothing listens on (reserved, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LateProxy:
    """A port that refuses connections (nothing listens) until :meth:`open`, then forwards to a target.

    Stands for "iSendPro unreachable, then back": the emulator behind it keeps its state.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/cgi-bin"
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self, _attempt: int = 0) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self.accepted += 1
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def late_proxy(emu: IsendproEmulator) -> Iterator[LateProxy]:
    proxy = LateProxy(emu.port)
    yield proxy
    proxy.close()


_runs = itertools.count(1)


def task_context(run_id: str | None = None, try_number: int = 1) -> dict[str, Any]:
    """The part of a task context the provider's operators and sensors read, outside any DAG run."""
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        map_index=-1,
        try_number=try_number,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
        pushed=pushed,
    )
    return {
        "ti": ti,
        "task_instance": ti,
        "run_id": run_id or f"reliability_{os.getpid()}_{next(_runs)}",
        "ds": "2026-01-01",
        "params": {},
    }
