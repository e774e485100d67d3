"""The pure plan-change rules (models/billing/proration.py): days left in the
tenant's timezone, one line per changed item rounded half-up once, the totals an
invoice comes to, the period after a renewal, and the sentence a customer reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.invoicing.rules import Item, Line, Totals, settle
from models.kernel.enums import Interval, LineKind, ProrationMode
from models.kernel.money import half_up
from models.kernel.periods import next_boundary
from models.plan_changes.rules import Window, change_lines, days_left, describe

NOV_1, DEC_1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def window(day: int) -> Window:
    remaining, days = days_left(NOV_1, DEC_1, at(day), "UTC")
    return Window(remaining, days, at(day), DEC_1)


def seats(quantity: int, price: int = 10_00) -> Item:
    return Item("addon_seat", LineKind.ADDON, "Seat", quantity, price, 1, "addon_seat")


def plan(key: str, price: int) -> Item:
    return Item(key, LineKind.BASE, key.title(), 1, price)


def test_the_change_day_counts_as_a_day_left() -> None:
    assert days_left(NOV_1, DEC_1, at(16, 9), "UTC") == (15, 30)
    assert days_left(NOV_1, DEC_1, at(1), "UTC") == (30, 30)
    assert days_left(NOV_1, DEC_1, at(30, 23), "UTC") == (1, 30)
    # A period ending at 09:00 on Dec 16: a change at 08:00 that day still has a day left.
    start, end = datetime(2026, 11, 16, 9, tzinfo=UTC), datetime(2026, 12, 16, 9, tzinfo=UTC)
    assert days_left(start, end, datetime(2026, 12, 16, 8, tzinfo=UTC), "UTC") == (1, 30)


def test_days_are_counted_in_the_tenants_timezone() -> None:
    # 2026-11-15 16:00 UTC is already Nov 16 in Tokyo; the Tokyo period is Nov 1 - Dec 1 local.
    start, end = datetime(2026, 10, 31, 15, tzinfo=UTC), datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert days_left(start, end, datetime(2026, 11, 15, 16, tzinfo=UTC), "Asia/Tokyo") == (15, 30)
    assert days_left(start, end, datetime(2026, 11, 15, 14, tzinfo=UTC), "Asia/Tokyo") == (16, 30)


def test_a_quantity_change_is_one_line_for_the_delta() -> None:
    (line,) = change_lines([seats(5)], [seats(10)], ProrationMode.PRORATED_IMMEDIATELY, window(16))
    assert (line.kind, line.quantity, line.unit_amount, line.amount) == (LineKind.PRORATION, 5, 10_00, 25_00)
    assert line.description == "Adding 5 × Seat (15 of 30 days)"
    (line,) = change_lines([seats(10)], [seats(5)], ProrationMode.PRORATED_IMMEDIATELY, window(16))
    assert (line.kind, line.quantity, line.amount) == (LineKind.CREDIT, -5, -25_00)


def test_a_replaced_item_is_credited_and_its_replacement_charged() -> None:
    lines = change_lines(
        [plan("team", 99_00)], [plan("business", 199_00)], ProrationMode.PRORATED_IMMEDIATELY, window(16)
    )
    assert [(li.kind, li.description, li.amount) for li in lines] == [
        (LineKind.CREDIT, "Unused time on Team (15 of 30 days)", -49_50),
        (LineKind.PRORATION, "Remaining time on Business (15 of 30 days)", 99_50),
    ]


def test_the_other_modes() -> None:
    old, new = [plan("team", 99_00), seats(5)], [plan("team", 99_00), seats(10)]
    (line,) = change_lines(old, new, ProrationMode.DIFFERENCE_IMMEDIATELY, window(16))
    assert (line.amount, line.factor) == (50_00, 1)
    full = change_lines(old, new, ProrationMode.FULL_IMMEDIATELY, window(16))
    assert [(li.kind, li.amount) for li in full] == [(LineKind.BASE, 99_00), (LineKind.ADDON, 100_00)]
    assert change_lines(old, new, ProrationMode.DO_NOT_BILL, window(16)) == []


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounded"),
    [
        (1, 2, 1),
        (-1, 2, -1),
        (3, 2, 2),
        (-3, 2, -2),
        (1_000, 3, 333),
        (2_000, 3, 667),
        (49, 100, 0),
    ],
)
def test_half_up_means_half_away_from_zero(numerator: int, denominator: int, rounded: int) -> None:
    assert half_up(numerator, denominator) == rounded


def test_each_line_is_rounded_once_in_yen() -> None:
    # ¥1,000 a seat, 1 seat added with 10 of 30 days left: ¥333.33 -> ¥333; with 15 of 30 on ¥1,001: ¥500.5 ->
    # ¥501.
    yen = Item("addon_seat", LineKind.ADDON, "Seat", 1, 1_000, 1, "addon_seat")
    (line,) = change_lines([], [yen], ProrationMode.PRORATED_IMMEDIATELY, window(21))
    assert line.amount == 333
    odd = Item("addon_seat", LineKind.ADDON, "Seat", 1, 1_001, 1, "addon_seat")
    (line,) = change_lines([], [odd], ProrationMode.PRORATED_IMMEDIATELY, window(16))
    assert line.amount == 501


def test_settle_applies_tax_then_credit_and_grants_a_negative_total() -> None:
    charge = [Line(LineKind.PRORATION, "x", 5, 10_00, 25_00)]
    assert settle(charge, 100_000, 0) == Totals(25_00, 2_50, 27_50, 0, 27_50, 0, 0)
    assert settle(charge, 100_000, 10_00) == Totals(25_00, 2_50, 27_50, 10_00, 17_50, 0, 0)
    assert settle(charge, 0, 99_00) == Totals(25_00, 0, 25_00, 25_00, 0, 0, 74_00)
    credit = [Line(LineKind.CREDIT, "x", -5, 10_00, -25_00)]
    assert settle(credit, 100_000, 5_00) == Totals(-25_00, -2_50, -27_50, 0, 0, 27_50, 32_50)
    with pytest.raises(ValueError):
        settle(charge, 0, -1)


@given(
    st.lists(st.integers(-(10**9), 10**9), max_size=6),
    st.sampled_from([0, 80_000, 88_750, 100_000, 190_000]),
    st.integers(0, 10**9),
)
def test_settled_money_adds_up(amounts: list[int], rate: int, balance: int) -> None:
    totals = settle([Line(LineKind.PRORATION, "x", 1, a, a) for a in amounts], rate, balance)
    assert totals.subtotal == sum(amounts)
    assert totals.total == totals.subtotal + totals.tax
    assert 0 <= totals.credits_applied <= balance
    assert totals.amount_due >= 0 and totals.credit_granted >= 0
    # What is due plus the credit used, less the credit granted, is exactly the total.
    assert totals.amount_due + totals.credits_applied - totals.credit_granted == totals.total
    assert totals.balance_after == balance - totals.credits_applied + totals.credit_granted >= 0


def test_the_next_period_ends_on_the_anchors_day_clamped_to_the_month() -> None:
    anchor = datetime(2026, 1, 31, tzinfo=UTC)
    feb = next_boundary(anchor, anchor, Interval.MONTH, "UTC")
    mar = next_boundary(anchor, feb, Interval.MONTH, "UTC")
    assert (feb.date().isoformat(), mar.date().isoformat()) == ("2026-02-28", "2026-03-31")
    assert next_boundary(anchor, mar, Interval.YEAR, "UTC") == datetime(2027, 1, 31, tzinfo=UTC)


def test_the_sentence_a_customer_reads() -> None:
    added = settle([Line(LineKind.PRORATION, "x", 5, 10_00, 25_00)], 0, 0)
    assert (
        describe(
            currency="USD",
            plan_changed=None,
            seat_delta=5,
            mode=ProrationMode.PRORATED_IMMEDIATELY,
            totals=added,
            window=window(16),
        )
        == "Adding 5 seats costs $25.00 today (15 of 30 days prorated)."
    )
    credited = settle([Line(LineKind.CREDIT, "x", -1, 10_00, -5_00)], 0, 0)
    assert describe(
        currency="USD",
        plan_changed=None,
        seat_delta=-1,
        mode=ProrationMode.PRORATED_IMMEDIATELY,
        totals=credited,
        window=window(16),
    ) == ("Removing 1 seat credits $5.00 to the credit balance (15 of 30 days prorated).")
    assert describe(
        currency="JPY",
        plan_changed="Enterprise",
        seat_delta=0,
        mode=ProrationMode.DO_NOT_BILL,
        totals=settle([], 0, 0),
        window=None,
        takes_effect="2026-12-01",
        renewal_total=9_800,
    ) == (
        "Switching to Enterprise takes effect on 2026-12-01; nothing is charged today, and the renewal "
        "invoice will be ¥9,800."
    )
