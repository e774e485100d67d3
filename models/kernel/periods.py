"""Billing periods: a month or a year from an anchor, taken in the tenant's timezone.

A period that starts on the 31st ends on the last day of a shorter month and goes
back to the 31st after it (Jan 31 -> Feb 28 -> Mar 31), as card networks and
Stripe do; the wall-clock time of the anchor is kept across DST changes.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from models.kernel.enums import Interval

MONTHS = {Interval.MONTH: 1, Interval.YEAR: 12}


def period_boundary(anchor: datetime, interval: Interval, periods: int, timezone: str) -> datetime:
    """The instant ``periods`` whole intervals after ``anchor`` (UTC in, UTC out)."""
    local = anchor.astimezone(ZoneInfo(timezone))
    month_index = local.year * 12 + (local.month - 1) + periods * MONTHS[interval]
    year, month = divmod(month_index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)


def next_boundary(anchor: datetime, after: datetime, interval: Interval, timezone: str) -> datetime:
    """The first period boundary counted from ``anchor`` that is later than ``after``:
    where the period that starts at ``after`` ends."""
    zone = ZoneInfo(timezone)
    first, last = anchor.astimezone(zone), after.astimezone(zone)
    months = (last.year - first.year) * 12 + last.month - first.month
    periods = max(months // MONTHS[interval], 0)
    boundary = period_boundary(anchor, interval, periods, timezone)
    while boundary <= after:
        periods += 1
        boundary = period_boundary(anchor, interval, periods, timezone)
    return boundary
