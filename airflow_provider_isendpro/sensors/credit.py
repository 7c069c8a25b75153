"""``CreditSensor``: wait until the iSendPro account can afford a campaign (poke, reschedule or deferred)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_isendpro._compat import AirflowSkipException, conf
from airflow_provider_isendpro.credit_rules import (
    check_thresholds,
    credit_reached,
    describe,
    error_from_event,
    is_transient,
)
from airflow_provider_isendpro.errors import IsendproError
from airflow_provider_isendpro.triggers.credit import CreditTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class CreditSensor(BaseSensorOperator):
    """Wait until the iSendPro credit reaches a threshold, in euros or in SMS to France.

    The credit is read with ``/credit`` (free, read-only). Give exactly one threshold. Works in poke and
    reschedule modes, and deferrable: the credit is checked once in the worker and, if it is too low,
    the wait moves to the triggerer (no worker slot held). Passing transient errors (network, 5xx,
    429) are logged and retried at the next check; a refused key or a broken connection fails the
    task. ``timeout`` and ``soft_fail`` behave as for any sensor, deferred or not.

    XCom: the credit read when the threshold was reached, ``{"euros": 12.5, "sms_estimate": 250}``
    (``sms_estimate`` may be None).

    :param min_credit: succeed when the credit in euros is at least this. Templated.
    :param min_sms: succeed when iSendPro's estimate of SMS to France (``credit=2``) is at least this.
        Templated.
    :param deferrable: wait in the triggerer; default ``[operators] default_deferrable``.
    :param poll_interval: seconds between checks in the triggerer (default: ``poke_interval``).
    :param isendpro_conn_id: the iSendPro connection. Templated.
    """

    template_fields: Sequence[str] = ("min_credit", "min_sms", "isendpro_conn_id")
    ui_color = "#eaf0fb"

    def __init__(
        self,
        *,
        min_credit: float | str | None = None,
        min_sms: int | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | timedelta | None = None,
        isendpro_conn_id: str = "isendpro_default",
        **kwargs: Any,
    ) -> None:
        check_thresholds(min_credit, min_sms, rendered=False)
        super().__init__(**kwargs)
        self.min_credit = min_credit
        self.min_sms = min_sms
        self.deferrable = deferrable
        if poll_interval is None:
            self.poll_interval = float(self.poke_interval)
        else:
            self.poll_interval = self._coerce_poke_interval(poll_interval).total_seconds()
        self.isendpro_conn_id = isendpro_conn_id

    def _thresholds(self) -> tuple[float | None, int | None]:
        return check_thresholds(self.min_credit, self.min_sms)

    def _threshold_text(self) -> str:
        min_credit, min_sms = self._thresholds()
        return f"{min_credit:.2f} EUR" if min_credit is not None else f"{min_sms} SMS"

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        min_credit, min_sms = self._thresholds()
        hook = IsendproHook(self.isendpro_conn_id)
        try:
            credit = hook.client.get_credit(with_sms_estimate=True)
        except IsendproError as exc:
            if not is_transient(exc):
                raise
            self.log.warning("Could not read the iSendPro credit (%s); will check again", exc.message)
            return PokeReturnValue(is_done=False)
        finally:
            hook.close()
        value = credit.to_dict()
        done = credit_reached(credit, min_credit, min_sms)
        self.log.info(
            "iSendPro credit %s: %s the threshold of %s",
            describe(value), "meets" if done else "below", self._threshold_text(),
        )  # fmt: skip
        return PokeReturnValue(is_done=done, xcom_value=value)

    def execute(self, context: Context) -> Any:
        self._thresholds()  # rendered values: fail before any request
        if not self.deferrable:
            return super().execute(context)
        first = self._first_poke(context)
        if first:
            return first.xcom_value
        min_credit, min_sms = self._thresholds()
        self.defer(
            trigger=CreditTrigger(
                isendpro_conn_id=self.isendpro_conn_id,
                min_credit=min_credit,
                min_sms=min_sms,
                poll_interval=self.poll_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def _first_poke(self, context: Context) -> PokeReturnValue:
        """The check before deferring, with the error handling ``BaseSensorOperator.execute`` applies."""
        try:
            return self.poke(context)
        except Exception as exc:
            if self.silent_fail:
                self.log.error("Credit check failed, deferring anyway (silent_fail): %s", exc)
                return PokeReturnValue(is_done=False)
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from exc
            raise

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: return the credit it read, or raise what went wrong."""
        if event is not None and event.get("status") == "success" and isinstance(event.get("credit"), dict):
            credit: dict[str, Any] = event["credit"]
            self.log.info(
                "iSendPro credit %s meets the threshold of %s", describe(credit), self._threshold_text()
            )
            return credit
        message = (event or {}).get("message") or f"unexpected trigger event {event!r}"
        if self.never_fail:
            raise AirflowSkipException(f"Skipping due to never_fail is set to True: {message}")
        raise error_from_event(event or {}, f"iSendPro credit check failed in the triggerer: {message}")
