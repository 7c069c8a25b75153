"""The notifier's second channel: when the SMS could not go, another notifier gets the same callback.

``IsendproNotifier(fallback=...)`` takes any Airflow notifier (the SMTP or Slack provider's, a second
``IsendproNotifier`` on another connection) or any callable taking the callback context, or a list of
them. They are called, in order, with the context Airflow passed, when the alert was not sent:

* not connected (connection refused, DNS, TLS), a timeout before the request left, a server error;
* refused: the key (authentication), the credit, every recipient (blacklisted, invalid...);
* the alert could not be built (no valid number, a connection that does not exist);
* in doubt (the request left, no answer came back) only with ``fallback_on_unknown=True``: the SMS may
  have been delivered, and the fallback then doubles it.

Nothing is called when the SMS went out (to at least one recipient), was held back by the throttle, or
was skipped by de-duplication or ``only_on_final_failure``. A fallback never raises into Airflow: its
errors are logged at ERROR, as is every call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Final

from airflow_provider_isendpro.errors import (
    IsendproError,
    IsendproUnknownOutcomeError,
    IsendproValidationError,
)
from airflow_provider_isendpro.notifications.text import redact

#: The reason given when the alert could not be built (the error was logged just before).
NOT_BUILT: Final = "the alert could not be built (see the error above)"


class AlertNotBuilt(Exception):
    """The alert cannot be sent (its reason is already logged); the fallbacks get :data:`NOT_BUILT`."""


def check_fallbacks(value: Any) -> list[Callable[..., Any]]:
    """``None``, one notifier or callable, or a list of them -> a list; anything else is refused."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not callable(item):
            raise IsendproValidationError(
                field="fallback",
                value=type(item).__name__,
                rule="must be an Airflow notifier (or any callable taking the callback context), or a list",
            )
    return items


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
    return type(fallback).__name__ if not hasattr(fallback, "__name__") else str(fallback.__name__)


def call_fallbacks(fallbacks: Sequence[Any], context: Any, reason: str, log: Any) -> None:
    """Call each fallback with ``context``; log what happened; never raise."""
    for fallback in fallbacks:
        log.warning("iSendPro alert not sent by SMS (%s); calling the fallback %s", reason, _name(fallback))
        try:
            fallback(context)
        except Exception as exc:
            log.error(
                "iSendPro alert fallback %s failed: %s: %s", _name(fallback), type(exc).__name__,
                redact(str(exc)),
            )  # fmt: skip
        else:
            log.info("iSendPro alert fallback %s done", _name(fallback))


async def acall_fallbacks(fallbacks: Sequence[Any], context: Any, reason: str, log: Any) -> None:
    """:func:`call_fallbacks` for the triggerer: the fallbacks run in a thread, off the event loop."""
    await asyncio.to_thread(call_fallbacks, fallbacks, context, reason, log)
