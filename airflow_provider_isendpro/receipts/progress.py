"""Where a wait for delivery stands: which recipients to wait for, what was seen, whether to stop.

Shared by ``SmsDeliverySensor`` (its poke, in the worker) and ``SmsDeliveryTrigger`` (in the triggerer), so
that both count, judge and report in exactly one way. Pure: no I/O, no Airflow import. The sources
(receipts in the :class:`~.store.ReceiptStore`, rows of the ``/campagne`` report) are read by the callers
and handed here as observations ``{tracker: (status, number)}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_provider_isendpro.receipts.model import (
    DELIVERED,
    EXPIRED,
    FAILED,
    PENDING,
    STATUSES,
    UNKNOWN,
)

#: The order of ``counts`` in the summary: final statuses first, then what is still awaited.
COUNTED = (DELIVERED, FAILED, EXPIRED, UNKNOWN, PENDING)
#: The send buckets (``SendSmsOperator``'s XCom) whose recipients were sent and are waited for:
#: ``already_sent`` is a recipient an earlier try of the same send sent (the ledger says so).
SENT_BUCKETS = frozenset({"sent", "already_sent"})
#: Where the statuses were read.
SOURCES = ("receipts", "report")

#: A recipient's status as a source saw it, and the number the source gave (None: it gave none).
Observation = tuple[str, str | None]

# --------------------------------------------------------------------------------------------------
# What to wait for


@dataclass
class Targets:
    """The recipients to wait for, ``{tracker: number}`` (None: a tracker given without its number),
    in first-seen order, and how many recipients of the send were not sent (not waited for)."""

    numbers: dict[str, str | None] = field(default_factory=dict)
    not_sent: int = 0

    def add_row(self, row: Mapping[str, Any]) -> None:
        """One per-recipient row of a send result: waited for if its bucket says it was sent."""
        tracker = row.get("tracker")
        status = row.get("status", "sent")
        if status in SENT_BUCKETS and tracker:
            number = row.get("number")
            self.add(str(tracker), None if number is None else str(number))
        else:
            self.not_sent += 1

    def add(self, tracker: str, number: str | None) -> None:
        if self.numbers.get(tracker) is None:  # a duplicate keeps the first number it had
            self.numbers[tracker] = number


# --------------------------------------------------------------------------------------------------
# The condition


def check_ratio(value: Any) -> float | None:
    """``min_delivered_ratio``: None (wait until every status is final) or a share in (0, 1]."""
    if value is None:
        return None
    number = math.nan if isinstance(value, bool) else _float(value)
    if not (0 < number <= 1):
        from airflow_provider_isendpro.errors import IsendproValidationError

        raise IsendproValidationError(
            field="min_delivered_ratio",
            value=value,
            rule="must be a share above 0 and at most 1 (e.g. 0.95), or None to wait until every "
            "status is final",
        )
    return number


def _float(value: Any) -> float:
    try:
        return float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    except (ValueError, OverflowError):
        return math.nan


def needed(total: int, ratio: float) -> int:
    """How many deliveries ``ratio`` of ``total`` asks for, rounded up (0.95 of 20 is 19, of 21 is 20).
    Decimal: ``0.07 * 100`` is ``7.000000000000001`` in floats, which would ask for 8."""
    return math.ceil(Decimal(str(ratio)) * total)


def describe_condition(ratio: float | None) -> str:
    return "every status final" if ratio is None else f"at least {ratio:g} of the SMS delivered"


#: The verdicts of :func:`verdict`.
MET, WAITING, UNREACHABLE = "met", "waiting", "unreachable"


def verdict(summary: Mapping[str, Any], ratio: float | None) -> str:
    """``met``, ``waiting``, or ``unreachable`` (too many final non-deliveries for ``ratio``: waiting
    longer cannot help, the sensor fails at once instead of at its timeout)."""
    counts = summary["counts"]
    if ratio is None:
        return MET if counts[PENDING] == 0 else WAITING
    wanted = needed(summary["total"], ratio)
    if counts[DELIVERED] >= wanted:
        return MET
    if counts[DELIVERED] + counts[PENDING] < wanted:
        return UNREACHABLE
    return WAITING


# --------------------------------------------------------------------------------------------------
# The summary (the sensor's XCom, the trigger's event)


def summarise(
    targets: Targets, seen: Mapping[str, Observation], *, source: str, ratio: float | None
) -> dict[str, Any]:
    """The sensor's XCom::

        {"source": "receipts",          # or "report"
         "total": 10,                   # recipients waited for (the send's sent ones)
         "counts": {"delivered": 7, "failed": 1, "expired": 1, "unknown": 0, "pending": 1},
         "delivered": 7,
         "delivered_ratio": 0.7,        # None when total is 0
         "failed": [number, ...], "expired": [...], "unknown": [...], "pending": [...],
         "not_sent": 2,                 # recipients of the send that were not sent: not waited for
         "condition": "every status final",
         "condition_met": False}

    Lists hold the numbers in the send's order; a tracker given without its number that no source has
    seen is listed as its tracker. A status outside the vocabulary counts as ``unknown`` (final).
    """
    counts = dict.fromkeys(COUNTED, 0)
    lists: dict[str, list[str]] = {status: [] for status in COUNTED if status != DELIVERED}
    for tracker, number in targets.numbers.items():
        status, seen_number = seen.get(tracker, (PENDING, None))
        if status not in STATUSES:
            status = UNKNOWN
        counts[status] += 1
        if status != DELIVERED:
            lists[status].append(number or seen_number or tracker)
    total = len(targets.numbers)
    summary: dict[str, Any] = {
        "source": source,
        "total": total,
        "counts": counts,
        "delivered": counts[DELIVERED],
        "delivered_ratio": round(counts[DELIVERED] / total, 4) if total else None,
        **lists,
        "not_sent": targets.not_sent,
        "condition": describe_condition(ratio),
    }
    summary["condition_met"] = verdict(summary, ratio) == MET
    return summary


def describe(summary: Mapping[str, Any]) -> str:
    """``7/10 delivered, 1 failed, 1 expired, 1 pending (receipts)``: one log line."""
    counts = summary["counts"]
    parts = [f"{counts[DELIVERED]}/{summary['total']} delivered"]
    parts += [f"{counts[s]} {s}" for s in COUNTED if s != DELIVERED and counts[s]]
    return ", ".join(parts) + f" ({summary['source']})"


# --------------------------------------------------------------------------------------------------
# Observations from a source


def receipt_observations(receipts: Mapping[str, Any]) -> dict[str, Observation]:
    """``{tracker: DeliveryReceipt}`` (``ReceiptStore.receipts_for``) as observations."""
    return {tracker: (r.status, r.number) for tracker, r in receipts.items()}


def report_observations(
    rows: Iterable[Mapping[str, Any]], wanted: Mapping[str, Any], statuses: Mapping[str, str]
) -> dict[str, Observation]:
    """The ``/campagne`` report's rows for the ``wanted`` trackers as observations.

    Columns are found by header name as ``CampaignReportOperator`` finds them; a raw ``statut`` is mapped
    with ``statuses`` (``[isendpro] dlr_statuses``, as receipts are): an empty one is ``pending``, one
    outside the mapping ``unknown`` (final: iSendPro reported something). A tracker on several rows keeps
    the last row's.

    :raises IsendproResponseError: the report has rows but no tracker or status column.
    """
    from airflow_provider_isendpro.client.reports import (
        NUMBER_COLUMNS,
        STATUS_COLUMNS,
        TRACKER_COLUMNS,
        find_column,
    )

    seen: dict[str, Observation] = {}
    tracker_col = status_col = number_col = None
    for index, row in enumerate(rows):
        if index == 0:
            columns = [str(c) for c in row if c is not None]
            tracker_col = find_column(columns, None, TRACKER_COLUMNS)
            status_col = find_column(columns, None, STATUS_COLUMNS)
            number_col = find_column(columns, None, NUMBER_COLUMNS)
            if tracker_col is None or status_col is None:
                from airflow_provider_isendpro.errors import IsendproResponseError

                what = "tracker" if tracker_col is None else "status"
                raise IsendproResponseError(
                    f"the campaign report has no {what} column among {columns}: the delivery sensor "
                    "cannot read it; use source='receipts' (a delivery-receipt receiver)"
                )
        assert tracker_col is not None and status_col is not None
        tracker = row.get(tracker_col)
        if not tracker or tracker not in wanted:
            continue
        raw = str(row.get(status_col) or "").strip()
        status = PENDING if not raw else statuses.get(raw, UNKNOWN)
        number = row.get(number_col) if number_col is not None else None
        seen[tracker] = (status, str(number) if number else None)
    return seen


__all__ = [
    "COUNTED",
    "MET",
    "SENT_BUCKETS",
    "SOURCES",
    "UNREACHABLE",
    "WAITING",
    "Targets",
    "check_ratio",
    "describe",
    "describe_condition",
    "needed",
    "receipt_observations",
    "report_observations",
    "summarise",
    "verdict",
]
