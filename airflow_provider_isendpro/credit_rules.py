"""The credit rules shared by ``CreditSensor`` (worker) and ``CreditTrigger`` (triggerer).

Both must apply exactly the same threshold check and error handling, and each imports this module rather
than the other (no import circle): thresholds, whether a credit meets them, which errors are transient, and
the trigger's event format (built by the trigger, read back by the sensor).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from airflow_provider_isendpro.errors import (
    IsendproError,
    IsendproResponseError,
    IsendproTransportError,
    IsendproValidationError,
)

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import Credit


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


# Trigger events


def error_event(exc: BaseException, message: str) -> dict[str, Any]:
    """The trigger's error event: what went wrong, the error class and code; never the API key."""
    code = exc.code if isinstance(exc, IsendproError) else None
    return {"status": "error", "message": message, "error_type": type(exc).__name__, "code": code}


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
