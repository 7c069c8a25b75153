"""The notifier's second channel: when the SMS could not go, another notifier gets the same callback.

``IsendproNotifier(fallback=...)`` takes any Airflow notifier (the SMTP or Slack provider's, a second
``IsendproNotifier`` on another connection) or any callable taking the callback context, or a list of
them. They are called, in order, with the context Airflow passed, when the alert was not sent:

* not connected (connection refused, DNS, TLS), a timeout before the request left, a server error;
* refused: the key (authentication), the credit, every recipient (blacklisted, invalid...);
* the alert could not be built (no valid number, a connection that does not exist);
* in doubt (the request left, no answer came back) only with ``fallback_on_unknown=True``: the SMS may
  have been delivered, and the fallback then doubles it.

They are also told when the SMS went out but the account's credit is below the notifier's
``min_credit``/``min_sms`` (see :mod:`~airflow_provider_isendpro.notifications.credit`). Otherwise
nothing is called when the SMS went out (to at least one recipient), was held back by the throttle, or
was skipped by de-duplication or ``only_on_final_failure``. A fallback never raises into Airflow: its
errors are logged at ERROR, as is every call.

Each fallback gets a copy of Airflow's context with one more key, ``isendpro_alert``, so that a
templated notifier (the SMTP provider's ``subject``/``html_content``, Slack's ``text``) can say why it
is called: ``{"sms_sent": bool, "reason": str, "low_credit": str or None}``.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_isendpro.errors import (
    IsendproError,
    IsendproUnknownOutcomeError,
    IsendproValidationError,
)
from airflow_provider_isendpro.notifications.text import redact

if TYPE_CHECKING:
    from airflow_provider_isendpro.notifications.credit import LowCredit

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
#: The reason given when the alert could not be built (the error was logged just before).
NOT_BUILT: Final = "the alert could not be built (see the error above)"


class AlertNotBuilt(Exception):
    """The alert cannot be sent (its reason is already logged); the fallbacks get :data:`NOT_BUILT`."""


@dataclass
class AlertOutcome:
    """What one callback's alert came to, filled in as it goes: whether (and why) the fallbacks run."""

    #: why the SMS did not go (None: it went, was held back or skipped, or may have gone)
    failure: str | None = None
    #: the SMS was accepted for at least one recipient
    sent: bool = False
    #: the account's credit is below the notifier's threshold
    low_credit: LowCredit | None = None

    @property
    def reason(self) -> str | None:
        """Why the fallbacks are called; None: they are not."""
        low = self.low_credit.summary if self.low_credit is not None else None
        if self.failure is not None:
            return f"{self.failure}; {low}" if low else self.failure
        return low if self.sent else None

    def context_for(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of Airflow's context with ``isendpro_alert`` (Airflow's own dict stays untouched)."""
        low = self.low_credit.summary if self.low_credit is not None else None
        alert = {"sms_sent": self.sent, "reason": self.reason, "low_credit": low}
        return {**context, "isendpro_alert": alert}


def check_fallbacks(value: Any) -> list[Any]:
    """``None``, one fallback or a list of them -> a list; anything else is refused.

    A fallback is a notifier or any callable taking the context, or, for a Deadline Alert's
    ``AsyncCallback``/``SyncCallback`` kwargs (which Airflow stores as JSON, so an object there fails the
    DAG's serialisation), its JSON form: an import path (``"my_pkg.alerts.page_backup"``) or
    ``{"path": "airflow.providers.smtp.notifications.smtp.SmtpNotifier", "kwargs": {...}}``, built when
    it is called (see :func:`resolve_fallback`)."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not (callable(item) or _is_spec(item)):
            raise IsendproValidationError(
                field="fallback",
                value=item if isinstance(item, (str, dict)) else type(item).__name__,
                rule=(
                    "must be an Airflow notifier (or any callable taking the callback context), an import "
                    "path to one, {'path': 'module.Class', 'kwargs': {...}}, or a list of them"
                ),
            )
    return items


def _is_spec(item: Any) -> bool:
    """An import path, or ``{"path": ..., "kwargs": {...}}`` (kwargs optional, a dict with string keys)."""
    if isinstance(item, str):
        return _DOTTED.match(item) is not None
    if not isinstance(item, dict) or not set(item) <= {"path", "kwargs"}:
        return False
    kwargs = item.get("kwargs", {})
    return (
        isinstance(item.get("path"), str)
        and _DOTTED.match(item["path"]) is not None
        and isinstance(kwargs, dict)
        and all(isinstance(k, str) for k in kwargs)
    )


def resolve_fallback(item: Any) -> Any:
    """The callable a fallback stands for: itself, or the object its spec names, built with its kwargs
    (a class is instantiated, with no kwargs when none are given).

    :raises ImportError: the path does not import (raised when the fallback is called: logged, never
        into Airflow)."""
    if callable(item):
        # A notifier renders its templates onto itself: on a copy, the next alert does not read the first's.
        return copy.copy(item) if hasattr(item, "render_template_fields") else item
    import importlib

    path, kwargs = (item, None) if isinstance(item, str) else (item["path"], item.get("kwargs"))
    module, _, name = path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module), name)
    except AttributeError:
        raise ImportError(f"module {module!r} has no attribute {name!r}") from None
    if kwargs is not None or isinstance(target, type):
        target = target(**(kwargs or {}))
    if not callable(target):
        raise TypeError(f"{path} is not callable")
    return target


