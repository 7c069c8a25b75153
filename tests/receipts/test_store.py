"""The receipt store on a local folder and on S3 (moto on loopback): idempotent, cheap to poll, purgeable."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_isendpro.receipts import store as store_module
from airflow_provider_isendpro.receipts.model import DeliveryReceipt
from airflow_provider_isendpro.receipts.store import ReceiptStore, record_name, shard_of
from tests.receipts.conftest import CONN_ID

T0 = dt.datetime(2026, 12, 7, 18, 0, tzinfo=dt.timezone.utc)


def receipt(tracker: str, raw: str = "0", status: str = "delivered", at: dt.datetime = T0) -> DeliveryReceipt:
    return DeliveryReceipt(tracker, "0612345678", status, raw, at.isoformat(timespec="microseconds"))


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """The receipts' root and connection id on each backend."""
    if request.param == "local":
        return str(tmp_path / "ledger" / "_receipts"), None
    request.getfixturevalue("s3")
    return f"s3://alerts/{tmp_path.name}/_receipts", CONN_ID


def test_record_is_idempotent_across_store_instances(root: tuple[str, str | None]) -> None:
    first = receipt("abc123")
    assert ReceiptStore(*root).record(first) is True
    assert ReceiptStore(*root).record(first) is False
    # the same tracker, number and raw statut stored later is the same receipt: nothing changes
    assert ReceiptStore(*root).record(receipt("abc123", at=T0 + dt.timedelta(hours=1))) is False
    assert ReceiptStore(*root).receipts_for(["abc123"]) == {"abc123": first}
    shard = ReceiptStore(*root)._shard(shard_of("abc123"))
    assert shard.names() == {record_name(first)}
    assert record_name(first).startswith("abc123.") and record_name(first).endswith(".json")


def test_racing_recorders_store_one_receipt(root: tuple[str, str | None]) -> None:
    """Eight threads, each with its own store (as separate API-server workers), released together."""
    contenders = 8
    barrier = threading.Barrier(contenders)
    results: list[bool] = []

    def record() -> None:
        own = ReceiptStore(*root)
        barrier.wait()
        results.append(own.record(receipt("race1")))

    threads = [threading.Thread(target=record) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * (contenders - 1) + [True]


def test_receipts_for_gives_each_trackers_latest_final_receipt(root: tuple[str, str | None]) -> None:
    store = ReceiptStore(*root)
    later = T0 + dt.timedelta(minutes=5)
    assert store.record(receipt("t1", "3", "pending", at=T0))
    assert store.record(receipt("t1", "1", "failed", at=later))
    assert store.record(receipt("t2", "0", "delivered", at=T0))
    assert store.record(receipt("t2", "3", "pending", at=later))  # late intermediate report
    assert store.record(receipt("t3", "3", "pending", at=T0))
    assert store.record(receipt("t4", "9", "unknown", at=T0))
    assert store.record(receipt("t4", "2", "expired", at=later))
    got = ReceiptStore(*root).receipts_for(["t1", "t2", "t3", "t4", "t5", "bad-tracker!", ""])
    assert {t: (r.status, r.raw_status) for t, r in got.items()} == {
        "t1": ("failed", "1"),
        "t2": ("delivered", "0"),
        "t3": ("pending", "3"),
        "t4": ("expired", "2"),
    }
    assert store.receipts_for([]) == {}


class _Counting:
    """A record store that counts listings and reads."""

    def __init__(self, inner: Any, counts: dict[str, int]) -> None:
        self.inner, self.counts = inner, counts

    def names(self) -> set[str]:
        self.counts["names"] += 1
        return set(self.inner.names())

    def read(self, name: str) -> str:
        self.counts["read"] += 1
        return str(self.inner.read(name))

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)


def test_polling_hundreds_of_trackers_lists_each_shard_once_and_reads_each_receipt_once(
    root: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    trackers = [f"trk{i:05d}" for i in range(300)]
    writer = ReceiptStore(*root)
    for tracker in trackers[:40]:
        writer.record(receipt(tracker))
    counts = {"names": 0, "read": 0}
    opener = store_module.open_record_store
    monkeypatch.setattr(store_module, "open_record_store", lambda *a, **k: _Counting(opener(*a, **k), counts))
    poller = ReceiptStore(*root)
    assert set(poller.receipts_for(trackers)) == set(trackers[:40])
    shards = {shard_of(t) for t in trackers}
    assert counts == {"names": len(shards), "read": 40}
    assert len(shards) == 16
    writer.record(receipt(trackers[40]))
    assert set(poller.receipts_for(trackers)) == set(trackers[:41])
    assert counts == {"names": 32, "read": 41}  # the next poll reads only the new receipt
    # one tracker (an alert's): one listing
    assert set(poller.receipts_for([trackers[0]])) == {trackers[0]}
    assert counts == {"names": 33, "read": 41}


def test_purge_deletes_what_is_older_than_the_cutoff(root: tuple[str, str | None]) -> None:
    store = ReceiptStore(*root)
    assert store.purge(dt.timedelta(days=30), now=T0) == 0  # nothing stored yet
    store.record(receipt("old1", at=T0 - dt.timedelta(days=31)))
    store.record(receipt("old2", "1", "failed", at=T0 - dt.timedelta(days=30, seconds=1)))
    store.record(receipt("new1", at=T0 - dt.timedelta(days=29)))
    assert set(store.receipts_for(["old1", "old2", "new1"])) == {"old1", "old2", "new1"}
    assert ReceiptStore(*root).purge(dt.timedelta(days=30), now=T0) == 2
    assert set(store.receipts_for(["old1", "old2", "new1"])) == {"new1"}
    assert set(ReceiptStore(*root).receipts_for(["old1", "old2", "new1"])) == {"new1"}
    assert store.purge(dt.timedelta(days=30), now=T0) == 0
    with pytest.raises(ValueError, match="older_than must not be negative"):
        store.purge(dt.timedelta(days=-1))


def test_configured_is_under_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", "s3://bucket/isendpro-ledger/")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_CONN_ID", "aws_receipts")
    configured = ReceiptStore.configured()
    assert (configured.root, configured.conn_id) == ("s3://bucket/isendpro-ledger/_receipts", "aws_receipts")
    monkeypatch.delenv("AIRFLOW__ISENDPRO__LEDGER_PATH")
    monkeypatch.delenv("AIRFLOW__ISENDPRO__LEDGER_CONN_ID")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    configured = ReceiptStore.configured()
    assert (configured.root, configured.conn_id) == (f"{tmp_path}/isendpro/ledger/_receipts", None)


def test_a_receipt_with_an_unsafe_tracker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a receipt's tracker must be 1 to 49 letters or digits"):
        ReceiptStore(str(tmp_path)).record(receipt("../escape"))
    assert list(tmp_path.iterdir()) == []
