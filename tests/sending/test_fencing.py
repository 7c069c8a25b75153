"""Fencing of overlapping tries, with an injected clock: no sleeps, no timing asserts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_isendpro.client import ClientConfig, IsendproClient, RetryPolicy
from airflow_provider_isendpro.errors import IsendproTryAlreadyRunningError
from airflow_provider_isendpro.record_store import LocalRecordStore
from airflow_provider_isendpro.sending.engine import SendOptions
from airflow_provider_isendpro.sending.fencing import (
    DEFAULT_MARGIN,
    Claim,
    Fence,
    IsendproSupersededError,
    request_bound,
)
from airflow_provider_isendpro.sending.ledger import Ledger
from airflow_provider_isendpro.sending.plan import MessageRules, Planner
from airflow_provider_isendpro.sending.service import SendPolicy, run_send
from airflow_provider_isendpro.sending.sources import value_source
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.conftest import FAKE_KEY

MOBILES = [f"06{n:08d}" for n in range(12_345_600, 12_345_606)]
BOUND = 38.0  # a request's bound in these tests (connect 5 s, read 30 s, and so on)
LEASE = 2 * (BOUND + DEFAULT_MARGIN)


class FakeClock:
    """Wall time that moves only when told to, or when the fence sleeps."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fence(root: Path, attempt: int, clock: FakeClock, host: str = "", pid: int = 100) -> Fence:
    """Try ``attempt`` on worker ``w<attempt>`` (another machine: its process cannot be looked up)."""
    store = LocalRecordStore(root / "_claims")
    return Fence(store, attempt, BOUND, clock=clock, host=host or f"w{attempt}", pid=pid + attempt)


def test_request_bound_covers_every_connection_attempt_and_the_read_timeout() -> None:
    config = ClientConfig(
        api_key=FAKE_KEY, connect_timeout=2.0, read_timeout=7.0,
        retry=RetryPolicy(max_attempts=3, backoff_initial=0.5, backoff_max=0.75),
    )  # fmt: skip
    assert request_bound(config) == 3 * 2.0 + (0.5 + 0.75) + 7.0


def test_a_new_try_waits_out_the_live_lease_of_an_older_one(tmp_path: Path) -> None:
    clock = FakeClock()
    fence(tmp_path, 1, clock).claim()
    clock.now += 5  # try 1 is sending; try 2 starts (its worker was declared lost)
    fence(tmp_path, 2, clock).claim()
    assert clock.sleeps == [BOUND + DEFAULT_MARGIN]  # until try 1's in-flight request is surely over


def test_the_wait_ends_with_the_older_lease_when_that_comes_first(tmp_path: Path) -> None:
    clock = FakeClock()
    fence(tmp_path, 1, clock).claim()
    clock.now += LEASE - 3
    fence(tmp_path, 2, clock).claim()
    assert clock.sleeps == [3.0]


def test_a_stale_lease_is_taken_over_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    fence(tmp_path, 1, clock).claim()
    clock.now += LEASE  # try 1 was killed and never renewed its lease
    fence(tmp_path, 2, clock).claim()
    assert clock.sleeps == []


def test_a_released_lease_is_taken_over_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    first = fence(tmp_path, 1, clock)
    first.claim()
    clock.now += 1
    first.release()  # try 1 ended (with an error) before its retry starts
    fence(tmp_path, 2, clock).claim()
    assert clock.sleeps == []


def test_the_lease_is_renewed_as_a_new_record_before_a_batch_when_due(tmp_path: Path) -> None:
    clock = FakeClock()
    first = fence(tmp_path, 1, clock)
    first.claim()
    first.check()
    assert first.store.names() == {"t1.0.json"}  # not due yet
    clock.now += LEASE - (BOUND + DEFAULT_MARGIN) + 1
    first.check()
    assert first.store.names() == {"t1.0.json", "t1.1.json"}
    clock.now += BOUND + 2 * DEFAULT_MARGIN  # past the first lease, within the renewed one
    fence(tmp_path, 2, clock).claim()
    assert len(clock.sleeps) == 1 and 0 < clock.sleeps[0] <= BOUND + DEFAULT_MARGIN


def test_an_older_try_is_superseded_before_its_next_batch(tmp_path: Path) -> None:
    clock = FakeClock()
    first = fence(tmp_path, 1, clock)
    first.claim()
    first.check()
    fence(tmp_path, 3, clock).claim()
    with pytest.raises(IsendproSupersededError) as caught:
        first.check()
    assert caught.value.message.startswith("superseded by try 3 (host w3, pid 103), which claimed the send")
    assert caught.value.message.endswith(
        "try 1 stops before its next request; the newer try sends what is left"
    )


def test_a_waiting_try_overtaken_by_a_newer_claim_stops(tmp_path: Path) -> None:
    clock = FakeClock()
    fence(tmp_path, 1, clock).claim()
    second = fence(tmp_path, 2, clock)
    third = fence(tmp_path, 3, clock)
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:  # while try 2 waits, try 3 claims
        clock.sleep = real_sleep  # type: ignore[method-assign]
        real_sleep(seconds)
        third.claim()

    clock.sleep = sleep  # type: ignore[method-assign]
    with pytest.raises(IsendproSupersededError, match=r"^superseded by try 3"):
        second.claim()


