"""What an alert is about: an :class:`AlertEvent` read from a task, DAG or Deadline Alert callback context.

Contexts differ by path (task callbacks hold objects, Deadline Alerts plain JSON dicts) and by Airflow
version; everything here tolerates missing or raising attributes and never raises.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

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


def _now() -> dt.datetime:
    """The time of an alert whose context holds none (a module function so that tests can freeze it)."""
    return dt.datetime.now(dt.timezone.utc)


def alert_zone(name: Any) -> dt.tzinfo:
    """The zone alert times are written in: an IANA name (``"Europe/Paris"``), ``"UTC"`` or a tzinfo.

    :raises IsendproValidationError: an unknown zone name.
    """
    if isinstance(name, dt.tzinfo):
        return name
    import zoneinfo

    from airflow_provider_isendpro.errors import IsendproValidationError

    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise IsendproValidationError(
            field="timezone", value=name, rule='must be an IANA time zone such as "UTC" or "Europe/Paris"'
        ) from None


def format_when(value: Any, zone: dt.tzinfo = dt.timezone.utc) -> str:
    """``2026-01-01 03:00 UTC`` (``2026-01-01 04:00 CET`` in ``Europe/Paris``): short, unambiguous,
    GSM-7. Naive datetimes are taken as UTC."""
    when = _as_datetime(value)
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    local = when.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def _failed_at(*candidates: Any) -> Any:
    """The first time the context holds (the task's or run's end), else now: when the failure happened,
    never the run's logical date (which may be months before)."""
    for value in candidates:
        if _as_datetime(value) is not None:
            return value
    return _now()


def _one_line(text: str) -> str:
    return " ".join(_ANSI_ESCAPE.sub("", text).split())


def context_exception(context: Any) -> Any:
    """The exception a failure callback reports, or None: the one place that reads it from a context.

    (Airflow 3.2 leaves ``exception`` out of the failure-callback context under ``dag.test()``; a
    compatibility helper that recovers it plugs in here.)
    """
    try:
        return context.get("exception")
    except Exception:
        return None


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

    @property
    def label(self) -> str:
        """Short name for the held-back summary: ``etl.load`` (failures), ``etl.load success``,
        ``DAG etl``, ``DAG etl timed_out``, ``DAG etl deadline``. Map indexes are kept apart."""
        if self.level == "task":
            outcome = self.outcome
            return f"{self.dag_id}.{self.task_id}" + ("" if outcome == "failure" else f" {outcome}")
        if self.level == "deadline":
            return f"DAG {self.dag_id} deadline"
        failed = self.state in (None, "task_failure", "failed")
        return f"DAG {self.dag_id}" + ("" if failed else f" {self.state}")

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


def describe_event(context: Any, zone: dt.tzinfo = dt.timezone.utc) -> AlertEvent:
    """Read an :class:`AlertEvent` from a task, DAG or deadline callback context (never raises).

    Its time is the failure's own, in ``zone``: the task's end (task callbacks), the run's end, else the
    last task's (DAG callbacks), the deadline (Deadline Alerts), else now."""
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
            when=format_when(_failed_at(_get(deadline, "deadline_time")), zone),
            url=_run_url(dag_id, str(run_id)) if run_id else None,
            deadline_id=None if _get(deadline, "id") is None else str(_get(deadline, "id")),
        )
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = str(_get(ti, "dag_id") or _get(dag, "dag_id") or _get(dag_run, "dag_id") or "?")
    run_id = context.get("run_id") or _get(ti, "run_id") or _get(dag_run, "run_id")
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
            detail=exception_summary(context_exception(context)),
            when=format_when(_failed_at(_get(ti, "end_date")), zone),
            url=url,
        )
    reason = context.get("reason") or _state_name(_get(dag_run, "state"))
    detail = ""
    if reason == "task_failure" and ti is not None:
        detail = f"task {_get(ti, 'task_id')} failed"
    elif context_exception(context) is not None:
        detail = exception_summary(context_exception(context))
    return AlertEvent(
        level="dag",
        dag_id=dag_id,
        run_id=None if run_id is None else str(run_id),
        state=None if reason is None else str(reason),
        detail=detail,
        when=format_when(_failed_at(_get(dag_run, "end_date"), _get(ti, "end_date")), zone),
        url=_run_url(dag_id, str(run_id)) if run_id else None,
    )
