"""The send ledger: a durable record of each batch, so that a task retry never texts anyone twice.

Why object storage (a local directory, or any ``ObjectStoragePath`` URL such as ``s3://bucket/ledger``):
Airflow clears XCom at the start of every try, so the record must live outside Airflow's per-try state;
one small object per batch state scales to million-recipient sends, works unchanged on S3, GCS, Azure or
a shared volume, and keeps phone-number outcomes out of the metadata DB and the Variables UI. Where the
ledger lives, and the refusal of a local one under a remote executor, is :mod:`.location`; how two
overlapping tries of one task are kept apart is :mod:`.fencing`.

Protocol per batch, keyed by a fingerprint of its trackers (the same recipients and texts give the same
batch on every try), for try ``N``:

- ``<batch>.tN.pending.json`` (the intent) is written (fsync'ed locally) *before* the fence check and the
  request (see :mod:`.engine` and :mod:`.fencing` for why in that order);
- then ``<batch>.tN.done.json`` (each tracker's code and billed segments) or ``<batch>.tN.unknown.json``
  (no usable answer) after it; or ``<batch>.tN.void.json`` when iSendPro certainly carried nothing out
  (refused whole, never connected, or the fence check stopped this try before the request), which cancels
  that try's ``pending``.

Records are **never rewritten in place**: every state is a new object with a new name, so no reader can
hold a stale copy (s3fs caches each listed object's ETag and fails a read of an object rewritten since with
``FileExpired``), and nothing is ever deleted. A batch is *done* when any try wrote ``done``; *in doubt*
when a try wrote ``unknown``, or ``pending`` without ``done``/``void`` (the worker died, or was cut off,
mid-request, or is frozen between its intent and its request): an in-doubt batch is never resent unless
``resend_unknown=True``; otherwise it was never sent. Tries are ordered by number (try 10 after try 9).
Records live in a :class:`~airflow_provider_isendpro.record_store.RecordStore`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from airflow_provider_isendpro.record_store import RecordStore

State = Literal["pending", "done", "unknown", "void"]
_VERSION = 2
_STATES = ("pending", "done", "unknown", "void")


def fingerprint(trackers: Iterable[str]) -> str:
    """A batch's identity: the same recipients and texts give the same batch on every try."""
    digest = hashlib.sha256()
    for tracker in trackers:
        digest.update(tracker.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:32]


@dataclass
class BatchRecord:
    """What the ledger knows of one batch. ``outcomes`` maps tracker → (code, segments billed)."""

    fingerprint: str
    state: State
    trackers: list[str]
    outcomes: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    reason: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": _VERSION,
                "fingerprint": self.fingerprint,
                "state": self.state,
                "trackers": self.trackers,
                "outcomes": {t: list(o) for t, o in self.outcomes.items()},
                "reason": self.reason,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> BatchRecord:
        data = json.loads(text)
        return cls(
            fingerprint=data["fingerprint"],
            state=data["state"],
            trackers=list(data["trackers"]),
            outcomes={
                t: (int(o[0]), None if o[1] is None else int(o[1])) for t, o in data["outcomes"].items()
            },
            reason=data.get("reason", ""),
        )


class SendFence(Protocol):
    """What a :class:`Ledger` asks of its fence (:class:`~.fencing.Fence`, which sits above this module)."""

    def check(self) -> None: ...
    def release(self, note: str = "") -> None: ...


@dataclass(frozen=True)
class _Name:
    fingerprint: str
    attempt: str
    state: State


def record_name(batch_fingerprint: str, attempt: str, state: State) -> str:
    return f"{batch_fingerprint}.t{attempt}.{state}.json"


def try_order(label: str) -> tuple[int, int]:
    """Sort key of a record's try label: ``"3"`` is try 3, ``"3-1"`` try 3 taken over by a second
    process; try 10 comes after try 9."""
    attempt, _, takeover = label.partition("-")
    try:
        return int(attempt), int(takeover or 0)
    except ValueError:
        return (0, 0)


def _parse(name: str) -> _Name | None:
    parts = name.split(".")
    if len(parts) != 4 or parts[3] != "json" or parts[2] not in _STATES or not parts[1].startswith("t"):
        return None
    return _Name(parts[0], parts[1][1:], parts[2])  # type: ignore[arg-type]


