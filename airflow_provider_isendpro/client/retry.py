"""When a failed call may be tried again, and after how long.

One decision function serves the sync and async clients; they differ only in how they sleep. The rule
(DESIGN.md, safety principles): a call that is not safe to repeat (a send, a billed HLR lookup, a
creation) is retried only when nothing reached iSendPro; a read is retried on 5xx, 429 (honouring
``Retry-After``), timeouts and unreadable answers, with capped exponential backoff.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from airflow_provider_isendpro.errors import (
    IsendproConnectError,
    IsendproError,
    IsendproRateLimitError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry limits shared by every call of a client.

    :param max_attempts: attempts in all, the first included (1 disables retries).
    :param backoff_initial: wait before the second attempt, in seconds; doubled at each attempt.
    :param backoff_max: cap on one wait, in seconds.
    :param retry_after_max: a ``Retry-After`` longer than this is not waited for: the error is raised.
    :param jitter: spread waits randomly between half and all of the computed backoff.
    """

    max_attempts: int = 4
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    jitter: bool = True
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    def backoff(self, attempt: int) -> float:
        """Wait after failed attempt number ``attempt`` (1-based)."""
        delay: float = min(self.backoff_max, self.backoff_initial * 2.0 ** (attempt - 1))
        if self.jitter:
            delay *= 0.5 + 0.5 * self.rand()
        return delay

    def next_delay(self, *, repeatable: bool, attempt: int, error: IsendproError) -> float | None:
        """Seconds to wait before trying again after ``error``, or ``None`` to give up and raise it."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, IsendproConnectError):
            return self.backoff(attempt)  # nothing reached iSendPro: always safe
        if not repeatable or not error.retryable:
            return None
        if isinstance(error, IsendproRateLimitError) and error.retry_after is not None:
            if error.retry_after > self.retry_after_max:
                return None
            return max(error.retry_after, 0.0)
        return self.backoff(attempt)


NO_RETRY = RetryPolicy(max_attempts=1)
