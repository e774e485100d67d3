"""The pure billing rules (models/billing): money as people read it, billing periods
in the tenant's timezone, seat arithmetic and bounds, and the recurring price lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.invoicing.rules import MAX_AMOUNT, Line, check_representable, recurring_lines
from models.kernel.enums import Interval, LineKind, SeatType
from models.kernel.errors import AboveMaximumSeats, BelowMinimumSeats, ValidationFailed
from models.kernel.money import Money
from models.kernel.periods import period_boundary
from models.seats.rules import SeatSummary, SeatTypeCount, check_bounds, overbooked, seat_totals, summarize

FULL, VIEWER, GUEST = SeatType.FULL, SeatType.VIEWER, SeatType.GUEST


@dataclass
class Plan:
    id: str = "plan_1"
    name: str = "Team"
    base_price: int = 99_00
    included_seats: int = 0
    min_seats: int | None = None
    max_seats: int | None = None


@dataclass
class Addon:
    name: str = "Extra seat"
    price: int = 15_00
    seat_type: str | None = "FULL"
    seats_per_unit: int = 1
    id: str = "addon_1"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Money -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (9900, "USD", "$99.00"),
        (1000, "JPY", "¥1,000"),
        (50, "EUR", "€0.50"),
        (0, "USD", "$0.00"),
        (123_456_789, "USD", "$1,234,567.89"),
        (-2500, "USD", "-$25.00"),
        (-1, "JPY", "-¥1"),
    ],
)
def test_money_is_formatted_in_the_currencys_minor_unit(amount: int, currency: str, shown: str) -> None:
    assert Money(amount, currency).formatted == shown


def of(summary: SeatSummary, seat_type: SeatType) -> SeatTypeCount:
    return next(c for c in summary.by_type if c.seat_type is seat_type)


def test_kuwaiti_dinar_has_three_minor_digits() -> None:
    shown = Money(1234, "KWD").formatted
    assert "KWD" in shown
    assert shown.endswith("1.234")


@pytest.mark.parametrize("amount", [99.0, 0.5, True, False])
def test_money_refuses_floats_and_booleans(amount: object) -> None:
    with pytest.raises(TypeError, match="minor units"):
        Money(amount, "USD")  # type: ignore[arg-type]


# --- Billing periods ---------------------------------------------------------------------------------


def test_a_month_from_the_15th_is_the_15th_of_the_next_month_at_the_same_time() -> None:
    assert period_boundary(utc(2026, 1, 15, 12), Interval.MONTH, 1, "UTC") == utc(2026, 2, 15, 12)


def test_a_month_from_the_31st_ends_on_the_last_day_of_february_and_returns_to_the_31st() -> None:
    anchor = utc(2026, 1, 31, 12)
    assert period_boundary(anchor, Interval.MONTH, 1, "UTC") == utc(2026, 2, 28, 12)
    assert period_boundary(anchor, Interval.MONTH, 2, "UTC") == utc(2026, 3, 31, 12)
    assert period_boundary(anchor, Interval.MONTH, 3, "UTC") == utc(2026, 4, 30, 12)


def test_in_a_leap_year_february_ends_on_the_29th() -> None:
    anchor = utc(2028, 1, 31, 12)
    assert period_boundary(anchor, Interval.MONTH, 1, "UTC") == utc(2028, 2, 29, 12)
    assert period_boundary(anchor, Interval.MONTH, 2, "UTC") == utc(2028, 3, 31, 12)


def test_months_roll_over_into_the_next_year() -> None:
    assert period_boundary(utc(2026, 11, 30, 8), Interval.MONTH, 3, "UTC") == utc(2027, 2, 28, 8)


def test_a_year_is_the_same_date_next_year() -> None:
    assert period_boundary(utc(2026, 1, 15, 12), Interval.YEAR, 1, "UTC") == utc(2027, 1, 15, 12)
    assert period_boundary(utc(2026, 1, 15, 12), Interval.YEAR, 3, "UTC") == utc(2029, 1, 15, 12)


def test_a_year_from_february_29_ends_on_february_28() -> None:
    assert period_boundary(utc(2028, 2, 29, 12), Interval.YEAR, 1, "UTC") == utc(2029, 2, 28, 12)
    assert period_boundary(utc(2028, 2, 29, 12), Interval.YEAR, 4, "UTC") == utc(2032, 2, 29, 12)


def test_the_local_wall_clock_time_is_kept_across_a_dst_change() -> None:
    new_york = ZoneInfo("America/New_York")
    anchor = datetime(2026, 3, 1, 9, tzinfo=new_york).astimezone(UTC)  # 14:00Z, EST
    boundary = period_boundary(anchor, Interval.MONTH, 1, "America/New_York")
    assert boundary.astimezone(new_york).replace(tzinfo=None) == datetime(2026, 4, 1, 9)
    assert boundary == utc(2026, 4, 1, 13)  # EDT: one hour earlier in UTC
    assert boundary.tzinfo == UTC


def test_the_period_is_taken_in_the_tenants_timezone_not_in_utc() -> None:
    # Feb 28 16:00Z is already Mar 1 01:00 in Tokyo: a month later is Apr 1 01:00 in Tokyo.
    anchor = utc(2026, 2, 28, 16)
    assert period_boundary(anchor, Interval.MONTH, 1, "Asia/Tokyo") == utc(2026, 3, 31, 16)
    assert period_boundary(anchor, Interval.MONTH, 1, "UTC") == utc(2026, 3, 28, 16)


TIMEZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Europe/Berlin"]
DST_SLACK = timedelta(hours=1)
GAPS = {
    Interval.MONTH: (timedelta(days=28), timedelta(days=31)),
    Interval.YEAR: (timedelta(days=365), timedelta(days=366)),
}


@given(
    anchor=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)
    ),
    timezone=st.sampled_from(TIMEZONES),
    interval=st.sampled_from(list(Interval)),
    periods=st.integers(min_value=1, max_value=24),
)
def test_boundaries_move_forward_one_interval_at_a_time(
    anchor: datetime, timezone: str, interval: Interval, periods: int
) -> None:
    this = period_boundary(anchor, interval, periods, timezone)
    following = period_boundary(anchor, interval, periods + 1, timezone)
    previous = period_boundary(anchor, interval, periods - 1, timezone) if periods > 1 else anchor

    assert this > anchor
    assert following > this
    shortest, longest = GAPS[interval]
    for start, end in ((previous, this), (this, following)):
        assert shortest - DST_SLACK <= end - start <= longest + DST_SLACK, (start, end)


# --- Seats -------------------------------------------------------------------------------------------


def test_seat_totals_add_included_full_seats_to_every_add_on_of_the_type() -> None:
    plan = Plan(included_seats=5)
    items = [
        (Addon(seat_type="FULL"), 10),
        (Addon(seat_type="FULL", seats_per_unit=5), 2),
        (Addon(seat_type="VIEWER"), 25),
        (Addon(seat_type="GUEST", seats_per_unit=10), 3),
        (Addon(seat_type=None), 7),  # e.g. extra storage: no seats
    ]
    assert seat_totals(plan, items) == {FULL: 5 + 10 + 10, VIEWER: 25, GUEST: 30}


def test_without_a_subscription_there_are_no_seats() -> None:
    assert seat_totals(None, []) == {FULL: 0, VIEWER: 0, GUEST: 0}
    summary = summarize(None, [], {})
    assert (summary.included, summary.total, summary.available) == (0, 0, 0)


def test_included_seats_are_full_seats_only() -> None:
    assert seat_totals(Plan(included_seats=3), []) == {FULL: 3, VIEWER: 0, GUEST: 0}


def test_summary_counts_included_purchased_used_and_available() -> None:
    plan = Plan(included_seats=5)
    items = [(Addon(seat_type="FULL"), 10), (Addon(seat_type="VIEWER"), 4)]
    summary = summarize(plan, items, {FULL: 12, VIEWER: 1})

    assert summary.included == 5
    assert summary.purchased == 14
    assert summary.total == 19
    assert summary.used == 13
    assert summary.available == 6
    assert (of(summary, FULL).total, of(summary, FULL).used, of(summary, FULL).available) == (15, 12, 3)
    assert (of(summary, VIEWER).total, of(summary, VIEWER).used, of(summary, VIEWER).available) == (4, 1, 3)
    assert (of(summary, GUEST).total, of(summary, GUEST).used, of(summary, GUEST).available) == (0, 0, 0)
    assert [c.seat_type for c in summary.by_type] == [FULL, VIEWER, GUEST]


def test_an_overbooked_type_shows_zero_available_and_takes_nothing_from_the_others() -> None:
    # After a downgrade applied without removing members: 4 FULL members on 2 FULL seats.
    summary = summarize(Plan(included_seats=2), [(Addon(seat_type="VIEWER"), 3)], {FULL: 4})
    assert of(summary, FULL).available == 0
    assert of(summary, VIEWER).available == 3
    assert summary.available == 3
    assert summary.used == 4 and summary.total == 5


def test_check_bounds_accepts_the_limits_themselves() -> None:
    plan = Plan(min_seats=5, max_seats=10)
    check_bounds(plan, 5)
    check_bounds(plan, 10)
    check_bounds(Plan(), 0)
    check_bounds(Plan(), 1_000_000)


def test_below_the_minimum_says_how_many_seats_to_add() -> None:
    with pytest.raises(BelowMinimumSeats) as failure:
        check_bounds(Plan(name="Team", min_seats=5), 3)
    assert failure.value.code.value == "BELOW_MINIMUM_SEATS"
    assert "Team needs at least 5 seats" in failure.value.message
    assert "would give 3" in failure.value.message
    assert "Add 2 more" in failure.value.message


def test_above_the_maximum_says_how_many_seats_to_remove() -> None:
    with pytest.raises(AboveMaximumSeats) as failure:
        check_bounds(Plan(name="Small team", max_seats=10), 13)
    assert failure.value.code.value == "ABOVE_MAXIMUM_SEATS"
    assert "Small team allows at most 10 seats" in failure.value.message
    assert "would give 13" in failure.value.message
    assert "Remove 3" in failure.value.message


def test_overbooked_names_the_types_short_and_by_how_many() -> None:
    totals = {FULL: 5, VIEWER: 2, GUEST: 0}
    assert overbooked(totals, {FULL: 5, VIEWER: 2}) == {}
    assert overbooked(totals, {FULL: 7, VIEWER: 1, GUEST: 1}) == {FULL: 2, GUEST: 1}
    assert overbooked(totals, {}) == {}


# --- Pricing -----------------------------------------------------------------------------------------


def test_recurring_lines_are_the_base_then_one_line_per_add_on() -> None:
    seat = Addon(name="Extra seat", price=15_00, id="addon_seat")
    storage = Addon(name="Storage", price=5_00, seat_type=None, id="addon_storage")
    lines = recurring_lines(
        Plan(name="Team Pro", base_price=99_00, included_seats=5), [(seat, 10), (storage, 2)]
    )

    assert [(line.kind, line.quantity, line.unit_amount, line.amount, line.addon_id) for line in lines] == [
        (LineKind.BASE, 1, 99_00, 99_00, None),
        (LineKind.ADDON, 10, 15_00, 150_00, "addon_seat"),
        (LineKind.ADDON, 2, 5_00, 10_00, "addon_storage"),
    ]
    assert lines[0].description == "Team Pro (5 seats included)"
    assert [line.description for line in lines[1:]] == ["Extra seat", "Storage"]
    assert sum(line.amount for line in lines) == 259_00


def test_base_line_of_a_plan_without_included_seats_is_just_its_name() -> None:
    (base,) = recurring_lines(Plan(name="Per user", base_price=0, included_seats=0), [])
    assert (base.kind, base.description, base.amount) == (LineKind.BASE, "Per user", 0)
    (one,) = recurring_lines(Plan(name="Solo", included_seats=1), [])
    assert one.description == "Solo (1 seat included)"


def test_seat_pack_lines_say_how_many_seats_they_give() -> None:
    pack = Addon(name="10-seat pack", price=80_00, seats_per_unit=10)
    _, line = recurring_lines(Plan(), [(pack, 2)])
    assert line.description == "10-seat pack (20 seats)"
    assert (line.quantity, line.unit_amount, line.amount) == (2, 80_00, 160_00)


def test_check_representable_accepts_up_to_the_largest_exact_json_integer() -> None:
    assert MAX_AMOUNT == 2**53 - 1 == 9_007_199_254_740_991
    check_representable([Line(LineKind.BASE, "big", 1, MAX_AMOUNT, MAX_AMOUNT)])
    check_representable(
        [
            Line(LineKind.BASE, "a", 1, MAX_AMOUNT - 1, MAX_AMOUNT - 1),
            Line(LineKind.ADDON, "b", 1, 1, 1),
        ]
    )


def test_check_representable_refuses_a_line_above_the_largest_exact_json_integer() -> None:
    seat = Addon(price=2**53 - 1)
    with pytest.raises(ValidationFailed) as failure:
        check_representable(recurring_lines(Plan(base_price=0), [(seat, 2)]))
    assert failure.value.field == "input.addons"
    assert "9,007,199,254,740,991" in failure.value.reason


def test_check_representable_refuses_a_total_above_the_largest_exact_json_integer() -> None:
    half = 2**52
    lines = [Line(LineKind.BASE, "a", 1, half, half), Line(LineKind.ADDON, "b", 1, half, half)]
    with pytest.raises(ValidationFailed):
        check_representable(lines)
