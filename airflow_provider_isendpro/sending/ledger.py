"""The send ledger: a durable record of each batch, so that a task retry never texts anyone twice.

Why object storage (a local directory, or any ``ObjectStoragePath`` URL such as ``s3://bucket/ledger``):
Airflow clears XCom at the start of every try, so the record must live outside Airflow's per-try state;
one small object per batch state scales to million-recipient sends, works unchanged on S3, GCS, Azure or
a shared volume, and keeps phone-number outcomes out of the metadata DB and the Variables UI. Where the
ledger lives, and the refusal of a local one under a remote executor, is :mod:`.location`; how two
overlapping tries of one task are kept apart is :mod:`.fencing`.

Protocol per batch, keyed by a fingerprint of its trackers (the same recipients and texts give the same
batch on every try), for try ``N``:

- ``<batch>.tN.pending.json`` is written (fsync'ed locally) *before* the request leaves;
- then ``<batch>.tN.done.json`` (each tracker's code and billed segments) or ``<batch>.tN.unknown.json``
  (no usable answer) after it; or ``<batch>.tN.void.json`` when iSendPro certainly carried nothing out
  (refused whole, never connected), which cancels that try's ``pending``.

Records are **never rewritten in place**: every state is a new object with a new name, so no reader can
hold a stale copy (s3fs caches each listed object's ETag and fails a read of an object rewritten since with
``FileExpired``), and nothing is ever deleted. A batch is *done* when any try wrote ``done``; *in doubt*
when a try wrote ``unknown``, or ``pending`` without ``done``/``void`` (the worker died, or was cut off,
mid-request): an in-doubt batch is never resent unless ``resend_unknown=True``; otherwise it was never
sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

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


class LedgerStore(Protocol):
    """Where records live: names are ``<fingerprint>.json`` under one task instance's folder."""

    def names(self) -> set[str]: ...
    def read(self, name: str) -> str: ...
    def write(self, name: str, text: str, *, durable: bool = True) -> None: ...
    def create(self, name: str, text: str) -> bool:
        """Write ``name`` only if no record of that name exists, atomically: True if this call wrote it.

        Two processes racing for the same name never both get True (the basis of claims and of the
        notifier's throttle windows)."""
        ...

    def delete(self, name: str) -> None: ...
    def describe(self) -> str: ...


