"""A local iSendPro: a threaded standard-library HTTP server that answers like the real API.

It serves every operation of the official spec under ``<base>/cgi-bin/<path>``, validates requests
against it, keeps state (credit, blacklist, répertoires, sub-accounts, a log of the SMS it accepted) and
can fail on demand. It is a test double: it never delivers anything.

Magic numbers (national form; ``33...`` works too), see ``config.MAGIC_NUMBERS``:

==============  ==========================================================================
``0600000011``  per-recipient code 11 (blacklisted), inside an HTTP 200
``0600000021``  per-recipient code 21 (not assigned); so does any invalid number
``0600000400``  HTTP 400 ``Erreur`` for the whole request
``0600000500``  HTTP 500 for the whole request
``0600000429``  HTTP 429 with ``Retry-After`` for the whole request
``0600000999``  no answer: hangs (bounded by ``hang_timeout``, released by ``stop()``)
==============  ==========================================================================

Faults (``inject``, or ``POST /_emulator/faults``): see ``faults.FAULT_DOCS``.

HTTP: a method an API path does not serve (made-up ones included) gets 405 with ``Allow``; ``HEAD`` is
answered like ``GET`` without the body; ``OPTIONS`` lists the methods; unknown paths get 404.

Control endpoints (not iSendPro's; for a subprocess-hosted emulator), under ``/_emulator/``:
``GET health``, ``GET sent``, ``GET requests``, ``GET state``, ``GET stats``, ``GET|POST|DELETE faults``,
``POST reset``, ``POST config``, ``POST credit``, ``POST release``, ``GET dlr`` (delivery-receipt
callbacks), ``POST dlr/release`` (every receipt due now). None of them ever shows a keyid.

Delivery receipts (``dlr_url`` and the other ``dlr_*`` fields of ``EmulatorConfig``): each accepted,
non-sandbox SMS gets a receipt, sent to ``dlr_url`` from background threads (``dlr_sender.py``) and shown
in the ``/campagne`` report once due (``dlr.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.parser
import email.policy
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from . import dlr, operations
from .config import DEFAULT_API_KEY, EmulatorConfig
from .dlr_sender import DlrCall, DlrSender
from .faults import AFTER_ACCEPT, FAULT_DOCS, Fault, FaultPlan, normalise_path
from .state import Account, EmulatorState, ReceivedRequest, SentSms, format_euros, to_micros

API_PREFIX = "/cgi-bin"
CONTROL_PREFIX = "/_emulator"
MAX_BODY = 256 * 1024 * 1024
_ARRAY_KEY = re.compile(r"(.+?)\[([0-9]*)\]")
_REDACTED = "***"


def _paris() -> tzinfo:
    """Europe/Paris (iSendPro's wall clock, API-NOTES §11 #10); UTC where no tz database exists."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Paris")
    except Exception:  # no tzdata on this machine
        return timezone.utc


def fields_dict(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form/query pairs as a dict: repeated keys and PHP-style ``num[]``/``num[0]`` become lists."""
    out: dict[str, Any] = {}
    indexed: dict[str, list[tuple[int, str]]] = {}
    for key, value in pairs:
        match = _ARRAY_KEY.fullmatch(key)
        if match is not None:
            name, index = match.group(1), match.group(2)
            indexed.setdefault(name, []).append((int(index) if index else len(indexed.get(name, [])), value))
            continue
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    for name, items in indexed.items():
        out[name] = [value for _, value in sorted(items, key=lambda item: item[0])]
    return out


def parse_body(raw: bytes, content_type: str | None) -> tuple[Any, str]:
    """``(body, kind)`` with kind ``json``, ``form``, ``none`` or ``invalid``.

    Lenient like the real server (API-NOTES §1): JSON, urlencoded and multipart forms are all accepted,
    and a body without a content type is sniffed.
    """
    if not raw:
        return None, "none"
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return json.loads(raw.decode("utf-8")), "json"
        except (UnicodeDecodeError, ValueError):
            return None, "invalid"
    if ctype == "multipart/form-data":
        return _multipart(raw, content_type or ""), "form"
    if ctype == "application/x-www-form-urlencoded":
        return fields_dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)), "form"
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith(("{", "[")):
        try:
            return json.loads(text), "json"
        except ValueError:
            return None, "invalid"
    return fields_dict(parse_qsl(text, keep_blank_values=True)), "form"


def _multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
    pairs: list[tuple[str, str]] = []
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                pairs.append((name, payload.decode("utf-8", "replace")))
    return fields_dict(pairs)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops concurrent connects (1 s SYN retry) under load
    emulator: IsendproEmulator


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, so a client's pooled connection is reused across calls."""

    protocol_version = "HTTP/1.1"
    server_version = "iSendProEmulator/1.0"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.emulator.config.keepalive_timeout)
        self.server.emulator._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.emulator._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines of ``/campagne`` carry the keyid in the URL."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard handler's answer to a request it cannot parse (a TLS handshake sent to this
        plain-http server, a line too long): logged like every answer, without the line (it may hold
        the keyid)."""
        why = {
            400: "not an HTTP request (https sent to this plain-http server?)",
            414: "request line too long",
        }
        self.server.emulator._log_line(f"(unreadable request) -> {code}: {why.get(code, 'refused')}")
        super().send_error(code, message, explain)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()  # answered as GET; _send leaves the body out

    def do_OPTIONS(self) -> None:
        self._handle()

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, made-up ones) goes the same way: 405 with ``Allow`` on an API path,
        404 elsewhere. The standard handler would answer its own 501 page without reading the body."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        emulator = self.server.emulator
        try:
            raw = self._read_body()
        except ValueError:
            emulator._log_line(f"{self.command} {urlsplit(self.path).path} -> 400: unreadable request body")
            self._send(operations.html_reply(400, "Bad Request"))
            self.close_connection = True
            return
        split = urlsplit(self.path)
        path = split.path
        query = fields_dict(parse_qsl(split.query, keep_blank_values=True))
        method = "GET" if self.command == "HEAD" else self.command
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._send(emulator._control(method, path[len(CONTROL_PREFIX) :].strip("/"), query, raw))
            return
        if not path.startswith(API_PREFIX + "/"):
            emulator._log_line(
                f"{self.command} {path} -> 404: not an API path (the API is under {API_PREFIX}/)"
            )
            self._send(operations.html_reply(404, "Not Found"))
            return
        op_path = "/" + path[len(API_PREFIX) :].strip("/")
        if method == "OPTIONS":
            allowed = operations.allowed_methods(emulator.config, op_path)
            reply = operations.Reply(200, content_type=None, headers=[("Allow", ", ".join(allowed))])
            reply = reply if allowed else operations.html_reply(404, "Not Found")
            emulator._log_request(self.command, path, reply)
            self._send(reply)
            return
        body, kind = parse_body(raw, self.headers.get("Content-Type"))
        index = emulator._record(
            self.command, op_path, query, body if kind in ("json", "form") else None, self.headers
        )
        fault = emulator._faults.take(op_path)
        if fault is not None and fault.name == "slow":
            if not emulator._hang(fault.delay if fault.delay is not None else 1.0):
                self.close_connection = True  # released by stop(): answer nothing
                return
            fault = None
        if fault is not None and fault.name not in AFTER_ACCEPT:
            emulator._log_request(self.command, path, fault=fault.name)
            self._before_accept(fault)
            return
        latency = emulator.config.latency
        if latency > 0 and not emulator._hang(latency):
            self.close_connection = True
            return
        reply = emulator._api(
            method, op_path, query=query, body=body, kind=kind, index=index, ip=self.client_address[0]
        )
        logged = None if fault is not None or reply.hang is not None else reply
        emulator._log_request(self.command, path, logged, fault.name if fault is not None else None)
        if fault is not None:
            if fault.name == "reset_after_accept":
                self._reset()
            else:
                emulator._hang(fault.delay)
                self.close_connection = True
            return
        if reply.hang is not None:
            emulator._hang(reply.hang)
            self.close_connection = True
            return
        self._send(reply)

    def _before_accept(self, fault: Fault) -> None:
        if fault.name == "hang":
            self.server.emulator._hang(fault.delay)
            self.close_connection = True
        elif fault.name == "reset":
            self._reset()
        else:
            self._send(_fault_reply(fault, self.server.emulator.config))

    def _reset(self) -> None:
        """Abort the connection with a TCP RST and no answer."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _send(self, reply: operations.Reply) -> None:
        try:
            self.send_response(reply.status)
            if reply.content_type is not None:
                self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD" and reply.body:
                self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True


