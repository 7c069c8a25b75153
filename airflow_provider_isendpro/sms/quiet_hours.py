"""French marketing-SMS quiet hours: not 20:00-08:00, not on Sundays, not on public holidays (SMS-FACTS §7).

Times are judged in Europe/Paris wall time. The holiday calendar is injectable because regional days
(Alsace-Moselle's Good Friday and 26 December) and company rules differ from the national list.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms.params import as_aware_datetime

PARIS_TZ = ZoneInfo("Europe/Paris")
#: Marketing SMS may be sent from OPENS (inclusive) to CLOSES (exclusive), Paris time.
OPENS = time(8, 0)
CLOSES = time(20, 0)
_SUNDAY = 6
_MAX_DEFER_DAYS = 366

Holidays = Callable[[date], bool] | Collection[date] | None


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Meeus/Jones/Butcher algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's published variable names
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def _holidays(year: int) -> frozenset[date]:
    easter = easter_sunday(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    moving = [easter + timedelta(days=n) for n in (1, 39, 50)]  # Easter Monday, Ascension, Whit Monday
    return frozenset([date(year, m, d) for m, d in fixed] + moving)


def french_public_holidays(year: int) -> set[date]:
    """The 11 national public holidays of metropolitan France (Alsace-Moselle's 2 extra days excluded)."""
    return set(_holidays(year))


def _is_holiday(holidays: Holidays) -> Callable[[date], bool]:
    if holidays is None:
        return lambda day: day in _holidays(day.year)
    if callable(holidays):
        return holidays
    return holidays.__contains__


def _next_opening(local: datetime, is_holiday: Callable[[date], bool]) -> datetime:
    day = local.date() if local.time() < CLOSES else local.date() + timedelta(days=1)
    for _ in range(_MAX_DEFER_DAYS):
        if day.weekday() != _SUNDAY and not is_holiday(day):
            opening = datetime.combine(day, OPENS, tzinfo=PARIS_TZ)
            return max(opening, local)
        day += timedelta(days=1)
    raise IsendproValidationError(
        field="holidays",
        value=_holidays_repr(is_holiday),
        rule=f"leaves no working day in the {_MAX_DEFER_DAYS} days after the send time; check the calendar",
    )


def _holidays_repr(is_holiday: Callable[[date], bool]) -> str:
    return getattr(is_holiday, "__qualname__", type(is_holiday).__name__)


def check_quiet_hours(
    at: datetime, *, policy: Literal["fail", "defer"] = "fail", holidays: Holidays = None
) -> datetime:
    """Return ``at`` if a marketing SMS may go out then; otherwise raise (``"fail"``) or return the next
    allowed time (``"defer"``): 08:00 Paris time on the next day that is neither a Sunday nor a holiday.

    ``holidays`` is a predicate, a collection of dates, or None for :func:`french_public_holidays`
    (pass ``()`` to ignore holidays).
    """
    if policy not in ("fail", "defer"):
        raise IsendproValidationError(field="policy", value=policy, rule='must be "fail" or "defer"')
    local = as_aware_datetime(at, "at").astimezone(PARIS_TZ)
    is_holiday = _is_holiday(holidays)
    allowed = _next_opening(local, is_holiday)
    if allowed == local:
        return at
    if policy == "defer":
        return allowed
    if local.weekday() == _SUNDAY:
        reason = "a Sunday"
    elif is_holiday(local.date()):
        reason = "a public holiday"
    else:
        reason = "inside the 20:00-08:00 quiet hours"
    raise IsendproValidationError(
        field="at",
        value=at,
        rule=(
            f"{local:%A %Y-%m-%d %H:%M} Paris time is {reason}; French rules forbid marketing SMS between "
            f"20:00 and 08:00, on Sundays and on public holidays; send at {allowed:%Y-%m-%d %H:%M} or "
            "later, or use policy='defer'"
        ),
    )
