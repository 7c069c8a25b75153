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
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from airflow_provider_isendpro.errors import IsendproError, IsendproValidationError

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_isendpro.client import SendResult
    from airflow_provider_isendpro.sending.ledger import LedgerStore
    from airflow_provider_isendpro.sms import PhoneNumber

#: A ``pending`` marker younger than this means another invocation is sending the same alert right now
#: (a callback fired twice at once): skip. Older, it was left by an invocation that died mid-send: send
#: again. One send takes at most the connect + read timeouts (5 + 30 s by default), sends are never
#: retried after the request left, so two minutes is a generous bound for "still in flight".
PENDING_GRACE_SECONDS: Final = 120.0
#: With the default text, the log link is kept only if at least this many characters of the error
#: message survive next to it: on a phone, the reason matters more than the link.
MIN_DETAIL_WITH_LINK: Final = 40
_VERSION: Final = 1
# ANSI terminal sequences (colours, cursor moves) that tools print into exception messages.
_ANSI_ESCAPE: Final = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")
_TASK_VERBS: Final = {
    "failed": "failed",
    "up_for_retry": "failed, will retry",
    "success": "succeeded",
    "skipped": "was skipped",
    "upstream_failed": "upstream failed",
}
_DAG_VERBS: Final = {
    "task_failure": "failed",
    "timed_out": "timed out",
    "all_tasks_deadlocked": "failed (tasks deadlocked)",
    "success": "succeeded",
    "failed": "failed",
}


def _now() -> float:
    """Wall-clock seconds for marker ages (a module function so that tests can freeze time)."""
    return time.time()


