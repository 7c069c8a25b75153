"""De-duplication markers: one alert event texts at most once even if its callback fires twice.

An alert event (DAG, run, task, map index, try, outcome or DAG reason, recipients: one
:meth:`AlertEvent.dedupe_key <airflow_provider_isendpro.notifications.event.AlertEvent.dedupe_key>`)
keeps its records under ``<ledger_path>/_notifier/<dag>/<run>/``. The rule is *at least once unless a
successful send is recorded*. The records come in **generations** 0, 1, 2...; each record is created once
and never rewritten in place:

* ``<key>.claim.json`` (generation 0), ``<key>.claim.<n>.json`` (generation *n*): an invocation is
  sending the alert (``pending``, with the time it claimed). Created with the store's atomic
  create-if-absent: of the invocations that race for one generation, exactly one creates it and sends;
  the others read it again and skip.
* ``<key>.<state>.json`` / ``<key>.<state>.<n>.json``: how generation *n* ended, created by its owner:
  ``sent``, ``held`` (the throttle held it back and recorded it), ``failed`` (nothing went out) or
  ``unknown`` (the request left, no answer came back). An invocation that sent without a claim of its
  own (the store failed when it claimed) records only ``sent`` or ``held``.

:meth:`AlertMarker.claim` lists the key's records once and decides:

1. a ``sent`` or ``held`` record of any generation -> skip;
2. the last generation *n* has a claim and no outcome, claimed less than :data:`PENDING_GRACE_SECONDS`
   ago -> skip: another invocation is sending it right now (a callback fired twice at once);
3. otherwise -> create the claim of generation *n* + 1 (0 when there is none) and send if this call
   created it. The last generation ended ``failed`` or ``unknown`` (a later invocation sends again), or
   its claim is older than the grace period (its invocation died mid-send: taken over, logged), or cannot
   be read (taken over, logged). Lost the create: another invocation claimed that generation a moment ago;
   list again (at most :data:`_ROUNDS` times, then send anyway, logged).

So of any number of invocations of one event, at most one sends per generation, and a new generation
starts only after the last one ended without a recorded success or was abandoned for longer than the
grace period. A duplicate SMS therefore needs one of: an ``unknown`` outcome that had in fact been
delivered; an invocation that stalled (a frozen VM, a GC pause) for longer than the grace period between
its claim and the end of its request, taken over meanwhile; or a store that could not be read or written
(the alert is sent anyway: an alert fails open). The accepted cost of never trusting a ``pending`` forever
is that a worker killed mid-send does not mean no alert at all, the worst outcome for on-call.

What it needs of the :class:`~airflow_provider_isendpro.record_store.RecordStore`:

* ``create`` is an atomic create-if-absent (a ``flock`` on a local or shared volume's journal; a
  conditional put on S3; claim-then-verify elsewhere);
* list-after-write consistency: a record created before a listing starts is in that listing (a local
  folder; S3, GCS and Azure Blob are strongly consistent);
* the clocks of the machines running callbacks agree to well within :data:`PENDING_GRACE_SECONDS` (NTP):
  a claim's age is its writer's clock read by the reader's.

Records are new objects, never rewrites, because s3fs caches the ETag of every object it lists and
fails a read of one rewritten since (see :mod:`~airflow_provider_isendpro.sending.ledger`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from airflow_provider_isendpro.notifications.text import AlertPlan
    from airflow_provider_isendpro.record_store import RecordStore

#: A claim younger than this means another invocation is sending the same alert right now (a callback
#: fired twice at once): skip. Older, it was left by an invocation that died mid-send: send again. One
#: send takes at most the connect + read timeouts (5 + 30 s by default), sends are never retried after
#: the request left, so two minutes is a generous bound for "still in flight".
PENDING_GRACE_SECONDS: Final = 120.0
#: Outcomes after which the alert is never sent again.
FINAL_STATES: Final = frozenset({"sent", "held"})
#: Lost creates in a row before sending anyway: each lost create means another invocation claimed a
#: generation, and it takes a settled ``failed``/``unknown`` for the next round to find work again.
_ROUNDS: Final = 5
_VERSION: Final = 2
_RECORD = re.compile(
    r"^(?P<key>[^.]+)\.(?P<kind>claim|sent|held|failed|unknown)(?:\.(?P<gen>[1-9]\d*))?\.json$"
)


def _now() -> float:
    """Wall-clock seconds for marker ages (a module function so that tests can freeze time)."""
    return time.time()


def record_name(key: str, kind: str, generation: int) -> str:
    """``<key>.<kind>.json`` for generation 0, ``<key>.<kind>.<n>.json`` after (``kind``: ``claim`` or an
    outcome)."""
    return f"{key}.{kind}.json" if generation == 0 else f"{key}.{kind}.{generation}.json"


@dataclass
class Generation:
    """What the store holds for one generation of one alert: its claim, and how it ended (if it did)."""

    claimed: bool = False
    outcomes: set[str] = field(default_factory=set)


def history(names: set[str], key: str) -> dict[int, Generation]:
    """The generations of ``key`` among the record names of a marker folder."""
    out: dict[int, Generation] = {}
    for name in names:
        match = _RECORD.match(name)
        if match is None or match.group("key") != key:
            continue
        generation = out.setdefault(int(match.group("gen") or 0), Generation())
        if match.group("kind") == "claim":
            generation.claimed = True
        else:
            generation.outcomes.add(match.group("kind"))
    return out


def current_records(store: RecordStore) -> dict[str, dict[str, Any]]:
    """Per key of a marker folder, the record its state is read from: a ``sent``/``held`` outcome if
    any, else the last generation's outcome, else its claim (``pending``). For people and tests."""
    names = store.names()
    out: dict[str, dict[str, Any]] = {}
    for key in sorted({m.group("key") for n in names if (m := _RECORD.match(n))}):
        generations = history(names, key)
        final = [
            (g, s) for g, gen in sorted(generations.items()) for s in sorted(gen.outcomes & FINAL_STATES)
        ]
        if final:
            generation, kind = final[0]
        else:
            generation = max(generations)
            outcomes = sorted(generations[generation].outcomes)
            kind = outcomes[0] if outcomes else "claim"
        out[key] = json.loads(store.read(record_name(key, kind, generation)))
    return out


