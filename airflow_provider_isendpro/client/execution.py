"""What the sync and async clients share around one call: retry bookkeeping, logging, secret reporting.

The clients only move bytes; everything they decide is decided here or in ``responses.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from airflow_provider_isendpro.client.calls import ApiCall
from airflow_provider_isendpro.client.config import ClientConfig
from airflow_provider_isendpro.errors import IsendproError

log = logging.getLogger("airflow_provider_isendpro.client")


class _KeyidRedactingFilter(logging.Filter):
    """Masks ``keyid=...`` in the request URLs that urllib3 (DEBUG) and httpx (INFO) log themselves.

    ``/campagne`` and the liste-noire calls carry the key in the query string (API-NOTES §2).
    """

    _KEYID = re.compile(r"(?i)(keyid=)[^&\s\"']+")

    def _redact(self, value: object) -> object:
        if isinstance(value, (int, float)) or "keyid=" not in str(value).lower():
            return value
        return self._KEYID.sub(r"\1***", str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = str(self._redact(record.msg))
        return True


def redact_keyid_in_library_logs(logger_name: str) -> None:
    """Install the filter on an HTTP library's logger, once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _KeyidRedactingFilter) for f in logger.filters):
        logger.addFilter(_KeyidRedactingFilter())


P = ParamSpec("P")
T = TypeVar("T")


class Retrying:
    """Counts the attempts of one call and says whether (and when) to try again."""

    def __init__(self, call: ApiCall[Any], config: ClientConfig) -> None:
        self.call = call
        self.config = config
        self.attempt = 0
        for secret in call.secrets:
            config.report_secret(secret)

    def start(self) -> None:
        self.attempt += 1

    def delay_after(self, error: IsendproError) -> float:
        """Seconds to wait before the next attempt; re-raises ``error`` when the call must not be retried."""
        policy = self.config.retry
        delay = policy.next_delay(repeatable=self.call.repeatable, attempt=self.attempt, error=error)
        if delay is None:
            if self.attempt > 1:
                log.warning("iSendPro %s failed after %d attempts", self.call.label, self.attempt)
            raise error
        log.warning(
            "iSendPro %s attempt %d/%d failed (%s); retrying in %.2f s",
            self.call.label, self.attempt, policy.max_attempts, error.message, delay,
        )  # fmt: skip
        return delay

    def done(self, result: T) -> T:
        secrets = getattr(result, "secrets", None)
        for secret in secrets() if callable(secrets) else ():
            self.config.report_secret(secret)
        return result


class _SyncRunner(Protocol):
    def execute(self, call: ApiCall[T]) -> T: ...


class _AsyncRunner(Protocol):
    async def execute(self, call: ApiCall[T]) -> T: ...


def sync_operation(builder: Callable[P, ApiCall[T]]) -> Callable[Concatenate[_SyncRunner, P], T]:
    """Expose a request builder as a client method with the builder's signature and docstring."""

    def method(self: _SyncRunner, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.execute(builder(*args, **kwargs))

    method.__name__ = method.__qualname__ = builder.__name__
    method.__doc__ = builder.__doc__
    return method


def async_operation(
    builder: Callable[P, ApiCall[T]],
) -> Callable[Concatenate[_AsyncRunner, P], Awaitable[T]]:
    """The async twin of :func:`sync_operation`: same builder, awaited execution."""

    async def method(self: _AsyncRunner, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.execute(builder(*args, **kwargs))

    method.__name__ = method.__qualname__ = builder.__name__
    method.__doc__ = builder.__doc__
    return method
