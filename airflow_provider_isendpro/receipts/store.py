"""Where delivery receipts are kept: the send ledger's own storage, under ``_receipts``.

The receiver (on the API server) writes; the delivery sensor and its trigger (on workers and triggerers)
read. So the receipts live where the send ledger lives (``[isendpro] ledger_path`` /
``ledger_conn_id``, S3 or another object store in distributed deployments), reachable by every
component and surviving restarts.

Layout: ``<ledger>/_receipts/<shard>/<tracker>.<digest>.json`` where

- ``<shard>`` is the first hex digit of the tracker's SHA-256 (16 shards): :meth:`ReceiptStore.receipts_for`
  lists only the shards its trackers fall in, so a wait for one alert's tracker costs one listing (of a
  sixteenth of the receipts) and a wait for hundreds of trackers at most 16, never one per tracker;
- the record's name carries the tracker (a listing tells which trackers have receipts without reading
  them) and ``<digest>``, a hash of tracker, number and raw ``statut``: a replayed callback maps to the
  same name and the store's atomic ``create`` refuses it, so a replay stores nothing, across processes.

Records are never rewritten, so one :class:`ReceiptStore` keeps those it has read: a sensor polling the
same trackers reads each receipt once (one GET per receipt on S3), then only lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from airflow_provider_isendpro.receipts.config import receipts_configured
from airflow_provider_isendpro.receipts.model import TRACKER_PATTERN, DeliveryReceipt, utc_iso
from airflow_provider_isendpro.record_store import RecordStore, open_record_store

if TYPE_CHECKING:
    from airflow_provider_isendpro.sending.location import LedgerLocation

__all__ = ["RECEIPTS_FOLDER", "ReceiptStore", "receipts_configured"]

#: The receipts' folder under the ledger's root (beside the notifier's ``_notifier``).
RECEIPTS_FOLDER = "_receipts"
SHARDS = "0123456789abcdef"


def shard_of(tracker: str) -> str:
    """The shard (one hex digit) a tracker's receipts are kept in."""
    return hashlib.sha256(tracker.encode()).hexdigest()[0]


def record_name(receipt: DeliveryReceipt) -> str:
    """``<tracker>.<digest>.json``: the same receipt (tracker, number, raw statut) gives the same name."""
    key = "\x1f".join((receipt.tracker, receipt.number, receipt.raw_status))
    return f"{receipt.tracker}.{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def _rank(receipt: DeliveryReceipt, name: str) -> tuple[bool, str, str]:
    """Which of a tracker's receipts is its latest: a final one over an intermediate one (a ``pending``
    arriving late must not hide a ``delivered``), then the latest stored, then the name (a stable tie)."""
    return (receipt.is_final, receipt.received_at, name)


def unshared_storage() -> tuple[LedgerLocation, list[str]] | None:
    """The ledger location and the remote executors when receipts would sit on one machine's local disk
    while tasks run on others; None when every component reads the same store.

    The receiver on the API server and the sensor (a worker, or the triggerer) read one store: on a
    local disk that holds only when they share the machine, which a remote executor does not promise.
    """
    from airflow_provider_isendpro.sending.location import remote_executors, resolve_ledger

    location = resolve_ledger()
    remote = remote_executors() if location.is_local and not location.declared_shared else []
    return (location, remote) if remote else None


class ReceiptStore:
    """The receipts, over the :class:`RecordStore` of each shard (the sync API; the trigger calls it
    through ``asyncio.to_thread``). Thread-safe: the API server may record from several threads."""

    def __init__(self, root: str, conn_id: str | None = None) -> None:
        """:param root: the receipts' folder or URL (``<ledger root>/_receipts``)."""
        self.root = root
        self.conn_id = conn_id
        self._stores: dict[str, RecordStore] = {}
        self._cache: dict[tuple[str, str], DeliveryReceipt] = {}
        self._lock = threading.Lock()

    @classmethod
    def configured(cls) -> ReceiptStore:
        """The store under the configured ledger (``[isendpro] ledger_path`` / ``ledger_conn_id``)."""
        from airflow_provider_isendpro.sending.location import resolve_ledger

        location = resolve_ledger().child(RECEIPTS_FOLDER)
        return cls(location.root, location.conn_id)

    def describe(self) -> str:
        return self.root

    def _shard(self, shard: str) -> RecordStore:
        with self._lock:
            store = self._stores.get(shard)
            if store is None:
                store = self._stores[shard] = open_record_store(self.root, [shard], self.conn_id)
            return store

    def record(self, receipt: DeliveryReceipt) -> bool:
        """Store ``receipt``; False (and nothing stored) if the same tracker, number and raw ``statut``
        is already there: a replayed callback."""
        if TRACKER_PATTERN.fullmatch(receipt.tracker) is None:
            raise ValueError("a receipt's tracker must be 1 to 49 letters or digits")
        return self._shard(shard_of(receipt.tracker)).create(record_name(receipt), receipt.to_json())

    def _read(self, shard: str, store: RecordStore, name: str) -> DeliveryReceipt | None:
        key = (shard, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            receipt = DeliveryReceipt.from_json(store.read(name))
        except (KeyError, FileNotFoundError):  # purged between the listing and the read
            return None
        with self._lock:
            self._cache[key] = receipt
        return receipt

    def _names_by_tracker(self, shard: str, store: RecordStore) -> dict[str, list[str]]:
        by_tracker: dict[str, list[str]] = {}
        for name in store.names():
            tracker = name.split(".", 1)[0]
            by_tracker.setdefault(tracker, []).append(name)
        return by_tracker

    def receipts_for(self, trackers: Iterable[str]) -> dict[str, DeliveryReceipt]:
        """The latest receipt of each tracker that has one (see :func:`_rank`); others are absent.

        One listing per shard the trackers fall in (at most 16), one read per receipt not read before.
        """
        wanted: dict[str, set[str]] = {}
        for tracker in trackers:
            if TRACKER_PATTERN.fullmatch(tracker):
                wanted.setdefault(shard_of(tracker), set()).add(tracker)
        latest: dict[str, DeliveryReceipt] = {}
        for shard, shard_trackers in sorted(wanted.items()):
            store = self._shard(shard)
            for tracker, names in self._names_by_tracker(shard, store).items():
                if tracker not in shard_trackers:
                    continue
                best: tuple[tuple[bool, str, str], DeliveryReceipt] | None = None
                for name in names:
                    receipt = self._read(shard, store, name)
                    if receipt is not None and (best is None or _rank(receipt, name) > best[0]):
                        best = (_rank(receipt, name), receipt)
                if best is not None:
                    latest[tracker] = best[1]
        return latest

    def purge(self, older_than: dt.timedelta, *, now: dt.datetime | None = None) -> int:
        """Delete the receipts stored more than ``older_than`` ago; the number deleted.

        Lists every shard and reads each receipt not read before (its ``received_at``): run it daily or
        weekly from a maintenance DAG (docs/receipts.md), not from every sensor.
        """
        if older_than < dt.timedelta(0):
            raise ValueError("older_than must not be negative")
        cutoff = utc_iso((now or dt.datetime.now(dt.timezone.utc)) - older_than)
        deleted = 0
        for shard in SHARDS:
            store = self._shard(shard)
            for names in self._names_by_tracker(shard, store).values():
                for name in names:
                    receipt = self._read(shard, store, name)
                    if receipt is not None and receipt.received_at < cutoff:
                        store.delete(name)
                        with self._lock:
                            self._cache.pop((shard, name), None)
                        deleted += 1
        return deleted
