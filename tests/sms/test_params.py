"""Sender id, tracker and scheduled-send parameters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pendulum
import pytest

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import (
    GMT_ZONES,
    ScheduledSend,
    schedule_send,
    validate_sender,
    validate_tracker,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2030, 6, 1, 7, 0, tzinfo=timezone.utc)  # 09:00 in Paris (CEST)
#: The API description shipped in the package (a copy of iSendPro's published OpenAPI document).
SPEC = Path(__file__).resolve().parents[2] / "airflow_provider_isendpro" / "testing" / "openapi.json"


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("ISENDPRO", "ISENDPRO"),
        ("Shop", "SHOP"),
        ("Ma Boite 1", "MA BOITE 1"),
        ("A123", "A123"),
    ],
)
def test_valid_senders(sender: str, expected: str) -> None:
    assert validate_sender(sender) == expected


@pytest.mark.parametrize("sender", ["abc", "ABCDEFGHIJKL", "Boîte", "SHOP!", "Straße", "", None, 1234])
def test_invalid_sender_characters_or_length(sender: object) -> None:
    with pytest.raises(IsendproValidationError) as info:
        validate_sender(sender)  # type: ignore[arg-type]
    assert info.value.field == "sender"
    assert str(info.value) == (
        f"sender={sender!r}: must be 4 to 11 characters: letters A-Z, digits, spaces "
        "(no accent, no punctuation)"
    )


@pytest.mark.parametrize("sender", ["12345", "0612345678", "    ", "1234 ", "12 34"])
def test_sender_needs_a_letter(sender: str) -> None:
    with pytest.raises(IsendproValidationError) as info:
        validate_sender(sender)
    assert str(info.value) == (
        f"sender={sender!r}: must contain a letter: operators refuse a sender id made only of digits "
        "and spaces"
    )


@pytest.mark.parametrize("tracker", ["a", "a1b2c3d4e5f6a7", "X" * 49])
def test_valid_trackers(tracker: str) -> None:
    assert validate_tracker(tracker) == tracker


@pytest.mark.parametrize("tracker", ["", "X" * 50, "run-1", "a b", "é1", None, 12])
def test_invalid_trackers(tracker: object) -> None:
    with pytest.raises(IsendproValidationError) as info:
        validate_tracker(tracker)  # type: ignore[arg-type]
    assert info.value.field == "tracker"
    assert str(info.value) == (
        f"tracker={tracker!r}: must be 1 to 49 letters or digits (A-Z, a-z, 0-9), with no spaces "
        "or punctuation"
    )


def test_gmt_zones_embed_the_spec_enum() -> None:
    spec = json.loads(SPEC.read_text())  # a missing spec is a failure, not a skip
    for schema in ("SMSRequest", "SmsUniqueRequest", "ComptageRequest"):
        assert tuple(spec["components"]["schemas"][schema]["properties"]["gmt_zone"]["enum"]) == GMT_ZONES
    assert len(GMT_ZONES) == 90
    assert GMT_ZONES[0] == "Pacific/Midway"
    assert "Europe/Paris" not in GMT_ZONES
    assert "Europe/Brussels" in GMT_ZONES
    for name in GMT_ZONES:
        ZoneInfo(name)  # every name loads


def test_paris_is_sent_as_brussels() -> None:
    sent = schedule_send(datetime(2030, 6, 1, 9, 30, tzinfo=PARIS), now=NOW)
    assert sent == ScheduledSend(
        "2030-06-01 09:30", "Europe/Brussels", datetime(2030, 6, 1, 9, 30, tzinfo=PARIS)
    )
    assert sent.to_dict() == {
        "date_envoi": "2030-06-01 09:30",
        "gmt_zone": "Europe/Brussels",
        "at": "2030-06-01T09:30:00+02:00",
    }


def test_other_zone_converts_to_paris_wall_time() -> None:
    sent = schedule_send(datetime(2030, 12, 1, 8, 0, tzinfo=ZoneInfo("America/New_York")), now=NOW)
    assert (sent.date_envoi, sent.gmt_zone) == ("2030-12-01 14:00", "Europe/Brussels")


def test_explicit_enum_zone() -> None:
    sent = schedule_send("2030-06-01T09:30:00+02:00", now=NOW, zone="Europe/London")
    assert (sent.date_envoi, sent.gmt_zone) == ("2030-06-01 08:30", "Europe/London")
    sent = schedule_send("2030-06-01T09:30:00+02:00", now=NOW, zone="Asia/Katmandu")
    assert (sent.date_envoi, sent.gmt_zone) == ("2030-06-01 13:15", "Asia/Katmandu")


def test_pendulum_and_iso_inputs() -> None:
    assert schedule_send(pendulum.datetime(2030, 6, 1, 9, 30, tz="Europe/Paris"), now=NOW).date_envoi == (
        "2030-06-01 09:30"
    )
    assert schedule_send("2030-06-01T07:30:00Z", now=NOW).date_envoi == "2030-06-01 09:30"
    assert schedule_send(" 2030-06-01 07:30z ", now=NOW).date_envoi == "2030-06-01 09:30"
    assert (
        schedule_send("2030-06-01T09:30+02:00", now="2030-06-01T06:00:00Z").date_envoi == "2030-06-01 09:30"
    )  # type: ignore[arg-type]


def test_seconds_round_up_never_early() -> None:
    sent = schedule_send(datetime(2030, 6, 1, 9, 30, 0, 1, tzinfo=PARIS), now=NOW)
    assert sent.date_envoi == "2030-06-01 09:31"
    assert sent.at == datetime(2030, 6, 1, 9, 31, tzinfo=PARIS)
    assert (
        schedule_send(datetime(2030, 6, 1, 9, 30, 59, tzinfo=PARIS), now=NOW).date_envoi == "2030-06-01 09:31"
    )
    assert (
        schedule_send(datetime(2030, 12, 31, 23, 59, 30, tzinfo=PARIS), now=NOW).date_envoi
        == "2031-01-01 00:00"
    )


def test_rounding_across_the_spring_gap() -> None:
    # 01:59:30 CET + 30 s is 03:00 CEST: 02:00 does not exist that night.
    sent = schedule_send(datetime(2030, 3, 31, 1, 59, 30, tzinfo=PARIS), now=NOW - timedelta(days=90))
    assert sent.date_envoi == "2030-03-31 03:00"


def test_ambiguous_autumn_wall_time_refused() -> None:
    at = datetime(2030, 10, 27, 0, 30, tzinfo=timezone.utc)  # 02:30 CEST, which happens twice
    with pytest.raises(IsendproValidationError) as info:
        schedule_send(at, now=NOW)
    assert info.value.field == "when"
    assert str(info.value).endswith(
        "falls at 2030-10-27 02:30, a wall time that occurs twice in Europe/Paris (clocks go back), so "
        "iSendPro could send an hour off; pick a time outside that hour"
    )
    with pytest.raises(IsendproValidationError, match="occurs twice in Europe/Paris"):
        schedule_send(at + timedelta(hours=1), now=NOW)  # the second 02:30 (CET)
    assert schedule_send(at + timedelta(hours=2), now=NOW).date_envoi == "2030-10-27 03:30"
    # In a zone without that change the same instant is fine.
    assert schedule_send(at, now=NOW, zone="Asia/Tokyo").date_envoi == "2030-10-27 09:30"


def test_past_time_refused() -> None:
    with pytest.raises(IsendproValidationError) as info:
        schedule_send(datetime(2030, 6, 1, 8, 59, tzinfo=PARIS), now=NOW)
    assert info.value.field == "when"
    assert str(info.value).endswith(
        ": is in the past (now is 2030-06-01 09:00:00 CEST); give a future time, or no date to send "
        "immediately"
    )
    assert schedule_send(NOW, now=NOW).date_envoi == "2030-06-01 09:00"  # "now" is not in the past


def test_default_now_is_the_clock() -> None:
    with pytest.raises(IsendproValidationError, match="is in the past"):
        schedule_send(datetime(2000, 1, 1, tzinfo=timezone.utc))
    future = datetime.now(timezone.utc) + timedelta(days=30)
    assert schedule_send(future).at >= future


@pytest.mark.parametrize("when", [datetime(2030, 6, 1, 9, 30), "2030-06-01T09:30:00", "2030-06-01 09:30"])
def test_naive_refused(when: object) -> None:
    with pytest.raises(IsendproValidationError) as info:
        schedule_send(when, now=NOW)  # type: ignore[arg-type]
    assert info.value.field == "when"
    assert (
        "has no timezone, so the send time is ambiguous; give an offset (+02:00) or an aware datetime"
        in str(info.value)
    )


def test_naive_now_refused() -> None:
    with pytest.raises(
        IsendproValidationError, match=r"^now=datetime\.datetime\(2030, 6, 1, 7, 0\): has no timezone"
    ):
        schedule_send(NOW, now=datetime(2030, 6, 1, 7, 0))


@pytest.mark.parametrize("when", ["tomorrow", "", "2030-13-01T00:00+00:00"])
def test_unreadable_string(when: str) -> None:
    with pytest.raises(IsendproValidationError) as info:
        schedule_send(when, now=NOW)
    assert str(info.value) == (
        f"when={when!r}: is not an ISO 8601 date-time; write it like 2030-06-01T09:30:00+02:00"
    )


@pytest.mark.parametrize("when", [None, 1700000000, datetime(2030, 6, 1).date()])
def test_wrong_type(when: object) -> None:
    with pytest.raises(IsendproValidationError) as info:
        schedule_send(when, now=NOW)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"when={when!r}: must be a timezone-aware datetime or an ISO 8601 string with a UTC offset"
    )


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Pacific/Nowhere", "", None])
def test_unknown_zone(zone: object) -> None:
    with pytest.raises(IsendproValidationError) as info:
        schedule_send(NOW + timedelta(days=1), now=NOW, zone=zone)  # type: ignore[arg-type]
    assert info.value.field == "zone"
    assert str(info.value) == (
        f"zone={zone!r}: must be Europe/Paris or one of the gmt_zone names of the iSendPro spec (GMT_ZONES)"
    )
