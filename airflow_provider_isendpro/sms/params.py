"""Request parameters other than text and numbers: sender id, tracker, scheduled send time.

They are checked here so a bad value fails before any request, with a message that says how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

from airflow_provider_isendpro.errors import IsendproValidationError

#: The ``gmt_zone`` enum of the iSendPro OpenAPI spec 1.1.1 (``SMSRequest``, ``SmsUniqueRequest`` and
#: ``ComptageRequest``), in the spec's order. It lacks Europe/Paris: see :func:`schedule_send`.
GMT_ZONES: Final[tuple[str, ...]] = (
    "Pacific/Midway",
    "America/Adak",
    "Etc/GMT+10",
    "Pacific/Marquesas",
    "Pacific/Gambier",
    "America/Anchorage",
    "America/Ensenada",
    "Etc/GMT+8",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chihuahua",
    "America/Dawson_Creek",
    "America/Belize",
    "America/Cancun",
    "Chile/EasterIsland",
    "America/Chicago",
    "America/New_York",
    "America/Havana",
    "America/Bogota",
    "America/Caracas",
    "America/Santiago",
    "America/La_Paz",
    "Atlantic/Stanley",
    "America/Campo_Grande",
    "America/Goose_Bay",
    "America/Glace_Bay",
    "America/St_Johns",
    "America/Araguaina",
    "America/Montevideo",
    "America/Miquelon",
    "America/Godthab",
    "America/Argentina/Buenos_Aires",
    "America/Sao_Paulo",
    "America/Noronha",
    "Atlantic/Cape_Verde",
    "Atlantic/Azores",
    "Europe/Belfast",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/London",
    "Africa/Abidjan",
    "Europe/Amsterdam",
    "Europe/Belgrade",
    "Europe/Brussels",
    "Africa/Algiers",
    "Africa/Windhoek",
    "Asia/Beirut",
    "Africa/Cairo",
    "Asia/Gaza",
    "Africa/Blantyre",
    "Asia/Jerusalem",
    "Europe/Minsk",
    "Asia/Damascus",
    "Europe/Moscow",
    "Africa/Addis_Ababa",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Yerevan",
    "Asia/Kabul",
    "Asia/Yekaterinburg",
    "Asia/Tashkent",
    "Asia/Kolkata",
    "Asia/Katmandu",
    "Asia/Dhaka",
    "Asia/Novosibirsk",
    "Asia/Rangoon",
    "Asia/Bangkok",
    "Asia/Krasnoyarsk",
    "Asia/Hong_Kong",
    "Asia/Irkutsk",
    "Australia/Perth",
    "Australia/Eucla",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Yakutsk",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Brisbane",
    "Australia/Hobart",
    "Asia/Vladivostok",
    "Australia/Lord_Howe",
    "Etc/GMT-11",
    "Asia/Magadan",
    "Pacific/Norfolk",
    "Asia/Anadyr",
    "Pacific/Auckland",
    "Etc/GMT-12",
    "Pacific/Chatham",
    "Pacific/Tongatapu",
    "Pacific/Kiritimati",
)
#: The default zone, not in the enum: its wall time is sent with ``gmt_zone`` Europe/Brussels, which has
#: had the same offsets and DST rules as Paris since 1977 (API-NOTES 8.4).
PARIS: Final = "Europe/Paris"
PARIS_STAND_IN: Final = "Europe/Brussels"

_SENDER = re.compile(r"[0-9A-Za-z ]{4,11}", re.ASCII)
_TRACKER = re.compile(r"[0-9A-Za-z]{1,49}", re.ASCII)


def validate_sender(sender: str) -> str:
    """Return the sender id (``emetteur``) upper-cased, as the spec's ``[0-9A-Z ]`` pattern expects."""
    if not isinstance(sender, str) or _SENDER.fullmatch(sender) is None:
        raise IsendproValidationError(
            field="sender",
            value=sender,
            rule="must be 4 to 11 characters: letters A-Z, digits, spaces (no accent, no punctuation)",
        )
    if not sender.strip() or sender.replace(" ", "").isdigit():
        raise IsendproValidationError(
            field="sender",
            value=sender,
            rule="must contain a letter: operators refuse a sender id made only of digits and spaces",
        )
    return sender.upper()


