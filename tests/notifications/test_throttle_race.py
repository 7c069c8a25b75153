"""Processes racing for one throttle window, or for one alert's de-duplication marker: exactly one SMS,
on a local folder and on S3.

The processes are real (``spawn``), released together by a barrier; the S3-compatible server is
``moto[server]`` on a free loopback port, reached through s3fs (conditional PUT ``If-None-Match: *``).
"""

from __future__ import annotations

import json
import multiprocessing
import re
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_isendpro.testing import IsendproEmulator

pytestmark = pytest.mark.integration

PROCESSES = 5
ONCALL = "06 12 34 56 78"
NUMBER_FOLDER = "eb8ee2449ad37fd3"  # throttle.number_folder("0612345678")
#: The ledger's connection id (``ledger_conn_id``), attached to the loopback server in every process.
CONN_ID = "moto_ledger"
FAKE_S3 = {
    "key": "fake-access-key",
    "secret": "fake-secret-key",
    "client_kwargs": {"region_name": "us-east-1"},
}


def _attach_s3(endpoint: str | None, fallback: bool = False) -> None:
    """Point Airflow's ``s3://`` object storage at the loopback server (as the amazon provider would);
    ``fallback``: use the claim-then-verify protocol instead of the conditional PUT."""
    if endpoint is None:
        return
    if fallback:
        from airflow_provider_isendpro.record_store import ObjectStorageRecordStore

        ObjectStorageRecordStore.ATOMIC_CREATE = frozenset()
    import s3fs
    from airflow.sdk.io import attach

    attach("s3", conn_id=CONN_ID, fs=s3fs.S3FileSystem(endpoint_url=endpoint, **FAKE_S3))


def _create(root: str, endpoint: str | None, fallback: bool, barrier: Any, results: Any) -> None:
    from airflow_provider_isendpro.record_store import open_record_store

    _attach_s3(endpoint, fallback)
    store = open_record_store(root, ["race"], CONN_ID if endpoint else None)
    store.names()  # warm up (connections, listing caches) before the start line
    barrier.wait()
    results.put(store.create("w00000001.json", json.dumps({"pid": multiprocessing.current_process().name})))


def _alert(ledger: str, endpoint: str | None, fallback: bool, barrier: Any, index: int, results: Any) -> None:
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier
    from tests.notifications.conftest import task_context

    _attach_s3(endpoint, fallback)
    conn_id = CONN_ID if endpoint else None
    notifier = IsendproNotifier(
        to=ONCALL, text="KO {{ ti.map_index }}", ledger_path=ledger, ledger_conn_id=conn_id
    )
    barrier.wait()
    notifier(task_context(ValueError("source down"), map_index=index))
    results.put(index)


class _ListedTogether:
    """A record store whose first listing, once it returned, waits for every process's first listing: so
    every process has read the alert's marker before any of them writes it (the widest race, made certain
    instead of left to the scheduler: released by the start barrier alone, a process often claims before
    the others have read)."""

    def __init__(self, store: Any, barrier: Any) -> None:
        self.store = store
        self.barrier = barrier

    def names(self) -> set[str]:
        names: set[str] = self.store.names()
        if self.barrier is not None:
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=120)
        return names

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _same_alert(
    ledger: str,
    endpoint: str | None,
    fallback: bool,
    throttle: str | None,
    barrier: Any,
    index: int,
    results: Any,
) -> None:
    """One invocation of the callback of one event (the same task instance and try in every process)."""
    from airflow_provider_isendpro import record_store
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier
    from tests.notifications.conftest import task_context

    _attach_s3(endpoint, fallback)
    opener = record_store.open_record_store

    def open_listed_together(root: str, scope: Any, conn_id: str | None = None) -> Any:
        store = opener(root, scope, conn_id)
        return _ListedTogether(store, barrier) if root.rstrip("/").endswith("/_notifier") else store

    record_store.open_record_store = open_listed_together  # the markers' folder only, not the throttle's
    conn_id = CONN_ID if endpoint else None
    notifier = IsendproNotifier(
        to=ONCALL, text="KO {{ ti.map_index }}", ledger_path=ledger, ledger_conn_id=conn_id, throttle=throttle
    )
    barrier.wait()
    notifier(task_context(ValueError("source down"), map_index=0))
    results.put(index)


