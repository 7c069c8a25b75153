"""``IsendproNotifier``: text the on-call phone when a task or a DAG run fails, exactly once if possible.

Works as a task- or DAG-level ``on_failure_callback`` / ``on_retry_callback`` / ``on_success_callback``
(sync :meth:`IsendproNotifier.notify`, run by the worker or the DAG processor) and as an async Deadline
Alert callback in the triggerer (:meth:`IsendproNotifier.async_notify`).

Three rules shape it:

* **An alert never hides the task's failure.** Every error (missing connection, wrong key, 5xx,
  timeout, a template that does not render, an unwritable marker) is logged with the connection id and
  iSendPro's own message, never the key, and the callback returns normally.
* **The alert always fits its budget** (``max_segments``, default one SMS): the text is made sendable
  (GSM-7 for French numbers, secrets redacted, control characters dropped), then shortened at a safe
  boundary with :func:`~airflow_provider_isendpro.sms.fit.fit_message`.
* **No duplicates from double-fired callbacks** (``dedupe``): see :class:`AlertMarker`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications import planning
from airflow_provider_isendpro.notifications.credit import (
    DEFAULT_CREDIT_CACHE,
    DEFAULT_CREDIT_TIMEOUT,
    CreditWatch,
)
from airflow_provider_isendpro.notifications.dispatch import deliver_async, deliver_sync, delivery_for
from airflow_provider_isendpro.notifications.event import (
    AlertEvent,
    alert_zone,
    describe_event,
    exception_summary,
    format_when,
)
from airflow_provider_isendpro.notifications.fallback import (
    NOT_BUILT,
    AlertNotBuilt,
    AlertOutcome,
    acall_fallbacks,
    call_fallbacks,
    check_fallbacks,
    failure_reason,
)
from airflow_provider_isendpro.notifications.marker import PENDING_GRACE_SECONDS, AlertMarker
from airflow_provider_isendpro.notifications.rendering import render
from airflow_provider_isendpro.notifications.text import (
    MIN_DETAIL_WITH_LINK,
    default_alert_text,
    split_recipients,
)
from airflow_provider_isendpro.notifications.throttle import (
    DEFAULT_THROTTLE,
    check_scope,
    parse_throttle,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class IsendproNotifier(BaseNotifier):
    """Send an SMS alert through iSendPro from an Airflow callback.

    .. code-block:: python

        from airflow_provider_isendpro.notifications.sms import IsendproNotifier

        @task(on_failure_callback=IsendproNotifier(to="06 12 34 56 78"))
        def load(): ...

    :param to: the number(s) to text: a string (several separated by commas) or a list. Templated, so
        ``"{{ var.value.oncall_phone }}"`` works. Invalid numbers are logged and skipped.
    :param text: the message, a Jinja template rendered with the callback context plus
        ``exception_summary`` (``"ValueError: bad row"``). Default (None): a short message built from
        the context (see :func:`default_alert_text`). Shortened to fit ``max_segments``.
    :param sender: sender id (``emetteur``, 4-11 letters/digits); default: the connection's ``sender``
        extra, else iSendPro's default. A custom sender makes iSendPro append its STOP mention, which
        is counted in the budget (see ``nostop``). An invalid sender is logged and left out.
    :param nostop: ask iSendPro to leave out the STOP mention (approved transactional accounts).
    :param max_segments: SMS parts the alert may use (1-6); the text is shortened to fit.
    :param ucs2_overseas: let alerts to the French overseas departments (Réunion, Guadeloupe...) carry
        non-GSM characters as UCS-2; by default they are made GSM-7, as for metropolitan France (always).
    :param isendpro_conn_id: the iSendPro connection (templated).
    :param only_on_final_failure: skip the alert when the task will be retried (state ``up_for_retry``,
        or tries left), so on-call hears only about failures that need a human.
    :param dedupe: send each alert at most once per event even if the callback fires twice (see
        :class:`AlertMarker`); needs ``ledger_path`` storage that every worker and the DAG processor reach.
    :param include_link: with the default text, add the task log (or DAG run) link when it fits.
    :param throttle: at most one SMS per recipient per window of this length (``"10m"``, ``"90s"``,
        ``"1h"``, a ``timedelta``; ``None`` sends every alert). Alerts inside an open window are held
        back: recorded in the ledger, logged at WARNING, and listed by the first alert sent after the
        window (``(+37 more since 03:02: etl.load[0-35], etl.report)``) or by
        :class:`~airflow_provider_isendpro.operators.alert_digest.IsendproAlertDigestOperator`.
        Task, DAG-level and Deadline Alert paths all obey it. Default ``"10m"``. See
        :mod:`~airflow_provider_isendpro.notifications.throttle`.
    :param throttle_scope: ``"dag"`` (default: per DAG and recipient), ``"global"`` (per recipient, for
        every notifier using the same ledger) or a custom key shared by the notifiers that name it.
    :param ledger_path: where de-duplication markers and throttle windows live (default ``[isendpro]
        ledger_path``, else ``$AIRFLOW_HOME/isendpro/ledger``), under ``_notifier/``. An alert is never
        refused for its storage: under a remote executor (Celery, Kubernetes...) a local-disk ledger
        de-duplicates and throttles on this machine only, an unusable one within this process only, and
        an ERROR line says so and names ``[isendpro] ledger_path`` (see
        :mod:`~airflow_provider_isendpro.notifications.storage`).
    :param ledger_conn_id: Airflow connection for an object-storage ``ledger_path`` (default
        ``[isendpro] ledger_conn_id``).
    :param fallback: a notifier (any Airflow notifier, e.g. the SMTP provider's, or a second
        ``IsendproNotifier`` on another connection), a callable taking the context, or a list of them:
        called with the same context when the SMS could not go (see
        :mod:`~airflow_provider_isendpro.notifications.fallback`). Never raises into Airflow. In a
        Deadline Alert's ``AsyncCallback`` kwargs (stored as JSON) give its JSON form: an import path or
        ``{"path": "module.Class", "kwargs": {...}}``; an object there fails the DAG's serialisation.
    :param fallback_on_unknown: call the fallbacks also when the SMS is in doubt (sent, no answer).
    :param min_credit: warn below this credit, in euros (as :class:`~airflow_provider_isendpro.sensors.
        credit.CreditSensor`'s): when the account's credit is below it, the alert's last words say so
        (``Credit low: 3.20 EUR left (min 10.00 EUR)``, fitted to ``max_segments``, left out rather than
        cut the headline) and the fallbacks are told too, even though the SMS went out. See
        :mod:`~airflow_provider_isendpro.notifications.credit`. Default None: the credit is not read.
    :param min_sms: the same threshold in SMS to France (iSendPro's estimate); one of the two at most.
    :param credit_timeout: seconds the credit read may take (default 2): past it, or on any error, the
        alert goes out without the check (logged at WARNING).
    :param credit_cache: how long this process reuses a credit read (or its failure), per connection
        (``"5m"`` by default, a duration as for ``throttle``, 0 to read every time).
    :param timezone: the zone of the failure's time in the default text (``"Europe/Paris"`` gives
        ``2026-12-07 16:05 CET``); the time is the task's end (the run's for DAG callbacks, the deadline
        for Deadline Alerts), else the time of the callback. Default ``"UTC"``.
    """

    template_fields: Sequence[str] = ("to", "text", "sender", "isendpro_conn_id")
    #: Alerts are text: render every field to a string, whatever the DAG's setting.
    render_template_as_native_obj = False

    def __init__(
        self,
        to: str | Sequence[str],
        text: str | None = None,
        *,
        sender: str | None = None,
        nostop: bool = False,
        max_segments: int = 1,
        ucs2_overseas: bool = False,
        isendpro_conn_id: str = "isendpro_default",
        only_on_final_failure: bool = False,
        dedupe: bool = True,
        include_link: bool = True,
        ledger_path: str | None = None,
        ledger_conn_id: str | None = None,
        throttle: str | dt.timedelta | float | None = DEFAULT_THROTTLE,
        throttle_scope: str = "dag",
        timezone: str | dt.tzinfo = "UTC",
        fallback: Any = None,
        fallback_on_unknown: bool = False,
        min_credit: float | None = None,
        min_sms: int | None = None,
        credit_timeout: float = DEFAULT_CREDIT_TIMEOUT,
        credit_cache: str | dt.timedelta | float = DEFAULT_CREDIT_CACHE,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_isendpro.sms import ISENDPRO_MAX_SEGMENTS

        if not to or not (
            isinstance(to, str) or (isinstance(to, (list, tuple)) and all(isinstance(t, str) for t in to))
        ):
            raise IsendproValidationError(
                field="to", value=to, rule="must be a phone number, several separated by commas, or a list"
            )
        if (
            isinstance(max_segments, bool)
            or not isinstance(max_segments, int)
            or not 1 <= max_segments <= ISENDPRO_MAX_SEGMENTS
        ):
            raise IsendproValidationError(
                field="max_segments", value=max_segments, rule=f"must be 1 to {ISENDPRO_MAX_SEGMENTS}"
            )
        self.to = to
        self.text = text
        self.sender = sender
        self.nostop = nostop
        self.max_segments = max_segments
        self.ucs2_overseas = ucs2_overseas
        self.isendpro_conn_id = isendpro_conn_id
        self.only_on_final_failure = only_on_final_failure
        self.dedupe = dedupe
        self.include_link = include_link
        self.ledger_path = ledger_path
        self.ledger_conn_id = ledger_conn_id
        self.throttle = throttle
        self.throttle_seconds = parse_throttle(throttle)
        self.throttle_scope = check_scope(throttle_scope)
        self.timezone = timezone
        self.zone = alert_zone(timezone)
        self.fallback = check_fallbacks(fallback)
        self.fallback_on_unknown = fallback_on_unknown
        self.min_credit = min_credit
        self.min_sms = min_sms
        self.credit_timeout = credit_timeout
        self.credit_cache = credit_cache
        self.credit_watch = CreditWatch.build(min_credit, min_sms, credit_timeout, credit_cache)
        super().__init__(**kwargs)

    # -- entry points -----------------------------------------------------------------------------------

    def __call__(self, *args: Any) -> None:
        """Airflow calls this with the context (task/DAG callbacks). Never raises."""
        if len(args) == 1:
            context = args[0]
        else:  # the legacy SLA-miss signature BaseNotifier also accepts
            context = {"dag": args[0], "task_list": args[1], "blocking_task_list": args[2],
                       "blocking_tis": args[3]}  # fmt: skip
        self.notify(context)

    def __await__(self) -> Any:
        """Deadline Alerts: ``await IsendproNotifier(to=..., context=...)`` in the triggerer."""
        return self.async_notify(self.context).__await__()

    def notify(self, context: Context) -> None:
        """Render, fit and send the alert (blocking); the fallbacks when it did not go (or the credit is
        low). Never raises."""
        outcome = AlertOutcome()
        try:
            outcome.failure = self._send_sync(context, outcome)
        except AlertNotBuilt:
            outcome.failure = NOT_BUILT
        except Exception as exc:  # rendering or context problems: nothing was sent
            outcome.failure = self._failed(exc)
        reason = outcome.reason
        if reason is not None and self.fallback:
            call_fallbacks(self.fallback, outcome.context_for(context), reason, self.log, sent=outcome.sent)

    async def async_notify(self, context: Context) -> None:
        """The same as :meth:`notify` on the async client, for the triggerer. Never raises."""
        outcome = AlertOutcome()
        try:
            outcome.failure = await self._send_async(context, outcome)
        except AlertNotBuilt:
            outcome.failure = NOT_BUILT
        except Exception as exc:
            outcome.failure = self._failed(exc)
        reason = outcome.reason
        if reason is not None and self.fallback:
            await acall_fallbacks(
                self.fallback, outcome.context_for(context), reason, self.log, sent=outcome.sent
            )

    # -- sending (rendering: rendering.py, planning: planning.py, the rest: dispatch.py) ------------------

    def _send_sync(self, context: Context, outcome: AlertOutcome) -> str | None:
        """Why the alert did not go (for the fallbacks), or None."""
        rendered, ctx = render(self, context)
        event = describe_event(ctx, self.zone)
        if planning.should_skip(rendered, event):
            return None
        try:
            return deliver_sync(rendered, event, outcome)
        except AlertNotBuilt:
            return NOT_BUILT
        except Exception as exc:
            return rendered._failed(exc)

    async def _send_async(self, context: Context, outcome: AlertOutcome) -> str | None:
        rendered, ctx = render(self, context)
        event = describe_event(ctx, self.zone)
        if planning.should_skip(rendered, event):
            return None
        try:
            return await deliver_async(rendered, event, outcome)
        except AlertNotBuilt:
            return NOT_BUILT
        except Exception as exc:
            return rendered._failed(exc)

    def _failed(self, exc: Exception) -> str | None:
        """Log why the alert did not go; return the reason for the fallbacks (None: it may have gone)."""
        delivery_for(self).log_failure(exc)
        return failure_reason(exc, on_unknown=self.fallback_on_unknown)


#: Function-style alias, as Airflow's own notifiers offer:
#: ``on_failure_callback=send_isendpro_notification(to=...)``.
send_isendpro_notification = IsendproNotifier

__all__ = [
    "MIN_DETAIL_WITH_LINK",
    "PENDING_GRACE_SECONDS",
    "AlertEvent",
    "AlertMarker",
    "IsendproNotifier",
    "default_alert_text",
    "describe_event",
    "exception_summary",
    "format_when",
    "send_isendpro_notification",
    "split_recipients",
]
