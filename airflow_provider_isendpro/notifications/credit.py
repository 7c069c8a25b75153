"""Low credit before it bites: the alert says the account is running dry while it can still say it.

``IsendproNotifier(min_credit=10)`` (euros) or ``min_sms=200`` (iSendPro's estimate in SMS to France):
the thresholds, their checks and their words are :class:`~airflow_provider_isendpro.sensors.credit.
CreditSensor`'s (:mod:`airflow_provider_isendpro.credit_rules`). When the credit is below, the alert's
last words say so (fitted to its budget, never at the cost of its headline) and the fallback channel is
told too (see :mod:`~airflow_provider_isendpro.notifications.fallback`).

The credit read must never delay or block the alert:

* it is bounded by ``credit_timeout`` (default 2 s), connection lookup included: past it the alert goes
  out without the check (the read itself is abandoned: a daemon thread on the sync path, a cancelled
  request on the async one) and is not retried (no retry policy);
* its answer is cached in this process for ``credit_cache`` (default 5 minutes) per connection, so an
  alert storm reads the credit once; a read that failed or timed out is cached too, so a storm during an
  iSendPro outage does not pay the timeout once per alert;
* any error is logged at WARNING, with the connection id and never the key, and the alert goes out
  without the warning.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_isendpro.errors import IsendproError, IsendproValidationError
from airflow_provider_isendpro.notifications.text import redact

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import Credit

DEFAULT_CREDIT_TIMEOUT: Final = 2.0
DEFAULT_CREDIT_CACHE: Final = "5m"

#: (connection id, SMS estimate wanted) -> (monotonic expiry, the credit or None, why it is None).
_CACHE: dict[tuple[str, bool], tuple[float, Credit | None, str]] = {}
_CACHE_LOCK = threading.Lock()


def _monotonic() -> float:
    """The cache's clock (a module function so that tests can move it)."""
    return time.monotonic()


def clear_cache() -> None:
    """Forget every cached credit (tests; a process that just topped up its account)."""
    with _CACHE_LOCK:
        _CACHE.clear()


@dataclass(frozen=True)
class LowCredit:
    """The account's credit is below the threshold: what the alert and the fallback say."""

    #: the words of the alert's end, longest first (the first that fits is used)
    forms: tuple[str, ...]
    #: one line for the fallback and the logs
    summary: str