def _get(obj: Any, name: str) -> Any:
    """Attribute or key: contexts hold objects (task callbacks) or plain JSON dicts (deadline alerts)."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:  # a lazy attribute that needs the API server (e.g. outside a task)
        return None


def _state_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def format_when(value: Any) -> str:
    """``2026-01-01 03:00 UTC``: short, unambiguous, GSM-7. Naive datetimes are taken as UTC."""
    when = _as_datetime(value)
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _one_line(text: str) -> str:
    return " ".join(_ANSI_ESCAPE.sub("", text).split())


def exception_summary(exception: Any) -> str:
    """``ValueError: bad row 42`` on one line (whitespace collapsed, ANSI colours removed), or ``""``."""
    if exception is None or exception == "":
        return ""
    if isinstance(exception, BaseException):
        message = _one_line(str(exception))
        name = type(exception).__name__
        return f"{name}: {message}" if message else name
    return _one_line(str(exception))


def _run_url(dag_id: str, run_id: str) -> str:
    from airflow_provider_isendpro._compat import conf

    base = str(conf.get("api", "base_url", fallback="http://localhost:8080/"))
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


@dataclass(frozen=True)
class AlertEvent:
    """What the callback is about, read from whatever context Airflow passed.

    ``level`` is ``"task"`` (task callbacks: the context has a ``ti`` and no ``reason``), ``"dag"``
    (DAG callbacks: ``reason`` set by the scheduler, or no ``ti`` at all) or ``"deadline"`` (Deadline
    Alerts: ``deadline`` set). ``state`` is the task instance state for tasks (``failed``,
    ``up_for_retry``, ``success``...) and the scheduler's reason for DAG runs (``task_failure``,
    ``timed_out``, ``success``...).
    """

    level: str
    dag_id: str
    run_id: str | None = None
    task_id: str | None = None
    map_index: int = -1
    try_number: int | None = None
    max_tries: int | None = None
    state: str | None = None
    detail: str = ""
    when: str = ""
    url: str | None = None
    deadline_id: str | None = None

    @property
    def will_retry(self) -> bool:
        """Whether this is a task failure that Airflow will retry (so not the final one)."""
        if self.level != "task":
            return False
        if self.state == "up_for_retry":
            return True
        if self.state in ("failed", "success", "skipped", "upstream_failed"):
            return False
        return bool(self.try_number and self.max_tries and self.try_number <= self.max_tries)

    def headline(self) -> str:
        """The part of the default text that is never shortened away (unless ids are huge)."""
        at = f" at {self.when}" if self.when else ""
        if self.level == "task":
            where = f"{self.dag_id}.{self.task_id}" + (f"[{self.map_index}]" if self.map_index >= 0 else "")
            verb = _TASK_VERBS.get(self.state or "", f"is {self.state}" if self.state else "failed")
            tries = ""
            if self.try_number:
                total = f"/{self.max_tries + 1}" if self.max_tries is not None and self.max_tries >= 0 else ""
                tries = f" (try {self.try_number}{total})"
            return f"[Airflow] {where} {verb}{tries}{at}"
        if self.level == "deadline":
            return f"[Airflow] DAG {self.dag_id} missed its deadline{at}"
        verb = _DAG_VERBS.get(self.state or "", f"is {self.state}" if self.state else "run finished")
        return f"[Airflow] DAG {self.dag_id} {verb}{at}"

    @property
    def outcome(self) -> str | None:
        """What the alert is about, for de-duplication: ``success``/``skipped``/``failure`` for a task
        try, the scheduler's reason for a DAG run, ``missed`` for a deadline.

        Every other task state counts as ``failure``: a failure callback fired twice for one try may
        see ``failed`` in the worker, ``running`` in the DAG processor (heartbeat timeout) or
        ``up_for_retry`` (the failure/retry mix-up of AIRFLOW-NOTES §9), and must still text once.
        """
        if self.level != "task":
            return self.state
        return self.state if self.state in ("success", "skipped") else "failure"

    def dedupe_key(self, recipients: Sequence[str]) -> str | None:
        """Identity of this alert: same event, same recipients -> same key. None when there is no run.

        A task alert is one per (task instance, try, outcome): a retried task alerts again for the next
        try, but one try never texts twice.
        """
        if self.run_id is None:
            return None
        parts = [
            _VERSION, self.level, self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number,
            self.outcome, self.deadline_id, sorted(recipients),
        ]  # fmt: skip
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def describe_event(context: Any) -> AlertEvent:
    """Read an :class:`AlertEvent` from a task, DAG or deadline callback context (never raises)."""
    dag_run = context.get("dag_run")
    if "deadline" in context:
        deadline = context.get("deadline") or {}
        dag_id = str(_get(dag_run, "dag_id") or "?")
        run_id = _get(dag_run, "dag_run_id") or _get(dag_run, "run_id")
        return AlertEvent(
            level="deadline",
            dag_id=dag_id,
            run_id=None if run_id is None else str(run_id),
            state="missed",
            detail=f"run {run_id}" if run_id else "",
            when=format_when(_get(deadline, "deadline_time")),
            url=_run_url(dag_id, str(run_id)) if run_id else None,
            deadline_id=None if _get(deadline, "id") is None else str(_get(deadline, "id")),
        )
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = str(_get(ti, "dag_id") or _get(dag, "dag_id") or _get(dag_run, "dag_id") or "?")
    run_id = context.get("run_id") or _get(ti, "run_id") or _get(dag_run, "run_id")
    when = format_when(
        context.get("logical_date") or _get(dag_run, "logical_date") or _get(dag_run, "run_after")
    )
    if ti is not None and "reason" not in context:
        map_index = _get(ti, "map_index")
        try_number = _get(ti, "try_number")
        max_tries = _get(ti, "max_tries")
        url: str | None
        try:
            url = str(ti.log_url)
        except Exception:  # the property reads the Airflow config; a broken one must not cost the alert
            url = None
        return AlertEvent(
            level="task",
            dag_id=dag_id,
            run_id=None if run_id is None else str(run_id),
            task_id=str(_get(ti, "task_id")),
            map_index=map_index if isinstance(map_index, int) else -1,
            try_number=try_number if isinstance(try_number, int) else None,
            max_tries=max_tries if isinstance(max_tries, int) else None,
            state=_state_name(_get(ti, "state")),
            detail=exception_summary(context.get("exception")),
            when=when,
            url=url,
        )
    reason = context.get("reason") or _state_name(_get(dag_run, "state"))
    detail = ""
    if reason == "task_failure" and ti is not None:
        detail = f"task {_get(ti, 'task_id')} failed"
    elif context.get("exception") is not None:
        detail = exception_summary(context.get("exception"))
    return AlertEvent(
        level="dag",
        dag_id=dag_id,
        run_id=None if run_id is None else str(run_id),
        state=None if reason is None else str(reason),
        detail=detail,
        when=when,
        url=_run_url(dag_id, str(run_id)) if run_id else None,
    )


def default_alert_text(
    event: AlertEvent,
    *,
    max_segments: int = 1,
    stop_suffix: bool = False,
    gsm_only: bool = True,
    include_link: bool = True,
) -> str:
    """The default message: ``[Airflow] <dag>.<task> failed (try n/N) at <time>: <error> <link>``.

    The headline is kept whole, the error summary is shortened to fit, and the link (task log for task
    callbacks, the run for DAG callbacks and deadlines) is kept only if it fits whole next to at least
    :data:`MIN_DETAIL_WITH_LINK` characters of the error.
    """
    from airflow_provider_isendpro.sms.fit import ELLIPSIS, fit_message, make_sendable

    head = make_sendable(_redact(event.headline()), gsm_only=gsm_only)
    detail = make_sendable(_redact(event.detail), gsm_only=gsm_only)
    body = f"{head}: {detail}" if detail else head
    if include_link and event.url:
        link = " " + make_sendable(event.url, gsm_only=True)
        try:
            candidate = fit_message(body, max_segments=max_segments, stop_suffix=stop_suffix, suffix=link)
        except IsendproValidationError:  # the link alone does not fit
            candidate = ""
        if candidate == body + link:
            return candidate
        kept = candidate[: -len(ELLIPSIS + link)] if candidate else ""
        if len(kept) >= len(head) + 2 + min(len(detail), MIN_DETAIL_WITH_LINK):
            return candidate
    return fit_message(body, max_segments=max_segments, stop_suffix=stop_suffix)


def _redact(text: str) -> str:
    """Replace every secret Airflow knows (connection passwords...) by ``***``: SMS leave the company."""
    from airflow.sdk.log import redact

    return str(redact(text))


def split_recipients(value: Any) -> list[str]:
    """``"06 12 34 56 78, +33 6 98 76 54 32"`` or a list -> one string per number (spaces kept)."""
    items = [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for item in items:
        for part in str(item).replace(";", ",").split(","):
            # strip() also undoes a list rendered to a string ("['06 12 34 56 78', ...]")
            number = part.strip(" \t\n[]'\"")
            if number:
                out.append(number)
    return out


@dataclass(frozen=True)
class AlertPlan:
    """One ready-to-send alert: normalised numbers, final text, one tracker per number."""

    numbers: list[PhoneNumber]
    text: str
    sender: str | None
    trackers: list[str]
    key: str | None

    @property
    def masked(self) -> str:
        from airflow_provider_isendpro.sms import mask_number

        return ", ".join(mask_number(n.wire) for n in self.numbers)


class AlertMarker:
    """De-duplication of one alert across callback invocations, in the send ledger's storage.

    A marker named by a hash of (DAG, run, task, map index, try, outcome or DAG reason, recipients; see
    :meth:`AlertEvent.dedupe_key`) lives under ``<ledger_path>/_notifier/<dag>/<run>/``. The protocol
    is *at least once unless a successful send is recorded*:

    1. ``claim()`` reads the marker. ``sent`` -> skip: an earlier invocation delivered it. ``pending``
       younger than :data:`PENDING_GRACE_SECONDS` -> skip: another invocation is sending it right now
       (a callback fired twice at once). Anything else (no marker, ``failed``, ``unknown``, or a stale
       ``pending`` left by an invocation that died mid-send) -> write ``pending`` and send.
    2. ``settle()`` records ``sent``, ``failed`` (nothing went out: a later invocation may try again) or
       ``unknown`` (the request left but no answer came back; a later invocation sends again).

    Why ``pending`` is written *before* the send: written only after, two invocations a few seconds
    apart would both send. Why a stale ``pending`` does not block: written before and trusted forever,
    a worker killed between the write and the request would mean no alert at all, the worst outcome for
    on-call. The accepted cost is a possible duplicate after a crash mid-send or an ``unknown`` outcome.
    A marker that cannot be read or written never stops the alert: it is logged and the alert is sent.
    """

    def __init__(self, store: LedgerStore, key: str, log: Any) -> None:
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
    :param isendpro_conn_id: the iSendPro connection (templated).
    :param only_on_final_failure: skip the alert when the task will be retried (state ``up_for_retry``,
        or tries left), so on-call hears only about failures that need a human.
    :param dedupe: send each alert at most once per event even if the callback fires twice (see
        :class:`AlertMarker`); needs ``ledger_path`` storage that every worker and the DAG processor reach.
    :param include_link: with the default text, add the task log (or DAG run) link when it fits.
    :param ledger_path: where de-duplication markers live (default ``[isendpro] ledger_path``, else
        ``$AIRFLOW_HOME/isendpro/ledger``), under ``_notifier/``.
    :param ledger_conn_id: Airflow connection for an object-storage ``ledger_path``.
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
        isendpro_conn_id: str = "isendpro_default",
        only_on_final_failure: bool = False,
        dedupe: bool = True,
        include_link: bool = True,
        ledger_path: str | None = None,
        ledger_conn_id: str | None = None,
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
        self.isendpro_conn_id = isendpro_conn_id
        self.only_on_final_failure = only_on_final_failure
        self.dedupe = dedupe
        self.include_link = include_link
        self.ledger_path = ledger_path
        self.ledger_conn_id = ledger_conn_id
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
        """Render, fit and send the alert (blocking). Never raises: failures are logged."""
        try:
            self._send_sync(context)
        except _Aborted:
            pass
        except Exception as exc:  # rendering or context problems: nothing was sent
            self._log_failure(exc)

    async def async_notify(self, context: Context) -> None:
        """The same as :meth:`notify` on the async client, for the triggerer. Never raises."""
        try:
            await self._send_async(context)
        except _Aborted:
            pass
        except Exception as exc:
            self._log_failure(exc)

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
        ctx.setdefault("exception_summary", exception_summary(ctx.get("exception")))
        _add_accessors(ctx)
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
                        "alert text instead", _redact(summary),
                    )  # fmt: skip
                    rendered.text = None
                else:
                    self.log.error(
                        "iSendPro alert NOT sent: template field %r failed to render (%s)",
                        field,
                        _redact(summary),
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

    def _plan(self, ctx: dict[str, Any], event: AlertEvent, default_sender: str | None) -> AlertPlan:
        from airflow_provider_isendpro.sms.fit import fit_message, make_sendable

        numbers = self._numbers()
        sender = self._sender(default_sender)
        stop_suffix = sender is not None and not self.nostop
        gsm_only = any(n.gsm_only for n in numbers)
        if self.text is None or not str(self.text).strip():
            text = default_alert_text(
                event,
                max_segments=self.max_segments,
                stop_suffix=stop_suffix,
                gsm_only=gsm_only,
                include_link=self.include_link,
            )
        else:
            text = make_sendable(_redact(str(self.text)), gsm_only=gsm_only)
            text = fit_message(text, max_segments=self.max_segments, stop_suffix=stop_suffix)
        key = event.dedupe_key([n.wire for n in numbers]) if self.dedupe else None
        label = key or hashlib.sha256(text.encode()).hexdigest()[:32]
        trackers = [f"alert{label[:24]}{i:02d}" for i in range(len(numbers))]
        return AlertPlan(numbers=numbers, text=text, sender=sender, trackers=trackers, key=key)

    def _should_skip(self, event: AlertEvent) -> bool:
        if self.only_on_final_failure and event.will_retry:
            self.log.info(
                "iSendPro alert skipped: %s.%s try %s will be retried (only_on_final_failure=True)",
                event.dag_id, event.task_id, event.try_number,
            )  # fmt: skip
            return True
        return False

    def _marker(self, event: AlertEvent, plan: AlertPlan) -> AlertMarker | None:
        if plan.key is None:
            if self.dedupe:
                self.log.debug("iSendPro alert: no run id in the callback context, de-duplication off")
            return None
        from airflow_provider_isendpro.operators.sms import default_ledger_root
        from airflow_provider_isendpro.sending.ledger import open_store

        root = str(self.ledger_path or default_ledger_root()).rstrip("/")
        store = open_store(f"{root}/_notifier", [event.dag_id, str(event.run_id)], self.ledger_conn_id)
        return AlertMarker(store, plan.key, self.log)

    # -- sending ----------------------------------------------------------------------------------------

    def _send_sync(self, context: Context) -> None:
        rendered, ctx = self._rendered(context)
        event = describe_event(ctx)
        if rendered._should_skip(event):
            return
        try:
            rendered._deliver_sync(ctx, event)
        except _Aborted:
            return
        except Exception as exc:
            rendered._log_failure(exc)

    def _deliver_sync(self, ctx: dict[str, Any], event: AlertEvent) -> None:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        hook = IsendproHook(str(self.isendpro_conn_id))
        try:
            default_sender = hook.default_sender if self.sender in (None, "") else None
            plan = self._plan(ctx, event, default_sender)
            marker = self._marker(event, plan)
            if marker is not None and not marker.claim(plan):
                return
            try:
                result = self._call(hook.client, plan)
            except BaseException as exc:
                self._settle_error(marker, plan, exc)
                raise
            self._settle(marker, plan, result)
        finally:
            hook.close()

    async def _send_async(self, context: Context) -> None:
        rendered, ctx = self._rendered(context)
        event = describe_event(ctx)
        if rendered._should_skip(event):
            return
        try:
            await rendered._deliver_async(ctx, event)
        except _Aborted:
            return
        except Exception as exc:
            rendered._log_failure(exc)

    async def _deliver_async(self, ctx: dict[str, Any], event: AlertEvent) -> None:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        hook = IsendproHook(str(self.isendpro_conn_id))
        default_sender = None
        if self.sender in (None, ""):
            default_sender = await _async_default_sender(str(self.isendpro_conn_id))
        plan = self._plan(ctx, event, default_sender)
        marker = self._marker(event, plan)
        # Marker storage is file or object-storage I/O: keep it off the triggerer's event loop.
        if marker is not None and not await asyncio.to_thread(marker.claim, plan):
            return
        try:
            async with await hook.get_async_client() as client:
                result: SendResult = await self._call(client, plan)
        except BaseException as exc:
            await asyncio.to_thread(self._settle_error, marker, plan, exc)
            raise
        await asyncio.to_thread(self._settle, marker, plan, result)

    def _call(self, client: Any, plan: AlertPlan) -> Any:
        """``client.send_sms`` (one number) or ``send_sms_multi``: a SendResult, or its awaitable."""
        if len(plan.numbers) == 1:
            return client.send_sms(
                plan.numbers[0], plan.text, sender=plan.sender, tracker=plan.trackers[0],
                nostop=self.nostop, max_segments=self.max_segments,
            )  # fmt: skip
        return client.send_sms_multi(
            plan.numbers, plan.text, sender=plan.sender, trackers=plan.trackers,
            nostop=self.nostop, max_segments=self.max_segments,
        )  # fmt: skip

    def _settle(self, marker: AlertMarker | None, plan: AlertPlan, result: SendResult) -> None:
        from airflow_provider_isendpro.sms import count_segments, mask_number

        segments = count_segments(plan.text)[2]
        for status in result.recipients:
            if status.accepted:
                self.log.info(
                    "iSendPro alert sent to %s via connection %r (%d characters, %d SMS segment%s)",
                    mask_number(status.number), self.isendpro_conn_id, len(plan.text), segments,
                    "" if segments == 1 else "s",
                )  # fmt: skip
            else:
                self.log.error(
                    "iSendPro refused the alert for %s via connection %r: code %s, %s",
                    mask_number(status.number), self.isendpro_conn_id, status.code, status.message,
                )  # fmt: skip
        accepted = len(result.accepted)
        if marker is not None:
            detail = f"{accepted} of {len(result.recipients)} accepted"
            marker.settle("sent" if accepted else "failed", plan, detail)

    def _settle_error(self, marker: AlertMarker | None, plan: AlertPlan, exc: BaseException) -> None:
        from airflow_provider_isendpro.errors import IsendproUnknownOutcomeError

        if marker is None:
            return
        state = "unknown" if isinstance(exc, IsendproUnknownOutcomeError) else "failed"
        message = exc.message if isinstance(exc, IsendproError) else type(exc).__name__
        marker.settle(state, plan, message)

    def _log_failure(self, exc: Exception) -> None:
        conn_id = self.isendpro_conn_id
        if isinstance(exc, IsendproError):
            details = ", ".join(
                f"{name}={value}"
                for name, value in (("code", exc.code), ("http_status", exc.http_status))
                if value is not None
            )
            self.log.error(
                "iSendPro alert NOT sent via connection %r: %s: %s%s. The task's own state is unaffected; "
                "check the connection and iSendPro's status",
                conn_id, type(exc).__name__, exc.message, f" ({details})" if details else "",
            )  # fmt: skip
        else:
            self.log.error(
                "iSendPro alert NOT sent via connection %r: unexpected %s: %s. The task's own state is "
                "unaffected", conn_id, type(exc).__name__, _redact(str(exc)),
            )  # fmt: skip


def _add_accessors(ctx: dict[str, Any]) -> None:
    """``var`` and ``conn`` for templates, where Airflow's context lacks them (DAG callbacks called
    directly, Deadline Alert contexts), so that ``to="{{ var.value.oncall_phone }}"`` works everywhere."""
    if "var" in ctx and "conn" in ctx:
        return
    try:
        from airflow.sdk.execution_time.context import ConnectionAccessor, VariableAccessor
    except ImportError:  # pragma: no cover - an SDK that moved them: templates without var/conn
        return
    ctx.setdefault(
        "var",
        {"json": VariableAccessor(deserialize_json=True), "value": VariableAccessor(deserialize_json=False)},
    )
    ctx.setdefault("conn", ConnectionAccessor())


async def _async_default_sender(conn_id: str) -> str | None:
    """The connection's ``sender`` extra, read without blocking the event loop (None on any problem:
    the send itself reports a broken connection)."""
    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    try:
        conn = await get_async_connection(conn_id)
        extra = await get_async_extra_dejson(conn)
    except Exception:
        return None
    sender = extra.get("sender")
    return str(sender).strip() or None if sender else None


#: Function-style alias, as Airflow's own notifiers offer:
#: ``on_failure_callback=send_isendpro_notification(to=...)``.
send_isendpro_notification = IsendproNotifier

__all__ = [
    "PENDING_GRACE_SECONDS",
    "AlertEvent",
    "AlertMarker",
    "IsendproNotifier",
    "default_alert_text",
    "describe_event",
    "exception_summary",
    "send_isendpro_notification",
]
