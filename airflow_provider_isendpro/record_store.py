"""The record store: small named records, on a local disk or any object storage.

Every protocol of the provider that must survive a task try, a worker or a machine is built on it: the
send ledger (:mod:`.sending.ledger`), the fence's claims and leases (:mod:`.sending.fencing`), the
notifier's alert markers and throttle windows (:mod:`.notifications`). What they need of it:

- ``create`` is an atomic create-if-absent: two processes racing for one name never both win;
- a record, once written, is whole (never half-written) and, for the protocols above, never rewritten;
- read-after-write and list-after-write consistency: a record written (or created) before a listing
  starts is in that listing. S3 (since December 2020), GCS and Azure Blob give it; so does one journal
  under ``flock`` on a local or shared (NFS, EFS) volume.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TextIO


class RecordStore(Protocol):
    """A folder of small named records (``<name>.json``): what every protocol of the provider is built on."""

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


class LocalRecordStore:
    """A folder on this machine (or a shared NFS/EFS volume) holding one append-only journal.

    Each write appends one JSON line (``{"name": ..., "text": ...}``, or ``"text": null`` to delete);
    the last line for a name wins. Every append (``write``, ``delete`` and ``create``) holds an exclusive
    ``flock`` on the journal, so processes of several machines sharing the volume never interleave their
    lines, and ``create`` checks and appends under the same lock. ``durable`` writes are fsync'ed before
    returning (the folder too, when the journal is created), so a ``pending`` record costs one fsync. A
    line cut short by a crash is ignored when the journal is read back.
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

    @contextmanager
    def _locked(self) -> Iterator[TextIO]:
        """The journal, opened for appending, under an exclusive ``flock`` (released on exit)."""
        import fcntl

        created = not self.path.exists()
        if created:
            self.root.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as journal:
            fcntl.flock(journal.fileno(), fcntl.LOCK_EX)
            try:
                yield journal
            finally:
                fcntl.flock(journal.fileno(), fcntl.LOCK_UN)
        if created:  # the new journal's folder entry survives a crash too
            dir_fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _append(self, journal: TextIO, name: str, text: str | None, durable: bool) -> None:
        """One line, written while the caller holds the lock."""
        records = self._load()
        journal.write(json.dumps({"name": name, "text": text}, separators=(",", ":")) + "\n")
        journal.flush()
        if durable:
            os.fsync(journal.fileno())
        if text is None:
            records.pop(name, None)
        else:
            records[name] = None  # on disk; read() fetches it back if ever asked

    def write(self, name: str, text: str, *, durable: bool = True) -> None:
        with self._locked() as journal:
            self._append(journal, name, text, durable)

    def create(self, name: str, text: str) -> bool:
        """Under the journal's lock: re-read it (other processes append too), then append ``name``
        durably unless it is already there."""
        with self._locked() as journal:
            self._records = None  # another process may have appended since we last read
            if name in self._load():
                return False
            self._append(journal, name, text, durable=True)
            return True

    def delete(self, name: str) -> None:
        with self._locked() as journal:
            self._append(journal, name, None, durable=False)

    def describe(self) -> str:
        return str(self.root)


class ObjectStorageRecordStore:
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


def path_segment(value: str) -> str:
    """A path segment from an Airflow id (run ids hold ':' and '+'), readable and collision-free."""
    clean = _UNSAFE.sub("_", value)
    if clean == value:
        return value
    return f"{clean}~{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def open_record_store(root: str, scope: Iterable[str], conn_id: str | None = None) -> RecordStore:
    """The store under ``root`` for ``scope``, each part made a safe path segment (for a task instance:
    ``<root>/<dag>/<run>/<task>/<map index>/``)."""
    parts = [path_segment(p) for p in scope]
    if "://" in root and not root.startswith("file://"):
        return ObjectStorageRecordStore("/".join([root.rstrip("/"), *parts]), conn_id=conn_id)
    base = Path(root.removeprefix("file://"))
    return LocalRecordStore(base.joinpath(*parts))