class AlertMarker:
    """De-duplication of one alert across callback invocations, in the send ledger's storage (the
    protocol is in this module's docstring)."""

    def __init__(self, store: RecordStore, key: str, log: Any) -> None:
        self.store = store
        self.key = key
        self.log = log
        #: The generation this invocation claimed; None when it sends without one (store unreadable,
        #: or contended too long).
        self.generation: int | None = None
        #: True when this invocation created its generation's claim (and so settles it).
        self.owned = False

    def claim(self, plan: AlertPlan) -> bool:
        """True: go ahead and send (a claim has been created, or the store failed: fail open); False:
        skip."""
        for _ in range(_ROUNDS):
            try:
                generations = history(self.store.names(), self.key)
            except Exception as exc:
                self._cannot_read(exc)
                return True
            if any(gen.outcomes & FINAL_STATES for gen in generations.values()):
                self._already_done(generations, plan)
                return False
            last = max(generations, default=-1)
            stale: float | None = None  # the age of the claim taken over
            unreadable: BaseException | None = None  # why the claim taken over could not be read
            if last >= 0 and not generations[last].outcomes:  # claimed, not settled: pending
                try:
                    record = json.loads(self.store.read(record_name(self.key, "claim", last)))
                    stale = _now() - float(record["written_at"])
                except Exception as exc:
                    unreadable = exc
                if stale is not None and stale < PENDING_GRACE_SECONDS:
                    self.log.warning(
                        "iSendPro alert to %s is being sent by another invocation of this callback "
                        "(started %.0f s ago); not sending it twice", plan.masked, max(stale, 0.0),
                    )  # fmt: skip
                    return False
            self.generation = last + 1
            try:
                created = self.store.create(
                    record_name(self.key, "claim", self.generation), self._record("pending", plan, "")
                )
            except Exception as exc:
                self._cannot_write(exc)
                return True
            if not created:
                continue  # another invocation claimed this generation a moment ago: read it
            self.owned = True
            if stale is not None:
                self.log.warning(
                    "iSendPro alert to %s: an earlier invocation stopped while sending it %.0f s ago; "
                    "sending again (it may arrive twice)", plan.masked, stale,
                )  # fmt: skip
            elif unreadable is not None:
                self._cannot_read(unreadable)
            return True
        self.generation = None
        self.log.warning(
            "iSendPro alert to %s: its de-duplication marker in %s was claimed by other invocations %d "
            "times in a row; sending anyway (it may arrive twice)",
            plan.masked, self.store.describe(), _ROUNDS,
        )  # fmt: skip
        return True

    def settle(self, state: str, plan: AlertPlan, detail: str) -> None:
        """Record how this invocation's send ended, as a new record of its generation.

        Without a claim of its own (the store failed at the claim), only ``sent``/``held`` is recorded:
        it can only stop later sends, which is right; a ``failed`` beside another invocation's live claim
        would let a third send while that one is still sending."""
        if not self.owned and state not in FINAL_STATES:
            return
        generation = self.generation if self.generation is not None else 0
        try:
            self.store.create(record_name(self.key, state, generation), self._record(state, plan, detail))
        except Exception as exc:
            self._cannot_write(exc)

    def _record(self, state: str, plan: AlertPlan, detail: str) -> str:
        record = {
            "version": _VERSION,
            "state": state,
            "generation": self.generation,
            "written_at": _now(),
            "recipients": plan.masked,
            "trackers": plan.trackers,
            "detail": detail,
        }
        return json.dumps(record, separators=(",", ":"))

    def _already_done(self, generations: dict[int, Generation], plan: AlertPlan) -> None:
        if any("sent" in gen.outcomes for gen in generations.values()):
            self.log.info(
                "iSendPro alert already sent to %s by an earlier invocation of this callback; "
                "not sending it again", plan.masked,
            )  # fmt: skip
        else:
            self.log.info(
                "iSendPro alert to %s already held back by the throttle (and recorded) by an earlier "
                "invocation of this callback; not recording it again", plan.masked,
            )  # fmt: skip

    def _cannot_read(self, exc: BaseException) -> None:
        self.log.warning(
            "iSendPro alert: cannot read the de-duplication marker in %s (%s); sending anyway",
            self.store.describe(), type(exc).__name__,
        )  # fmt: skip

    def _cannot_write(self, exc: BaseException) -> None:
        self.log.warning(
            "iSendPro alert: cannot write the de-duplication marker in %s (%s); a repeated callback "
            "may send this alert again", self.store.describe(), type(exc).__name__,
        )  # fmt: skip
