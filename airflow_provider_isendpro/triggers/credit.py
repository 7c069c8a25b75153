"""``CreditTrigger``: poll the iSendPro credit in the triggerer until it reaches a threshold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_isendpro.credit_rules import (
    check_thresholds,
    credit_reached,
    describe,
    error_event,
    is_transient,
)
from airflow_provider_isendpro.errors import IsendproError, IsendproRateLimitError

#: First wait after a transient error, in seconds; doubled per consecutive error, capped at the poll
#: interval (a longer ``Retry-After`` is honoured).
RETRY_BACKOFF = 1.0


class CreditTrigger(BaseTrigger):
    """Poll ``/credit`` with the async client until the credit reaches ``min_credit`` euros or
    ``min_sms`` SMS (exactly one), then fire ``{"status": "success", "credit": {"euros", "sms_estimate"}}``.

    Transient failures (network, 5xx, 429, unreadable answers) are logged and retried; anything else (a
    refused key, a missing connection) fires ``{"status": "error", "message", "error_type", "code"}``.
    The event never holds the API key. There is no deadline here: the deferring task's ``timeout`` ends
    the wait.

    :param isendpro_conn_id: the iSendPro connection.
    :param min_credit: threshold in euros.
    :param min_sms: threshold in SMS to France (iSendPro's estimate).
    :param poll_interval: seconds between two reads of the credit.
    """

    def __init__(
        self,
        isendpro_conn_id: str = "isendpro_default",
        min_credit: float | None = None,
        min_sms: int | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.min_credit, self.min_sms = check_thresholds(min_credit, min_sms)
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, (int, float))
            or poll_interval < 0
        ):
            from airflow_provider_isendpro.errors import IsendproValidationError

            raise IsendproValidationError(
                field="poll_interval", value=poll_interval, rule="must be a number of seconds >= 0"
            )
        self.isendpro_conn_id = isendpro_conn_id
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "isendpro_conn_id": self.isendpro_conn_id,
                "min_credit": self.min_credit,
                "min_sms": self.min_sms,
                "poll_interval": self.poll_interval,
            },
        )

    def _retry_delay(self, failures: int, error: IsendproError) -> float:
        from airflow_provider_isendpro.client.retry import RetryPolicy

        # The client's backoff, capped at the poll interval; unlike the client, the trigger never gives up
        # (the deferred task's timeout ends the wait), so only the delay is borrowed, not the attempt limit.
        policy = RetryPolicy(backoff_initial=RETRY_BACKOFF, backoff_max=self.poll_interval, jitter=False)
        delay = policy.backoff(failures)
        if isinstance(error, IsendproRateLimitError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._poll()
        except Exception as exc:  # never let the triggerer see a crash without an event
            self.log.exception("iSendPro credit trigger failed")
            event = error_event(exc, f"unexpected {type(exc).__name__} while polling the credit")
        yield TriggerEvent(event)

    async def _poll(self) -> dict[str, Any]:
        from airflow_provider_isendpro.client.retry import NO_RETRY
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        # The trigger is the retry loop: one attempt per check, so a transient error waits at most the
        # poll interval and the log shows each failure.
        hook = IsendproHook(self.isendpro_conn_id, retry=NO_RETRY)
        try:
            client = await hook.get_async_client()
        except IsendproError as exc:
            return error_event(exc, exc.message)
        failures = 0
        async with client:
            while True:
                try:
                    credit = await client.get_credit(with_sms_estimate=True)
                except IsendproError as exc:
                    if not is_transient(exc):
                        return error_event(exc, exc.message)
                    failures += 1
                    delay = self._retry_delay(failures, exc)
                    self.log.warning(
                        "Could not read the iSendPro credit (%s, failure %d in a row); retrying in %.1f s",
                        exc.message, failures, delay,
                    )  # fmt: skip
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                try:
                    reached = credit_reached(credit, self.min_credit, self.min_sms)
                except IsendproError as exc:
                    return error_event(exc, exc.message)
                value = credit.to_dict()
                if reached:
                    self.log.info("iSendPro credit %s reached the threshold", describe(value))
                    return {"status": "success", "credit": value}
                self.log.info(
                    "iSendPro credit %s is below the threshold; next check in %.1f s",
                    describe(value), self.poll_interval,
                )  # fmt: skip
                await asyncio.sleep(self.poll_interval)