class Ledger:
    """Batch records of one task instance, listed once at start and written as batches go.

    :param attempt: this try's number (or the fence's :attr:`~.fencing.Fence.label`): it goes into every
        record's name, so no try rewrites another's.
    :param fence: checked before every batch (:class:`~.fencing.Fence`); None for no fencing.
    """

    def __init__(self, store: RecordStore, *, attempt: int | str = 1, fence: SendFence | None = None) -> None:
        self.store = store
        self.attempt = str(attempt)
        self.fence = fence
        self._index = self._list()
        self._by_tracker: dict[str, tuple[State, tuple[int, int | None] | None]] | None = None

    def _list(self) -> dict[str, list[_Name]]:
        index: dict[str, list[_Name]] = {}
        for name in self.store.names():
            parsed = _parse(name)
            if parsed is not None:
                index.setdefault(parsed.fingerprint, []).append(parsed)
        return index

    @property
    def empty(self) -> bool:
        return not self._index

    def knows(self, batch_fingerprint: str) -> bool:
        """Whether any try left a record of this batch (a withdrawn intent included)."""
        return batch_fingerprint in self._index

    def describe(self) -> str:
        return self.store.describe()

    def check(self) -> None:
        """Before each batch: raise if a newer try has taken this send over (see :mod:`.fencing`)."""
        if self.fence is not None:
            self.fence.check()

    def close(self, note: str = "") -> None:
        """The send is over: release this try's claim (the next try need not wait for it); ``note``
        says how it ended, for whoever reads the claims later."""
        if self.fence is not None:
            self.fence.release(note)

    def get(self, batch_fingerprint: str, *, fresh: bool = False) -> BatchRecord | None:
        """What every earlier record of this batch adds up to: ``done`` (outcomes merged), ``unknown`` or
        ``pending`` (in doubt), or None when no try may have sent it.

        ``fresh``: list the store again first (records written since this ledger was opened: an older
        try's ``done`` or ``void`` of an intent it had written before this try's claim)."""
        if fresh:
            self._index[batch_fingerprint] = self._list().get(batch_fingerprint, [])
            self._by_tracker = None
        names = self._index.get(batch_fingerprint)
        if not names:
            return None
        records = [
            BatchRecord.from_json(self.store.read(record_name(n.fingerprint, n.attempt, n.state)))
            for n in sorted(names, key=lambda n: (try_order(n.attempt), _STATES.index(n.state)))
        ]
        done = [r for r in records if r.state == "done"]
        if done:
            outcomes: dict[str, tuple[int, int | None]] = {}
            for record in done:
                outcomes.update(record.outcomes)
            return BatchRecord(batch_fingerprint, "done", done[-1].trackers, outcomes=outcomes)
        unknown = [r for r in records if r.state == "unknown"]
        if unknown:
            return unknown[-1]
        voided = {n.attempt for n in names if n.state == "void"}
        open_pending = [n for n in names if n.state == "pending" and n.attempt not in voided]
        if open_pending:
            return next(r for r in records if r.state == "pending")
        return None

    def write(self, record: BatchRecord) -> None:
        """Store ``record`` as a new object. Only ``pending`` must be on disk before the request leaves:
        if a later ``done``/``unknown`` is lost in a crash, the retry sees ``pending`` and treats the batch
        as in doubt, which is the safe reading. So only ``pending`` pays for an fsync."""
        name = record_name(record.fingerprint, self.attempt, record.state)
        self.store.write(name, record.to_json(), durable=record.state == "pending")
        self._index.setdefault(record.fingerprint, []).append(
            _Name(record.fingerprint, self.attempt, record.state)
        )

    def forget(self, batch_fingerprint: str, trackers: list[str]) -> None:
        """Void this try's pending record of a batch that certainly did not reach iSendPro."""
        self.write(BatchRecord(batch_fingerprint, "void", trackers))

    def lookup(self, tracker: str) -> tuple[State, tuple[int, int | None] | None] | None:
        """Per-tracker fallback for a retry whose batches changed shape (input changed between tries).

        Loads every record once; only used when a batch fingerprint is not found in a non-empty ledger.
        """
        if self._by_tracker is None:
            self._by_tracker = dict(self._all_trackers())
        return self._by_tracker.get(tracker)

    def records(self) -> Iterator[BatchRecord]:
        """What the ledger says of every batch an earlier try may have sent (see :meth:`get`)."""
        for batch_fingerprint in sorted(self._index):
            record = self.get(batch_fingerprint)
            if record is not None:
                yield record

    def _all_trackers(self) -> Iterator[tuple[str, tuple[State, tuple[int, int | None] | None]]]:
        for record in self.records():
            for tracker in record.trackers:
                yield tracker, (record.state, record.outcomes.get(tracker))
