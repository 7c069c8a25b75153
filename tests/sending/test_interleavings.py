"""The send protocol over every interleaving of two and three tries, freezes included.

Each try runs the real ``send_for_task`` (fence, ledger, engine, accounting) in a greenlet, against one
in-memory linearizable record store and a gateway stand-in that counts what it accepts. Every operation on
that shared world is one *step*: a listing, write or create of a record, a request reaching the gateway,
the end of a sleep. The explorer chooses which try takes the next step; between any two steps the clock
may also jump past every lease (a freeze of any length: a paused VM, a live migration). Depth-first over
every schedule, each branch replayed from the start (a greenlet cannot be copied), states memoised on what
determines them all: the records, each try's observations so far, the clock, the SMS accepted.

Checked at the end of every schedule: no SMS accepted twice; what the last try reports sent was
accepted exactly once, what was never accepted it reports in doubt (``unknown``) or, failing, not sent;
and if it succeeded, it accounts every recipient as sent.

Models, each a send of 3 batches: two tries with up to one freeze, the same try started twice with up to
one freeze (in every ``make test`` row, ~20 s); three tries, and two tries with up to two freezes (marked
``proof``: ``make pytest`` runs them beside the suite, ~6 minutes of one core). Run on the earlier order
(check the fence, then write the intent), the exploration finds the duplicate seen on CeleryExecutor.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import greenlet
import pytest

from airflow_provider_isendpro.client import ClientConfig
from airflow_provider_isendpro.client.models import RecipientStatus, SendResult
from airflow_provider_isendpro.sending.engine import SendEngine, SendOptions
from airflow_provider_isendpro.sending.ledger import BatchRecord, fingerprint
from airflow_provider_isendpro.sending.location import LedgerLocation
from airflow_provider_isendpro.sending.plan import MessageRules, Planner, tracker_for
from airflow_provider_isendpro.sending.service import SendOutcome, SendPolicy
from airflow_provider_isendpro.sending.sources import value_source
from airflow_provider_isendpro.sending.task import TaskTry, send_for_task

NUMBERS = ["0612000001", "0612000002", "0612000003"]
TEXT = "Rappel: votre rendez-vous demain a 9h"
SCOPE = ["dag", "run", "send", "-1"]
CONFIG = ClientConfig(api_key="fake-key-for-tests")
#: Freezes, by how much the clock moves: past the renewal point of a lease but not its end (a lease
#: lasts twice the request bound plus margin: 147 s here, renewed when less than half is left), and
#: past every lease.
FREEZES = (100.0, 1_000.0)


class Abandoned(BaseException):
    """Unwinds a try of a world the explorer has left (not an ``Exception``: nothing may catch it)."""


class World:
    """The shared state of one schedule: records, clock, gateway, and the tries as greenlets."""

    def __init__(
        self, tries: list[tuple[str, int, str]], freezes: int, batches: int = 3, *, fence_kept: bool = False
    ) -> None:
        self.numbers = NUMBERS[:batches]
        #: whether what a try reads of the claims and of the clock is part of its identity (see
        #: :func:`explore`).
        self.fence_kept = fence_kept
        self.records: dict[str, str] = {}
        self.now = 0.0
        self.freezes = freezes
        self.accepted: Counter[str] = Counter()
        self.explorer = greenlet.getcurrent()
        self.parked: dict[str, str] = {}  # try name -> label of the step it waits to take
        self.observed: dict[str, int] = {}  # try name -> hash of everything it has seen
        self.outcomes: dict[str, SendOutcome] = {}
        self.trace: list[str] = []
        #: whether the last step of a try read the clock (only then can a freeze just before it matter).
        self.read_clock = False
        self.dead = False
        self.last = tries[-1][0]
        #: the tries that have not taken their first step (it runs up to their first operation, included).
        self._fresh: set[str] = set()
        self._performed: list[tuple[str, str]] = []  # (operation, target) of the step being taken
        self._threads: dict[str, greenlet.greenlet] = {}
        self._who: dict[greenlet.greenlet, str] = {}
        for name, attempt, host in tries:
            thread = greenlet.greenlet(self._body(name, attempt, host))
            self._threads[name], self._who[thread], self.observed[name] = thread, name, 0
            self.parked[name] = "start"
            self._fresh.add(name)

    # -- the tries ------------------------------------------------------------------------------------

    def _body(self, name: str, attempt: int, host: str) -> Callable[[], None]:
        def run() -> None:
            self.outcomes[name] = send_for_task(
                client=lambda: Gateway(self),  # type: ignore[arg-type,return-value]
                client_config=CONFIG,
                planner=Planner(lambda _row: TEXT, personalised=False, rules=MessageRules(), scope="model"),
                source=value_source(self.numbers, "number"),
                options=SendOptions(batch_size=1),
                policy=SendPolicy(),
                location=LedgerLocation("model://ledger", None, "the model", declared_shared=True),
                task=TaskTry(scope=SCOPE, attempt=attempt, host=host),
                details_path="model://details",
                stores=lambda scope: ModelStore(self, "/".join(scope)),
                clock=ModelClock(self),
            )

        return run

    def step(self, op: str, target: str, label: str) -> None:
        """Called by a try before each operation on the world: wait until the explorer grants it.

        Two operations need no turn of their own (Lipton's reduction: merging a step that commutes with
        every other try's steps into its neighbour loses no behaviour): a request reaching the gateway
        (requests commute: it counts them), and a try's first operation, merged with its start (its start
        only reads the clock, which nothing but another try's clock reading can witness)."""
        if self.dead:
            raise Abandoned
        name = self._who[greenlet.getcurrent()]
        if op == "send" or name in self._fresh:
            self._fresh.discard(name)
        else:
            self.parked[name] = label
            self.explorer.switch()
            if self.dead:
                raise Abandoned
        self._performed.append((op, target))
        self.trace.append(f"{name}: {label}")

    def observe(self, value: Any, *, clock: bool = False, fence: bool = False) -> None:
        self.read_clock |= clock
        if fence and not self.fence_kept:
            return
        name = self._who[greenlet.getcurrent()]
        self.observed[name] = hash((self.observed[name], value))

    def _resume(self, name: str, thread: greenlet.greenlet) -> None:
        thread.switch()  # returns when the try parks at its next step, or ends
        if thread.dead:
            self.parked.pop(name, None)
            if name not in self.outcomes:
                raise AssertionError(f"{name} ended without an outcome")

    # -- the explorer's side ----------------------------------------------------------------------------

    def actions(self) -> list[str]:
        return sorted(self.parked)

    def take(self, action: str) -> Step:
        """``"t1"``: try t1 takes its next step; ``"t1@100"``: every process was frozen 100 s, then t1
        takes its next step. Returns what the step did."""
        name, _, frozen = action.partition("@")
        if frozen:
            self.freezes -= 1
            self.now += float(frozen)
            self.trace.append(f"(every process frozen {float(frozen):.0f} s)")
        del self.parked[name]
        self.read_clock, self._performed = False, []
        self._resume(name, self._threads[name])
        return Step(
            name,
            tuple(self._performed),
            reads_clock=self.read_clock or bool(frozen),
            writes_clock=bool(frozen) or any(op == "sleep" for op, _ in self._performed),
        )

    def key(self) -> bytes:
        """What determines every future of this world (each try's code is deterministic given what it has
        observed), as a 128-bit digest: millions of states fit in memory."""
        state = (
            sorted(self.records.items()),
            sorted((n, self.parked.get(n, "ended"), h) for n, h in self.observed.items()),
            self.now,
            self.freezes,
            sorted(self.accepted.items()),
        )
        return hashlib.blake2b(repr(state).encode(), digest_size=16).digest()

    def final(self) -> tuple[Any, ...]:
        """How a complete schedule ended: the SMS accepted, each try's error and counts."""
        tries = tuple(
            (name, type(o.error).__name__ if o.error else "", tuple(sorted(o.result["counts"].items())))
            for name, o in sorted(self.outcomes.items())
        )
        return tuple(sorted(self.accepted.items())), tries

    def abandon(self) -> None:
        self.dead = True
        for thread in self._threads.values():
            if not thread.dead:
                with contextlib.suppress(Abandoned):
                    thread.throw(Abandoned)


class ModelStore:
    """A record store folder in the world: every listing, write and create is one step."""

    def __init__(self, world: World, folder: str) -> None:
        self.world, self.folder = world, folder

    def _key(self, name: str) -> str:
        return f"{self.folder}/{name}"

    def names(self) -> set[str]:
        where = "claims" if self.folder.endswith("_claims") else "ledger"
        self.world.step("list", self.folder, f"list {where}")
        prefix = f"{self.folder}/"
        found = {
            k[len(prefix) :]
            for k in self.world.records
            if k.startswith(prefix) and "/" not in k[len(prefix) :]
        }
        self.world.observe(tuple(sorted(found)), fence=self.folder.endswith("_claims"))
        return found

    def read(self, name: str) -> str:  # records are never rewritten: a read commutes with every step
        text = self.world.records[self._key(name)]
        self.world.observe(text, fence=self.folder.endswith("_claims"))
        return text

    def write(self, name: str, text: str, *, durable: bool = True) -> None:
        self.world.step("write", self._key(name), f"write {label_of(name)}")
        self.world.records[self._key(name)] = text

    def create(self, name: str, text: str) -> bool:
        self.world.step("create", self._key(name), f"create {label_of(name)}")
        if self._key(name) in self.world.records:
            self.world.observe(False)
            return False
        self.world.records[self._key(name)] = text
        self.world.observe(True)
        return True

    def delete(self, name: str) -> None:
        self.world.step("delete", self._key(name), f"delete {label_of(name)}")
        self.world.records.pop(self._key(name), None)

    def describe(self) -> str:
        return f"model://{self.folder}"


class ModelClock:
    """The fence's clock: reading it is an observation; a sleep ends at a step of its own."""

    def __init__(self, world: World) -> None:
        self.world = world

    def time(self) -> float:
        self.world.observe(("time", self.world.now), clock=True, fence=True)
        return self.world.now

    def sleep(self, seconds: float) -> None:
        self.world.step("sleep", "", f"sleep {seconds:.1f} s")
        self.world.now += seconds


class Gateway:
    """iSendPro's part: a request reaching it is one step; it accepts every number and counts them."""

    def __init__(self, world: World) -> None:
        self.world = world

    def send_sms_multi(
        self, numbers: list[Any], message: Any, *, trackers: list[str], **_: Any
    ) -> SendResult:
        self.world.step("send", "", f"send {', '.join(BATCH_OF_TRACKER.get(t, t) for t in trackers)}")
        self.world.accepted.update(trackers)
        return SendResult([RecipientStatus(n.wire, 0, "OK", 1) for n in numbers])

    def close(self) -> None:
        pass


#: Readable names in traces: recipient #i is batch bi (batch_size=1).
BATCH_OF_TRACKER: dict[str, str] = {}
BATCH_OF_FINGERPRINT: dict[str, str] = {}


def _name_batches() -> None:
    planner = Planner(lambda _row: TEXT, personalised=False, rules=MessageRules(), scope="model")
    for i, planned in enumerate(planner.plan(value_source(NUMBERS, "number")())):
        assert planned.tracker == tracker_for("model", planned.number.wire, planned.message.text)  # type: ignore[union-attr]
        BATCH_OF_TRACKER[planned.tracker] = f"b{i + 1}"  # type: ignore[union-attr]
        BATCH_OF_FINGERPRINT[fingerprint([planned.tracker])] = f"b{i + 1}"  # type: ignore[union-attr]


_name_batches()


def label_of(name: str) -> str:
    head, _, rest = name.partition(".")
    return f"{BATCH_OF_FINGERPRINT.get(head, head)}.{rest}".removesuffix(".json")


# -- the invariants and the exploration ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What one step of a try did: enough to tell whether two steps commute."""

    who: str
    #: (operation, target): list (a folder), write, create or delete (a record), send, sleep.
    ops: tuple[tuple[str, str], ...]
    reads_clock: bool
    writes_clock: bool


def independent(a: Step, b: Step) -> bool:
    """Whether steps of two tries commute: taken in either order, they leave the same world and each
    sees the same thing. Clock moves add up (they commute with each other), not with a clock reading;
    a listing does not commute with a change in its folder, nor two changes of one record; requests
    commute (the gateway counts them)."""
    if a.who == b.who:
        return False
    if (a.writes_clock and b.reads_clock) or (b.writes_clock and a.reads_clock):
        return False
    return not any(_conflict(x, y) for x in a.ops for y in b.ops)


def _conflict(x: tuple[str, str], y: tuple[str, str]) -> bool:
    changes = ("write", "create", "delete")
    for (op1, target1), (op2, target2) in ((x, y), (y, x)):
        if op1 == "list" and op2 in changes and target2.rsplit("/", 1)[0] == target1:
            return True
    return x[0] in changes and y[0] in changes and x[1] == y[1]


def _buckets(outcome: SendOutcome) -> dict[str, str]:
    """The last try's report, batch by batch (batch_size=1: one recipient each)."""
    return {BATCH_OF_TRACKER[row["tracker"]]: row["status"] for row in outcome.result["recipients"]}


def check(world: World) -> str | None:
    """At the end of a schedule: None, or what went wrong."""
    twice = sorted(BATCH_OF_TRACKER[t] for t, n in world.accepted.items() if n > 1)
    if twice:
        return f"accepted twice: {twice}"
    last = world.outcomes[world.last]
    buckets = _buckets(last)
    for tracker, batch in BATCH_OF_TRACKER.items():
        if batch not in buckets:  # a send of fewer batches
            continue
        got, bucket = world.accepted[tracker], buckets[batch]
        if bucket in ("sent", "already_sent") and got != 1:
            return f"the last try reports {batch} {bucket!r} but it was accepted {got} times"
        if bucket == "not_sent" and last.error is None:
            return f"the last try succeeded with {batch} not sent"
        if got == 0 and bucket not in ("unknown", "not_sent"):
            return f"{batch} was never accepted and the last try reports it {bucket!r}"
    if last.error is None and any(b not in ("sent", "already_sent") for b in buckets.values()):
        return f"the last try succeeded with recipients it did not account as sent: {buckets}"
    return None


@dataclass
class Violation:
    what: str
    trace: list[str] = field(default_factory=list)


@dataclass
class Exploration:
    states: int = 0
    schedules: int = 0
    violation: Violation | None = None
    endings: Counter[str] = field(default_factory=Counter)
    #: every distinct end: the SMS accepted, and each try's error and counts.
    finals: set[tuple[Any, ...]] = field(default_factory=set)


def explore(
    tries: list[tuple[str, int, str]], *, freezes: int, batches: int = 3, fence_kept: bool = False
) -> Exploration:
    """Every schedule of ``tries`` (name, try number, host) with up to ``freezes`` freezes, up to the
    order of steps that commute, until the first violation.

    Depth-first with sleep sets and state caching (Godefroid, "Partial-Order Methods for the
    Verification of Concurrent Systems", 1996, ch. 5): once a step has been explored from a state, it
    is not explored again after a step that commutes with it, since both orders lead to the same world.
    A freeze commutes with every step that does not read the clock, so it is explored just before each
    step that does (``"t1@100"``), and nowhere else.

    A state is identified by the records, the clock, the SMS accepted, each try's next step and what it
    has read of the ledger. What a try reads of the claims and of the clock leaves nothing behind in it
    but the step it then takes and the records it then writes (the fence keeps only its own lease, which
    it writes), so it is left out (``fence_kept=True`` keeps it; a test checks that both reach the same
    ends). Without it, three tries would have millions of states.
    """
    cache: dict[bytes, set[str]] = {}
    found = Exploration()

    def replay(path: list[str]) -> World:
        world = World(tries, freezes, batches, fence_kept=fence_kept)
        for action in path:
            world.take(action)
        return world

    def dfs(world: World, path: list[str], sleep: dict[str, Step]) -> None:
        if found.violation is not None:
            world.abandon()
            return
        if not world.parked:
            found.schedules += 1
            problem = check(world)
            if problem is not None:
                found.violation = Violation(problem, list(world.trace))
            error = world.outcomes[world.last].error
            found.endings[type(error).__name__ if error else "success"] += 1
            found.finals.add(world.final())
            return
        key = world.key()
        if key in cache:
            todo = [a for a in sorted(cache[key]) if a not in sleep]  # asleep before, awake now
            cache[key] &= set(sleep)
        else:
            found.states += 1
            cache[key] = set(sleep)
            todo = [a for a in world.actions() if a not in sleep]
        if not todo:
            world.abandon()
            return
        asleep = dict(sleep)
        queue = list(todo)
        while queue:
            action = queue.pop(0)
            branch = world if action == todo[0] else replay(path)
            frozen_before = branch.freezes
            step = branch.take(action)
            dfs(branch, [*path, action], {a: s for a, s in asleep.items() if independent(s, step)})
            asleep[action] = step
            if "@" not in action and step.reads_clock and frozen_before:
                queue.extend(
                    f"{action}@{seconds:.0f}" for seconds in FREEZES if f"{action}@{seconds:.0f}" not in sleep
                )

    dfs(replay([]), [], {})
    return found


def _check_then_intent(self: SendEngine, batch_id: str, trackers: list[str]) -> None:
    """The order before issue 18: check the fence, then write the intent."""
    self.ledger.check()
    self.ledger.write(BatchRecord(batch_id, "pending", trackers))


TWO = [("t1", 1, "w1"), ("t2", 2, "w2")]
THREE = [("t1", 1, "w1"), ("t2", 2, "w2"), ("t3", 3, "w1")]
#: Freezes explored with three tries (``make pytest`` runs this proof beside the suite).
THREE_TRIES_FREEZES = 0
#: The same try started twice (a Celery message delivered again), on two workers.
SAME_TRY = [("t1", 1, "w1"), ("t1bis", 1, "w2")]

#: What the exploration of the earlier order (check the fence, then write the intent) finds first: the
#: duplicate of issue 18, step for step. Try 1 checks the claims before batch 3 and freezes; try 2
#: claims, waits out try 1's lease, reads the ledger, finds no record of batch 3; try 1 resumes, writes
#: its intent and sends batch 3; try 2 sends it again.
OLD_ORDER_COUNTEREXAMPLE = [
    "t1: create t1.0",
    "t1: list claims",
    "t1: list ledger",
    "t1: list claims",
    "t1: write b1.t1.pending",
    "t1: send b1",
    "t1: write b1.t1.done",
    "t1: list claims",
    "t1: write b2.t1.pending",
    "t1: send b2",
    "t1: write b2.t1.done",
    "t1: list claims",
    "t2: create t2.0",
    "t2: list claims",
    "t2: sleep 63.5 s",
    "t2: list claims",
    "t2: list ledger",
    "t1: write b3.t1.pending",
    "t1: send b3",
    "t1: write b3.t1.done",
    "t1: create t1.1",
    "t2: list claims",
    "t2: write b3.t2.pending",
    "t2: send b3",
    "t2: write b3.t2.done",
    "t2: create t2.1",
]


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    """The tries log as they would in a task; hundreds of thousands of schedules need no log records."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def test_the_earlier_order_texts_a_batch_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SendEngine, "_announce", _check_then_intent)
    found = explore(TWO, freezes=0)
    assert found.violation is not None
    assert found.violation.what == "accepted twice: ['b3']"
    assert found.violation.trace == OLD_ORDER_COUNTEREXAMPLE


def _proven(found: Exploration, what: str) -> None:
    assert found.violation is None, "\n".join([found.violation.what, *found.violation.trace])
    print(f"{what}: {found.states} states, {found.schedules} schedules, endings {dict(found.endings)}")


def test_two_tries_never_send_a_batch_twice() -> None:
    found = explore(TWO, freezes=1)
    _proven(found, "two tries, 3 batches, one freeze")
    # both endings are reachable: success, and failed on a batch left in doubt by a frozen try
    assert found.endings["success"] and found.endings["IsendproUnknownOutcomeError"]


def test_the_same_try_started_twice_never_sends_a_batch_twice() -> None:
    found = explore(SAME_TRY, freezes=1)
    _proven(found, "the same try twice, 3 batches, one freeze")
    # the second process refuses while the first may be alive, and takes over once its lease is over
    assert found.endings["IsendproTryAlreadyRunningError"] and found.endings["success"]


@pytest.mark.proof
def test_three_tries_never_send_a_batch_twice() -> None:
    found = explore(THREE, freezes=THREE_TRIES_FREEZES)
    _proven(found, f"three tries, 3 batches, {THREE_TRIES_FREEZES} freeze(s)")
    assert found.endings["success"] and found.endings["IsendproUnknownOutcomeError"]


@pytest.mark.proof
def test_two_tries_with_two_freezes_never_send_a_batch_twice() -> None:
    _proven(explore(TWO, freezes=2), "two tries, 3 batches, two freezes")


@pytest.mark.proof
@pytest.mark.parametrize(("tries", "freezes"), [(TWO, 1), (SAME_TRY, 1)], ids=["two-tries", "same-try"])
def test_leaving_the_fence_s_readings_out_of_a_state_changes_no_ending(
    tries: list[tuple[str, int, str]], freezes: int
) -> None:
    """What the exploration identifies (see :func:`explore`) reaches exactly the ends it reaches when a
    try's every reading is part of its state: checked on the two-try and same-try models."""
    assert explore(tries, freezes=freezes).finals == explore(tries, freezes=freezes, fence_kept=True).finals