def _fault_reply(fault: Fault, config: EmulatorConfig) -> operations.Reply:
    """The canned answer of a fault that replaces the operation."""
    name = fault.name
    if name in ("http_500", "http_502", "http_503"):
        status = int(name.removeprefix("http_"))
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        headers = operations.retry_after_header(fault.retry_after) if status == 503 else []
        return operations.html_reply(status, titles[status], headers)
    if name == "http_429":
        return operations.rate_limited(config, fault.retry_after)
    if name == "http_400":
        return operations.error_reply(config, operations.ApiError("injected", "fault 'http_400'", status=400))
    if name == "html":
        return operations.html_reply(200, "Maintenance en cours")
    if name == "malformed":
        return operations.Reply(status=200, body=b'{"etat":{"etat":[{"code":0,"tel":"06')
    if name == "empty":
        return operations.Reply(status=200, body=b"")
    return operations.json_reply({"statut": "OK", "message": "Votre message a bien ete envoye"})


def _redact(value: Any, secrets_: frozenset[str]) -> Any:
    """Hide keyids from control-endpoint output: ``keyid``-named fields and any known key value."""
    if isinstance(value, dict):
        return {
            k: (
                _REDACTED
                if "keyid" in str(k).lower() or str(k).lower() == "authorization"
                else _redact(v, secrets_)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v, secrets_) for v in value]
    if isinstance(value, str) and value in secrets_:
        return _REDACTED
    return value