class LocalLedgerStore:
    """A folder on this machine holding one append-only journal per task instance.

    Each write appends one JSON line (``{"name": ..., "text": ...}``, or ``"text": null`` to delete);
    the last line for a name wins. ``durable`` writes are fsync'ed before returning (the folder too,
    when the journal is created), so a ``pending`` record costs one fsync. A line cut short by a crash
    is ignored when the journal is read back.
    """

    JOURNAL = "journal.jsonl"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.path = self.root / self.JOURNAL
        #: name -> text, or None for a record this process wrote and did not keep in memory (a long send
        #: writes thousands of records it never reads again: 1,000,000 recipients would hold ~30 MB).
        self._records: dict[str, str | None] | None = None

    def _load(self) -> dict[str, str | None]:
        if self._records is None:
            self._records = {}
            if self.path.is_file():
                with self.path.open(encoding="utf-8") as journal:
                    for line in journal:
                        try:
                            entry = json.loads(line)
                        except ValueError:
                            continue  # a torn last line: that write never completed
                        if entry.get("text") is None:
                            self._records.pop(entry["name"], None)
                        else:
                            self._records[entry["name"]] = entry["text"]
        return self._records

    def names(self) -> set[str]:
        """Every record name, re-read from the journal (other processes may have appended)."""
        self._records = None
        return set(self._load())

    def read(self, name: str) -> str:
        text = self._load()[name]
        if text is None:  # written by this process and not kept: read the journal again
            self._records = None
            text = self._load()[name]
        if text is None:  # cannot happen: _load keeps every text it reads
            raise KeyError(name)
        return text

    def _append(self, name: str, text: str | None, durable: bool) -> None:
        records = self._load()
        created = not self.path.exists()
        if created:
            self.root.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as journal:
            journal.write(json.dumps({"name": name, "text": text}, separators=(",", ":")) + "\n")
            if durable:
                journal.flush()
                os.fsync(journal.fileno())
        if durable and created:
            dir_fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        if text is None:
            records.pop(name, None)
        else:
            records[name] = None  # on disk; read() fetches it back if ever asked

    def write(self, name: str, text: str, *, durable: bool = True) -> None:
        self._append(name, text, durable)

    def create(self, name: str, text: str) -> bool:
        """Under an exclusive ``flock`` on the journal: re-read it (other processes append too), then
        append ``name`` durably unless it is already there."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as journal:
            fcntl.flock(journal.fileno(), fcntl.LOCK_EX)
            try:
                self._records = None  # another process may have appended since we last read
                if name in self._load():
                    return False
                self._append(name, text, durable=True)
                return True
            finally:
                fcntl.flock(journal.fileno(), fcntl.LOCK_UN)

    def delete(self, name: str) -> None:
        self._append(name, None, durable=False)

    def describe(self) -> str:
        return str(self.root)


class ObjectStorageLedgerStore:
    """An Airflow ``ObjectStoragePath`` folder (s3://, gs://, abfs://...): one object per record.

    Object stores write whole objects, so a record is never half-written there either. ``conn_id`` (from
    ``ledger_conn_id`` or ``[isendpro] ledger_conn_id``) names the Airflow connection whose credentials
    are used, e.g. ``aws_default``; without it, the storage library's default chain.
    """

    def __init__(self, url: str, conn_id: str | None = None) -> None:
        from airflow.sdk import ObjectStoragePath

        self.root = ObjectStoragePath(url, conn_id=conn_id)

    def names(self) -> set[str]:
        """Every record name, listed afresh (fsspec caches listings; another worker may have written).

        One listing, no "exists?" first: an object store has no folders, only key prefixes, so a folder
        holding nothing but a rival's claim vanishes when that claim is deleted, between the two calls.
        """
        invalidate = getattr(self.root.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate(self.root.path)
        try:
            children = list(self.root.iterdir())
        except (FileNotFoundError, NotADirectoryError):  # nothing stored under this prefix (any more)
            return set()
        return {p.name for p in children if p.name.endswith(".json") and not p.name.startswith("_claim.")}

    def read(self, name: str) -> str:
        return str((self.root / name).read_text())

    def write(self, name: str, text: str, *, durable: bool = True) -> None:
        (self.root / name).write_text(text)  # an object store acknowledges a PUT once it is stored

    #: Filesystems whose ``pipe_file(mode="create")`` is an atomic conditional write: s3fs sends
    #: ``If-None-Match: *`` (AWS S3, MinIO, moto). Elsewhere fsspec's default checks, then writes,
    #: which two writers can both pass: :meth:`_claim_then_verify` is used instead.
    ATOMIC_CREATE: frozenset[str] = frozenset({"s3fs.core.S3FileSystem"})
    #: A claim older than this was left by a process that died: ignored.
    CLAIM_TTL = 60.0

    def create(self, name: str, text: str) -> bool:
        """A conditional put (``If-None-Match: *`` on S3) through fsspec's ``mode="create"`` where the
        backend makes it atomic, else :meth:`_claim_then_verify`."""
        target = self.root / name
        fs = target.fs
        if f"{type(fs).__module__}.{type(fs).__qualname__}" not in self.ATOMIC_CREATE:
            return self._claim_then_verify(name, text)
        try:
            fs.pipe_file(target.path, text.encode(), mode="create")
        except FileExistsError:
            return False
        return True

    def _claim_then_verify(self, name: str, text: str) -> bool:
        """Create-if-absent from plain writes and listings (needs read-after-write and list-after-write
        consistency, as S3, GCS and Azure Blob give):

        1. ``name`` exists: lose. 2. Write a claim object unique to this call
        (``_claim.<name>.<time_ns>.<random>.json``), list the claims for ``name``. 3. Alone (ignoring
        claims older than :data:`CLAIM_TTL`) and ``name`` still absent: write ``name``, *then* delete the
        claim, and win. 4. Not alone: delete the claim, wait a random 20-200 ms, start again.

        Two contenders never both win: whichever lists second sees the first's claim, or, if that claim
        is already deleted, the ``name`` written before its deletion. Both may see each other and retreat;
        the random wait breaks the tie. After 20 rounds: :class:`TimeoutError` (callers fail open).
        """
        import random
        import time
        import uuid

        prefix = f"_claim.{name}."
        for _ in range(20):
            if (self.root / name).exists():
                return False
            now = time.time_ns()
            claim = f"{prefix}{now}.{uuid.uuid4().hex}.json"
            (self.root / claim).write_text("")
            rivals = [
                p.name
                for p in self.root.iterdir()
                if p.name.startswith(prefix)
                and p.name != claim
                and now - int(p.name[len(prefix) :].split(".")[0]) < self.CLAIM_TTL * 1e9
            ]
            if not rivals and not (self.root / name).exists():
                (self.root / name).write_text(text)
                (self.root / claim).unlink(missing_ok=True)
                return True
            (self.root / claim).unlink(missing_ok=True)
            time.sleep(random.uniform(0.02, 0.2))  # a back-off, not a secret
        raise TimeoutError(f"could not create {name} in {self.root}: too many concurrent claims")

    def delete(self, name: str) -> None:
        target = self.root / name
        target.unlink(missing_ok=True)  # two processes releasing the same window: both succeed

    def describe(self) -> str:
        return str(self.root)


_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")


def _segment(value: str) -> str:
    """A path segment from an Airflow id (run ids hold ':' and '+'), readable and collision-free."""
    clean = _UNSAFE.sub("_", value)
    if clean == value:
        return value
    return f"{clean}~{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def open_store(root: str, scope: Iterable[str], conn_id: str | None = None) -> LedgerStore:
    """The store for one task instance: ``<root>/<dag>/<run>/<task>/<map index>/``."""
    parts = [_segment(p) for p in scope]
    if "://" in root and not root.startswith("file://"):
        return ObjectStorageLedgerStore("/".join([root.rstrip("/"), *parts]), conn_id=conn_id)
    base = Path(root.removeprefix("file://"))
    return LocalLedgerStore(base.joinpath(*parts))


@dataclass(frozen=True)
class _Name:
    fingerprint: str
    attempt: str
    state: State


def record_name(batch_fingerprint: str, attempt: str, state: State) -> str:
    return f"{batch_fingerprint}.t{attempt}.{state}.json"


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

    def __init__(self, store: LedgerStore, *, attempt: int | str = 1, fence: SendFence | None = None) -> None:
        self.store = store
        self.attempt = str(attempt)
        self.fence = fence
        self._index: dict[str, list[_Name]] = {}
        for name in store.names():
            parsed = _parse(name)
            if parsed is not None:
                self._index.setdefault(parsed.fingerprint, []).append(parsed)
        self._by_tracker: dict[str, tuple[State, tuple[int, int | None] | None]] | None = None

    @property
    def empty(self) -> bool:
        return not self._index

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

    def get(self, batch_fingerprint: str) -> BatchRecord | None:
        """What every earlier record of this batch adds up to: ``done`` (outcomes merged), ``unknown`` or
        ``pending`` (in doubt), or None when no try may have sent it."""
        names = self._index.get(batch_fingerprint)
        if not names:
            return None
        records = [
            BatchRecord.from_json(self.store.read(record_name(n.fingerprint, n.attempt, n.state)))
            for n in sorted(names, key=lambda n: (n.attempt, _STATES.index(n.state)))
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
