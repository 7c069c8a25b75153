"""Fencing: two tries of one send never both send a batch, even when the older one is still running.

Airflow retries a task whose worker it lost (heartbeat timeout) while that worker's task process may in
fact still run: a machine cut off from the network, a process whose group was spared, or a whole worker
frozen (a paused VM, a live migration, a stalled container, a long GC pause) that resumes later as if
nothing happened. Any process may freeze between any two instructions for longer than any lease.

**Invariant.** Unless ``resend_unknown=True``, no batch of a task instance is requested by two processes,
whatever the tries, their overlap and their freezes: each batch reaches iSendPro at most once.

Protocol (records under the task instance's ledger folder; claims in ``_claims/``, created with
:meth:`~airflow_provider_isendpro.record_store.RecordStore.create`; nothing is ever rewritten):

1. **Claim, then read.** Try ``N`` creates ``tN.0.json`` (its try number, host, pid, start time, the
   longest time one of its requests can take, ``request_bound``, and its lease expiry) *before* it lists
   the ledger. If ``tN.0.json`` exists, another process runs the same try: while that process may be
   alive (its lease runs), this one raises :class:`IsendproTryAlreadyRunningError` (a Celery message
   delivered twice); when it is not (lease over, or a process of this machine that no longer exists), it
   takes the try over with ``tN.<k+1>.json`` and labels its records ``N-<k+1>``.
2. **Intent, then check, then request** (:mod:`.engine`). Per batch, the running process writes the
   batch's ``pending`` record, *then* lists ``_claims/``, *then* sends. The check stops it
   (:class:`IsendproSupersededError`, "superseded by try M") when a newer try has claimed the send, or
   when the newest claim of its own try is another process's (a take-over); it then writes ``void`` for
   that batch (it did not send it) and reports the rest ``not_sent``. It renews its lease (a new
   ``tN.<k>.json``) when less than ``request_bound + margin`` is left.
3. **A newer try never resends an older try's intent.** It reads a ``pending`` without ``done`` or
   ``void`` as in doubt (reported ``unknown``; re-listed when the batch comes up, so a ``void`` or
   ``done`` written since is seen).

Why it holds. For an older process A and a newer one B, and any batch: B's claim is created before B
lists the ledger; A's intent is written before A lists the claims. If A's intent is in B's listing, B
does not send the batch. If not, B's listing came first, so B's claim precedes A's intent, which precedes
A's check: A sees the claim and stops before its request. Either way at most one of them requests the
batch; with three or more tries the argument holds for every pair. ``void`` is written only after A has
decided not to send, so B sending a withdrawn batch races nothing. ``tests/sending/test_interleavings.py``
checks this over every interleaving of two tries and of one try started twice (with up to two freezes,
each of any length, between any two steps), and of three tries, driving this code, and keeps the
counterexample of the earlier order (check, then intent), which texted a batch twice when a try froze
between its check and its intent.

What it needs of the store: atomic create-if-absent, and linearizable writes and listings (a record whose
write completed before a listing began is in that listing): S3 (since December 2020), GCS and Azure Blob
give it for new objects; so does the local journal under ``flock``, on one disk or an NFS/EFS volume
that honours ``flock``. An eventually consistent listing (some S3-compatible servers, a caching proxy)
breaks it.

What it does not need: synchronised clocks or bounded pauses, for safety. Leases only decide how long a
newer try waits for a live older one (so that the older try's request in flight ends ``done`` rather
than in doubt: ``min(its lease expiry, its request_bound + margin)``) and when a same-try take-over is
allowed; a wrong clock or a longer freeze costs batches reported in doubt, never a second request.

What remains: ``resend_unknown=True`` resends in-doubt batches by request, so a batch whose older try is
frozen between its check and its request may then go twice. Nothing else: a retry whose input changed
between tries (its batches no longer match the earlier ones, so it settles recipient by recipient) is
just as safe, though it reads the earlier records only as listed at its start, so an intent withdrawn
since still reads as in doubt there.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_isendpro.errors import IsendproSupersededError, IsendproTryAlreadyRunningError

__all__ = ["IsendproSupersededError", "IsendproTryAlreadyRunningError"]  # raised here; defined in errors

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import ClientConfig
    from airflow_provider_isendpro.record_store import RecordStore

log = logging.getLogger("airflow_provider_isendpro.sending")

#: Added to a request's bound before a newer try reads the ledger (a ledger write, clock drift).
DEFAULT_MARGIN = 10.0


class Clock(Protocol):
    """Time for the fence: the wall clock (``time``) and a way to wait (``sleep``). Injected in tests."""

    def time(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def request_bound(config: ClientConfig) -> float:
    """The longest one send call can last: every connection attempt (a send is retried only while
    nothing reached iSendPro), the backoffs between them, and the read timeout of the last one."""
    retry = config.retry
    waits = range(retry.max_attempts - 1)
    backoffs = sum(min(retry.backoff_max, retry.backoff_initial * 2.0**i) for i in waits)
    return retry.max_attempts * config.connect_timeout + backoffs + config.read_timeout


@dataclass(frozen=True)
class Claim:
    """One try's claim on a send, or a renewal of its lease (``seq`` > 0)."""

    attempt: int
    seq: int
    host: str
    pid: int
    started: float
    lease_until: float
    request_bound: float
    #: on the record a try writes when it ends: how it ended ("" for success, else the error).
    note: str = ""

    @property
    def name(self) -> str:
        return f"t{self.attempt}.{self.seq}.json"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Claim:
        data: dict[str, Any] = json.loads(text)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def who(self) -> str:
        return f"try {self.attempt} (host {self.host}, pid {self.pid})"