def failure_reason(exc: BaseException, *, on_unknown: bool) -> str | None:
    """Why the SMS did not go, for the fallback; None when it may have gone and ``on_unknown`` is off."""
    message = exc.message if isinstance(exc, IsendproError) else redact(str(exc))
    if isinstance(exc, IsendproUnknownOutcomeError):
        return f"in doubt, the SMS may have gone: {message}" if on_unknown else None
    return f"{type(exc).__name__}: {message}"


def refused_every(results: Sequence[Any]) -> str | None:
    """``iSendPro refused every recipient`` when no send of the alert was accepted for anyone."""
    if results and not any(result.accepted for _, result in results):
        codes = sorted({str(s.code) for _, result in results for s in result.recipients})
        return f"iSendPro refused every recipient (code {', '.join(codes)})"
    return None


def _name(fallback: Any) -> str:
    if _is_spec(fallback) and not callable(fallback):
        path = fallback if isinstance(fallback, str) else fallback["path"]
        return str(path).rsplit(".", 1)[-1]
    return type(fallback).__name__ if not hasattr(fallback, "__name__") else str(fallback.__name__)


def call_fallbacks(
    fallbacks: Sequence[Any], context: Any, reason: str, log: Any, *, sent: bool = False
) -> None:
    """Call each fallback with ``context``; log what happened; never raise. ``sent``: the SMS went out
    (the fallback is told something else, e.g. a low credit)."""
    for fallback in fallbacks:
        line = (
            "iSendPro alert sent by SMS, but %s; telling the fallback %s"
            if sent
            else "iSendPro alert not sent by SMS (%s); calling the fallback %s"
        )
        log.warning(line, reason, _name(fallback))
        try:
            resolve_fallback(fallback)(context)
        except Exception as exc:
            log.error(
                "iSendPro alert fallback %s failed: %s: %s", _name(fallback), type(exc).__name__,
                redact(str(exc)),
            )  # fmt: skip
        else:
            log.info("iSendPro alert fallback %s done", _name(fallback))


async def acall_fallbacks(
    fallbacks: Sequence[Any], context: Any, reason: str, log: Any, *, sent: bool = False
) -> None:
    """:func:`call_fallbacks` for the triggerer: the fallbacks run in a thread, off the event loop."""
    await asyncio.to_thread(call_fallbacks, fallbacks, context, reason, log, sent=sent)
