"""``SmsDeliverySensor``: wait until sent SMS are delivered (deferrable by default, or poke/reschedule)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_isendpro._compat import AirflowSensorTimeout, AirflowSkipException
from airflow_provider_isendpro.credit_rules import error_from_event, is_transient
from airflow_provider_isendpro.errors import IsendproError, IsendproValidationError
from airflow_provider_isendpro.receipts.progress import (
    MET,
    UNREACHABLE,
    Observation,
    Targets,
    check_ratio,
    describe,
    needed,
    receipt_observations,
    summarise,
    verdict,
)
from airflow_provider_isendpro.sending.results import result_rows
from airflow_provider_isendpro.triggers import delivery as _trigger
from airflow_provider_isendpro.triggers.delivery import (
    SmsDeliveryTrigger,
    read_report,
    report_file,
    report_window,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_isendpro.receipts.store import ReceiptStore

#: ``/campagne`` reads: every 15 minutes by default, never more often than every 5. iSendPro documents no
#: rate limit for it, and each read downloads every SMS of the window: a gentle default, a hard floor.
REPORT_INTERVAL = 900.0
REPORT_MIN_INTERVAL = 300.0
SOURCE_CHOICES = ("auto", "receipts", "report")
#: How far before the DAG run's start the report window opens by default (clocks differ a little).
REPORT_START_MARGIN = dt.timedelta(minutes=5)
#: The deferral's own timeout is the sensor's plus this: the trigger ends the wait at the sensor's
#: timeout with what it saw; Airflow's deferral timeout only catches a trigger that could not (triggerer
#: down), and then no summary is known.
DEFER_GRACE = dt.timedelta(minutes=10)
XCOM_KEY = "delivery_report"


# --------------------------------------------------------------------------------------------------
# What to wait for: a send's result (or several), rows, or trackers


def waited_for(value: Any) -> Targets:
    """The recipients to wait for in ``trackers``: a ``SendSmsOperator`` result (inline rows or its
    ``details_path``), a list of them (mapped sends), rows holding ``tracker`` (and ``status``,
    ``number``), or trackers (a list, or a string separated by commas or spaces)."""
    from airflow_provider_isendpro.receipts.model import TRACKER_PATTERN

    targets = Targets()
    for row in result_rows(value, refuse_dry_run=True):
        tracker = row.get("tracker")
        if tracker is not None and TRACKER_PATTERN.fullmatch(str(tracker)) is None:
            raise IsendproValidationError(
                field="trackers", value=tracker, rule="each tracker must be 1 to 49 letters or digits"
            )
        targets.add_row(row)
    return targets


def _only_dry_runs(value: Any) -> bool:
    """A dry run's result (or, mapped, a list of nothing but dry runs): nothing was sent."""
    if isinstance(value, dict):
        return bool(value.get("dry_run"))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return len(value) > 0 and all(_only_dry_runs(v) for v in value)
    return False


def _require_shared_receipts() -> None:
    """Refuse to wait for receipts the API server's receiver stores where this task cannot read them
    (a local disk under a remote executor): it would wait until its timeout and report every SMS pending.

    :raises IsendproConfigError: naming ``[isendpro] ledger_path`` and the executor.
    """
    from airflow_provider_isendpro.errors import IsendproConfigError
    from airflow_provider_isendpro.receipts.store import unshared_storage

    unshared = unshared_storage()
    if unshared:
        location, remote = unshared
        raise IsendproConfigError(
            f"SmsDeliverySensor refuses to wait for delivery receipts: they are stored on a local disk "
            f"({location.root}, from {location.origin}) but [core] executor = {', '.join(remote)} runs this "
            "task on another machine than the API server's receiver, so it would never see them. Set "
            "[isendpro] ledger_path to storage every component reaches (s3://...), or declare a shared "
            "volume with [isendpro] ledger_is_shared = True, or use source='report'"
        )


def _is_literal(value: Any) -> bool:
    """A value written in the DAG file (checked at parse time), not a template or an XComArg."""
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    return isinstance(value, (int, float, list, tuple, dt.datetime, dt.date)) or value is None


