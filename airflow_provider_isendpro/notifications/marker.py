"""De-duplication markers: one alert event texts at most once even if its callback fires twice."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from airflow_provider_isendpro.notifications.text import AlertPlan
    from airflow_provider_isendpro.record_store import RecordStore

#: A ``pending`` marker younger than this means another invocation is sending the same alert right now
#: (a callback fired twice at once): skip. Older, it was left by an invocation that died mid-send: send
#: again. One send takes at most the connect + read timeouts (5 + 30 s by default), sends are never
#: retried after the request left, so two minutes is a generous bound for "still in flight".
PENDING_GRACE_SECONDS: Final = 120.0
_VERSION: Final = 1


def _now() -> float:
    """Wall-clock seconds for marker ages (a module function so that tests can freeze time)."""
    return time.time()


class AlertMarker:
    """De-duplication of one alert across callback invocations, in the send ledger's storage.

    A marker named by a hash of (DAG, run, task, map index, try, outcome or DAG reason, recipients; see
    :meth:`AlertEvent.dedupe_key`) lives under ``<ledger_path>/_notifier/<dag>/<run>/``. The protocol
    is *at least once unless a successful send is recorded*:

    1. ``claim()`` reads the marker. ``sent`` or ``held`` -> skip: an earlier invocation delivered it (or the
       throttle held it back and recorded it). ``pending``
       younger than :data:`PENDING_GRACE_SECONDS` -> skip: another invocation is sending it right now
       (a callback fired twice at once). Anything else (no marker, ``failed``, ``unknown``, or a stale
       ``pending`` left by an invocation that died mid-send) -> write ``pending`` and send.
    2. ``settle()`` records ``sent``, ``held``, ``failed`` (nothing went out: a later invocation may try
       again) or
       ``unknown`` (the request left but no answer came back; a later invocation sends again).

    Why ``pending`` is written *before* the send: written only after, two invocations a few seconds
    apart would both send. Why a stale ``pending`` does not block: written before and trusted forever,
    a worker killed between the write and the request would mean no alert at all, the worst outcome for
    on-call. The accepted cost is a possible duplicate after a crash mid-send or an ``unknown`` outcome.
    A marker that cannot be read or written never stops the alert: it is logged and the alert is sent.
    """

    def __init__(self, store: RecordStore, key: str, log: Any) -> None:
        self.store = store
        self.name = f"{key}.json"
        self.log = log

    def claim(self, plan: AlertPlan) -> bool:
        """True: go ahead and send (``pending`` has been written); False: skip."""
        record: dict[str, Any] | None = None
        try:
            if self.name in self.store.names():
                record = json.loads(self.store.read(self.name))
        except Exception as exc:
            self.log.warning(
                "iSendPro alert: cannot read the de-duplication marker in %s (%s); sending anyway",
                self.store.describe(), type(exc).__name__,
            )  # fmt: skip
        if record is not None:
            state = record.get("state")
            age = _now() - float(record.get("written_at") or 0)
            if state == "sent":
                self.log.info(
                    "iSendPro alert already sent to %s by an earlier invocation of this callback; "
                    "not sending it again", plan.masked,
                )  # fmt: skip
                return False
            if state == "held":
                self.log.info(
                    "iSendPro alert to %s already held back by the throttle (and recorded) by an earlier "
                    "invocation of this callback; not recording it again", plan.masked,
                )  # fmt: skip
                return False
            if state == "pending" and age < PENDING_GRACE_SECONDS:
                self.log.warning(
                    "iSendPro alert to %s is being sent by another invocation of this callback "
                    "(started %.0f s ago); not sending it twice", plan.masked, max(age, 0.0),
                )  # fmt: skip
                return False
            if state == "pending":
                self.log.warning(
                    "iSendPro alert to %s: an earlier invocation stopped while sending it %.0f s ago; "
                    "sending again (it may arrive twice)", plan.masked, age,
                )  # fmt: skip
        self._write("pending", plan, "")
        return True

    def settle(self, state: str, plan: AlertPlan, detail: str) -> None:
        self._write(state, plan, detail)

    def _write(self, state: str, plan: AlertPlan, detail: str) -> None:
        record = {
            "version": _VERSION,
            "state": state,
            "written_at": _now(),
            "recipients": plan.masked,
            "trackers": plan.trackers,
            "detail": detail,
        }
        try:
            self.store.write(self.name, json.dumps(record, separators=(",", ":")))
        except Exception as exc:
            self.log.warning(
                "iSendPro alert: cannot write the de-duplication marker in %s (%s); a repeated callback "
                "may send this alert again", self.store.describe(), type(exc).__name__,
            )  # fmt: skip
