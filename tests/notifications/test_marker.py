"""The de-duplication marker's protocol over every interleaving of two and three invocations of one alert.

Each invocation runs the real :class:`AlertMarker` (``claim``, then ``settle`` if it won) in its own
thread against an in-memory store whose every call waits for its turn: a scheduler lets exactly one call
run at a time and explores, depth first, every order in which the invocations' store calls can run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_isendpro.notifications import marker as marker_module
from airflow_provider_isendpro.notifications.marker import PENDING_GRACE_SECONDS, AlertMarker

KEY = "0123456789abcdef0123456789abcdef"
PLAN: Any = SimpleNamespace(masked="06****5678", trackers=["t1"])
NOW = 10_000.0


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(("info", message % args))

    def warning(self, message: str, *args: Any) -> None:
        self.lines.append(("warning", message % args))


class Scheduler:
    """Runs one store call at a time, in the order ``prefix`` chooses, then the lowest waiting thread.

    ``trace`` records, for each call, which threads were waiting and which one ran."""

    def __init__(self, prefix: list[int]) -> None:
        self.prefix = prefix
        self.cond = threading.Condition()
        self.waiting: set[int] = set()
        self.started: set[int] = set()
        self.running = False
        self.turn: int | None = None
        self.trace: list[tuple[list[int], int]] = []
        self.local = threading.local()

    def gate(self) -> None:
        """Called by a thread before each store call: wait for its turn."""
        me = self.local.tid
        with self.cond:
            self.waiting.add(me)
            self.running = False
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: self.turn == me, timeout=30), "scheduler deadlock"
            self.turn = None
            self.waiting.discard(me)
            self.running = True

    def run(self, bodies: list[Callable[[], None]]) -> None:
        errors: list[BaseException] = []
        finished: set[int] = set()

        def thread(tid: int, body: Callable[[], None]) -> None:
            self.local.tid = tid
            try:
                body()
            except BaseException as exc:  # reported by the test
                errors.append(exc)
            finally:
                with self.cond:
                    finished.add(tid)
                    self.running = False
                    self.cond.notify_all()

        threads = [threading.Thread(target=thread, args=(i, b), daemon=True) for i, b in enumerate(bodies)]
        for t in threads:
            t.start()
        while True:
            with self.cond:
                settled = self.cond.wait_for(
                    lambda: (
                        not self.running
                        and self.turn is None
                        and len(self.waiting) + len(finished) == len(bodies)
                    ),
                    timeout=30,
                )
                assert settled, "scheduler deadlock"
                if not self.waiting:
                    break
                # The invocations are alike: of those that have not run a step yet, only the first is
                # an option (starting another instead gives the same runs, renumbered).
                fresh = sorted(self.waiting - self.started)[:1]
                options = sorted((self.waiting & self.started) | set(fresh))
                step = len(self.trace)
                choice = self.prefix[step] if step < len(self.prefix) else options[0]
                self.trace.append((options, choice))
                self.started.add(choice)
                self.turn = choice
                self.running = True
                self.cond.notify_all()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]


class SteppedStore:
    """An in-memory, linearizable record store; every call waits for the scheduler's turn."""

    def __init__(self, records: dict[str, str], scheduler: Scheduler) -> None:
        self.records = dict(records)
        self.scheduler = scheduler
        self.created: list[str] = []  # every name written, in order: none twice

    def names(self) -> set[str]:
        self.scheduler.gate()
        return set(self.records)

    def read(self, name: str) -> str:
        self.scheduler.gate()
        return self.records[name]

    def write(self, name: str, text: str, *, durable: bool = True) -> None:
        self.scheduler.gate()
        self.created.append(name)
        self.records[name] = text

    def create(self, name: str, text: str) -> bool:
        self.scheduler.gate()
        if name in self.records:
            return False
        self.created.append(name)
        self.records[name] = text
        return True

    def delete(self, name: str) -> None:
        raise AssertionError("the marker never deletes")

    def describe(self) -> str:
        return "memory"


def invocation(store: SteppedStore, outcome: str, sent: list[int], tid: int) -> Callable[[], None]:
    """One invocation of the callback: claim; if it may send, "send" and settle with ``outcome`` (if
    any)."""

    def body() -> None:
        marker = AlertMarker(store, KEY, Log())
        if marker.claim(PLAN):
            sent.append(tid)
            if outcome:
                marker.settle(outcome, PLAN, "")

    return body


def explore(records: dict[str, str], outcomes: list[str]) -> list[tuple[list[int], list[int], SteppedStore]]:
    """Every interleaving of one invocation per ``outcomes`` entry, starting from ``records``: for each,
    the schedule, which invocations sent, and the store after."""
    runs = []
    prefix: list[int] = []
    while True:
        scheduler = Scheduler(prefix)
        store = SteppedStore(records, scheduler)
        sent: list[int] = []
        scheduler.run([invocation(store, outcome, sent, i) for i, outcome in enumerate(outcomes)])
        runs.append(([c for _, c in scheduler.trace], sorted(sent), store))
        # Backtrack: the last step with an option not tried yet.
        for step in range(len(scheduler.trace) - 1, -1, -1):
            options, choice = scheduler.trace[step]
            later = [o for o in options if o > choice]
            if later:
                prefix = [c for _, c in scheduler.trace[:step]] + [later[0]]
                break
        else:
            return runs