def _literal_trackers(value: Any) -> bool:
    """Trackers written in the DAG file, checked at parse time: not a template, not a send's result (an
    XComArg, alone or in a list, or a dict whose details file must not be read while parsing)."""
    if isinstance(value, str):
        return _is_literal(value)
    if isinstance(value, (list, tuple)):
        return all(_literal_trackers(item) for item in value)
    return not isinstance(value, dict) and not hasattr(value, "resolve")  # XComArg.resolve


def _report_time(value: Any) -> dt.datetime:
    """``report_start`` as an aware datetime (a string without offset, or a date, is French time), by
    the report's own rules and errors."""
    from airflow_provider_isendpro.client.endpoints import _api_time

    return _api_time("report_start", value)[1]


class SmsDeliverySensor(BaseSensorOperator):
    """Wait until the SMS of a send are delivered: every status final, or a share of them delivered.

    Statuses come from delivery receipts (iSendPro's callbacks stored by the provider's receiver on the API
    server, see docs/receipts.md) or, without a receiver, from the ``/campagne`` report read every
    ``report_interval``. Only recipients the send reports as sent are waited for. Deferrable by default:
    one check in the worker, then the wait moves to the triggerer; ``deferrable=False`` pokes (``mode``
    ``"poke"`` or ``"reschedule"``). ``timeout``, ``soft_fail`` and ``outlets`` behave as for any sensor.

    XCom: the summary of :func:`airflow_provider_isendpro.receipts.progress.summarise` (counts per status,
    the numbers failed, expired, unknown and pending). When the task ends without success (timeout, the
    share out of reach, soft_fail) the last summary is pushed under the key ``delivery_report`` first.

    :param trackers: a ``SendSmsOperator`` result (``send.output``; mapped sends' results work too) or a
        list of trackers. Templated.
    :param min_delivered_ratio: None (default: wait until every status is final), or a share in (0, 1]:
        succeed once that share of the sent SMS is delivered; fail at once when it cannot be any more.
        Templated.
    :param source: ``"auto"`` (receipts when ``[isendpro] dlr_secret`` is set, else the report),
        ``"receipts"`` or ``"report"``.
    :param report_interval: seconds between two reads of the report (default 900; at least 300).
    :param report_start: the start of the report's window (the send's time). Default: the DAG run's start
        minus 5 minutes. Aware datetime, or ISO string (no offset: French time). Templated.
    :param deferrable: wait in the triggerer (default True).
    :param poll_interval: seconds between two reads of the receipts in the triggerer (default:
        ``poke_interval``).
    :param isendpro_conn_id: the iSendPro connection (report source). Templated.
    """

    template_fields: Sequence[str] = ("trackers", "min_delivered_ratio", "report_start", "isendpro_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"trackers": "json"}
    ui_color = "#eaf0fb"
    poke_interval: float  # seconds, as BaseSensorOperator stores it (raised to report_interval for reports)

    def __init__(
        self,
        *,
        trackers: Any,
        min_delivered_ratio: float | str | None = None,
        source: str = "auto",
        report_interval: float | dt.timedelta = REPORT_INTERVAL,
        report_start: dt.datetime | dt.date | str | None = None,
        deferrable: bool = True,
        poll_interval: float | dt.timedelta | None = None,
        isendpro_conn_id: str = "isendpro_default",
        **kwargs: Any,
    ) -> None:
        if source not in SOURCE_CHOICES:
            raise IsendproValidationError(
                field="source", value=source, rule="must be 'auto', 'receipts' or 'report'"
            )
        interval = _seconds("report_interval", report_interval)
        if interval < REPORT_MIN_INTERVAL:
            raise IsendproValidationError(
                field="report_interval",
                value=report_interval,
                rule=f"must be at least {REPORT_MIN_INTERVAL:.0f} seconds: each read downloads the whole "
                "report, and iSendPro documents no rate limit for it",
            )
        if _is_literal(min_delivered_ratio):
            check_ratio(min_delivered_ratio)
        if _literal_trackers(trackers) and (trackers is None or not waited_for(trackers).numbers):
            raise IsendproValidationError(
                field="trackers", value=trackers, rule="names no tracker to wait for"
            )
        if report_start is not None and _is_literal(report_start):
            _report_time(report_start)
        super().__init__(**kwargs)
        self.trackers = trackers
        self.min_delivered_ratio = min_delivered_ratio
        self.source = source
        self.report_interval = interval
        self.report_start = report_start
        self.deferrable = deferrable
        self.poll_interval = (
            float(self.poke_interval)
            if poll_interval is None
            else self._coerce_poke_interval(poll_interval).total_seconds()
        )
        self.isendpro_conn_id = isendpro_conn_id
        self._plan: _Plan | None = None
        self._last: dict[str, Any] | None = None

    # -- the plan, made once per execute from the rendered values -----------------------------------------

    def _make_plan(self, context: Context) -> _Plan:
        from airflow_provider_isendpro.receipts import ReceiptFormat, receipts_configured

        ratio = check_ratio(self.min_delivered_ratio)
        targets = waited_for(self.trackers)
        source = self.source
        if source == "auto":
            source = "receipts" if receipts_configured() else "report"
        start = None
        if source == "report":
            start = self._report_start(context)
        else:
            _require_shared_receipts()
        statuses = dict(ReceiptFormat.from_config().statuses)
        self.log.info(
            "Waiting for %d SMS (%s; %d of the send not sent) from the %s",
            len(targets.numbers), "every status final" if ratio is None else
            f"{needed(len(targets.numbers), ratio)} delivered", targets.not_sent, source,
        )  # fmt: skip
        return _Plan(targets, source, ratio, start, statuses)

    def _report_start(self, context: Context) -> dt.datetime:
        if self.report_start not in (None, ""):
            return _report_time(self.report_start)
        dag_run = context.get("dag_run")
        started = getattr(dag_run, "start_date", None)
        if started is None:
            raise IsendproValidationError(
                field="report_start",
                value=None,
                rule="this run has no start date to open the report window with: pass report_start=",
            )
        return started - REPORT_START_MARGIN  # type: ignore[no-any-return]

    # -- one check ----------------------------------------------------------------------------------------

    def _observe(self, plan: _Plan) -> dict[str, Observation]:
        if plan.source == "receipts":
            from airflow_provider_isendpro.receipts.store import ReceiptStore

            if plan.store is None:  # one store per execute: it keeps the receipts it has read
                plan.store = ReceiptStore.configured()
            return receipt_observations(plan.store.receipts_for(list(plan.targets.numbers)))
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        assert plan.report_start is not None
        hook = IsendproHook(self.isendpro_conn_id)
        try:
            start, end = report_window(plan.report_start)
            with report_file() as path:
                hook.client.download_campaign_report(start, end, path)
                return read_report(path, plan.targets.numbers, plan.statuses)
        finally:
            hook.close()

    def poke(self, context: Context) -> PokeReturnValue:
        plan = self._plan or self._make_plan(context)
        self._plan = plan
        try:
            seen = self._observe(plan) if plan.targets.numbers else {}  # a send that sent nothing
        except (IsendproError, OSError) as exc:
            if isinstance(exc, IsendproError) and not is_transient(exc):
                raise
            self.log.warning(
                "Could not read delivery statuses from the %s (%s); will check again",
                plan.source, getattr(exc, "message", type(exc).__name__),
            )  # fmt: skip
            return PokeReturnValue(is_done=False)
        summary = self._last = summarise(plan.targets, seen, source=plan.source, ratio=plan.ratio)
        self.log.info("SMS delivery: %s", describe(summary))
        result = verdict(summary, plan.ratio)
        if result == UNREACHABLE:
            raise self._unreachable(summary)
        return PokeReturnValue(is_done=result == MET, xcom_value=summary)

    def _unreachable(self, summary: dict[str, Any]) -> IsendproError:
        return IsendproError(
            f"SMS delivery: {describe(summary)}; the condition ({summary['condition']}) can no longer be "
            f"met, so the sensor stops waiting (the summary is in the XCom '{XCOM_KEY}')"
        )

    # -- the task -----------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if _only_dry_runs(self.trackers):  # "dry run, then real": the dry run's DAG run goes through
            raise AirflowSkipException("the send was a dry run (dry_run=True): no SMS to wait for")
        self._plan = plan = self._make_plan(context)  # rendered values: fail before any read
        self._last = None
        try:
            if not self.deferrable:
                if plan.source == "report":  # the report's floor holds in poke mode too
                    self.poke_interval = max(float(self.poke_interval), self.report_interval)
                summary = super().execute(context)
            else:
                first = self._first_poke(context)
                if not first:
                    self._defer(plan)
                summary = first.xcom_value
        except (AirflowSensorTimeout, AirflowSkipException, IsendproError):
            self._push(context, self._last)
            raise
        return self._succeeded(context, summary)

    def _first_poke(self, context: Context) -> PokeReturnValue:
        """The check before deferring, with the error handling ``BaseSensorOperator.execute`` applies."""
        try:
            return self.poke(context)
        except Exception as exc:
            if self.silent_fail:
                self.log.error("Delivery check failed, deferring anyway (silent_fail): %s", exc)
                return PokeReturnValue(is_done=False)
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from exc
            raise

    def _defer(self, plan: _Plan) -> None:
        finite = math.isfinite(self.timeout)
        deadline = _trigger.utcnow() + dt.timedelta(seconds=self.timeout) if finite else None
        self.defer(
            trigger=SmsDeliveryTrigger(
                numbers=plan.targets.numbers,
                source=plan.source,
                not_sent=plan.targets.not_sent,
                min_delivered_ratio=plan.ratio,
                poll_interval=self.report_interval if plan.source == "report" else self.poll_interval,
                deadline=None if deadline is None else deadline.isoformat(),
                report_start=None if plan.report_start is None else plan.report_start.isoformat(),
                statuses=plan.statuses,
                isendpro_conn_id=self.isendpro_conn_id,
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=self.timeout) + DEFER_GRACE if finite else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: succeed with its summary, or push it and fail (or skip)."""
        event = event or {}
        status = event.get("status")
        summary = event.get("summary") if isinstance(event.get("summary"), dict) else None
        if status == "success" and summary is not None:
            self.log.info("SMS delivery: %s: condition met", describe(summary))
            return self._succeeded(context, summary)
        if status == "timeout":
            self._push(context, summary)
            seen = describe(summary) if summary is not None else "no status could be read"
            message = f"Sensor has timed out after {self.timeout:g} seconds; SMS delivery: {seen}"
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        error: IsendproError
        if status == "unreachable" and summary is not None:
            self._push(context, summary)
            error = self._unreachable(summary)
        else:
            message = event.get("message") or f"unexpected trigger event {event or None!r}"
            error = error_from_event(event, f"iSendPro delivery check failed in the triggerer: {message}")
        if self.never_fail:
            raise AirflowSkipException(f"Skipping due to never_fail is set to True: {error.message}")
        raise error

    def _succeeded(self, context: Context, summary: dict[str, Any]) -> dict[str, Any]:
        """The task's XCom; each Asset outlet's event carries the counts (no numbers: asset events are
        shown in the UI and passed to the DAGs they schedule)."""
        from airflow.sdk import Asset

        extra = {
            "source": summary["source"],
            "total": summary["total"],
            "delivered": summary["delivered"],
            "counts": summary["counts"],
        }
        for outlet in self.outlets or ():
            if isinstance(outlet, Asset):
                context["outlet_events"][outlet].extra.update(extra)
        return summary

    def _push(self, context: Context, summary: dict[str, Any] | None) -> None:
        if summary is not None:
            context["ti"].xcom_push(key=XCOM_KEY, value=summary)


class _Plan:
    """What one execute waits for, from the rendered values."""

    def __init__(
        self,
        targets: Targets,
        source: str,
        ratio: float | None,
        report_start: dt.datetime | None,
        statuses: dict[str, str],
    ) -> None:
        self.targets = targets
        self.source = source
        self.ratio = ratio
        self.report_start = report_start
        self.statuses = statuses
        self.store: ReceiptStore | None = None


def _seconds(field: str, value: Any) -> float:
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = math.nan
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise IsendproValidationError(
            field=field, value=value, rule="must be a number of seconds or a timedelta"
        )
    return seconds


__all__ = ["SmsDeliverySensor", "waited_for"]
