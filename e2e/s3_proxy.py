"""A pass-through in front of ``moto_server`` for ``make e2e-celery`` (e2e/run_celery.py): one loopback
port per worker, every request forwarded unchanged, and one chosen reply held on demand.

Each worker reaches the S3 ledger through its own port (the ``endpoint_url`` of its ``aws_default``
connection), so the proxy knows which worker asks. :meth:`S3Proxy.hold` arms a one-shot hold: the first
request that matches is forwarded to moto and its reply fetched (so the reply says what the store held
when the request was made), then kept back; :attr:`Hold.held` is set, and the reply goes out only when
the harness calls :meth:`Hold.release`. The process that asked is thus stopped at a chosen step of the
ledger protocol (e.g. right after the fence listed ``_claims/``) for as long as the harness likes, without
any hook in the product's code path.

Every request is logged to ``s3-proxy.log`` (worker, method, path and query, status, milliseconds).
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: Headers of one hop, not forwarded (the proxy frames each message itself).
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "expect", "content-length",
})  # fmt: skip
#: A held reply goes out after this long even if the harness never releases it (a failed run).
HOLD_BOUND = 300.0


@dataclass(frozen=True)
class S3Request:
    """What a hold's predicate sees of a request."""

    worker: str
    method: str
    path: str
    query: dict[str, list[str]]

    @property
    def prefix(self) -> str:
        """The ``prefix`` of a listing (``list-objects``), else ''."""
        return self.query.get("prefix", [""])[0]

    def is_listing(self) -> bool:
        return self.method == "GET" and "prefix" in self.query


@dataclass
class Hold:
    """One reply to hold back: armed by :meth:`S3Proxy.hold`, fired by the first matching request."""

    matches: Callable[[S3Request], bool]
    held: threading.Event = field(default_factory=threading.Event)
    request: S3Request | None = None
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def worker(self) -> str:
        return self.request.worker if self.request else ""

    def release(self) -> None:
        self._released.set()


class S3Proxy:
    """Loopback forwarder to ``upstream`` (``http://127.0.0.1:<moto port>``), one port per worker."""

    def __init__(self, upstream: str, log: Path) -> None:
        split = urlsplit(upstream)
        self.upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self.log_path = log
        self._log_lock = threading.Lock()
        self._lock = threading.Lock()
        self._holds: list[Hold] = []
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self.urls: dict[str, str] = {}
        #: Every request forwarded so far, in the order their replies arrived from moto.
        self.seen: list[S3Request] = []

    def add(self, worker: str) -> str:
        """Start a port for ``worker``; returns its endpoint URL."""
        proxy = self

        class Handler(_Forwarder):
            def forward(self) -> None:
                proxy._forward(self, worker)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"s3-proxy-{worker}", daemon=True).start()
        self._servers[worker] = server
        self.urls[worker] = f"http://127.0.0.1:{server.server_address[1]}"
        return self.urls[worker]

    def hold(self, matches: Callable[[S3Request], bool]) -> Hold:
        """Arm a one-shot hold of the first reply whose request ``matches`` (any worker)."""
        armed = Hold(matches)
        with self._lock:
            self._holds.append(armed)
        return armed

    def disarm(self, armed: Hold) -> None:
        """Take ``armed`` back (if it has not fired) and release it (if it has)."""
        with self._lock:
            if armed in self._holds:
                self._holds.remove(armed)
        armed.release()

    def stop(self) -> None:
        with self._lock:
            holds, self._holds = self._holds, []
        for armed in holds:
            armed.release()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def _take(self, request: S3Request) -> Hold | None:
        """The armed hold ``request`` fires, if any (then disarmed: a hold fires once)."""
        with self._lock:
            for armed in self._holds:
                if armed.matches(request):
                    self._holds.remove(armed)
                    armed.request = request
                    return armed
        return None

    def _forward(self, handler: _Forwarder, worker: str) -> None:
        started = time.monotonic()
        split = urlsplit(handler.path)
        request = S3Request(
            worker, handler.command, split.path, parse_qs(split.query, keep_blank_values=True)
        )
        body = handler.read_body()
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or handler.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            reply_headers = response.getheaders()
            status, reason = response.status, response.reason
        finally:
            upstream.close()
        with self._lock:
            self.seen.append(request)
        held = self._take(request)
        note = ""
        if held is not None:
            held.held.set()
            released = held._released.wait(HOLD_BOUND)
            note = f" HELD {time.monotonic() - started:.1f} s" + ("" if released else " (never released)")
        handler.send_response_only(status, reason)
        for name, value in reply_headers:
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        if handler.command == "HEAD":
            length = response.getheader("Content-Length")
            if length is not None:
                handler.send_header("Content-Length", length)
        else:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
        handler.wfile.flush()
        self._log(
            f"{time.strftime('%H:%M:%S')} {worker} {handler.command} {handler.path} {status} "
            f"{(time.monotonic() - started) * 1000:.0f} ms{note}"
        )

    def _log(self, line: str) -> None:
        with self._log_lock, self.log_path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


class _Forwarder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

    def forward(self) -> None:
        raise NotImplementedError

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers, then the blank line
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_one_request(self) -> None:
        with contextlib.suppress(ConnectionError):
            super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the proxy logs each request itself."""

    def do_GET(self) -> None:
        self.forward()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET
