"""Alert throttle: at most one SMS per recipient per window; the rest held back, recorded and reported.

When fifty mapped tasks fail within a minute, the on-call phone should ring once, then hear about the
other forty-nine. Per recipient and scope (``throttle_scope``: ``"dag"``, ``"global"`` or a custom key)
the notifier keeps, in the ledger's storage under ``<ledger>/_notifier/_throttle/<scope>/<number hash>/``:

* ``w<seq>.json``, one per **window**: the first alert after the previous window ended creates the next
  one (``start``, ``until = start + throttle``) and is sent at once.
* ``h-<event>.json``, one per **held alert**: an alert that finds a window open is not sent; it is
  recorded here (what, when) and logged at WARNING.
* ``r<seq>.json``, one per **report**: the first alert of the next window (or the digest, see
  :mod:`~airflow_provider_isendpro.notifications.digest`) lists every held alert no report has listed yet
  and appends ``(+37 more since 03:02: etl.load[0-35], etl.report)`` to its text.

Exactness across workers rests on one primitive: the ledger store's atomic create-if-absent
(:meth:`~airflow_provider_isendpro.record_store.RecordStore.create`). Two processes that both see the
window closed both try to create ``w<n+1>``; exactly one succeeds and sends, the other re-reads and holds.
Reports are claimed the same way, so a held alert is listed by exactly one SMS. A held alert that lands
just after a report was written is listed by the next report: late, never lost.

Assumptions: the store reads its own and other writers' writes at once (a local folder; S3, GCS and Azure
Blob are strongly consistent), and workers' clocks agree to well within the window (NTP): a window's end
is written by the clock of the worker that opened it and compared with the reader's clock.

If the store cannot be read or written, the alert is sent (fail open) and the log says why: a throttle
must never be the reason on-call missed a failure. If the send fails, the window and the report are
released, so the next alert goes out at once and still lists what was held.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_isendpro.errors import IsendproValidationError

if TYPE_CHECKING:
    from airflow_provider_isendpro.notifications.event import AlertEvent
    from airflow_provider_isendpro.notifications.text import AlertPlan
    from airflow_provider_isendpro.record_store import RecordStore
    from airflow_provider_isendpro.sending.location import LedgerLocation

#: The notifier's default window: long enough that a storm costs one or two SMS, short enough that a
#: new, unrelated failure half an hour later rings again.
DEFAULT_THROTTLE: Final = "10m"
SCOPES: Final = ("dag", "global")
#: Attempts at a create race before giving up (then fail open): each lost race means another process
#: made progress, so more than a couple of rounds does not happen in practice.
_ROUNDS: Final = 5
_VERSION: Final = 1
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_WINDOW = re.compile(r"^w(\d+)\.json$")
_REPORT = re.compile(r"^r(\d+)\.json$")


def _now() -> float:
    """Wall-clock seconds (a module function so that tests can freeze time)."""
    return time.time()


def parse_throttle(value: Any) -> float | None:
    """``"10m"``, ``"90s"``, ``"1h"``, ``"1d"``, seconds, a ``timedelta`` or None (off) -> seconds or None.

    :raises IsendproValidationError: anything else, or a window of zero or less.
    """
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.lower())):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds is None or seconds <= 0:
        raise IsendproValidationError(
            field="throttle",
            value=value,
            rule='must be a duration such as "10m", "90s", "1h", a timedelta, or None to send every alert',
        )
    return seconds


def check_scope(value: Any) -> str:
    """``"dag"``, ``"global"`` or a custom key (any other non-empty string)."""
    if not isinstance(value, str) or not value.strip():
        raise IsendproValidationError(
            field="throttle_scope", value=value, rule='must be "dag", "global" or a custom key (a string)'
        )
    return value.strip()


def scope_path(scope: str, dag_id: str) -> list[str]:
    """The store folders of a scope: ``dag/<dag_id>``, ``global`` or ``key/<custom key>``."""
    if scope == "dag":
        return ["dag", dag_id]
    if scope == "global":
        return ["global"]
    return ["key", scope]


def number_folder(wire: str) -> str:
    """A recipient's folder name: a hash, so that phone numbers never appear in object names."""
    return hashlib.sha256(wire.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class HeldAlert:
    """One alert not sent: when, about what (``label``: ``etl.load``; ``map_index`` -1 if not mapped)."""

    at: float
    label: str
    map_index: int = -1
    headline: str = ""

    @classmethod
    def of(cls, event: AlertEvent, at: float) -> HeldAlert:
        return cls(at=at, label=event.label, map_index=event.map_index, headline=event.headline())

    def to_json(self) -> str:
        data = {"version": _VERSION, "at": self.at, "label": self.label, "map_index": self.map_index,
                "headline": self.headline}  # fmt: skip
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> HeldAlert:
        data = json.loads(text)
        return cls(float(data["at"]), str(data["label"]), int(data["map_index"]), str(data["headline"]))


def index_ranges(indexes: Iterable[int]) -> str:
    """``[0, 1, 2, 3, 7, 9, 10]`` -> ``"0-3,7,9-10"``."""
    values = sorted(set(indexes))
    parts: list[str] = []
    start = prev = None
    for value in [*values, None]:
        if prev is not None and value == prev + 1:
            prev = value
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = value
    return ",".join(parts)


def _hhmm(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.timezone.utc).strftime("%H:%M")


def summary_forms(held: Sequence[HeldAlert], *, prefix: str = "+", suffix: str = " more") -> list[str]:
    """What was held, from the most to the least detailed, for the text to keep the first that fits.

    ``(+37 more since 03:02: etl.load[0-35], etl.report)`` (mapped indexes as ranges, ``xN`` when a task
    alerted more often than it has indexes, e.g. retries), then ``(+37 more since 03:02: etl.load x36,
    etl.report)``, then ``(+37 more since 03:02)``. Times are UTC.
    """
    if not held:
        return []
    ordered = sorted(held, key=lambda h: (h.at, h.label, h.map_index))
    groups: dict[str, list[HeldAlert]] = {}
    for alert in ordered:
        groups.setdefault(alert.label, []).append(alert)
    detailed: list[str] = []
    counted: list[str] = []
    for label, alerts in groups.items():
        count = len(alerts)
        indexes = {a.map_index for a in alerts if a.map_index >= 0}
        times = f" x{count}" if count > 1 else ""
        counted.append(label + times)
        if indexes:
            ranges = f"{label}[{index_ranges(indexes)}]"
            detailed.append(ranges + (f" x{count}" if count != len(indexes) else ""))
        else:
            detailed.append(label + times)
    head = f"({prefix}{len(held)}{suffix} since {_hhmm(ordered[0].at)}"
    forms = [f"{head}: {', '.join(detailed)})", f"{head}: {', '.join(counted)})", f"{head})"]
    return list(dict.fromkeys(forms))


@dataclass
class Admission:
    """The throttle's answer for one recipient: send (with what was held before) or hold."""

    send: bool
    held: list[HeldAlert] = field(default_factory=list)
    window: str | None = None
    report: str | None = None
    reason: str = ""
    #: position of the number in the alert's plan (set by :class:`ThrottleGate`)
    index: int = -1


class RecipientThrottle:
    """The windows, held alerts and reports of one (scope, recipient) in one store."""

    def __init__(self, store: RecordStore, seconds: float) -> None:
        self.store = store
        self.seconds = seconds

    # -- reading ----------------------------------------------------------------------------------------

    def _latest_window(self, names: set[str]) -> tuple[int, dict[str, Any] | None]:
        seqs = [int(m.group(1)) for n in names if (m := _WINDOW.match(n))]
        if not seqs:
            return 0, None
        seq = max(seqs)
        return seq, json.loads(self.store.read(f"w{seq:08d}.json"))

    def unreported(self, names: set[str]) -> tuple[int, list[str]]:
        """The last report's number and the held records no report lists yet (oldest name first)."""
        reported: set[str] = set()
        last = 0
        for name in names:
            if match := _REPORT.match(name):
                last = max(last, int(match.group(1)))
                reported.update(json.loads(self.store.read(name))["held"])
        return last, sorted(n for n in names if n.startswith("h-") and n not in reported)

    # -- deciding ---------------------------------------------------------------------------------------

    def admit(self, alert: HeldAlert, key: str | None) -> Admission:
        """Send (this alert opens a new window) or hold (a window is open). May raise on store errors."""
        held_name = f"h-{key or uuid.uuid4().hex}.json"
        for _ in range(_ROUNDS):
            names = self.store.names()
            seq, window = self._latest_window(names)
            now = _now()
            if window is not None and now < float(window["until"]):
                self.store.create(held_name, alert.to_json())  # False: this event is already held
                until = float(window["until"])
                return Admission(send=False, window=f"w{seq:08d}.json", reason=_hhmm(until))
            record = {"version": _VERSION, "start": now, "until": now + self.seconds, "by": alert.label}
            name = f"w{seq + 1:08d}.json"
            if self.store.create(name, json.dumps(record, separators=(",", ":"))):
                admission = self.claim_report()
                admission.window = name
                return admission
            # another process opened window seq+1 a moment ago: read it and hold
        return Admission(send=True, reason="the throttle window was contended too long")

    def claim_report(self) -> Admission:
        """Claim the listing of every held alert not yet reported (for the sending alert or a digest)."""
        for _ in range(_ROUNDS):
            names = self.store.names()
            last, pending = self.unreported(names)
            if not pending:
                return Admission(send=True)
            record = {"version": _VERSION, "at": _now(), "held": pending}
            name = f"r{last + 1:08d}.json"
            if self.store.create(name, json.dumps(record, separators=(",", ":"))):
                held = [HeldAlert.from_json(self.store.read(n)) for n in pending]
                return Admission(send=True, held=held, report=name)
        return Admission(send=True)

    def release(self, admission: Admission) -> None:
        """The send failed: reopen (delete the window, so the next alert is sent at once) and un-list the
        held alerts (delete the report, so the next sent alert lists them)."""
        for name in (admission.report, admission.window):
            if name is not None and admission.send:
                self.store.delete(name)


class ThrottleGate:
    """The notifier's side of the throttle: one :class:`RecipientThrottle` per number, fail open, logs."""

    def __init__(
        self,
        location: LedgerLocation,
        scope: str,
        dag_id: str,
        seconds: float,
        log: Any,
        *,
        open_store: Callable[[str, list[str]], RecordStore] | None = None,
    ) -> None:
        self.location = location
        #: opens a record folder (root, scope); default: the ledger's own store
        self.open_store = open_store
        self.scope = scope
        self.dag_id = dag_id
        self.seconds = seconds
        self.log = log
        self._throttles: dict[int, RecipientThrottle] = {}

    def throttle(self, wire: str) -> RecipientThrottle:
        from airflow_provider_isendpro.record_store import open_record_store

        root = self.location.child("_notifier").child("_throttle").root
        folders = [*scope_path(self.scope, self.dag_id), number_folder(wire)]
        if self.open_store is not None:
            return RecipientThrottle(self.open_store(root, folders), self.seconds)
        return RecipientThrottle(open_record_store(root, folders, self.location.conn_id), self.seconds)

    def track(self, throttle: RecipientThrottle, admission: Admission) -> None:
        """Remember which throttle ``admission`` came from, for :meth:`release`."""
        admission.index = len(self._throttles)
        self._throttles[admission.index] = throttle

    def describe(self) -> str:
        return f"throttle {_duration(self.seconds)}, scope {self.scope!r}"

    def admit(self, plan: AlertPlan, event: AlertEvent) -> list[Admission]:
        """One admission per number of ``plan``; a store error admits (fail open) and says why."""
        from airflow_provider_isendpro.sms import mask_number

        alert = HeldAlert.of(event, _now())
        out = []
        for number in plan.numbers:
            masked = mask_number(number.wire)
            throttle = self.throttle(number.wire)
            try:
                admission = throttle.admit(alert, plan.key)
            except Exception as exc:
                self.log.warning(
                    "iSendPro alert throttle: cannot use its store %s (%s: %s); sending this alert to %s "
                    "anyway (fail open: a throttle never stops an alert)",
                    throttle.store.describe(), type(exc).__name__, exc, masked,
                )  # fmt: skip
                admission = Admission(send=True, reason="store unreachable")
            if admission.send and admission.reason == "the throttle window was contended too long":
                self.log.warning("iSendPro alert throttle (%s): %s; sending to %s", self.describe(),
                                 admission.reason, masked)  # fmt: skip
            if not admission.send:
                self.log.warning(
                    "iSendPro alert to %s held back, not sent (%s): %s. Recorded in %s; the first alert "
                    "after %s UTC, or the alert digest, will list it",
                    masked, self.describe(), alert.headline, throttle.store.describe(), admission.reason,
                )  # fmt: skip
            elif admission.held:
                self.log.info(
                    "iSendPro alert to %s opens a new throttle window (%s) and lists %d alert%s held back",
                    masked, self.describe(), len(admission.held), "" if len(admission.held) == 1 else "s",
                )  # fmt: skip
            self.track(throttle, admission)
            out.append(admission)
        return out

    def release(self, admissions: list[Admission]) -> None:
        """After a failed send: reopen those numbers' windows and un-list their held alerts."""
        for admission in admissions:
            throttle = self._throttles.get(admission.index)
            if throttle is None:
                continue
            try:
                throttle.release(admission)
            except Exception as exc:
                self.log.warning(
                    "iSendPro alert throttle: the alert was not sent and its window could not be reopened in "
                    "%s (%s: %s); alerts in the next %s may be held back",
                    throttle.store.describe(), type(exc).__name__, exc, _duration(self.seconds),
                )  # fmt: skip


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
