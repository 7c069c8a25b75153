"""``SmsDeliveryTrigger``: wait in the triggerer until sent SMS are delivered (receipts or the report).

Also home of the two source readers the sensor's poke shares (the sensor imports this module to defer
anyway): :func:`report_window` and :func:`read_report`. Counting and judging are in
:mod:`airflow_provider_isendpro.receipts.progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_isendpro.credit_rules import error_event, is_transient
from airflow_provider_isendpro.errors import IsendproError, IsendproValidationError
from airflow_provider_isendpro.receipts.progress import (
    MET,
    SOURCES,
    UNREACHABLE,
    Observation,
    Targets,
    check_ratio,
    describe,
    receipt_observations,
    report_observations,
    summarise,
    verdict,
)

#: What the trigger waits with (tests replace it to run without waiting).
sleep = asyncio.sleep

#: The ``/campagne`` window ends this long after now: its bounds are whole minutes (``hh:mm``) and the
#: end must be after the start, even for a send made in the current minute.
REPORT_END_MARGIN = dt.timedelta(minutes=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def report_window(start: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The ``/campagne`` range to read: from ``start`` (the send's time) to now."""
    return start, utcnow() + REPORT_END_MARGIN


def read_report(path: str, wanted: Mapping[str, Any], statuses: Mapping[str, str]) -> dict[str, Observation]:
    """The observations in a downloaded ``/campagne`` zip (blocking: the trigger runs it in a thread)."""
    from airflow_provider_isendpro.client.reports import iter_report_rows

    return report_observations(iter_report_rows(path), wanted, statuses)


@contextlib.contextmanager
def report_file() -> Any:
    """A temporary path for one report download, removed afterwards."""
    fd, path = tempfile.mkstemp(prefix="isendpro-delivery-", suffix=".zip")
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _aware(field: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise IsendproValidationError(
            field=field, value=value, rule="must be an ISO-8601 time with an offset"
        )
    return moment


class SmsDeliveryTrigger(BaseTrigger):
    """Poll delivery statuses until the condition holds, it cannot hold any more, or the deadline passes.

    Sleeps ``poll_interval`` first (the sensor has just checked in the worker), then reads the source:
    ``receipts`` (the :class:`~airflow_provider_isendpro.receipts.store.ReceiptStore`, read in a thread)
    or ``report`` (``/campagne`` through the async client, from ``report_start`` to now). Fires one
    event, ``{"status": "success" | "unreachable" | "timeout", "summary": {...}}`` (the summary of
    :func:`~airflow_provider_isendpro.receipts.progress.summarise`; on ``timeout`` None if no read
    succeeded), or ``{"status": "error", "message", "error_type", "code"}``. Transient failures (network,
    5xx, 429, an unreachable store) are logged and read again at the next poll.

    :param numbers: ``{tracker: number or None}``, the recipients waited for.
    :param source: ``"receipts"`` or ``"report"``.
    :param not_sent: recipients of the send not sent (reported, not waited for).
    :param min_delivered_ratio: None (every status final) or the share delivered that ends the wait.
    :param poll_interval: seconds between two reads.
    :param deadline: ISO-8601 time (with offset) after which the trigger fires ``timeout``; None: never.
    :param report_start: ISO-8601 time (with offset), the start of the ``/campagne`` window.
    :param statuses: raw report ``statut`` -> status (``[isendpro] dlr_statuses``, read by the sensor).
    :param isendpro_conn_id: the iSendPro connection (report source).
    """

    def __init__(
        self,
        *,
        numbers: dict[str, str | None],
        source: str,
        not_sent: int = 0,
        min_delivered_ratio: float | None = None,
        poll_interval: float = 60.0,
        deadline: str | None = None,
        report_start: str | None = None,
        statuses: dict[str, str] | None = None,
        isendpro_conn_id: str = "isendpro_default",
    ) -> None:
        super().__init__()
        if source not in SOURCES:
            raise IsendproValidationError(field="source", value=source, rule="must be 'receipts' or 'report'")
        if source == "report" and report_start is None:
            raise IsendproValidationError(
                field="report_start", value=None, rule="is needed to read the report"
            )
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, (int, float))
            or poll_interval < 0
        ):
            raise IsendproValidationError(
                field="poll_interval", value=poll_interval, rule="must be a number of seconds >= 0"
            )
        self.numbers = dict(numbers)
        self.source = source
        self.not_sent = int(not_sent)
        self.min_delivered_ratio = check_ratio(min_delivered_ratio)
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.report_start = report_start
        self._deadline = _aware("deadline", deadline)
        self._report_start = _aware("report_start", report_start)
        self.statuses = dict(statuses or {})
        self.isendpro_conn_id = isendpro_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "numbers": self.numbers,
                "source": self.source,
                "not_sent": self.not_sent,
                "min_delivered_ratio": self.min_delivered_ratio,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "report_start": self.report_start,
                "statuses": self.statuses,
                "isendpro_conn_id": self.isendpro_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except Exception as exc:  # never let the triggerer see a crash without an event
            self.log.exception("iSendPro delivery trigger failed")
            event = error_event(exc, f"unexpected {type(exc).__name__} while waiting for delivery")
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        if self.source == "receipts":
            return await self._loop(self._receipts_reader())
        from airflow_provider_isendpro.client.retry import NO_RETRY
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        # One download per poll: a transient failure waits for the next poll (the report's interval has a
        # floor that a retry loop here would get around).
        try:
            client = await IsendproHook(self.isendpro_conn_id, retry=NO_RETRY).get_async_client()
        except IsendproError as exc:
            return error_event(exc, exc.message)
        async with client:

            async def read() -> dict[str, Observation]:
                assert self._report_start is not None
                start, end = report_window(self._report_start)
                with report_file() as path:
                    await client.download_campaign_report(start, end, path)
                    return await asyncio.to_thread(read_report, path, self.numbers, self.statuses)

            return await self._loop(read)

    def _receipts_reader(self) -> Any:
        from airflow_provider_isendpro.receipts.store import ReceiptStore

        store = ReceiptStore.configured()  # one store: it keeps the receipts it has read

        async def read() -> dict[str, Observation]:
            receipts = await asyncio.to_thread(store.receipts_for, list(self.numbers))
            return receipt_observations(receipts)

        return read

    async def _loop(self, read: Any) -> dict[str, Any]:
        targets = Targets(self.numbers, self.not_sent)
        summary: dict[str, Any] | None = None
        while True:
            await sleep(self._next_wait())
            try:
                seen = await read()
            except (IsendproError, OSError) as exc:
                if isinstance(exc, IsendproError) and not is_transient(exc):
                    return error_event(exc, exc.message)
                self.log.warning(
                    "Could not read delivery statuses from the %s (%s); reading again in %.0f s",
                    self.source, getattr(exc, "message", type(exc).__name__), self.poll_interval,
                )  # fmt: skip
            else:
                summary = summarise(targets, seen, source=self.source, ratio=self.min_delivered_ratio)
                result = verdict(summary, self.min_delivered_ratio)
                self.log.info("SMS delivery: %s", describe(summary))
                if result == MET:
                    return {"status": "success", "summary": summary}
                if result == UNREACHABLE:
                    return {"status": "unreachable", "summary": summary}
            if self._deadline is not None and utcnow() >= self._deadline:
                return {"status": "timeout", "summary": summary}

    def _next_wait(self) -> float:
        """The poll interval, cut short by the deadline (so the last read is made at the deadline)."""
        if self._deadline is None:
            return self.poll_interval
        left = (self._deadline - utcnow()).total_seconds()
        return max(0.0, min(self.poll_interval, left))