def validate_tracker(tracker: str) -> str:
    """Return the tracker unchanged once checked: iSendPro echoes it on delivery reports."""
    if not isinstance(tracker, str) or _TRACKER.fullmatch(tracker) is None:
        raise IsendproValidationError(
            field="tracker",
            value=tracker,
            rule="must be 1 to 49 letters or digits (A-Z, a-z, 0-9), with no spaces or punctuation",
        )
    return tracker


@dataclass(frozen=True)
class ScheduledSend:
    """``date_envoi`` and ``gmt_zone`` for the request, and the aware instant they stand for."""

    date_envoi: str
    gmt_zone: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"date_envoi": self.date_envoi, "gmt_zone": self.gmt_zone, "at": self.at.isoformat()}


def as_aware_datetime(value: object, field: str) -> datetime:
    """An aware datetime from a datetime (pendulum's included) or an ISO 8601 string with an offset."""
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise IsendproValidationError(
                field=field,
                value=value,
                rule="is not an ISO 8601 date-time; write it like 2030-06-01T09:30:00+02:00",
            ) from None
    if not isinstance(value, datetime):
        raise IsendproValidationError(
            field=field,
            value=value,
            rule="must be a timezone-aware datetime or an ISO 8601 string with a UTC offset",
        )
    if value.utcoffset() is None:
        raise IsendproValidationError(
            field=field,
            value=value,
            rule=(
                "has no timezone, so the send time is ambiguous; give an offset (+02:00) or an aware "
                "datetime such as pendulum.datetime(2030, 6, 1, 9, 30, tz='Europe/Paris')"
            ),
        )
    return value


def schedule_send(when: datetime | str, *, now: datetime | None = None, zone: str = PARIS) -> ScheduledSend:
    """Turn an aware instant into ``date_envoi`` (``YYYY-MM-DD hh:mm``) and ``gmt_zone``.

    ``zone`` is Europe/Paris (sent as Europe/Brussels, since the enum lacks Paris) or any name of
    :data:`GMT_ZONES`. The wire format has no seconds: a time with seconds is rounded **up** to the next
    minute, so the message never leaves before the time asked for. A wall time that occurs twice (the
    autumn DST change) is refused, since iSendPro could read it either way.
    """
    if zone == PARIS:
        tz, gmt_zone = ZoneInfo(PARIS), PARIS_STAND_IN
    elif isinstance(zone, str) and zone in GMT_ZONES:
        tz, gmt_zone = ZoneInfo(zone), zone
    else:
        raise IsendproValidationError(
            field="zone",
            value=zone,
            rule="must be Europe/Paris or one of the gmt_zone names of the iSendPro spec (GMT_ZONES)",
        )
    at = as_aware_datetime(when, "when")
    current = datetime.now(timezone.utc) if now is None else as_aware_datetime(now, "now")
    if at < current:
        raise IsendproValidationError(
            field="when",
            value=when,
            rule=(
                f"is in the past (now is {current.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}); give a future "
                "time, or no date to send immediately"
            ),
        )
    try:
        utc = at.astimezone(timezone.utc)
        if utc.second or utc.microsecond:
            # Rounded in UTC: every zone of the enum has a whole-minute offset, and UTC has no DST gap.
            utc = utc.replace(second=0, microsecond=0) + timedelta(minutes=1)
        local = utc.astimezone(tz)
    except OverflowError:  # within a day of datetime.max: the time cannot even be written down
        raise IsendproValidationError(
            field="when", value=when, rule="is beyond the end of year 9999; give a real send time"
        ) from None
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        raise IsendproValidationError(
            field="when",
            value=when,
            rule=(
                f"falls at {local:%Y-%m-%d %H:%M}, a wall time that occurs twice in {zone} (clocks go "
                "back), so iSendPro could send an hour off; pick a time outside that hour"
            ),
        )
    return ScheduledSend(local.strftime("%Y-%m-%d %H:%M"), gmt_zone, local)
