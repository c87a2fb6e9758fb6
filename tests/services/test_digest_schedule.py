"""When a digest is due: the local morning in the person's zone, across DST changes,
the date line and weeks, decided by pure functions (no clock, no database); and how
its counts read."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.services.digest import LATE, GroupDigest, due, first_line, morning, render, zone


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "now", "expected"),
    [
        (None, "2026-07-15T07:00", "2026-07-15T07:00"),  # no zone: UTC
        (None, "2026-07-15T06:59", "2026-07-14T07:00"),
        ("America/Chicago", "2026-07-15T12:30", "2026-07-15T12:00"),  # CDT, UTC-5
        ("America/Chicago", "2026-01-15T12:30", "2026-01-14T13:00"),  # CST, UTC-6: not yet
        ("America/Chicago", "2026-01-15T13:00", "2026-01-15T13:00"),
        ("Asia/Kolkata", "2026-07-15T02:00", "2026-07-15T01:30"),  # UTC+5:30
        ("Pacific/Auckland", "2026-01-14T18:00", "2026-01-14T18:00"),  # the 15th there
        ("Pacific/Auckland", "2026-01-14T17:59", "2026-01-13T18:00"),
        ("Pacific/Kiritimati", "2026-07-14T17:00", "2026-07-14T17:00"),  # UTC+14
        ("Pacific/Pago_Pago", "2026-07-15T17:59", "2026-07-14T18:00"),  # UTC-11
    ],
)
def test_a_daily_digest_is_due_at_seven_in_the_person_s_zone(
    name: str | None, now: str, expected: str
) -> None:
    assert morning(utc(now), zone(name), "daily", 7) == utc(expected)


def test_across_spring_forward_seven_o_clock_moves_an_hour_earlier_in_utc() -> None:
    new_york = ZoneInfo("America/New_York")  # clocks go 02:00 -> 03:00 on 2026-03-08
    assert morning(utc("2026-03-08T11:00"), new_york, "daily", 7) == utc("2026-03-08T11:00")
    assert morning(utc("2026-03-08T10:59"), new_york, "daily", 7) == utc("2026-03-07T12:00")
    # a morning hour that does not exist that day is the instant right after the gap
    assert morning(utc("2026-03-08T07:30"), new_york, "daily", 2) == utc("2026-03-08T07:00")


def test_across_fall_back_a_repeated_hour_is_one_morning_with_one_digest() -> None:
    new_york = ZoneInfo("America/New_York")  # 02:00 EDT -> 01:00 EST on 2026-11-01
    assert morning(utc("2026-11-01T12:00"), new_york, "daily", 7) == utc("2026-11-01T12:00")
    assert morning(utc("2026-11-01T11:59"), new_york, "daily", 7) == utc("2026-10-31T11:00")
    first = utc("2026-11-01T05:00")  # 01:00 EDT, the first of the two 01:00s
    assert due(utc("2026-11-01T05:01"), new_york, "daily", 1, None) == first
    # the second 01:00 (EST, 06:00 UTC) is the same morning: nothing more is due
    assert due(utc("2026-11-01T06:01"), new_york, "daily", 1, first) is None
    london = ZoneInfo("Europe/London")  # BST ends 2026-10-25
    assert morning(utc("2026-10-25T07:00"), london, "daily", 7) == utc("2026-10-25T07:00")
    assert morning(utc("2026-10-24T06:00"), london, "daily", 7) == utc("2026-10-24T06:00")


def test_a_weekly_digest_is_due_on_monday_morning_in_the_person_s_zone() -> None:
    chicago = ZoneInfo("America/Chicago")
    monday = utc("2026-11-30T13:00")  # Monday 07:00 CST
    assert morning(utc("2026-12-03T20:00"), chicago, "weekly", 7) == monday  # Thursday
    assert morning(utc("2026-12-07T12:59"), chicago, "weekly", 7) == monday  # next Monday, 06:59
    assert morning(utc("2026-12-07T13:00"), chicago, "weekly", 7) == utc("2026-12-07T13:00")
    auckland = ZoneInfo("Pacific/Auckland")  # Monday there is still Sunday in UTC
    assert morning(utc("2026-12-06T18:30"), auckland, "weekly", 7) == utc("2026-12-06T18:00")


def test_due_once_per_morning_never_when_off_and_never_long_after() -> None:
    tz = ZoneInfo("Europe/Berlin")
    slot = utc("2026-12-01T06:00")  # 07:00 CET
    assert due(utc("2026-12-01T06:00"), tz, "daily", 7, None) == slot
    assert due(utc("2026-12-01T06:05"), tz, "daily", 7, slot - timedelta(days=1)) == slot
    assert due(utc("2026-12-01T06:05"), tz, "daily", 7, slot) is None, "queued already"
    assert due(utc("2026-12-01T06:05"), tz, "off", 7, None) is None
    assert due(slot + LATE, tz, "daily", 7, None) == slot
    assert due(slot + LATE + timedelta(minutes=1), tz, "daily", 7, None) is None, "not at night"
    assert due(utc("2026-12-02T06:00"), tz, "daily", 7, slot) == slot + timedelta(days=1)


def test_an_unknown_or_missing_zone_is_utc() -> None:
    assert zone(None) is UTC and zone("Mars/Olympus") is UTC
    assert zone("America/Chicago") == ZoneInfo("America/Chicago")


def test_minutes_and_counts_read_as_a_person_says_them() -> None:
    groups = [
        GroupDigest("g1", "Math", memos=1, minutes=0.4, replies=1, live=0, speakers=["Ben"]),
        GroupDigest("g2", "Art", memos=7, minutes=12.6, replies=2, live=3, speakers=["A", "B"]),
        GroupDigest("g3", "Gym", memos=2, minutes=1.2, speakers=["Cy"]),
    ]
    subject, text, _ = render("Amy", groups, "https://e.org", "https://e.org/u?token=t", "daily")
    assert subject == "Earshot: 10 unheard memos in 3 groups"
    assert "1 unheard memo, under a minute" in text and "1 reply to you" in text
    assert "7 unheard memos, 13 minutes" in text and "2 replies to you" in text
    assert "3 live memos you missed" in text and "2 unheard memos, 1 minute\n" in text
    assert "live memo" not in text.split("Gym")[1], "no count of what there is none of"
    assert "https://e.org/#/g/g2" in text and text.rstrip().endswith("https://e.org/u?token=t")


def test_a_transcript_s_first_line_is_its_first_words_bounded() -> None:
    assert first_line("\n  \n Hello there  \nsecond") == "Hello there"
    long = first_line("x" * 500)
    assert len(long) == 140 and long.endswith("…")
    assert first_line("") == ""
