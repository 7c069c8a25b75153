"""The send ledger's local journal: durable pending records, last write wins, torn lines ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_isendpro.record_store import LocalRecordStore, open_record_store
from airflow_provider_isendpro.sending.ledger import BatchRecord, Ledger, fingerprint


def test_records_round_trip_and_the_last_write_wins(tmp_path: Path) -> None:
    store = LocalRecordStore(tmp_path / "ti")
    ledger = Ledger(store)
    assert ledger.empty
    pending = BatchRecord("abc", "pending", ["t1", "t2"])
    ledger.write(pending)
    ledger.write(BatchRecord("abc", "done", ["t1", "t2"], outcomes={"t1": (0, 1), "t2": (11, None)}))
    again = Ledger(LocalRecordStore(tmp_path / "ti"))  # a retry reads the journal back
    record = again.get("abc")
    assert record is not None and record.state == "done"
    assert record.outcomes == {"t1": (0, 1), "t2": (11, None)}
    assert again.lookup("t2") == ("done", (11, None))
    assert again.lookup("nope") is None


def test_the_writer_reads_back_what_it_wrote_without_holding_it_in_memory(tmp_path: Path) -> None:
    store = LocalRecordStore(tmp_path / "ti")
    store.write("a.json", '{"x": 1}')
    assert store._records == {"a.json": None}  # the text stays on disk only
    assert store.create("b.json", '{"y": 2}') is True
    assert store._records is not None and store._records["b.json"] is None
    assert (store.read("a.json"), store.read("b.json")) == ('{"x": 1}', '{"y": 2}')
    assert store.names() == {"a.json", "b.json"}


def test_only_pending_records_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    ledger = Ledger(LocalRecordStore(tmp_path / "ti"))
    ledger.write(BatchRecord("a", "pending", ["t"]))
    first = len(synced)  # the journal, and its new folder entry
    ledger.write(BatchRecord("a", "done", ["t"], outcomes={"t": (0, 1)}))
    ledger.write(BatchRecord("b", "pending", ["u"]))
    assert first == 2
    assert len(synced) == 3


def test_a_torn_last_line_is_ignored_and_forget_voids_the_pending_record(tmp_path: Path) -> None:
    store = LocalRecordStore(tmp_path / "ti")
    ledger = Ledger(store)
    ledger.write(BatchRecord("a", "pending", ["t"]))
    ledger.write(BatchRecord("b", "pending", ["u"]))
    ledger.forget("b", ["u"])
    with store.path.open("a") as journal:
        journal.write('{"name": "c.t1.pending.json", "text": "{\\"fingerpr')  # the crash cut this write short
    again = Ledger(LocalRecordStore(tmp_path / "ti"), attempt=2)
    assert again.store.names() == {"a.t1.pending.json", "b.t1.pending.json", "b.t1.void.json"}
    pending = again.get("a")
    assert pending is not None and pending.state == "pending"
    assert again.get("b") is None  # voided: iSendPro carried nothing out, the retry sends it
    assert again.get("c") is None


def test_every_state_is_a_new_record_never_a_rewrite(tmp_path: Path) -> None:
    store = LocalRecordStore(tmp_path / "ti")
    written: list[str] = []
    real = store.write
    store.write = lambda name, text, durable=True: (written.append(name), real(name, text, durable=durable))[
        1
    ]  # type: ignore[method-assign]
    first = Ledger(store, attempt=1)
    first.write(BatchRecord("a", "pending", ["t", "u"]))  # try 1 dies here: "a" is in doubt
    first.write(BatchRecord("b", "pending", ["v"]))
    first.write(BatchRecord("b", "unknown", ["v"], reason="read timeout"))
    second = Ledger(store, attempt=2)
    in_doubt = second.get("a")
    assert in_doubt is not None and in_doubt.state == "pending"
    unknown = second.get("b")
    assert unknown is not None and (unknown.state, unknown.reason) == ("unknown", "read timeout")
    second.write(BatchRecord("a", "pending", ["t", "u"]))  # resend_unknown=True
    second.write(BatchRecord("a", "done", ["t", "u"], outcomes={"t": (0, 1), "u": (11, None)}))
    assert written == [
        "a.t1.pending.json", "b.t1.pending.json", "b.t1.unknown.json", "a.t2.pending.json", "a.t2.done.json",
    ]  # fmt: skip
    assert len(set(written)) == len(written)
    third = Ledger(LocalRecordStore(tmp_path / "ti"), attempt=3)
    done = third.get("a")
    assert done is not None and done.state == "done" and done.outcomes == {"t": (0, 1), "u": (11, None)}
    assert third.lookup("u") == ("done", (11, None))
    assert third.lookup("v") == ("unknown", None)


def test_open_store_keeps_run_ids_readable_and_distinct(tmp_path: Path) -> None:
    a = open_record_store(str(tmp_path), ["dag", "manual__2026-01-01T00:00:00+00:00", "send", "-1"])
    b = open_record_store(str(tmp_path), ["dag", "manual__2026-01-01T00_00_00_00_00", "send", "-1"])
    assert a.describe() != b.describe()
    assert "/dag/manual__2026-01-01T00_00_00+00_00~" in a.describe()
    assert b.describe().endswith("/dag/manual__2026-01-01T00_00_00_00_00/send/-1")


def test_fingerprint_depends_on_order_and_content() -> None:
    assert fingerprint(["a", "b"]) == fingerprint(iter(["a", "b"]))
    assert fingerprint(["a", "b"]) != fingerprint(["b", "a"])
    assert len(fingerprint(["a"])) == 32