@dataclass(frozen=True)
class CreditWatch:
    """The notifier's threshold and how it reads the credit."""

    min_credit: float | None
    min_sms: int | None
    timeout: float
    cache_seconds: float

    @classmethod
    def build(cls, min_credit: Any, min_sms: Any, timeout: Any, cache: Any) -> CreditWatch | None:
        """Validated settings; None when no threshold is given (no credit read at all)."""
        from airflow_provider_isendpro.credit_rules import check_thresholds
        from airflow_provider_isendpro.notifications.throttle import parse_throttle

        seconds = _seconds(timeout)
        try:
            cache_seconds = parse_throttle(cache) if cache not in (0, "0") else 0.0
        except IsendproValidationError:
            cache_seconds = None
        if cache_seconds is None:
            raise IsendproValidationError(
                field="credit_cache",
                value=cache,
                rule='must be a duration such as "5m" or "90s", a timedelta, or 0 to read it every time',
            )
        if min_credit is None and min_sms is None:
            return None
        euros, sms = check_thresholds(min_credit, min_sms)
        return cls(euros, sms, seconds, cache_seconds)

    # -- reading --------------------------------------------------------------------------------------

    def check_sync(self, conn_id: str, log: Any) -> LowCredit | None:
        """The warning when the credit is below the threshold; None otherwise or when it cannot be read
        within the timeout (logged). Never raises, never waits longer than ``timeout``."""
        cached = self._cached(conn_id)
        if cached is None:
            box: list[Any] = []
            reader = threading.Thread(
                target=_read_into, args=(box, conn_id, self.wants_estimate, self.timeout),
                name=f"isendpro-credit-{conn_id}", daemon=True,
            )  # fmt: skip
            reader.start()
            reader.join(self.timeout)
            cached = self._store(conn_id, box[0] if box else TimeoutError(), log)
        return self._verdict(conn_id, cached, log)

    async def check_async(self, conn_id: str, log: Any) -> LowCredit | None:
        """:meth:`check_sync` on the async client, for the triggerer (the request is cancelled at the
        timeout)."""
        cached = self._cached(conn_id)
        if cached is None:
            outcome: Credit | BaseException
            try:
                outcome = await asyncio.wait_for(
                    _read_async(conn_id, self.wants_estimate, self.timeout), self.timeout
                )
            except Exception as exc:  # TimeoutError included
                outcome = exc
            cached = self._store(conn_id, outcome, log)
        return self._verdict(conn_id, cached, log)

    @property
    def wants_estimate(self) -> bool:
        return self.min_sms is not None

    def _cached(self, conn_id: str) -> tuple[Credit | None, str] | None:
        with _CACHE_LOCK:
            entry = _CACHE.get((conn_id, self.wants_estimate))
        if entry is None or entry[0] <= _monotonic():
            return None
        return entry[1], entry[2]

    def _store(self, conn_id: str, outcome: Any, log: Any) -> tuple[Credit | None, str]:
        """Cache what the read gave (a credit, or why there is none) and log a failure once."""
        if isinstance(outcome, BaseException):
            credit, why = None, _describe_failure(outcome, self.timeout)
            log.warning(
                "iSendPro alert: could not read the credit of connection %r (%s); sending the alert "
                "without the low-credit check (next read in %.0f s)", conn_id, why, self.cache_seconds,
            )  # fmt: skip
        else:
            credit, why = outcome, ""
        with _CACHE_LOCK:
            _CACHE[(conn_id, self.wants_estimate)] = (_monotonic() + self.cache_seconds, credit, why)
        return credit, why

    def _verdict(self, conn_id: str, cached: tuple[Credit | None, str], log: Any) -> LowCredit | None:
        from airflow_provider_isendpro.credit_rules import credit_reached

        credit = cached[0]
        if credit is None:
            return None
        try:
            if credit_reached(credit, self.min_credit, self.min_sms):
                return None
        except IsendproError as exc:  # min_sms and no SMS estimate in the answer
            log.warning("iSendPro alert: low-credit check skipped: %s", exc.message)
            return None
        low = self.describe(credit)
        log.warning(
            "iSendPro alert: %s on connection %r; the alert says so and the fallback (if any) is told",
            low.summary, conn_id,
        )  # fmt: skip
        return low

    def describe(self, credit: Credit) -> LowCredit:
        """The words of a low credit, in the threshold's unit."""
        if self.min_sms is not None:
            left = f"~{credit.sms_estimate} SMS"
            return LowCredit(
                forms=(f"Credit low: {left} left (min {self.min_sms} SMS)", f"Credit low: {left}"),
                summary=(
                    f"iSendPro credit low: about {credit.sms_estimate} SMS to France left "
                    f"({credit.euros:.2f} EUR), below min_sms={self.min_sms}"
                ),
            )
        left = f"{credit.euros:.2f} EUR"
        return LowCredit(
            forms=(f"Credit low: {left} left (min {self.min_credit:.2f} EUR)", f"Credit low: {left}"),
            summary=f"iSendPro credit low: {left} left, below min_credit={self.min_credit:.2f} EUR",
        )


def _seconds(value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf
    if not ok:
        raise IsendproValidationError(
            field="credit_timeout", value=value, rule="must be a positive number of seconds (default 2)"
        )
    return float(value)


def _describe_failure(exc: BaseException, timeout: float) -> str:
    """Why there is no credit; the join's timeout and the client's own read timeout (the same bound,
    whichever fires first) read the same."""
    from airflow_provider_isendpro.errors import IsendproTimeoutError

    if isinstance(exc, (TimeoutError, IsendproTimeoutError)):
        return f"no answer within credit_timeout={timeout:g} s"
    message = exc.message if isinstance(exc, IsendproError) else redact(str(exc))
    return f"{type(exc).__name__}: {message}"


def _read_into(box: list[Any], conn_id: str, estimate: bool, timeout: float) -> None:
    """The thread's body: the credit, or the error, into ``box`` (never raises)."""
    from airflow_provider_isendpro.client import IsendproClient
    from airflow_provider_isendpro.client.retry import NO_RETRY
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    try:
        config = IsendproHook(conn_id, retry=NO_RETRY).config
        short = replace(config, connect_timeout=timeout, read_timeout=timeout)
        with IsendproClient(short) as client:
            box.append(client.get_credit(with_sms_estimate=estimate))
    except Exception as exc:
        box.append(exc)


async def _read_async(conn_id: str, estimate: bool, timeout: float) -> Credit:
    from airflow_provider_isendpro.client import AsyncIsendproClient
    from airflow_provider_isendpro.client.retry import NO_RETRY
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    async with await IsendproHook(conn_id, retry=NO_RETRY).get_async_client() as base:
        short = replace(base.config, connect_timeout=timeout, read_timeout=timeout)
    async with AsyncIsendproClient(short) as client:
        credit: Credit = await client.get_credit(with_sms_estimate=estimate)
        return credit
