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

import asyncio
import copy
import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications.context import add_accessors, async_default_sender
from airflow_provider_isendpro.notifications.delivery import AlertDelivery
from airflow_provider_isendpro.notifications.event import (
    AlertEvent,
    alert_zone,
    context_exception,
    describe_event,
    exception_summary,
    format_when,
)
from airflow_provider_isendpro.notifications.fallback import (
    NOT_BUILT,
    acall_fallbacks,
    call_fallbacks,
    check_fallbacks,
    failure_reason,
    refused_every,
)
from airflow_provider_isendpro.notifications.marker import PENDING_GRACE_SECONDS, AlertMarker
from airflow_provider_isendpro.notifications.text import (
    MIN_DETAIL_WITH_LINK,
    AlertPlan,
    default_alert_text,
    redact,
    split_recipients,
    with_summary,
)
from airflow_provider_isendpro.notifications.throttle import (
    DEFAULT_THROTTLE,
    Admission,
    ThrottleGate,
    check_scope,
    parse_throttle,
    summary_forms,
)

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_isendpro.client import SendResult
    from airflow_provider_isendpro.notifications.storage import AlertStorage
    from airflow_provider_isendpro.sms import PhoneNumber


class _Aborted(Exception):
    """The alert cannot be sent (reason already logged)."""


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
        :mod:`~airflow_provider_isendpro.notifications.fallback`). Never raises into Airflow.
    :param fallback_on_unknown: call the fallbacks also when the SMS is in doubt (sent, no answer).
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
        """Render, fit and send the alert (blocking); the fallbacks when it did not go. Never raises."""
        try:
            failure = self._send_sync(context)
        except _Aborted:
            failure = NOT_BUILT
        except Exception as exc:  # rendering or context problems: nothing was sent
            failure = self._failed(exc)
        if failure is not None and self.fallback:
            call_fallbacks(self.fallback, context, failure, self.log)

    async def async_notify(self, context: Context) -> None:
        """The same as :meth:`notify` on the async client, for the triggerer. Never raises."""
        try:
            failure = await self._send_async(context)
        except _Aborted:
            failure = NOT_BUILT
        except Exception as exc:
            failure = self._failed(exc)
        if failure is not None and self.fallback:
            await acall_fallbacks(self.fallback, context, failure, self.log)

    # -- rendering --------------------------------------------------------------------------------------

    def _template_env(self, dag: Any) -> jinja2.Environment:
        # A DAG-level callback under dag.test() gets a SerializedDAG without get_template_env
        # (apache/airflow#64649): fall back to a plain sandboxed environment instead of failing.
        if dag is not None and callable(getattr(dag, "get_template_env", None)):
            try:
                env: jinja2.Environment = self.get_template_env(dag=dag)
                return env
            except Exception as exc:
                self.log.warning("DAG template environment unavailable (%s); using a plain one", exc)
        plain: jinja2.Environment = self.get_template_env()
        return plain

    def _rendered(self, context: Context) -> tuple[IsendproNotifier, dict[str, Any]]:
        """A rendered copy and the context it saw; ``self`` stays a template (the DAG processor reuses it)."""
        ctx: dict[str, Any] = dict(context)  # Airflow's dict is passed on to other callbacks: untouched
        ctx.setdefault("exception_summary", exception_summary(context_exception(ctx)))
        add_accessors(ctx)
        rendered = copy.copy(self)
        env = self._template_env(ctx.get("dag"))
        for field in self.template_fields:
            try:
                self._do_render_template_fields(rendered, [field], ctx, env, set())
            except Exception as exc:
                summary = f"{type(exc).__name__}: {exc}"
                if field == "text":
                    self.log.error(
                        "iSendPro alert: the text template failed to render (%s); sending the default "
                        "alert text instead", redact(summary),
                    )  # fmt: skip
                    rendered.text = None
                else:
                    self.log.error(
                        "iSendPro alert NOT sent: template field %r failed to render (%s)",
                        field,
                        redact(summary),
                    )
                    raise _Aborted from None
        return rendered, ctx

    # -- planning ---------------------------------------------------------------------------------------

    def _numbers(self) -> list[PhoneNumber]:
        from airflow_provider_isendpro.sms import mask_number, normalise_number

        numbers: dict[str, PhoneNumber] = {}
        for raw in split_recipients(self.to):
            try:
                number = normalise_number(raw)
            except IsendproValidationError as exc:
                digits = "".join(c for c in raw if c.isdigit())
                self.log.error(
                    "iSendPro alert: skipping invalid number %s: %s", mask_number(digits), exc.rule
                )
                continue
            numbers.setdefault(number.wire, number)
        if not numbers:
            self.log.error("iSendPro alert NOT sent: no valid phone number in 'to'")
            raise _Aborted
        return list(numbers.values())

    def _sender(self, default: str | None) -> str | None:
        from airflow_provider_isendpro.sms import validate_sender

        sender = self.sender if self.sender not in (None, "") else default
        if sender in (None, ""):
            return None
        try:
            return validate_sender(str(sender))
        except IsendproValidationError as exc:
            self.log.error(
                "iSendPro alert: sender %r is invalid (%s); sending without a custom sender", sender, exc.rule
            )
            return None

    def _plan(self, event: AlertEvent, default_sender: str | None) -> AlertPlan:
        """The alert to every number, without any held-back summary (what de-duplication tracks)."""
        numbers = self._numbers()
        sender = self._sender(default_sender)
        key = event.dedupe_key([n.wire for n in numbers]) if self.dedupe else None
        text = self._text(event, numbers, sender, ())
        label = key or hashlib.sha256(text.encode()).hexdigest()[:32]
        trackers = [f"alert{label[:24]}{i:02d}" for i in range(len(numbers))]
        return AlertPlan(numbers=numbers, text=text, sender=sender, trackers=trackers, key=key)

    def _text(
        self, event: AlertEvent, numbers: list[PhoneNumber], sender: str | None, held: Sequence[str]
    ) -> str:
        from airflow_provider_isendpro.sms.fit import fit_message, make_sendable

        stop_suffix = sender is not None and not self.nostop
        gsm_only = any(n.gsm_only_for(ucs2_overseas=self.ucs2_overseas) for n in numbers)
        segments = self.max_segments
        if self.text is None or not str(self.text).strip():
            return default_alert_text(
                event, max_segments=segments, stop_suffix=stop_suffix, gsm_only=gsm_only,
                include_link=self.include_link, held=held,
            )  # fmt: skip
        text = make_sendable(redact(str(self.text)), gsm_only=gsm_only)
        if held:
            keep = min(len(text), MIN_DETAIL_WITH_LINK)
            return with_summary(text, held, keep=keep, max_segments=segments, stop_suffix=stop_suffix)
        return fit_message(text, max_segments=segments, stop_suffix=stop_suffix)

    def _should_skip(self, event: AlertEvent) -> bool:
        if self.only_on_final_failure and event.will_retry:
            self.log.info(
                "iSendPro alert skipped: %s.%s try %s will be retried (only_on_final_failure=True)",
                event.dag_id, event.task_id, event.try_number,
            )  # fmt: skip
            return True
        return False

    def _storage(self) -> AlertStorage | None:
        """Where markers and throttle windows live; None when neither is on. Never refuses: see
        :mod:`~airflow_provider_isendpro.notifications.storage` (an alert fails open)."""
        if not self.dedupe and self.throttle_seconds is None:
            return None
        from airflow_provider_isendpro.notifications.storage import AlertStorage

        return AlertStorage.resolve(self.ledger_path, self.ledger_conn_id, self.log)

    def _marker(self, storage: AlertStorage | None, event: AlertEvent, plan: AlertPlan) -> AlertMarker | None:
        if plan.key is None or storage is None:
            if self.dedupe:
                self.log.debug("iSendPro alert: no run id in the callback context, de-duplication off")
            return None
        store = storage.open(storage.location.child("_notifier").root, [event.dag_id, str(event.run_id)])
        return AlertMarker(store, plan.key, self.log)

    def _gate(self, storage: AlertStorage | None, event: AlertEvent) -> ThrottleGate | None:
        if storage is None or self.throttle_seconds is None:
            return None
        return ThrottleGate(
            storage.location,
            self.throttle_scope,
            event.dag_id,
            self.throttle_seconds,
            self.log,
            open_store=storage.open,
        )

    def _groups(
        self, gate: ThrottleGate | None, event: AlertEvent, plan: AlertPlan
    ) -> list[tuple[AlertPlan, list[Admission]]]:
        """The sends this alert makes: one per distinct held-back summary among the numbers the
        throttle lets through (usually one; none when every number is held)."""
        if gate is None:
            return [(plan, [])]
        admissions = gate.admit(plan, event)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, admission in enumerate(admissions):
            if admission.send:
                groups.setdefault(tuple(summary_forms(admission.held)), []).append(i)
        sends = []
        for forms, indexes in groups.items():
            numbers = [plan.numbers[i] for i in indexes]
            sends.append(
                (
                    AlertPlan(
                        numbers=numbers,
                        text=self._text(event, numbers, plan.sender, forms) if forms else plan.text,
                        sender=plan.sender,
                        trackers=[plan.trackers[i] for i in indexes],
                        key=plan.key,
                    ),
                    [admissions[i] for i in indexes],
                )
            )
        return sends

    # -- sending ----------------------------------------------------------------------------------------

    def _send_sync(self, context: Context) -> str | None:
        """Why the alert did not go (for the fallbacks), or None."""
        rendered, ctx = self._rendered(context)
        event = describe_event(ctx, self.zone)
        if rendered._should_skip(event):
            return None
        try:
            return rendered._deliver_sync(event)
        except _Aborted:
            return NOT_BUILT
        except Exception as exc:
            return rendered._failed(exc)

    def _deliver_sync(self, event: AlertEvent) -> str | None:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        storage = self._storage()
        hook = IsendproHook(str(self.isendpro_conn_id))
        try:
            default_sender = hook.default_sender if self.sender in (None, "") else None
            plan = self._plan(event, default_sender)
            marker = self._marker(storage, event, plan)
            if marker is not None and not marker.claim(plan):
                return None
            gate = self._gate(storage, event)
            sends = self._groups(gate, event, plan)
            delivery = self._delivery()
            results = []
            for part, admissions in sends:
                try:
                    result = delivery.call(hook.client, part)
                except BaseException as exc:
                    delivery.release(gate, admissions)
                    delivery.settle_error(marker, plan, exc)
                    raise
                if not result.accepted:
                    delivery.release(gate, admissions)
                results.append((part, result))
            delivery.settle(marker, plan, results)
            return refused_every(results)
        finally:
            hook.close()

    async def _send_async(self, context: Context) -> str | None:
        rendered, ctx = self._rendered(context)
        event = describe_event(ctx, self.zone)
        if rendered._should_skip(event):
            return None
        try:
            return await rendered._deliver_async(event)
        except _Aborted:
            return NOT_BUILT
        except Exception as exc:
            return rendered._failed(exc)

    async def _deliver_async(self, event: AlertEvent) -> str | None:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        storage = self._storage()
        hook = IsendproHook(str(self.isendpro_conn_id))
        default_sender = None
        if self.sender in (None, ""):
            default_sender = await async_default_sender(str(self.isendpro_conn_id))
        plan = self._plan(event, default_sender)
        marker = self._marker(storage, event, plan)
        # Marker and throttle storage is file or object-storage I/O: keep it off the triggerer's loop.
        if marker is not None and not await asyncio.to_thread(marker.claim, plan):
            return None
        gate = self._gate(storage, event)
        sends = await asyncio.to_thread(self._groups, gate, event, plan)
        delivery = self._delivery()
        results = []
        async with await hook.get_async_client() as client:
            for part, admissions in sends:
                try:
                    result: SendResult = await delivery.call(client, part)
                except BaseException as exc:
                    await asyncio.to_thread(delivery.release, gate, admissions)
                    await asyncio.to_thread(delivery.settle_error, marker, plan, exc)
                    raise
                if not result.accepted:
                    await asyncio.to_thread(delivery.release, gate, admissions)
                results.append((part, result))
        await asyncio.to_thread(delivery.settle, marker, plan, results)
        return refused_every(results)

    def _failed(self, exc: Exception) -> str | None:
        """Log why the alert did not go; return the reason for the fallbacks (None: it may have gone)."""
        self._delivery().log_failure(exc)
        return failure_reason(exc, on_unknown=self.fallback_on_unknown)

    def _delivery(self) -> AlertDelivery:
        return AlertDelivery(
            str(self.isendpro_conn_id), self.nostop, self.max_segments, self.ucs2_overseas, self.log
        )


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
