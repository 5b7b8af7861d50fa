"""A branch's local days as UTC instants, and ranges of days checked before anything reads or writes."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta, timezone

from services.errors import InvalidInput


def bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """[start, end) of `day` at the branch, in UTC: a sale at 23:30 in Madrid belongs to Madrid's day."""
    tz = zoneinfo.ZoneInfo(tz_name)
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)  # 23 or 25 hours on a clock change
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def today(tz_name: str, now: datetime) -> date:
    return now.astimezone(zoneinfo.ZoneInfo(tz_name)).date()


def check_range(first: date, last: date, max_days: int) -> list[date]:
    """The days from `first` to `last`, both included; 422 when reversed or longer than `max_days`."""
    if first > last:
        raise InvalidInput("from is after to", code="invalid_range", status=422,
                           details={"from": str(first), "to": str(last)})
    count = (last - first).days + 1
    if count > max_days:
        raise InvalidInput(f"a range holds at most {max_days} days", code="range_too_long", status=422,
                           details={"days": count, "max_days": max_days})
    return [first + timedelta(days=n) for n in range(count)]
