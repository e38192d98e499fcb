"""`parse_clock`: system, fixed and simulated clocks, and the Stockholm date every rule counts in."""

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from shared.clock import STOCKHOLM, FixedClock, SimulatedClock, SystemClock, parse_clock

CET = timezone(timedelta(hours=1))


def test_system_clock_tells_the_current_utc_time():
    clock = parse_clock("system")
    assert isinstance(clock, SystemClock)
    now = clock.now()
    assert now.tzinfo is not None
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5


def test_surrounding_whitespace_in_the_setting_is_ignored():
    assert isinstance(parse_clock("  system\n"), SystemClock)


def test_fixed_clock_with_an_offset_always_tells_that_instant():
    clock = parse_clock("fixed:2026-03-01T08:00:00+01:00")
    assert isinstance(clock, FixedClock)
    assert clock.now() == datetime(2026, 3, 1, 8, 0, tzinfo=CET)
    assert clock.now() == clock.now()


def test_fixed_clock_in_utc_is_the_same_instant_as_in_stockholm_winter_time():
    assert parse_clock("fixed:2026-03-01T07:00:00+00:00").now() == datetime(2026, 3, 1, 8, 0, tzinfo=CET)


def test_fixed_clock_without_an_offset_means_stockholm_time():
    # 2026-03-01 is winter time (CET, +01:00), 2026-07-01 summer time (CEST, +02:00)
    winter = parse_clock("fixed:2026-03-01T08:00:00").now()
    summer = parse_clock("fixed:2026-07-01T08:00:00").now()
    assert winter.tzinfo is STOCKHOLM
    assert winter == datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


def test_simulated_clock_anchored_ten_real_seconds_ago_at_3600_times_is_about_ten_hours_on():
    # 10 real seconds x 3600 = 36000 simulated seconds = 10 hours (plus the few ms this test takes)
    anchor = time.time() - 10
    clock = parse_clock(f"simulated:2026-03-01T08:00:00+01:00*3600@{anchor}")
    assert isinstance(clock, SimulatedClock)
    assert clock.speed == 3600
    elapsed = clock.now() - datetime(2026, 3, 1, 8, 0, tzinfo=CET)
    assert timedelta(hours=10) <= elapsed < timedelta(hours=10, minutes=30)  # 30 min = 0.5 real s


def test_simulated_clock_without_an_anchor_starts_now():
    clock = parse_clock("simulated:2026-03-01T08:00:00+01:00*3600")
    elapsed = clock.now() - datetime(2026, 3, 1, 8, 0, tzinfo=CET)
    assert timedelta(0) <= elapsed < timedelta(minutes=30)  # 30 min = 0.5 real s at 3600x


def test_simulated_clock_without_a_speed_runs_at_real_speed():
    anchor = time.time() - 10
    clock = parse_clock(f"simulated:2026-03-01T08:00:00+01:00@{anchor}")
    assert clock.speed == 1
    elapsed = clock.now() - datetime(2026, 3, 1, 8, 0, tzinfo=CET)
    assert timedelta(seconds=10) <= elapsed < timedelta(seconds=15)


def test_simulated_clock_without_an_offset_starts_in_stockholm_time():
    clock = parse_clock(f"simulated:2026-03-01T08:00:00*1@{time.time()}")
    assert abs(clock.now() - datetime(2026, 3, 1, 7, 0, tzinfo=UTC)) < timedelta(seconds=5)


def test_anchored_simulated_clocks_started_apart_agree_on_the_time():
    anchor = time.time() - 100
    first = parse_clock(f"simulated:2026-03-01T08:00:00+01:00*60@{anchor}")
    second = parse_clock(f"simulated:2026-03-01T08:00:00+01:00*60@{anchor}")
    assert abs(first.now() - second.now()) < timedelta(seconds=60)  # under one real second apart


@pytest.mark.parametrize(
    ("instant", "stockholm_date"),
    [
        ("2026-03-01T23:30:00+00:00", date(2026, 3, 2)),  # 00:30 CET on the 2nd
        ("2026-03-01T22:59:59+00:00", date(2026, 3, 1)),  # 23:59:59 CET on the 1st
        ("2026-06-30T22:30:00+00:00", date(2026, 7, 1)),  # 00:30 CEST on 1 July
        ("2026-06-30T21:59:59+00:00", date(2026, 6, 30)),  # 23:59:59 CEST
        ("2026-03-02T00:30:00+01:00", date(2026, 3, 2)),
        ("2026-03-01T23:30:00", date(2026, 3, 1)),  # naive is Stockholm already
    ],
)
def test_today_is_the_date_in_stockholm(instant, stockholm_date):
    assert parse_clock(f"fixed:{instant}").today() == stockholm_date


def test_a_simulated_clock_also_counts_today_in_stockholm():
    clock = parse_clock(f"simulated:2026-03-01T23:30:00+00:00*1@{time.time()}")
    assert clock.today() == date(2026, 3, 2)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "bogus",
        "system:now",
        "fixed",
        "fixed:",
        "fixed:not-a-date",
        "fixed:2026-02-30T08:00:00",
        "simulated",
        "simulated:",
        "simulated:not-a-date*60",
        "simulated:2026-03-01T08:00:00+01:00*fast",
        "simulated:2026-03-01T08:00:00+01:00*60@yesterday",
        "frozen:2026-03-01T08:00:00+01:00",
    ],
)
def test_a_bad_setting_raises_value_error(spec):
    with pytest.raises(ValueError):  # noqa: PT011 - each spec fails in its own parser; the ValueError is the contract, not its wording
        parse_clock(spec)


@pytest.mark.parametrize("speed", ["0", "-60"])
def test_a_simulated_speed_that_is_not_positive_raises_value_error(speed):
    with pytest.raises(ValueError, match="speed must be above 0"):
        parse_clock(f"simulated:2026-03-01T08:00:00+01:00*{speed}")
