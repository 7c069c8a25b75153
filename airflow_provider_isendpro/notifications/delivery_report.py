"""Did the alerts arrive? The digest's delivery report, and the escalation of those that did not.

:func:`report_deliveries` joins the notifier's journal of alerts sent (:mod:`.journal`) with the
delivery receipts the receiver stored (:class:`~airflow_provider_isendpro.receipts.store.ReceiptStore`)
and sorts each alert of a DAG as:

* ``delivered``: every number it was sent to has a ``delivered`` receipt;
* ``failed``: a number's receipt is final and not ``delivered`` (``failed``, ``expired``, or a
  ``statut`` iSendPro did not document, kept as ``unknown``);
* ``no_receipt``: otherwise (no receipt yet, or only ``pending``).

With ``escalate_after``, a ``failed`` or ``no_receipt`` alert sent at least that long ago is escalated
exactly once: sent to the second number(s) (``escalate_to``) and/or passed to the fallback
(``escalate_fallback``, as the notifier's ``fallback=``). The escalation is recorded first, atomically,
beside the alert's journal entry (the same create-if-absent as the alert marker): of two digests racing,
one escalates; if its send fails the record is removed, so the next digest tries again. All of this runs
in the digest task, never in a callback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_isendpro.notifications import journal
from airflow_provider_isendpro.notifications.journal import (
    SentAlert,
    claim_escalation,
    forget,
    journal_root,
    release_escalation,
    sent_alerts,
)

if TYPE_CHECKING:
    from airflow_provider_isendpro.receipts.model import DeliveryReceipt
    from airflow_provider_isendpro.receipts.store import ReceiptStore
    from airflow_provider_isendpro.record_store import RecordStore

DELIVERED: Final = "delivered"
FAILED: Final = "failed"
NO_RECEIPT: Final = "no_receipt"
#: Journal entries older than this are dropped by the report (they are past any useful escalation).
DEFAULT_HORIZON: Final = "7d"


def alert_status(entry: SentAlert, receipts: dict[str, DeliveryReceipt]) -> str:
    """``delivered``, ``failed`` or ``no_receipt`` for one alert, from its trackers' latest receipts."""
    from airflow_provider_isendpro.receipts.model import DELIVERED as RECEIPT_DELIVERED

    found = [receipts.get(tracker) for tracker in entry.trackers]
    if any(r is not None and r.is_final and r.status != RECEIPT_DELIVERED for r in found):
        return FAILED
    if all(r is not None and r.status == RECEIPT_DELIVERED for r in found):
        return DELIVERED
    return NO_RECEIPT


@dataclass(frozen=True)
class Escalation:
    """Where undelivered alerts go: ``escalate`` is called with the alert and its status, and returns
    how it was escalated (for the record and the XCom); it raises when the escalation did not go."""

    after_seconds: float
    escalate: Any


def report_deliveries(
    store: RecordStore,
    receipts: ReceiptStore,
    *,
    escalation: Escalation | None,
    horizon_seconds: float,
    log: Any,
) -> dict[str, Any]:
    """The delivery report of the journal in ``store`` (one DAG's alerts), escalating as configured.

    Returns ``{"delivered": n, "failed": n, "no_receipt": n, "escalated": n, "alerts": [...]}``, each
    alert as ``{"alert", "sent_at", "to", "status", "escalated"}`` (numbers masked), oldest first."""
    now = journal._now()
    entries, escalated = sent_alerts(store)
    live = []
    for entry in entries:
        if now - entry.sent_at > horizon_seconds:
            forget(store, entry)
        else:
            live.append(entry)
    latest = receipts.receipts_for(t for entry in live for t in entry.trackers)
    counts = {DELIVERED: 0, FAILED: 0, NO_RECEIPT: 0, "escalated": 0}
    alerts = []
    for entry in live:
        status = alert_status(entry, latest)
        counts[status] += 1
        done = entry.id in escalated
        if (
            not done
            and escalation is not None
            and status != DELIVERED
            and now - entry.sent_at >= escalation.after_seconds
        ):
            done = _escalate(store, entry, status, escalation, now=now, log=log)
        counts["escalated"] += done
        alerts.append(
            {"alert": entry.label, "sent_at": _iso(entry.sent_at), "to": list(entry.recipients),
             "status": status, "escalated": done}
        )  # fmt: skip
        log.info(
            "iSendPro alert %s sent at %s to %s: %s%s", entry.label, _iso(entry.sent_at),
            ", ".join(entry.recipients), status.replace("_", " "), " (escalated)" if done else "",
        )  # fmt: skip
    return {**counts, "alerts": alerts}