def pending(at: float) -> str:
    return json.dumps({"state": "pending", "written_at": at})


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(marker_module, "_now", lambda: NOW)


STARTS = {
    "fresh": ({}, 0),  # the first invocations of an event
    "stale": ({f"{KEY}.claim.json": pending(NOW - PENDING_GRACE_SECONDS)}, 1),  # taking over a dead one
    "unreadable": ({f"{KEY}.claim.json": "{not json"}, 1),  # taking over a claim that cannot be read
    "failed": ({f"{KEY}.claim.json": pending(NOW - 5), f"{KEY}.failed.json": "{}"}, 1),
    "unknown": ({f"{KEY}.claim.json": pending(NOW - 5), f"{KEY}.unknown.json": "{}"}, 1),
}


def assert_one_sender(runs: list[Any], start: dict[str, str], generation: int, settled: bool) -> None:
    suffix = "" if generation == 0 else f".{generation}"
    expected = {f"{KEY}.claim{suffix}.json"} | ({f"{KEY}.sent{suffix}.json"} if settled else set())
    for schedule, sent, store in runs:
        assert len(sent) == 1, (schedule, sent)
        assert len(store.created) == len(set(store.created)), (schedule, store.created)  # never rewritten
        assert set(store.records) - set(start) == expected, schedule


@pytest.mark.parametrize("name", STARTS)
def test_two_invocations_send_once_in_every_order(name: str) -> None:
    start, generation = STARTS[name]
    runs = explore(start, ["sent", "sent"])
    assert len(runs) > 2  # the orders were explored, not just one
    assert_one_sender(runs, start, generation, settled=True)


@pytest.mark.parametrize(("name", "outcome"), [("fresh", "sent"), ("failed", "sent"), ("stale", "")])
def test_three_invocations_send_once_in_every_order(name: str, outcome: str) -> None:
    """Three at once (thousands of orders for a stale claim, taken over by exactly one: its ``sent`` is left
    out there, as the others skip the same whether they read it or its claim)."""
    start, generation = STARTS[name]
    runs = explore(start, [outcome] * 3)
    assert len(runs) > 3
    assert_one_sender(runs, start, generation, settled=bool(outcome))


@pytest.mark.parametrize("invocations", [2, 3])
def test_a_claim_in_flight_is_never_taken_over(invocations: int) -> None:
    runs = explore({f"{KEY}.claim.json": pending(NOW - PENDING_GRACE_SECONDS + 1)}, ["sent"] * invocations)
    assert all(sent == [] and store.created == [] for _, sent, store in runs)


@pytest.mark.parametrize(
    "start", [{}, {f"{KEY}.claim.json": "{}", f"{KEY}.held.json": "{}"}], ids=["sent", "held"]
)
def test_nothing_is_sent_after_a_recorded_success(start: dict[str, str]) -> None:
    """Whatever the order, once one invocation recorded ``sent`` (or ``held``), later ones skip."""
    for schedule, sent, _ in explore(start, ["sent", "sent"]):
        assert len(sent) == (0 if start else 1), schedule


def test_each_failure_lets_exactly_one_more_invocation_send() -> None:
    """Two invocations whose sends fail: the second sends again only after the first recorded
    ``failed`` (a new generation), never while it is in flight."""
    for schedule, sent, store in explore({}, ["failed", "failed"]):
        claims = sorted(n for n in store.records if ".claim" in n)
        assert len(claims) == len(sent) and len(sent) in (1, 2), (schedule, sent)
        assert len(store.created) == len(set(store.created))


def test_a_send_without_a_claim_records_only_success() -> None:
    """The claim could not be created (a store error): the alert is sent anyway; ``failed`` is not
    recorded (it would let another invocation send beside a live claim), ``sent`` is."""
    scheduler = Scheduler([])
    records: dict[str, str] = {}

    class Broken(SteppedStore):
        def create(self, name: str, text: str) -> bool:
            if ".claim" in name:
                raise OSError("disk full")
            return super().create(name, text)

    store = Broken(records, scheduler)
    log = Log()
    outcomes: list[bool] = []

    def body() -> None:
        for state in ("failed", "sent"):
            marker = AlertMarker(store, KEY, log)
            outcomes.append(marker.claim(PLAN))
            marker.settle(state, PLAN, "")

    scheduler.run([body])
    assert outcomes == [True, True]
    assert set(store.records) == {f"{KEY}.sent.json"}
    assert [line for level, line in log.lines if level == "warning"] == [
        "iSendPro alert: cannot write the de-duplication marker in memory (OSError); a repeated callback "
        "may send this alert again"
    ] * 2