class IsendproEmulator:
    """The emulator as a Python object: start it in a thread, point a client at ``base_url``, inspect.

    ``api_keys`` are the keyids the main account accepts (obviously fake by default); sub-accounts
    created through ``POST /subaccount`` get keys of their own.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: tuple[str, ...] | list[str] = (DEFAULT_API_KEY,),
    ) -> None:
        if not api_keys or not all(isinstance(k, str) and k for k in api_keys):
            raise ValueError("api_keys must hold at least one non-empty string")
        self._initial_config = config or EmulatorConfig()
        self._config = self._initial_config
        self.host = host
        self._requested_port = port
        self.api_keys: tuple[str, ...] = tuple(api_keys)
        self.clock: Callable[[], datetime] = _paris_now
        """Emulator wall time (Europe/Paris): quiet hours, report dates. Replace it to freeze time."""
        self.request_log: Callable[[str], None] | None = None
        """Called with one line per API request (``requestlog.format_request``; never the keyid)."""
        self._faults = FaultPlan()
        self._dlr = DlrSender(log=self._log_line)
        self._lock = threading.Lock()
        self._hang_changed = threading.Condition(self._lock)
        self._hang_events: set[threading.Event] = set()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._state = EmulatorState()
        self._keyids: dict[str, Account] = {}
        self._reset_state()

    # --- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> str:
        """Listen and serve in a daemon thread; returns ``base_url`` (``http://127.0.0.1:PORT/cgi-bin``)."""
        if self._server is not None:
            return self.base_url
        self._stopping.clear()
        server_class = _Server
        if ":" in self.host:

            class _Server6(_Server):
                address_family = socket.AF_INET6

            server_class = _Server6
        server = server_class((self.host, self._requested_port), _Handler)
        server.emulator = self
        self._server = server
        port = server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._base_url = f"http://{host}:{port}{API_PREFIX}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="isendpro-emulator", daemon=True
        )
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        """Stop serving, release every hang and close open keep-alive connections. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        self.release_hangs()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._dlr.stop()
        # The released handlers leave their hangs in their own threads: wait for them, so that no hang
        # is in progress once stop() returns (seen under load: ``hanging`` still 1 right after stop()).
        with self._hang_changed:
            self._hang_changed.wait_for(lambda: not self._hang_events, timeout=5)

    def __enter__(self) -> IsendproEmulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the emulator is not started: call start() or use it as a context manager")
        return self._base_url

    @property
    def root_url(self) -> str:
        """``http://host:port`` (control endpoints live under ``/_emulator/``)."""
        return self.base_url.removesuffix(API_PREFIX)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1].split("/", 1)[0])

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    def connection_json(self, extra: dict[str, Any] | None = None) -> str:
        """What to put in ``AIRFLOW_CONN_ISENDPRO_DEFAULT`` to reach this emulator."""
        conn: dict[str, Any] = {"conn_type": "isendpro", "host": self.base_url, "password": self.api_key}
        if extra:
            conn["extra"] = extra
        return json.dumps(conn)

    def connection_uri(self) -> str:
        """The same as an Airflow connection URI (the host, a URL, percent-encoded)."""
        return f"isendpro://:{quote(self.api_key, safe='')}@{quote(self.base_url, safe='')}"

    # --- configuration and state ------------------------------------------------------------------------
    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change config fields on the fly; state is kept (``credit`` is the value ``reset`` restores)."""
        self._config = self._config.replace(**changes)
        return self._config

    def reset(self, config: EmulatorConfig | None = None) -> None:
        """Fresh account: logs cleared, state and config as constructed (or ``config``), faults cleared."""
        self._faults.clear()
        self.release_hangs()
        self._dlr.clear()
        self._config = config or self._initial_config
        self.clock = _paris_now
        self._reset_state()

    def _reset_state(self) -> None:
        state = EmulatorState()
        state.main.credit_micros = to_micros(self._config.credit)
        clock_now = datetime.now(_PARIS).strftime("%Y-%m-%d %H:%M:%S")
        from . import rules

        for number in self._config.initial_blacklist:
            normalised = rules.normalise_number(number)
            state.blacklist[rules.national(normalised or number)] = clock_now
        keyids = dict.fromkeys(self.api_keys, state.main)
        self._keyids, self._state = keyids, state

    @property
    def credit(self) -> float:
        """Main account credit in euros."""
        with self._state.lock:
            return self._state.main.credit_micros / 1_000_000

    @credit.setter
    def credit(self, euros: float) -> None:
        with self._state.lock:
            self._state.main.credit_micros = to_micros(euros)

    @property
    def blacklist(self) -> frozenset[str]:
        """Blacklisted numbers, national form."""
        with self._state.lock:
            return frozenset(self._state.blacklist)

    @property
    def repertoires(self) -> dict[str, list[str]]:
        """``repertoireId -> member numbers``."""
        with self._state.lock:
            return {rid: list(rep.members) for rid, rep in self._state.repertoires.items()}

    @property
    def subaccounts(self) -> dict[str, dict[str, Any]]:
        """``login -> {subAccountId, credit, price, ...}`` (keys not included)."""
        with self._state.lock:
            return {
                a.label: {
                    "subAccountId": a.subaccount_id,
                    "credit": a.credit_micros / 1_000_000,
                    "price": a.price,
                    "country_code": a.country_code,
                    "restriction_stop": a.restriction_stop,
                    "restriction_time": a.restriction_time,
                }
                for a in self._state.accounts.values()
            }

    @property
    def shortlinks(self) -> dict[str, str]:
        with self._state.lock:
            return dict(self._state.shortlinks)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every API request received (faulted and rejected ones included), oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        wanted = normalise_path(path)
        return [r for r in self.requests if r.path == wanted]

    @property
    def sent(self) -> list[SentSms]:
        """Every SMS accepted (sandbox ones included, flagged), oldest first."""
        with self._state.lock:
            return list(self._state.sent)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters kept even when ``record_requests``/``record_sent`` are off."""
        return self._state.stats()

    # --- delivery receipts -------------------------------------------------------------------------------
    @property
    def receipts(self) -> list[dlr.Receipt]:
        """The receipt decided for each accepted, non-sandbox SMS (``statut``, due time), oldest first:
        what the callbacks send and the ``/campagne`` report shows once due."""
        with self._state.lock:
            return list(self._state.receipts.values())

    @property
    def dlr_calls(self) -> list[DlrCall]:
        """Every callback attempt to ``dlr_url`` (URL, ``status``, ``response``, ``ok``), oldest first."""
        return self._dlr.calls

    @property
    def dlr_pending(self) -> int:
        """Receipts queued (not yet due, or waiting for a retry) or being sent."""
        return self._dlr.pending

    def dlr_summary(self) -> dict[str, Any]:
        """``{"posted": {statut: n}, "gave_up": n, "pending": n, "attempts": n}``."""
        return self._dlr.summary()

    def wait_dlr(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` receipts are settled (posted, or given up after the retries)."""
        return self._dlr.wait_settled(count, timeout)

    def wait_dlr_idle(self, timeout: float = 10.0) -> bool:
        """Block until no receipt is queued or being sent (one not yet due counts as queued)."""
        return self._dlr.wait_idle(timeout)

    def release_dlr(self) -> int:
        """Make every receipt not yet due, due now: the queued callbacks go at once and the report shows
        the final statuses. Returns how many callbacks were queued. (A test's gate: a long ``dlr_delay``,
        then ``release_dlr()`` once the code under test is seen waiting.)"""
        now = self.clock().timestamp()
        with self._state.lock:
            for message_id, receipt in self._state.receipts.items():
                if receipt.due > now:
                    self._state.receipts[message_id] = dataclasses.replace(receipt, due=now)
        return self._dlr.release()

    def dlr_statut(self, tel: str, tracker: str | None) -> str | None:
        """The ``statut`` an SMS to ``tel`` with ``tracker`` gets under the current config (``None``: no
        receipt): know the outcome before sending."""
        return dlr.draw_statut(self._config, tel, tracker)

    def _queue_receipts(self, receipts: list[dlr.Receipt]) -> None:
        """From a send: queue the callbacks (``dlr_url`` as configured at acceptance)."""
        config = self._config
        if config.dlr_url is None:
            return
        now = self.clock().timestamp()
        items = []
        for receipt in receipts:
            request = dlr.callback_request(config, receipt)
            if request is not None:
                items.append((receipt, request, receipt.due - now))
        self._dlr.submit(items)

    # --- faults -----------------------------------------------------------------------------------------
    def inject(
        self,
        fault: str,
        path: str | None = None,
        *,
        times: int | None = 1,
        after: int = 0,
        retry_after: float = 2.0,
        delay: float | None = None,
    ) -> Fault:
        """Arm ``fault`` for the next ``times`` requests to ``path`` (any path if ``None``), after ``after``.

        ``delay`` bounds a hang (default ``hang_timeout``) or sets the ``slow`` fault's delay.
        """
        return self._faults.add(
            fault, path=path, times=times, after=after, retry_after=retry_after, delay=delay
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[dict[str, Any]]:
        """Faults still armed."""
        return self._faults.pending()

    @property
    def hanging(self) -> int:
        """Requests currently held by a hang (fault, magic number, latency)."""
        with self._lock:
            return len(self._hang_events)

    def wait_hanging(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests hang (so a test knows the server got that far)."""
        with self._hang_changed:
            return self._hang_changed.wait_for(lambda: len(self._hang_events) >= count, timeout)

    def release_hangs(self) -> None:
        """End every hang in progress now (the connections are then closed without an answer)."""
        with self._lock:
            events = list(self._hang_events)
        for event in events:
            event.set()

    # --- server internals -------------------------------------------------------------------------------
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _hang(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (bounded by ``hang_timeout``); ``False`` if released early by stop/release."""
        bound = self._config.hang_timeout
        timeout = bound if seconds is None else min(seconds, bound)
        event = threading.Event()
        with self._lock:  # checked under the lock release_hangs() takes: no hang starts after a stop
            if self._stopping.is_set():
                return False
            self._hang_events.add(event)
            self._hang_changed.notify_all()
        try:
            released = event.wait(timeout)
        finally:
            with self._lock:
                self._hang_events.discard(event)
                self._hang_changed.notify_all()
        return not released and not self._stopping.is_set()

    def _wait(self, seconds: float) -> None:
        self._hang(seconds)

    def _record(self, method: str, path: str, query: dict[str, Any], body: Any, headers: Any) -> int:
        state = self._state
        with state.lock:
            state.request_count += 1
            state.requests_per_path[path] += 1
            if self._config.record_requests:
                state.requests.append(
                    ReceivedRequest(
                        method=method,
                        path=path,
                        query=query,
                        body=body,
                        content_type=headers.get("Content-Type"),
                        headers={k: v for k, v in headers.items()},
                    )
                )
            return state.request_count

    def _log_line(self, line: str) -> None:
        if self.request_log is not None:
            self.request_log(line)

    def _log_request(
        self, method: str, path: str, reply: operations.Reply | None = None, fault: str | None = None
    ) -> None:
        if self.request_log is not None:
            from .requestlog import format_request

            status, body = (reply.status, reply.body) if reply is not None else (None, b"")
            self.request_log(format_request(method, path, status, body, fault))

    def _api(
        self, method: str, path: str, *, query: dict[str, Any], body: Any, kind: str, index: int, ip: str
    ) -> operations.Reply:
        config = self._config
        state = self._state
        if config.rate_limit_per_second is not None:
            window = int(time.monotonic())
            with state.lock:
                current, count = state.rate_window
                count = count + 1 if current == window else 1
                state.rate_window = (window, count)
            if count > config.rate_limit_per_second:
                return operations.rate_limited(config, config.retry_after)
        ctx = operations.Context(
            config=config,
            state=state,
            api_keys=self.api_keys,
            request_index=index,
            now=self.clock,
            wait=self._wait,
            client_ip=ip,
            on_receipts=self._queue_receipts,
        )
        return operations.dispatch(
            ctx, method=method, path=path, query=query, body=body, body_kind=kind, keyids=self._keyids
        )

    def _secrets(self) -> frozenset[str]:
        return frozenset(self._keyids)

    def snapshot(self) -> dict[str, Any]:
        """State as plain JSON, without any keyid (``GET /_emulator/state``)."""
        state = self._state
        with state.lock:
            return {
                "credit": state.main.credit_micros / 1_000_000,
                "credit_text": format_euros(state.main.credit_micros),
                "blacklist": list(state.blacklist),
                "repertoires": [
                    {"repertoireId": r.repertoire_id, "name": r.name, "members": list(r.members)}
                    for r in state.repertoires.values()
                ],
                "subaccounts": self.subaccounts,
                "shortlinks": dict(state.shortlinks),
                "sent_count": len(state.sent),
                "stats": state.stats(),
                "faults": self._faults.pending(),
            }

    def _control(self, method: str, name: str, query: dict[str, Any], raw: bytes) -> operations.Reply:
        """The ``/_emulator/`` endpoints; JSON in, JSON out, keyids never shown."""
        reply = operations.json_reply
        try:
            payload = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            return reply({"error": "the body must be JSON"}, 400)
        if not isinstance(payload, dict):
            return reply({"error": "the body must be a JSON object"}, 400)
        try:
            if (method, name) == ("GET", "health"):
                return reply({"status": "ok", "base_url": self.base_url})
            if (method, name) == ("GET", "sent"):
                sent = self.sent
                offset, limit = int(query.get("offset", 0)), int(query.get("limit", len(sent)))
                chunk = sent[offset : offset + limit]
                return reply({"count": len(sent), "sent": [s.to_dict() for s in chunk]})
            if (method, name) == ("GET", "requests"):
                secrets_ = self._secrets()
                items = [_redact(r.to_dict(), secrets_) for r in self.requests]
                return reply({"count": len(items), "requests": items})
            if (method, name) == ("GET", "state"):
                return reply(self.snapshot())
            if (method, name) == ("GET", "stats"):
                return reply(self.stats)
            if (method, name) == ("GET", "dlr"):
                calls = self.dlr_calls
                offset, limit = int(query.get("offset", 0)), int(query.get("limit", len(calls)))
                answer = {
                    **self.dlr_summary(),
                    "count": len(calls),
                    "calls": [c.to_dict() for c in calls[offset : offset + limit]],
                }
                if query.get("receipts") in ("1", "true"):
                    answer["receipts"] = [r.to_dict() for r in self.receipts]
                return reply(answer)
            if (method, name) == ("POST", "dlr/release"):
                return reply({"released": self.release_dlr()})
            if (method, name) == ("GET", "config"):
                return reply({"config": self._config.to_dict()})
            if (method, name) == ("POST", "config"):
                return reply({"config": self.configure(**payload).to_dict()})
            if (method, name) == ("POST", "reset"):
                self.reset()
                return reply({"status": "reset"})
            if (method, name) == ("POST", "credit"):
                self.credit = float(payload["credit"])
                return reply({"credit": self.credit})
            if (method, name) == ("POST", "release"):
                self.release_hangs()
                return reply({"status": "released"})
            if (method, name) == ("GET", "faults"):
                return reply({"faults": self.faults, "available": FAULT_DOCS})
            if (method, name) == ("DELETE", "faults"):
                self.clear_faults()
                return reply({"faults": []})
            if (method, name) == ("POST", "faults"):
                fields = dict(payload)
                fault = fields.pop("fault", None)
                if not isinstance(fault, str):
                    return reply(
                        {"error": "'fault' (a fault name) is required", "available": FAULT_DOCS}, 400
                    )
                return reply({"armed": self.inject(fault, **fields).to_dict()})
        except (TypeError, ValueError, KeyError) as exc:
            return reply({"error": str(exc)}, 400)
        return reply({"error": f"unknown control endpoint {method} /_emulator/{name}"}, 404)


_PARIS = _paris()


def _paris_now() -> datetime:
    return datetime.now(_PARIS)