def test_two_claims_racing_for_the_same_try_give_one_winner(tmp_path: Path) -> None:
    clock = FakeClock()
    racers = [fence(tmp_path, 2, clock, host=f"w{n}", pid=n) for n in (1000, 2000, 3000, 4000)]
    start = threading.Barrier(len(racers))
    outcomes: list[str] = []

    def race(one: Fence) -> None:
        start.wait()
        try:
            one.claim()
            outcomes.append("claimed")
        except IsendproTryAlreadyRunningError as exc:  # its own type: not a configuration mistake
            outcomes.append(exc.message)

    threads = [threading.Thread(target=race, args=(one,)) for one in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("claimed") == 1
    refusals = [o for o in outcomes if o != "claimed"]
    assert len(refusals) == 3, refusals
    assert all(
        r.startswith("try 2 of this task is already running elsewhere (try 2 (host w") for r in refusals
    )


def _gone_pid() -> int:
    """The PID of a process of this machine that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_process_of_this_machine_is_taken_over_at_once_even_within_its_lease(tmp_path: Path) -> None:
    clock = FakeClock()
    here = socket.gethostname()
    Fence(LocalRecordStore(tmp_path / "_claims"), 1, BOUND, clock=clock, host=here, pid=_gone_pid()).claim()
    second = Fence(LocalRecordStore(tmp_path / "_claims"), 2, BOUND, clock=clock, host=here)
    second.claim()
    assert clock.sleeps == [] and second.label == "2"


def test_the_same_try_run_again_after_a_crash_takes_the_claim_over_under_a_new_label(tmp_path: Path) -> None:
    clock = FakeClock()
    here = socket.gethostname()
    store = LocalRecordStore(tmp_path / "_claims")
    Fence(store, 1, BOUND, clock=clock, host=here, pid=_gone_pid()).claim()  # then SIGKILL
    again = Fence(LocalRecordStore(tmp_path / "_claims"), 1, BOUND, clock=clock, host=here)
    again.claim()  # `airflow tasks test` again: same try number
    assert again.label == "1-1" and clock.sleeps == []
    assert store.names() == {"t1.0.json", "t1.1.json"}
    alive = Fence(LocalRecordStore(tmp_path / "_claims"), 1, BOUND, clock=clock, host=here, pid=os.getppid())
    with pytest.raises(
        IsendproTryAlreadyRunningError, match=r"^try 1 of this task is already running elsewhere"
    ):
        alive.claim()  # the previous claim's owner (this process) is alive: a duplicate is refused


def _send(
    emulator: IsendproEmulator,
    ledger: Callable[[], Ledger],
    client: Callable[[], IsendproClient] | None = None,
) -> Any:
    return run_send(
        client=client or (lambda: IsendproClient(ClientConfig(api_key=FAKE_KEY, base_url=emulator.base_url))),
        planner=Planner(lambda _fields: "Hi", personalised=False, rules=MessageRules(), scope="dag\x1frun"),
        source=value_source(MOBILES, "number"),
        options=SendOptions(batch_size=2),
        policy=SendPolicy(),
        ledger=ledger,
        details_path=None,
    )


def test_an_overlapping_older_try_stops_superseded_and_nobody_is_texted_twice(
    tmp_path: Path, isendpro_emulator: IsendproEmulator
) -> None:
    """Try 1 is still sending when try 2 starts: try 2 waits out try 1's request, try 1 stops at its next
    batch check, try 2 sends the rest. Each number is received once."""
    clock = FakeClock()

    def ledger_for(attempt: int) -> Callable[[], Ledger]:
        def open_ledger() -> Ledger:
            guard = fence(tmp_path, attempt, clock)
            guard.claim()
            return Ledger(LocalRecordStore(tmp_path), attempt=guard.label, fence=guard)

        return open_ledger

    second: list[Any] = []

    class OverlappedClient(IsendproClient):
        def send_sms_multi(self, *args: Any, **kwargs: Any) -> Any:
            result = super().send_sms_multi(*args, **kwargs)
            if not second:  # while try 1's first request is in flight, try 2 starts
                second.append(_send(isendpro_emulator, ledger_for(2)))
            return result

    config = ClientConfig(api_key=FAKE_KEY, base_url=isendpro_emulator.base_url)
    first = _send(isendpro_emulator, ledger_for(1), client=lambda: OverlappedClient(config))

    # try 2 claimed while try 1 held a live lease: it waited, then found batch 1 pending (in doubt)
    assert clock.sleeps == [BOUND + DEFAULT_MARGIN]
    tels = [s.tel for s in isendpro_emulator.sent]
    assert sorted(tels) == MOBILES and len(set(tels)) == len(tels)
    later = second[0].result
    assert later["counts"]["sent"] == 4 and later["counts"]["unknown"] == 2
    assert later["batches"] == {"sent": 2, "from_ledger": 0, "unknown": 1, "not_sent": 0}
    assert type(second[0].error).__name__ == "IsendproUnknownOutcomeError"  # on_unknown="fail"

    earlier = first.result
    assert isinstance(first.error, IsendproSupersededError)
    assert earlier["counts"]["sent"] == 2 and earlier["counts"]["not_sent"] == 4
    assert earlier["batches"] == {"sent": 1, "from_ledger": 0, "unknown": 0, "not_sent": 2}
    reasons = {r["reason"] for r in earlier["recipients"] if r["status"] == "not_sent"}
    assert len(reasons) == 1 and reasons.pop().startswith(
        "not sent: the send stopped at an error (superseded by try 2"
    )
    assert earlier["error"]["type"] == "IsendproSupersededError"
    claims = LocalRecordStore(tmp_path / "_claims")
    last = max((n for n in claims.names() if n.startswith("t1.")), key=lambda n: int(n.split(".")[1]))
    ended = Claim.from_json(claims.read(last))
    assert ended.note.startswith("IsendproSupersededError: superseded by try 2 (host w2, pid 102)")


def test_with_the_default_timeouts_a_newer_try_waits_at_most_63_5_s() -> None:
    """The figure docs/deployment.md gives: 4 x 5 s connect + 3.5 s backoffs + 30 s read + 10 s margin."""
    assert request_bound(ClientConfig(api_key=FAKE_KEY)) + DEFAULT_MARGIN == 63.5