def _escalate(
    store: RecordStore, entry: SentAlert, status: str, escalation: Escalation, *, now: float, log: Any
) -> bool:
    """Escalate ``entry`` if this call is the one that records it; True when it is (now) escalated."""
    if not claim_escalation(store, entry, status, now):
        return True  # another digest escalated it a moment ago
    try:
        how = escalation.escalate(entry, status)
    except BaseException:
        release_escalation(store, entry)
        raise
    log.warning(
        "iSendPro alert %s sent at %s to %s: %s after %.0f s; escalated %s", entry.label,
        _iso(entry.sent_at), ", ".join(entry.recipients), status.replace("_", " "), now - entry.sent_at, how,
    )  # fmt: skip
    return True


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def escalation_text(entry: SentAlert, status: str, *, max_segments: int, stop_suffix: bool) -> str:
    """``[not delivered: 06****5678] <the alert>`` (``[no receipt: ...]``), fitted to the budget."""
    from airflow_provider_isendpro.sms.fit import fit_message, make_sendable

    what = "not delivered" if status == FAILED else "no receipt"
    head = f"[{what}: {', '.join(entry.recipients)}] "
    return fit_message(
        make_sendable(head + entry.text, gsm_only=True), max_segments=max_segments, stop_suffix=stop_suffix
    )


def escalation_trackers(entry: SentAlert, count: int) -> list[str]:
    label = hashlib.sha256(entry.id.encode()).hexdigest()[:24]
    return [f"escal{label}{i:02d}" for i in range(count)]


def open_journal(ledger_path: str | None, ledger_conn_id: str | None, dag_id: str) -> RecordStore:
    """One DAG's journal under the notifiers' ledger."""
    from airflow_provider_isendpro.record_store import open_record_store
    from airflow_provider_isendpro.sending.location import resolve_ledger

    location = resolve_ledger(ledger_path, ledger_conn_id)
    return open_record_store(journal_root(location), [dag_id], location.conn_id)


def check_escalation(after: Any, to: Any, fallback: Any) -> tuple[float | None, list[Any]]:
    """``escalate_after`` as seconds (None: off) and the fallbacks; refuses half a configuration."""
    from airflow_provider_isendpro.errors import IsendproValidationError
    from airflow_provider_isendpro.notifications.fallback import check_fallbacks
    from airflow_provider_isendpro.notifications.throttle import parse_throttle

    try:
        seconds = parse_throttle(after)
    except IsendproValidationError:
        raise IsendproValidationError(
            field="escalate_after", value=after, rule='must be a duration such as "15m", "1h", or a timedelta'
        ) from None
    fallbacks = check_fallbacks(fallback)
    if (seconds is None) != (not to and not fallbacks):
        raise IsendproValidationError(
            field="escalate_after",
            value=after,
            rule="give escalate_after together with escalate_to (second numbers) and/or escalate_fallback",
        )
    return seconds, fallbacks


def escalator(
    *,
    conn_id: str,
    to: Any,
    fallbacks: list[Any],
    context: Any,
    options: dict[str, Any],
    log: Any,
) -> Any:
    """The digest's escalation: an SMS to the second number(s) ``to`` (with ``options``: ``sender``,
    ``nostop``, ``max_segments``, ``ucs2_overseas``, as for the digest) and/or the fallbacks, called
    with the digest task's context plus ``isendpro_alert`` (``reason``, ``text``: the alert's)."""
    from airflow_provider_isendpro.notifications.delivery import AlertDelivery
    from airflow_provider_isendpro.notifications.fallback import call_fallbacks
    from airflow_provider_isendpro.notifications.text import AlertPlan, split_recipients
    from airflow_provider_isendpro.sms import normalise_number

    numbers = {n.wire: n for n in (normalise_number(raw) for raw in split_recipients(to or []))}

    def escalate(entry: SentAlert, status: str) -> str:
        how = []
        if numbers:
            from airflow_provider_isendpro.hooks.isendpro import IsendproHook
            from airflow_provider_isendpro.sms import mask_number

            sender = options.get("sender")
            text = escalation_text(
                entry, status, max_segments=options.get("max_segments", 1),
                stop_suffix=sender is not None and not options.get("nostop", False),
            )  # fmt: skip
            group = list(numbers.values())
            plan = AlertPlan(group, text, sender, escalation_trackers(entry, len(group)), None)
            delivery = AlertDelivery(
                conn_id, options.get("nostop", False), options.get("max_segments", 1),
                options.get("ucs2_overseas", False), log,
            )  # fmt: skip
            hook = IsendproHook(conn_id)
            try:
                result = delivery.call(hook.client, plan)
            finally:
                hook.close()
            if not result.accepted:
                codes = ", ".join(str(s.code) for s in result.recipients)
                raise RuntimeError(f"iSendPro refused the escalation to every number (code {codes})")
            how.append("by SMS to " + ", ".join(mask_number(s.number) for s in result.accepted))
        if fallbacks:
            what = "not delivered" if status == FAILED else "no delivery receipt"
            reason = (
                f"alert {entry.label} sent at {_iso(entry.sent_at)} to {', '.join(entry.recipients)}: {what}"
            )
            alert = {"sms_sent": True, "reason": reason, "low_credit": None, "text": entry.text}
            call_fallbacks(fallbacks, {**context, "isendpro_alert": alert}, reason, log, sent=True)
            how.append("to the fallback")
        return " and ".join(how)

    return escalate


__all__: Sequence[str] = ["Escalation", "alert_status", "escalator", "report_deliveries"]