def _run(target: Any, *args: Any) -> list[Any]:
    """Run ``target(*args, barrier, [index,] queue)`` in PROCESSES spawned processes; their results."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = []
    for index in range(PROCESSES):
        extra = (index,) if target is not _create else ()
        procs.append(ctx.Process(target=target, args=(*args, barrier, *extra, results)))
    for proc in procs:
        proc.start()
    out = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return out


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port with an ``alerts`` bucket; stopped after the module."""
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3fs.S3FileSystem(endpoint_url=endpoint, **FAKE_S3).call_s3("create_bucket", Bucket="alerts")
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Iterator[str]:
    """This process's ``s3://`` store attached to the loopback server (detached afterwards)."""
    from airflow.sdk.io.store import _STORE_CACHE

    _attach_s3(s3_endpoint)
    try:
        yield s3_endpoint
    finally:
        _STORE_CACHE.pop(f"s3-{CONN_ID}", None)


BACKENDS = ["local", "s3", "s3-claim-then-verify"]


@pytest.fixture
def fallback(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """True for the claim-then-verify backend (in this process too, for the reads that follow)."""
    from airflow_provider_isendpro.record_store import ObjectStorageRecordStore

    on = request.node.callspec.params["backend"] == "s3-claim-then-verify"
    if on:
        monkeypatch.setattr(ObjectStorageRecordStore, "ATOMIC_CREATE", frozenset())
    return on


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_if_absent_has_one_winner(
    backend: str, fallback: bool, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    from airflow_provider_isendpro.record_store import open_record_store

    endpoint = request.getfixturevalue("s3") if backend != "local" else None
    root = f"s3://alerts/{tmp_path.name}" if endpoint else str(tmp_path / "ledger")
    assert sorted(_run(_create, root, endpoint, fallback)) == [False] * (PROCESSES - 1) + [True]
    assert open_record_store(root, ["race"], CONN_ID if endpoint else None).names() == {"w00000001.json"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_failing_at_the_same_instant_send_one_sms(
    backend: str,
    fallback: bool,
    isendpro_emulator: IsendproEmulator,
    tmp_path: Any,
    request: pytest.FixtureRequest,
) -> None:
    from airflow_provider_isendpro.record_store import open_record_store

    endpoint = request.getfixturevalue("s3") if backend != "local" else None
    ledger = f"s3://alerts/{tmp_path.name}" if endpoint else str(tmp_path / "ledger")
    assert sorted(_run(_alert, ledger, endpoint, fallback)) == list(range(PROCESSES))
    # On failure: every SMS received, with the child processes' WARNING lines (captured stderr) above.
    assert len(isendpro_emulator.sent) == 1, [sms.text for sms in isendpro_emulator.sent]
    [sms] = isendpro_emulator.sent
    # The winner lists the alerts already held when it claims the report (possible when its window
    # creation is slow, as with claim-then-verify): "KO 0 (+1 more since 05:25: etl_sales.load[2])".
    match = re.fullmatch(
        r"KO (\d+)(?: \(\+\d+ more since \d\d:\d\d: etl_sales\.load\[[-,\d]+\]\))?", sms.text
    )
    assert match, sms.text
    winner = int(match.group(1))
    folders = ["dag", "etl_sales", NUMBER_FOLDER]
    store = open_record_store(f"{ledger}/_notifier/_throttle", folders, CONN_ID if endpoint else None)
    names = store.names()
    held = sorted(json.loads(store.read(n))["map_index"] for n in names if n.startswith("h-"))
    assert held == [i for i in range(PROCESSES) if i != winner]  # nothing lost
    # One window; a report record too when the winner's SMS listed alerts held before it.
    reported = {"r00000001.json"} if "more since" in sms.text else set()
    assert {n for n in names if not n.startswith("h-")} == {"w00000001.json", *reported}


@pytest.mark.parametrize(
    ("backend", "throttle"),
    # Without the throttle a lost race is a second SMS; with it, a held record (the phantom "+1 more").
    [*((backend, "10m") for backend in BACKENDS), ("local", None), ("s3", None)],
)
def test_processes_firing_the_same_event_send_one_sms(
    backend: str,
    throttle: str | None,
    fallback: bool,
    isendpro_emulator: IsendproEmulator,
    tmp_path: Any,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One callback invoked by PROCESSES processes at once (the worker and the DAG processor, a
    redelivered callback...), every one of them reading the event's marker before any writes it: one
    claims the marker and sends, the others skip before the throttle, so no held record is left for the
    next alert to list as a phantom "+1 more" (the losers share one held record, ``h-<event>.json``; on
    the old read-then-write marker the winner's own SMS listed it too when a loser was held first)."""
    import time

    from airflow_provider_isendpro.notifications import throttle as throttle_module
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier
    from airflow_provider_isendpro.record_store import open_record_store
    from tests.notifications.conftest import RUN_ID, task_context

    endpoint = request.getfixturevalue("s3") if backend != "local" else None
    conn_id = CONN_ID if endpoint else None
    ledger = f"s3://alerts/{tmp_path.name}" if endpoint else str(tmp_path / "ledger")
    assert sorted(_run(_same_alert, ledger, endpoint, fallback, throttle)) == list(range(PROCESSES))
    # On failure: every SMS received, with the child processes' WARNING lines (captured stderr) above.
    assert [sms.text for sms in isendpro_emulator.sent] == ["KO 0"]
    if throttle is not None:
        # The next alert, once the window is over, has nothing to list.
        later = time.time() + 3600  # the throttle's clock moved on by an hour (no waiting)
        monkeypatch.setattr(throttle_module, "_now", lambda: later)
        IsendproNotifier(to=ONCALL, text="KO {{ ti.map_index }}", ledger_path=ledger, ledger_conn_id=conn_id)(
            task_context(ValueError("source down"), map_index=1)
        )
        assert [sms.text for sms in isendpro_emulator.sent] == ["KO 0", "KO 1"]
        folders = ["dag", "etl_sales", NUMBER_FOLDER]
        throttled = open_record_store(f"{ledger}/_notifier/_throttle", folders, conn_id).names()
        assert throttled == {"w00000001.json", "w00000002.json"}  # nothing held
    # One claim, one outcome for the raced event (and the same for the next alert's).
    markers = open_record_store(f"{ledger}/_notifier", ["etl_sales", RUN_ID], conn_id).names()
    events = 1 if throttle is None else 2
    assert (
        sorted(name.split(".", 1)[1] for name in markers) == ["claim.json"] * events + ["sent.json"] * events
    )


def test_a_folder_emptied_while_it_is_listed_holds_no_record(
    s3: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder held only a rival's claim, deleted (the rival retreated) while ``names()`` lists it: no
    record and no error. The error this once raised (NotADirectoryError) failed the throttle open, and a
    second process sent the window's SMS too."""
    from airflow_provider_isendpro.record_store import open_record_store

    store = open_record_store(f"s3://alerts/{tmp_path.name}", ["race"], CONN_ID)
    claim = store.root / "_claim.w00000001.json.1.rival.json"  # type: ignore[attr-defined]
    claim.write_text("")
    fs = claim.fs
    retreated: list[str] = []

    def once_the_rival_retreated(listing: Any) -> Any:
        """The rival deletes its claim just as this process starts listing the folder (whichever call the
        installed universal-pathlib lists with: ``isdir`` then ``ls`` in 0.3, ``ls`` alone in 0.2)."""

        def listing_after_the_delete(path: str, *args: Any, **kwargs: Any) -> Any:
            if not retreated:
                retreated.append(path)
                fs.rm_file(claim.path)
            return listing(path, *args, **kwargs)

        return listing_after_the_delete

    with monkeypatch.context() as patch:
        for method in ("isdir", "ls"):
            patch.setattr(fs, method, once_the_rival_retreated(getattr(fs, method)))
        assert store.names() == set()
    assert retreated  # the race happened during names()
    assert not claim.exists()
