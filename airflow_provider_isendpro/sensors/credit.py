"""``CreditSensor``: wait until the iSendPro account can afford a campaign (poke, reschedule or deferred)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_isendpro._compat import conf
from airflow_provider_isendpro.errors import IsendproError, IsendproTransportError, IsendproValidationError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_isendpro.client import Credit


# --------------------------------------------------------------------------------------------------
# Thresholds: shared with the trigger, which must apply exactly the same rule


def check_thresholds(
    min_credit: Any, min_sms: Any, *, rendered: bool = True
) -> tuple[float | None, int | None]:
    """Exactly one threshold, non-negative: ``min_credit`` (euros) or ``min_sms`` (whole SMS).

    With ``rendered=False`` (at construction) a template string or ``XComArg`` passes for now; it is
    checked again once rendered.
    """
    if (min_credit is None) == (min_sms is None):
        given = "both were given" if min_credit is not None else "neither was given"
        raise IsendproValidationError(
            f"give exactly one threshold, min_credit (euros) or min_sms (SMS to France); {given}",
            field="min_credit",
            value={"min_credit": min_credit, "min_sms": min_sms},
            rule="exactly one of min_credit and min_sms",
        )
    if min_credit is not None:
        return _number("min_credit", min_credit, rendered=rendered, whole=False), None
    return None, _number("min_sms", min_sms, rendered=rendered, whole=True)


def _number(field: str, value: Any, *, rendered: bool, whole: bool) -> Any:
    if not rendered and not isinstance(value, (int, float)):
        return value  # a template or XComArg: checked after rendering
    rule = "must be a whole number >= 0 (SMS)" if whole else "must be a number >= 0 (euros)"
    number: float
    if isinstance(value, bool):
        number = math.nan
    else:
        try:
            number = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
        except (ValueError, OverflowError):  # OverflowError: an int beyond the float range
            number = math.nan
    if not (number >= 0 and math.isfinite(number)) or (whole and not number.is_integer()):
        raise IsendproValidationError(field=field, value=value, rule=rule)
    return int(number) if whole else number


def credit_reached(credit: Credit, min_credit: float | None, min_sms: int | None) -> bool:
    """Whether ``credit`` meets the threshold. ``min_sms`` needs iSendPro's SMS estimate (``quantite``)."""
    if min_credit is not None:
        return credit.euros >= min_credit
    if credit.sms_estimate is None:
        from airflow_provider_isendpro.errors import IsendproResponseError

        raise IsendproResponseError(
            "iSendPro's credit answer has no SMS estimate ('quantite'), so min_sms cannot be checked: "
            "use min_credit (euros) instead"
        )
    return credit.sms_estimate >= (min_sms or 0)


def is_transient(error: BaseException) -> bool:
    """A failure worth trying again later (network, 5xx, 429, unreadable answer), not a wrong setup."""
    return isinstance(error, IsendproTransportError) and error.retryable


def describe(credit: dict[str, Any]) -> str:
    estimate = credit.get("sms_estimate")
    return f"{credit['euros']:.2f} EUR" + (
        f" (about {estimate} SMS to France)" if estimate is not None else ""
    )


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
        from airflow_provider_isendpro.triggers.credit import CreditTrigger

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
        from airflow_provider_isendpro._compat import AirflowSkipException

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
            from airflow_provider_isendpro._compat import AirflowSkipException

            raise AirflowSkipException(f"Skipping due to never_fail is set to True: {message}")
        raise error_from_event(event or {}, f"iSendPro credit check failed in the triggerer: {message}")


def error_from_event(event: dict[str, Any], message: str) -> IsendproError:
    """Rebuild the error class the trigger met (same class as in poke mode), with its code."""
    from airflow_provider_isendpro import errors

    classes: dict[str, type[IsendproError]] = {
        cls.__name__: cls
        for cls in (
            errors.IsendproAuthError,
            errors.IsendproApiError,
            errors.IsendproConfigError,
            errors.IsendproResponseError,
        )
    }
    cls = classes.get(str(event.get("error_type")), IsendproError)
    code = event.get("code")
    return cls(message, code=code if isinstance(code, int) else None)
