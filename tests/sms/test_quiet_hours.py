"""French marketing quiet hours and the public-holiday calendar."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import check_quiet_hours, french_public_holidays
from airflow_provider_isendpro.sms.quiet_hours import easter_sunday

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_french_public_holidays_2025() -> None:
    assert french_public_holidays(2025) == {
        date(2025, 1, 1),
        date(2025, 4, 21),  # Easter Monday
        date(2025, 5, 1),
        date(2025, 5, 8),
        date(2025, 5, 29),  # Ascension
        date(2025, 6, 9),  # Whit Monday
        date(2025, 7, 14),
        date(2025, 8, 15),
        date(2025, 11, 1),
        date(2025, 11, 11),
        date(2025, 12, 25),
    }
    holidays = french_public_holidays(2025)
    holidays.clear()  # the caller gets a copy
    assert len(french_public_holidays(2025)) == 11


@pytest.mark.parametrize(
    "at",
    [
        paris(2025, 6, 10, 8, 0),  # Tuesday, opening time
        paris(2025, 6, 10, 19, 59),
        paris(2025, 6, 14, 12, 0),  # Saturday
        datetime(2025, 6, 10, 10, 0, tzinfo=timezone.utc),  # 12:00 Paris
    ],
)
def test_allowed_times_returned_unchanged(at: datetime) -> None:
    assert check_quiet_hours(at, policy="fail") is at
    assert check_quiet_hours(at, policy="defer") is at


@pytest.mark.parametrize(
    ("at", "deferred"),
    [
        (paris(2025, 6, 10, 7, 59), paris(2025, 6, 10, 8, 0)),  # early morning: same day
        (paris(2025, 6, 10, 20, 0), paris(2025, 6, 11, 8, 0)),  # evening: next day
        (paris(2025, 6, 14, 21, 0), paris(2025, 6, 16, 8, 0)),  # Saturday night: skip Sunday
        (paris(2025, 6, 15, 12, 0), paris(2025, 6, 16, 8, 0)),  # Sunday
        (paris(2025, 6, 7, 20, 30), paris(2025, 6, 10, 8, 0)),  # Saturday night, Sunday, Whit Monday
        (paris(2025, 12, 25, 9, 0), paris(2025, 12, 26, 8, 0)),  # Christmas
        (datetime(2025, 6, 10, 19, 0, tzinfo=timezone.utc), paris(2025, 6, 11, 8, 0)),  # 21:00 Paris
    ],
)
def test_defer_to_next_opening(at: datetime, deferred: datetime) -> None:
    result = check_quiet_hours(at, policy="defer")
    assert result == deferred
    assert result.tzinfo == PARIS


def test_fail_explains_and_suggests() -> None:
    with pytest.raises(IsendproValidationError) as info:
        check_quiet_hours(paris(2025, 6, 10, 21, 15), policy="fail")
    err = info.value
    assert err.field == "at"
    assert str(err).endswith(
        ": Tuesday 2025-06-10 21:15 Paris time is inside the 20:00-08:00 quiet hours; French rules forbid "
        "marketing SMS between 20:00 and 08:00, on Sundays and on public holidays; send at 2025-06-11 08:00 "
        "or later, or use policy='defer'"
    )
    with pytest.raises(IsendproValidationError, match="Sunday 2025-06-15 10:00 Paris time is a Sunday;"):
        check_quiet_hours(paris(2025, 6, 15, 10, 0))
    with pytest.raises(
        IsendproValidationError, match=r"Thursday 2025-05-01 10:00 Paris time is a public holiday"
    ):
        check_quiet_hours(paris(2025, 5, 1, 10, 0))


def test_injectable_calendars() -> None:
    bastille = paris(2025, 7, 14, 10, 0)
    assert check_quiet_hours(bastille, policy="defer") == paris(2025, 7, 15, 8, 0)
    assert check_quiet_hours(bastille, policy="defer", holidays=()) is bastille
    company = {date(2025, 7, 15)}
    assert check_quiet_hours(bastille, policy="defer", holidays=company) is bastille
    assert check_quiet_hours(paris(2025, 7, 15, 9, 0), policy="defer", holidays=company) == paris(
        2025, 7, 16, 8, 0
    )

    def alsace(day: date) -> bool:
        return day in french_public_holidays(day.year) or (day.month, day.day) == (12, 26)

    assert check_quiet_hours(paris(2025, 12, 25, 9, 0), policy="defer", holidays=alsace) == paris(
        2025, 12, 27, 8, 0
    )


def test_calendar_without_working_days() -> None:
    def always(day: date) -> bool:
        return True

    with pytest.raises(IsendproValidationError) as info:
        check_quiet_hours(paris(2025, 6, 10, 21, 0), policy="defer", holidays=always)
    assert info.value.field == "holidays"
    assert "leaves no working day in the 366 days after the send time; check the calendar" in str(info.value)


def test_bad_arguments() -> None:
    with pytest.raises(IsendproValidationError) as info:
        check_quiet_hours(paris(2025, 6, 10, 12, 0), policy="warn")  # type: ignore[arg-type]
    assert str(info.value) == 'policy=\'warn\': must be "fail" or "defer"'
    with pytest.raises(
        IsendproValidationError, match=r"^at=datetime\.datetime\(2025, 6, 10, 12, 0\): has no timezone"
    ):
        check_quiet_hours(datetime(2025, 6, 10, 12, 0))
