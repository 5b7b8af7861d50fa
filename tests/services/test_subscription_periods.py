"""Period arithmetic: month ends clamp from the anchor, leap years, the last millisecond of a day, and the
server's local zone (and its DST) playing no part."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest

from models import Period
from services.subscriptions.periods import boundary, period_containing, period_index
from tests.subscription_support import utc


def test_a_monthly_anchor_on_the_31st_clamps_each_month_from_the_anchor():
    anchor = utc(2026, 1, 31, 9, 30)
    ends = [boundary(anchor, Period.monthly, n) for n in range(1, 5)]
    assert ends == [utc(2026, 2, 28, 9, 30), utc(2026, 3, 31, 9, 30), utc(2026, 4, 30, 9, 30),
                    utc(2026, 5, 31, 9, 30)]


def test_leap_years_give_february_its_29th():
    anchor = utc(2027, 12, 31)
    assert boundary(anchor, Period.monthly, 2) == utc(2028, 2, 29)
    assert boundary(utc(2028, 2, 29), Period.monthly, 12) == utc(2029, 2, 28)
    assert boundary(utc(2028, 2, 29), Period.monthly, 48) == utc(2032, 2, 29)


def test_the_period_containing_a_moment_is_found_from_the_anchor():
    anchor = utc(2026, 1, 31)
    assert period_containing(anchor, Period.monthly, utc(2026, 3, 15)) == (utc(2026, 2, 28), utc(2026, 3, 31))
    assert period_containing(anchor, Period.monthly, utc(2026, 3, 31)) == (utc(2026, 3, 31), utc(2026, 4, 30))
    assert period_containing(anchor, Period.weekly, utc(2026, 2, 14)) == (utc(2026, 2, 14), utc(2026, 2, 21))
    assert period_index(anchor, Period.daily, utc(2026, 1, 30)) == -1


def test_a_subscription_made_at_the_last_millisecond_of_a_day():
    anchor = utc(2026, 1, 31, 23, 59, 59, 999000)
    assert period_containing(anchor, Period.daily, anchor) == (anchor, anchor + timedelta(days=1))
    assert boundary(anchor, Period.monthly, 1) == utc(2026, 2, 28, 23, 59, 59, 999000)
    just_before = anchor + timedelta(days=1) - timedelta(microseconds=1)
    assert period_index(anchor, Period.daily, just_before) == 0
    assert period_index(anchor, Period.monthly, utc(2026, 2, 28, 23, 59, 59, 998999)) == 0


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_daily_periods_across_a_dst_change_of_the_local_zone_are_24_hours(monkeypatch, zone):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        anchor = utc(2026, 3, 25, 1, 30)  # Berlin springs forward on 29 March, New York on 8 March
        starts = [boundary(anchor, Period.daily, n) for n in range(10)]
        assert all(b - a == timedelta(hours=24) for a, b in zip(starts, starts[1:]))
        assert all(s.utcoffset() == timedelta(0) and (s.hour, s.minute) == (1, 30) for s in starts)
        assert period_containing(anchor, Period.daily, utc(2026, 3, 29, 1, 29)) == (utc(2026, 3, 28, 1, 30),
                                                                                     utc(2026, 3, 29, 1, 30))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
