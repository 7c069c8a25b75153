"""A tiny HTTP receiver on loopback that records what it is sent: where the emulator's DLR callbacks land
in tests (``IsendproEmulator(EmulatorConfig(dlr_url=recorder.url))``), without an Airflow API server.

Standard library only, one daemon thread. It answers ``status`` (204 by default) to everything, or, for
the next requests armed with :meth:`DlrRecorder.fail_next`, an error, so a test can watch the emulator
retry. Tests wait on :meth:`DlrRecorder.wait` (a condition), never on a sleep.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the recorder received."""

    method: str
    path: str
    """The path without the query string."""
    query: str
    """The raw query string, exactly as received (``tel=0612345678&statut=0&tracker=T1``)."""
    body: str
    content_type: str | None
    status: int
    """What the recorder answered."""

    @property
    def params(self) -> dict[str, str]:
        """The query string's parameters, or a form body's for a ``POST``."""
        source = self.body if self.method == "POST" and self.body else self.query
        return dict(parse_qsl(source, keep_blank_values=True))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    recorder: DlrRecorder


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent (a test's output is not the place for request lines)."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        split = urlsplit(self.path)
        recorder = self.server.recorder
        status = recorder._record(
            self.command, split.path, split.query, body, self.headers.get("Content-Type")
        )
        recorder._released.wait(30)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class DlrRecorder:
    """``with DlrRecorder() as recorder:``, then ``recorder.url``, ``recorder.requests``, ``wait(n)``."""

    def __init__(self, path: str = "/dlr", status: int = 204, host: str = "127.0.0.1") -> None:
        self.path = "/" + path.lstrip("/")
        self.status = status
        """What to answer (once the armed failures are used up)."""
        self.host = host
        self._requests: list[RecordedRequest] = []
        self._failures: list[int] = []
        self._released = threading.Event()
        self._released.set()
        self._changed = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Listen on a free loopback port; returns :attr:`url`."""
        if self._server is None:
            server = _Server((self.host, 0), _Handler)
            server.recorder = self
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="dlr-recorder", daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        self.release()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DlrRecorder:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/dlr``: what to give the emulator as ``dlr_url``."""
        if self._server is None:
            raise RuntimeError("the recorder is not started: call start() or use it as a context manager")
        return f"http://{self.host}:{self._server.server_address[1]}{self.path}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._changed:
            return list(self._requests)

    def hold(self) -> None:
        """Record each request at once but answer none until :meth:`release` (or 30 s): a receiver
        that hangs, to show the sender does not wait for it."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def fail_next(self, times: int = 1, status: int = 503) -> None:
        """Answer ``status`` to the next ``times`` requests (then :attr:`status` again)."""
        with self._changed:
            self._failures.extend([status] * times)

    def wait(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` requests arrived; ``False`` after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._requests) >= count, timeout)

    def clear(self) -> None:
        with self._changed:
            self._requests.clear()
            self._failures.clear()

    def _record(self, method: str, path: str, query: str, body: str, content_type: str | None) -> int:
        with self._changed:
            status = self._failures.pop(0) if self._failures else self.status
            self._requests.append(RecordedRequest(method, path, query, body, content_type, status))
            self._changed.notify_all()
        return status