def _parse_name(name: str) -> tuple[int, int] | None:
    parts = name.split(".")
    if len(parts) != 3 or parts[2] != "json" or not parts[0].startswith("t"):
        return None
    try:
        return int(parts[0][1:]), int(parts[1])
    except ValueError:
        return None


@dataclass
class Fence:
    """The claim of one try (``attempt``) on one send's ledger folder; see the module docstring."""

    store: RecordStore
    attempt: int
    bound: float
    margin: float = DEFAULT_MARGIN
    clock: Clock = field(default_factory=SystemClock)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    _lease: Claim | None = None
    #: when this process claimed its try: with host and pid, what tells its own claim records apart.
    _lease_started: float = -1.0
    _taken_at: int = 0

    @property
    def lease_length(self) -> float:
        return 2 * (self.bound + self.margin)

    def _latest(self) -> dict[int, Claim]:
        """The newest record of every try that has claimed this send."""
        newest: dict[int, int] = {}
        for name in self.store.names():
            parsed = _parse_name(name)
            if parsed is not None and parsed[1] >= newest.get(parsed[0], -1):
                newest[parsed[0]] = parsed[1]
        return {a: Claim.from_json(self.store.read(f"t{a}.{s}.json")) for a, s in newest.items()}

    def _record(self, seq: int, started: float) -> Claim:
        now = self.clock.time()
        return Claim(self.attempt, seq, self.host, self.pid, started, now + self.lease_length, self.bound)

    @property
    def label(self) -> str:
        """This process's name in the ledger's records: the try number, and the claim's sequence when
        it took over a dead process of the same try (``airflow tasks test`` run again after a crash)."""
        if self._lease is None:
            raise RuntimeError("Fence.label before Fence.claim()")
        return str(self.attempt) if self._taken_at == 0 else f"{self.attempt}-{self._taken_at}"

    def _alive(self, claim: Claim, now: float) -> bool:
        """Whether ``claim``'s owner may still be sending: its lease runs, and it is not a process of
        this machine that is known to be gone."""
        if claim.lease_until <= now:
            return False
        if claim.host == self.host and claim.pid != self.pid:
            try:
                os.kill(claim.pid, 0)
            except ProcessLookupError:
                return False  # same machine, no such process: it died (a PID reused is read as alive)
            except PermissionError:
                return True
        return True

    def claim(self) -> None:
        """Claim the send for this try; wait out a live older try; refuse if this try is already run."""
        seq = 0
        while True:
            mine = self._record(seq, self.clock.time())
            if self.store.create(mine.name, mine.to_json()):
                break
            other = self._latest()[self.attempt]
            if self._alive(other, self.clock.time()):
                raise IsendproTryAlreadyRunningError(
                    f"try {self.attempt} of this task is already running elsewhere ({other.who()}, claimed "
                    f"the send ledger {self.store.describe()}): this second process of the same try sends "
                    "nothing; the first one carries the send on. The executor started the try twice (a "
                    "Celery message delivered again): nothing to fix in the task"
                )
            log.info("send ledger: %s is over; this process takes its claim over", other.who())
            seq = other.seq + 1
        self._lease, self._taken_at, self._lease_started = mine, seq, mine.started
        claims = self._latest()
        self._stop_if_newer(claims)
        now = self.clock.time()
        older = [c for a, c in claims.items() if a < self.attempt]
        live = [c for c in older if self._alive(c, now)]
        if not live:
            if older:
                log.info(
                    "send ledger: %s no longer holds a lease: taken over at once",
                    ", ".join(c.who() for c in older),
                )
            return
        wait = max(min(c.lease_until - now, c.request_bound + self.margin) for c in live)
        holders = ", ".join(c.who() for c in live)
        log.warning(
            "send ledger: %s still holds a live lease; waiting %.0f s, until any request it had in flight is "
            "over, before reading the ledger (its batches will read as sent or in doubt)",
            holders, wait,
        )  # fmt: skip
        self.clock.sleep(wait)
        self._stop_if_newer(self._latest())

    def _is_mine(self, claim: Claim) -> bool:
        return (claim.host, claim.pid, claim.started) == (self.host, self.pid, self._lease_started)

    def _stop_if_newer(self, claims: dict[int, Claim]) -> None:
        own = claims.get(self.attempt)
        if own is not None and not self._is_mine(own):
            raise IsendproSupersededError(
                f"try {self.attempt} was taken over by another process ({own.who()}), which claimed the "
                f"send ledger {self.store.describe()} after this process's lease ran out: this process "
                "stops before its next request"
            )
        newer = [c for a, c in claims.items() if a > self.attempt]
        if newer:
            top = max(newer, key=lambda c: c.attempt)
            raise IsendproSupersededError(
                f"superseded by try {top.attempt} (host {top.host}, pid {top.pid}), which claimed the send "
                f"ledger {self.store.describe()}: try {self.attempt} stops before its next request; the "
                f"newer try sends what is left"
            )

    def check(self) -> None:
        """Before a batch: stop if a newer try has claimed the send; renew this try's lease if due."""
        if self._lease is None:
            raise RuntimeError("Fence.check() before Fence.claim()")
        self._stop_if_newer(self._latest())
        if self._lease.lease_until - self.clock.time() < self.bound + self.margin:
            renewed = self._record(self._lease.seq + 1, self._lease.started)
            if not self.store.create(renewed.name, renewed.to_json()):
                raise IsendproSupersededError(
                    f"the lease record {renewed.name} of try {self.attempt} was written by another process: "
                    "this process stops before its next request"
                )
            self._lease = renewed

    def release(self, note: str = "") -> None:
        """This try is over (it ended, by success or error): a record whose lease has already expired,
        so that the next try starts at once, saying how it ended (``note``: the error, e.g. "superseded by
        try 2"). A try that is killed never gets here: its lease runs out."""
        if self._lease is None:
            return
        ended = Claim(
            self.attempt, self._lease.seq + 1, self.host, self.pid, self._lease.started,
            self.clock.time(), self.bound, note,
        )  # fmt: skip
        try:
            if self.store.create(ended.name, ended.to_json()):
                self._lease = None
        except Exception as exc:  # the send is over; a lease left to expire only delays the next try
            log.warning("send ledger: could not release the lease of try %d: %s", self.attempt, exc)
