"""The alerts that went out, kept with their trackers so that their delivery receipts can close the loop.

After each send iSendPro accepted, the notifier records one entry in the same record store as its
markers and throttle windows (``<ledger>/_notifier/_sent/<dag>/``): when it was sent, what about
(``etl.load[3]``), its text, and the trackers of the numbers iSendPro took. The alert digest
(:mod:`~airflow_provider_isendpro.notifications.delivery_report`) joins them with the receipts the
receiver stored (:class:`~airflow_provider_isendpro.receipts.store.ReceiptStore`) and escalates the
alerts that were not delivered.

Entries are created once (the store's atomic ``create``) and never rewritten; an escalation is a second
record beside its entry (``<entry>.escalated.json``), created atomically by the one digest that
escalates. The notifier writes nothing here when it has no storage (``dedupe=False, throttle=None``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import SendResult
    from airflow_provider_isendpro.notifications.event import AlertEvent
    from airflow_provider_isendpro.notifications.text import AlertPlan
    from airflow_provider_isendpro.record_store import RecordStore
    from airflow_provider_isendpro.sending.location import LedgerLocation

#: The journal's folder under ``<ledger>/_notifier``.
FOLDER: Final = "_sent"
_VERSION: Final = 1
_ENTRY = re.compile(r"^(?P<id>e\d{13}-[A-Za-z0-9]+)\.json$")
_ESCALATED = re.compile(r"^(?P<id>e\d{13}-[A-Za-z0-9]+)\.escalated\.json$")


def _now() -> float:
    """Wall-clock seconds, the journal's and the delivery report's clock (tests move it)."""
    return time.time()


def journal_root(location: LedgerLocation) -> str:
    """The journal's root under a ledger location (one folder per DAG below it)."""
    return location.child("_notifier").child(FOLDER).root


@dataclass(frozen=True)
class SentAlert:
    """One alert send iSendPro accepted: ``trackers`` of the numbers it took (masked in ``recipients``)."""

    id: str
    sent_at: float
    dag_id: str
    label: str
    text: str
    trackers: tuple[str, ...]
    recipients: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(
            {"version": _VERSION, "sent_at": self.sent_at, "dag_id": self.dag_id, "label": self.label,
             "text": self.text, "trackers": list(self.trackers), "recipients": list(self.recipients)},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def from_json(cls, entry_id: str, text: str) -> SentAlert:
        data = json.loads(text)
        return cls(
            id=entry_id,
            sent_at=float(data["sent_at"]),
            dag_id=str(data["dag_id"]),
            label=str(data["label"]),
            text=str(data["text"]),
            trackers=tuple(str(t) for t in data["trackers"]),
            recipients=tuple(str(r) for r in data["recipients"]),
        )


def record_sent(
    store: RecordStore, event: AlertEvent, part: AlertPlan, result: SendResult, log: Any
) -> SentAlert | None:
    """Journal one accepted send (nothing when iSendPro took none of its numbers). Never raises: an
    alert is never failed by its bookkeeping (the error is logged)."""
    from airflow_provider_isendpro.sms import mask_number

    accepted = {status.number for status in result.accepted}
    pairs = [(t, n) for t, n in zip(part.trackers, part.numbers, strict=True) if n.wire in accepted]
    if not pairs:
        return None
    now = _now()
    label = event.label if event.map_index < 0 else f"{event.label}[{event.map_index}]"
    entry = SentAlert(
        id=f"e{int(now * 1000):013d}-{pairs[0][0]}",
        sent_at=now,
        dag_id=event.dag_id,
        label=label,
        text=part.text,
        trackers=tuple(t for t, _ in pairs),
        recipients=tuple(mask_number(n.wire) for _, n in pairs),
    )
    try:
        store.create(f"{entry.id}.json", entry.to_json())
    except Exception as exc:
        log.warning(
            "iSendPro alert: could not record its trackers for delivery receipts in %s (%s)",
            store.describe(), type(exc).__name__,
        )  # fmt: skip
        return None
    log.debug("iSendPro alert trackers %s recorded for delivery receipts", ", ".join(entry.trackers))
    return entry


def sent_alerts(store: RecordStore) -> tuple[list[SentAlert], set[str]]:
    """The journal's entries (oldest first, then by label) and the ids of those already escalated."""
    names = store.names()
    escalated = {m.group("id") for n in names if (m := _ESCALATED.match(n))}
    entries = []
    for name in sorted(names):
        match = _ENTRY.match(name)
        if match is None:
            continue
        try:
            entries.append(SentAlert.from_json(match.group("id"), store.read(name)))
        except (FileNotFoundError, KeyError, ValueError):  # purged meanwhile, or not ours
            continue
    entries.sort(key=lambda e: (e.sent_at, e.label, e.id))
    return entries, escalated


def claim_escalation(store: RecordStore, entry: SentAlert, how: str, now: float) -> bool:
    """Record that ``entry`` is escalated (atomic create): True for the one caller that should do it."""
    record = json.dumps({"version": _VERSION, "escalated_at": now, "how": how}, separators=(",", ":"))
    return store.create(f"{entry.id}.escalated.json", record)


def release_escalation(store: RecordStore, entry: SentAlert) -> None:
    """The escalation could not go: let the next digest try again."""
    store.delete(f"{entry.id}.escalated.json")


def forget(store: RecordStore, entry: SentAlert) -> None:
    """Drop an entry (and its escalation record) past the report's horizon."""
    store.delete(f"{entry.id}.escalated.json")
    store.delete(f"{entry.id}.json")
