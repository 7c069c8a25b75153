"""The emulator's delivery-receipt callbacks, sent from background threads.

A send only queues its receipts (O(1) under a lock), so the send's answer never waits for a receiver. One
scheduler thread holds the queue ordered by due time and hands each due callback to a small pool of
workers (a slow or hanging receiver holds one worker for at most ``dlr_timeout``). A failed attempt
(connection error, timeout, non-2xx answer) is recorded and retried ``dlr_retries`` times,
``dlr_retry_delay`` seconds apart. Every attempt is kept as a :class:`DlrCall` (``emu.dlr_calls``).
Threads start with the first receipt: an emulator without ``dlr_url`` starts none.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from .dlr import CallbackRequest, Receipt

#: Characters of a receiver's answer kept in a ``DlrCall``.
RESPONSE_CHARS = 500
WORKERS = 4
_USER_AGENT = "iSendProEmulator-DLR/1.0"


@dataclass(frozen=True, slots=True)
class DlrCall:
    """One attempt at one receipt's callback, as the emulator made it."""

    tel: str
    tracker: str | None
    statut: str
    method: str
    url: str
    """The URL called (for ``GET``, with the receipt's parameters in its query string)."""
    body: str | None
    """The form body of a ``POST``."""
    attempt: int
    """1 for the first try."""
    status: int | None
    """The receiver's HTTP status; ``None`` when no answer came (the error is in ``response``)."""
    response: str
    """The start of the receiver's answer, or the connection error."""
    ok: bool
    """A 2xx answer."""
    final: bool
    """No attempt follows (it succeeded, or it was the last retry)."""
    at: float
    """When the attempt ended (epoch seconds)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Job:
    receipt: Receipt
    request: CallbackRequest
    generation: int
    attempt: int = 1


def _post(request: CallbackRequest) -> tuple[int | None, str]:
    """One HTTP call: ``(status, start of the answer)``, or ``(None, the error)``. Proxies are ignored:
    the receiver is wherever the URL says (a loopback receiver must not go through ``http_proxy``)."""
    headers = {"User-Agent": _USER_AGENT}
    if request.body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    http_request = urllib.request.Request(  # noqa: S310 (the configured dlr_url)
        request.url, data=request.body, method=request.method, headers=headers
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(http_request, timeout=request.timeout) as answer:
            return int(answer.status), answer.read(RESPONSE_CHARS).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read(RESPONSE_CHARS).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:  # refused, reset, timed out, bad URL
        reason = getattr(exc, "reason", None) or exc
        return None, f"{type(reason).__name__}: {reason}"[:RESPONSE_CHARS]


class DlrSender:
    """Queue, send, retry and record the callbacks of one emulator."""

    def __init__(self, log: Callable[[str], None], workers: int = WORKERS) -> None:
        self._log = log
        self._workers = workers
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._settled = 0
        self._calls: list[DlrCall] = []
        self._generation = 0
        self._stopping = False
        self._scheduler: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # --- what the emulator calls ------------------------------------------------------------------
    def submit(self, items: list[tuple[Receipt, CallbackRequest, float]]) -> None:
        """Queue ``(receipt, request, delay in seconds from now)`` items; returns at once."""
        if not items:
            return
        now = time.monotonic()
        with self._lock:
            if self._scheduler is None:
                self._start()
            for receipt, request, delay in items:
                job = _Job(receipt, request, self._generation)
                heapq.heappush(self._queue, (now + max(0.0, delay), next(self._seq), job))
            self._changed.notify_all()

    def release(self) -> int:
        """Make every queued receipt due now (a retry's wait included); returns how many."""
        with self._lock:
            now = time.monotonic()
            self._queue = [(now, seq, job) for _, seq, job in self._queue]
            heapq.heapify(self._queue)
            self._changed.notify_all()
            return len(self._queue)

    def clear(self) -> None:
        """Forget queued receipts and recorded calls; a callback in flight is not recorded."""
        with self._lock:
            self._generation += 1
            self._queue.clear()
            self._calls.clear()
            self._settled = 0
            self._changed.notify_all()

    def stop(self) -> None:
        """Drop what is queued, wait for the callbacks in flight (each bounded by its timeout)."""
        with self._lock:
            scheduler, pool = self._scheduler, self._pool
            self._stopping = True
            self._queue.clear()
            self._changed.notify_all()
        if scheduler is not None:
            scheduler.join(timeout=10)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._scheduler, self._pool, self._stopping = None, None, False
            self._in_flight = 0
            self._changed.notify_all()

    # --- what tests read --------------------------------------------------------------------------
    @property
    def calls(self) -> list[DlrCall]:
        with self._lock:
            return list(self._calls)

    @property
    def pending(self) -> int:
        """Receipts queued (not yet due, or waiting for a retry) or being sent."""
        with self._lock:
            return len(self._queue) + self._in_flight

    @property
    def settled(self) -> int:
        """Receipts done with: delivered to the receiver, or given up after the last retry."""
        with self._lock:
            return self._settled

    def summary(self) -> dict[str, Any]:
        """Counts for a control endpoint: receipts ``posted`` by ``statut``, ``gave_up``, ``pending``."""
        with self._lock:
            finals = [call for call in self._calls if call.final]
            posted = Counter(call.statut for call in finals if call.ok)
            return {
                "posted": dict(sorted(posted.items())),
                "gave_up": sum(1 for call in finals if not call.ok),
                "pending": len(self._queue) + self._in_flight,
                "attempts": len(self._calls),
            }

    def wait_settled(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` receipts are settled (posted, or given up after the last retry),
        at most ``timeout`` seconds; ``False`` if that did not happen."""
        with self._changed:
            return self._changed.wait_for(lambda: self._settled >= count, timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or in flight (a receipt not yet due counts as queued)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    # --- threads ----------------------------------------------------------------------------------
    def _start(self) -> None:
        """Under the lock: the scheduler thread and the pool (their threads start on first use)."""
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="isendpro-dlr")
        self._scheduler = threading.Thread(target=self._schedule, name="isendpro-dlr-scheduler", daemon=True)
        self._scheduler.start()

    def _schedule(self) -> None:
        with self._changed:
            while not self._stopping:
                if not self._queue:
                    self._changed.wait()
                    continue
                due, _, job = self._queue[0]
                left = due - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                heapq.heappop(self._queue)
                self._in_flight += 1
                assert self._pool is not None
                self._pool.submit(self._send, job)

    def _send(self, job: _Job) -> None:
        request, receipt = job.request, job.receipt
        status, response = _post(request)
        ok = status is not None and 200 <= status < 300
        final = ok or job.attempt > request.retries
        assert receipt.statut is not None
        call = DlrCall(
            tel=receipt.tel,
            tracker=receipt.tracker,
            statut=receipt.statut,
            method=request.method,
            url=request.url,
            body=request.body.decode("ascii") if request.body is not None else None,
            attempt=job.attempt,
            status=status,
            response=response,
            ok=ok,
            final=final,
            at=time.time(),
        )
        with self._lock:
            self._in_flight -= 1
            current = job.generation == self._generation and not self._stopping
            if current:
                self._calls.append(call)
                if final:
                    self._settled += 1
                else:
                    job.attempt += 1
                    due = time.monotonic() + request.retry_delay
                    heapq.heappush(self._queue, (due, next(self._seq), job))
            self._changed.notify_all()
        if current:
            self._log(_log_line(call, request.retries))


def _log_line(call: DlrCall, retries: int) -> str:
    """One line per attempt, without the URL (its path may hold the receiver's secret) or the key."""
    outcome = str(call.status) if call.status is not None else f"no answer ({call.response})"
    line = f"DLR {call.method} -> {outcome}: {call.tel} statut {call.statut}"
    if call.ok:
        return line
    if call.final:
        return f"{line}, gave up after {call.attempt} attempt{'s' if call.attempt > 1 else ''}"
    return f"{line}, attempt {call.attempt} of {retries + 1}, retrying"
