"""Fencing: two tries of one send never both send, even when the older one is still running.

Airflow retries a task whose worker it lost (heartbeat timeout) while that worker's task process may in
fact still run (a machine cut off from the network, a process whose group was spared). Two tries would
then walk the same batches at once: the older one sending what the newer one does not yet see in the
ledger. Every try therefore *claims* the send before reading the ledger, and the older try steps aside.

Protocol (all records in the task instance's ledger folder, under ``_claims/``, created with
:meth:`~.ledger.RecordStore.create`, never rewritten):

1. **Claim.** Try ``N`` creates ``tN.0.json`` holding its try number, host, pid, start time, the longest
   time one of its requests can take (``request_bound``: the connection's connect timeout times the
   connection attempts, plus the backoffs between them, plus the read timeout) and its lease expiry. The
   create is atomic (an exclusive ``flock`` locally, a conditional put ``If-None-Match: *`` on S3): if
   ``tN.0.json`` already exists, another process runs the same try: this one refuses while that process
   may be alive (a redelivered Celery message), and takes the claim over (``tN.<k+1>.json``) when it is
   not (its lease is over, or it was a process of this machine that no longer exists: ``airflow tasks
   test`` run again after a crash).
2. **Wait out a live older try.** If an older try holds a lease that has not expired, try ``N`` waits
   until that try's in-flight request can no longer be running: ``min(its lease expiry, its
   request_bound + margin)`` after the claim. The older try checks the claims before every batch (3), so
   after that wait it has either stopped or is between batches and will stop; any batch it had started
   was written ``pending`` before its request left, so try ``N`` reads it as in doubt and never resends
   it. An expired lease is taken over at once: its owner renews it before every batch while it runs, with
   a lease long enough to cover a whole request (twice ``request_bound + margin``), so an expired lease
   means no request of that try can still be in flight. So does an owner on this same machine (same host
   name) whose process no longer exists.
3. **Check before every batch.** Before each batch the running try lists ``_claims/``: a claim of a newer
   try stops it before its next request with :class:`IsendproSupersededError` ("superseded by try M");
   its remaining recipients are reported ``not_sent``. It renews its own lease (``tN.<k>.json``, a new
   object each time) when less than ``request_bound + margin`` is left.

Assumptions. Object storage gives read-after-write consistency for new objects and listings (S3 since
December 2020, GCS and Azure Blob always); a shared volume (NFS, EFS) honours ``flock``. Clocks: waits are
measured with this process's own clock only; lease expiry compares the owner's wall clock (written in the
record) with the reader's wall clock, so workers' clocks must agree within ``margin`` (NTP does far better).
The time between a try's claim check and its request leaving is assumed shorter than ``margin`` (one
ledger write): a process frozen longer than that in between (a paused VM) is the one case fencing
without the server's help cannot exclude.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_isendpro.errors import IsendproConfigError, IsendproSupersededError

__all__ = ["IsendproSupersededError"]  # raised here; defined with the other errors

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import ClientConfig
    from airflow_provider_isendpro.record_store import RecordStore

log = logging.getLogger("airflow_provider_isendpro.sending")

#: Added to a request's bound before a newer try reads the ledger (one ledger write, clock drift).
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
                raise IsendproConfigError(
                    f"try {self.attempt} of this task is already running elsewhere ({other.who()}, claimed "
                    f"the send ledger {self.store.describe()}): this duplicate process sends nothing. Check "
                    "the executor's task delivery (a Celery message delivered twice)"
                )
            log.info("send ledger: %s is over; this process takes its claim over", other.who())
            seq = other.seq + 1
        self._lease, self._taken_at = mine, seq
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

    def _stop_if_newer(self, claims: dict[int, Claim]) -> None:
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
