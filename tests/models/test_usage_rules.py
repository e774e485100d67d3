"""The pure metering rules (models/metering/rules.py): usage values as exact millionths,
how they read, local days and billing periods across DST, how points fold into days
and days into counts, tier checks, and what each pricing model charges, worked by hand."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.kernel.enums import Aggregation, PricingModel
from models.metering.rules import (
    MICRO,
    DayStats,
    Tier,
    UsagePrice,
    charge,
    check_tiers,
    count_of,
    day_bounds,
    fold_days,
    format_units,
    local_day,
    price,
    stats_of_points,
    to_micros,
)

NEW_YORK, LORD_HOWE, KATHMANDU = (
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Asia/Kathmandu"),
)
HOUR = 3600


# -- to_micros -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (0, 0),
        (1, 1_000_000),
        (12_345, 12_345_000_000),
        (100_000_000_000, 10**17),
        (0.5, 500_000),
        (1.234567, 1_234_567),
        (0.000001, 1),
        (999_999.999999, 999_999_999_999),
        (0.1 + 0.2, 300_000),  # 0.30000000000000004 is 0.3 to six decimals
        (-2.25, -2_250_000),
    ],
)
def test_a_value_becomes_exact_millionths(value: float, micros: int) -> None:
    assert to_micros(value) == micros


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (0.0000005, 1),  # a half at the seventh decimal rounds up
        (0.0000025, 3),  # up, not to even
        (0.0000035, 4),
        (0.0000004, 0),
        (1.2345665, 1_234_567),
        (1.2345664, 1_234_566),
        (0.1234565, 123_457),
        (-0.0000025, -3),  # halves away from zero
        (-1.2345665, -1_234_567),
    ],
)
def test_a_value_rounds_half_up_at_the_seventh_decimal(value: float, micros: int) -> None:
    assert to_micros(value) == micros


@given(
    st.one_of(
        st.decimals(min_value=0, max_value=10**9 - 1, places=6, allow_nan=False, allow_infinity=False),
        # up to the limit, with as many decimals as a float keeps (15 significant digits)
        st.decimals(min_value=10**9, max_value=10**11, places=4, allow_nan=False, allow_infinity=False),
    ),
    st.booleans(),
)
def test_any_value_with_six_decimals_is_kept_exactly(value: Decimal, negative: bool) -> None:
    value = -value if negative else value
    assert to_micros(float(value)) == int(value * MICRO)


@given(st.integers(0, 10**13), st.integers(0, 9), st.booleans())
def test_a_seventh_decimal_rounds_half_away_from_zero(millionths: int, seventh: int, negative: bool) -> None:
    text = f"{'-' if negative else ''}{millionths // MICRO}.{millionths % MICRO:06d}{seventh}"
    expected = millionths + (1 if seventh >= 5 else 0)
    assert to_micros(float(text)) == (-expected if negative else expected)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e11 + 1, -1e11 - 1, 1e12, 1e300])
def test_nan_infinities_and_values_past_the_limit_raise(value: float) -> None:
    with pytest.raises(ValueError):
        to_micros(value)


# -- format_units ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0"),
        (1_000_000, "1"),
        (12_345_000_000, "12,345"),
        (1_500_000, "1.5"),
        (1, "0.000001"),
        (1_234_567_890_000, "1,234,567.89"),
        (10**17, "100,000,000,000"),
        (-1_500_000, "-1.5"),
        (-1, "-0.000001"),
        (2_000_010, "2.00001"),
    ],
)
def test_units_read_with_thousands_separators_and_no_trailing_zeros(micros: int, text: str) -> None:
    assert format_units(micros) == text


# -- days and periods --------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "first", "hours"),
    [
        (NEW_YORK, date(2026, 3, 8), datetime(2026, 3, 8, 5, tzinfo=UTC), 23),  # spring forward
        (NEW_YORK, date(2026, 11, 1), datetime(2026, 11, 1, 4, tzinfo=UTC), 25),  # fall back
        (NEW_YORK, date(2026, 11, 2), datetime(2026, 11, 2, 5, tzinfo=UTC), 24),
        (LORD_HOWE, date(2026, 10, 4), datetime(2026, 10, 3, 13, 30, tzinfo=UTC), 23.5),  # +10:30 -> +11
        (LORD_HOWE, date(2026, 4, 5), datetime(2026, 4, 4, 13, tzinfo=UTC), 24.5),  # +11 -> +10:30
        (KATHMANDU, date(2026, 11, 1), datetime(2026, 10, 31, 18, 15, tzinfo=UTC), 24),  # +05:45
        (ZoneInfo("UTC"), date(2026, 2, 28), datetime(2026, 2, 28, tzinfo=UTC), 24),
    ],
)
def test_a_local_day_starts_at_local_midnight_and_lasts_23_to_25_hours(
    zone: ZoneInfo, day: date, first: datetime, hours: float
) -> None:
    start, stop = day_bounds(day, zone)
    assert start == int(first.timestamp())
    assert stop - start == hours * HOUR


@given(
    st.sampled_from(
        [
            "UTC",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
            "America/Santiago",
            "America/Havana",
            "Europe/London",
            "Pacific/Chatham",
        ]
    ),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
)
def test_a_days_bounds_hold_exactly_the_seconds_of_that_local_date(zone_name: str, day: date) -> None:
    zone = ZoneInfo(zone_name)
    start, stop = day_bounds(day, zone)
    assert local_day(start - 1, zone) == day - timedelta(days=1)
    assert local_day(start, zone) == day
    assert local_day(stop - 1, zone) == day
    assert local_day(stop, zone) == day + timedelta(days=1)
    assert day_bounds(day + timedelta(days=1), zone)[0] == stop  # days tile time


# -- folding points into days and days into counts ----------------------------------


def test_days_fold_into_a_month_and_each_aggregation_reads_its_statistic() -> None:
    first = DayStats(total=5_000_000, points=2, max_value=4_000_000, latest_ts=1_000, latest_value=1_000_000)
    second = DayStats(
        total=-2_500_000, points=3, max_value=7_000_000, latest_ts=90_000, latest_value=-500_000
    )
    for days in ([first, second], [second, first]):  # the later point wins, in any order
        month = fold_days(days)
        assert month == DayStats(2_500_000, 5, 7_000_000, 90_000, -500_000)
        assert count_of(month, Aggregation.SUM) == 2_500_000
        assert count_of(month, Aggregation.MAX) == 7_000_000
        assert count_of(month, Aggregation.COUNT) == 5 * MICRO
        assert count_of(month, Aggregation.LATEST) == -500_000
    assert first == DayStats(5_000_000, 2, 4_000_000, 1_000, 1_000_000)  # folding leaves days alone


def test_no_days_count_zero_in_every_aggregation() -> None:
    assert fold_days([]) is None
    assert all(count_of(None, a) == 0 for a in Aggregation)


def test_points_of_zero_still_count_as_points() -> None:
    stats = stats_of_points([(10, 0), (20, 0)])
    assert count_of(stats, Aggregation.COUNT) == 2 * MICRO
    assert count_of(stats, Aggregation.SUM) == count_of(stats, Aggregation.MAX) == 0


@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(-(10**12), 10**12)),
        min_size=1,
        max_size=30,
        unique_by=lambda p: p[0],
    ),
    st.randoms(use_true_random=False),
)
def test_folded_days_count_what_their_points_count_together(
    points: list[tuple[int, int]], rnd: random.Random
) -> None:
    ordered = sorted(points)
    cuts = sorted(rnd.sample(range(1, len(ordered)), rnd.randint(0, len(ordered) - 1)))
    days = [stats_of_points(ordered[a:b]) for a, b in zip([0, *cuts], [*cuts, len(ordered)], strict=True)]
    rnd.shuffle(days)
    folded = fold_days(d for d in days if d is not None)
    latest = max(ordered)
    for aggregation, expected in [
        (Aggregation.SUM, sum(v for _, v in points)),
        (Aggregation.MAX, max(v for _, v in points)),
        (Aggregation.COUNT, len(points) * MICRO),
        (Aggregation.LATEST, latest[1]),
    ]:
        assert count_of(folded, aggregation) == expected


# -- tiers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "problem"),
    [
        ([], "needs at least one tier"),
        ([Tier(1000, 2)], "the last tier must have no upTo"),
        ([Tier(None, 2), Tier(None, 1)], "only the last tier may leave upTo empty"),
        ([Tier(1000, 2), Tier(1000, 1), Tier(None, 0)], "upTo must be at least 1 and rise"),
        ([Tier(1000, 2), Tier(500, 1), Tier(None, 0)], "upTo must be at least 1 and rise"),
        ([Tier(0, 2), Tier(None, 1)], "upTo must be at least 1 and rise"),
    ],
)
def test_tiers_that_cannot_price_every_quantity_are_refused(tiers: list[Tier], problem: str) -> None:
    assert (check_tiers(tiers) or "").startswith(problem)


@pytest.mark.parametrize(
    "tiers",
    [
        [Tier(None, 5)],
        [Tier(1, 0), Tier(None, 5)],
        [Tier(1000, 0), Tier(10_000, 2, 100), Tier(None, 1)],
    ],
)
def test_ascending_tiers_ending_unbounded_are_accepted(tiers: list[Tier]) -> None:
    assert check_tiers(tiers) is None


# -- price ---------------------------------------------------------------------------


def units(text: str) -> int:
    return int(Decimal(text) * MICRO)


def test_per_unit_prices_every_unit_and_rounds_the_amount_half_up_once() -> None:
    two_cents = UsagePrice(PricingModel.PER_UNIT, unit_amount=2)
    # $0.02 x 1,234.5 units = $24.69; the line counts 1,235 units (rounded), the amount is not 1,235 x 2.
    assert price(two_cents, units("1234.5")) == (0, units("1234.5"), 1235, 2, 2469)
    # $0.02 x 1,234.25 = 2,468.5 cents -> 2,469
    assert price(two_cents, units("1234.25"))[4] == 2469
    # $0.02 x 1,234.24 = 2,468.48 cents -> 2,468
    assert price(two_cents, units("1234.24"))[4] == 2468
    # 0.000001 units at $0.02: a millionth of two cents rounds to nothing
    assert price(two_cents, 1)[4] == 0


def test_package_pricing_charges_every_started_package() -> None:
    per_thousand = UsagePrice(PricingModel.PACKAGE, unit_amount=500, package_size=1000)
    assert price(per_thousand, units("1001")) == (0, units("1001"), 2, 500, 1000)  # 2 packages = $10
    assert price(per_thousand, units("1000"))[2:] == (1, 500, 500)
    assert price(per_thousand, units("0.000001"))[2:] == (1, 500, 500)
    assert price(per_thousand, 0)[2:] == (0, 500, 0)


GRADUATED = UsagePrice(
    PricingModel.GRADUATED,
    tiers=(
        Tier(1000, 0),
        Tier(10_000, 2, flat_amount=100),
        Tier(None, 1),
    ),
)


@pytest.mark.parametrize(
    ("used", "quantity", "marginal", "amount"),
    [
        ("500", 500, 0, 0),  # all in the free first tier
        ("1000", 1000, 0, 0),  # tier 2 not reached: no flat fee
        ("1000.5", 1001, 2, 101),  # 0.5 x 2c + the $1 flat fee of tier 2
        ("10000", 10_000, 2, 18_100),  # 9,000 x 2c + $1
        ("12345", 12_345, 1, 20_445),  # 0 + (9,000 x 2c + $1) + 2,345 x 1c
    ],
)
def test_graduated_pricing_charges_each_tiers_units_at_its_price_plus_its_flat_fee(
    used: str, quantity: int, marginal: int, amount: int
) -> None:
    assert price(GRADUATED, units(used)) == (0, units(used), quantity, marginal, amount)


VOLUME = UsagePrice(
    PricingModel.VOLUME,
    tiers=(
        Tier(1000, 3),
        Tier(10_000, 2, flat_amount=500),
        Tier(None, 1, flat_amount=1000),
    ),
)


@pytest.mark.parametrize(
    ("used", "unit_amount", "amount"),
    [
        ("1", 3, 3),
        ("1000", 3, 3000),  # the bound belongs to its tier
        ("1001", 2, 2502),  # every unit at 2c, plus $5
        ("5000", 2, 10_500),
        ("20000", 1, 21_000),  # every unit at 1c, plus $10
        ("0.25", 3, 1),  # 0.75 cents rounds half up to 1
    ],
)
def test_volume_pricing_prices_every_unit_at_the_tier_the_total_falls_in(
    used: str, unit_amount: int, amount: int
) -> None:
    _, chargeable, _, unit, total = price(VOLUME, units(used))
    assert (chargeable, unit, total) == (units(used), unit_amount, amount)


def test_free_units_come_off_before_pricing() -> None:
    per_unit = UsagePrice(PricingModel.PER_UNIT, unit_amount=2, free_units=100)
    assert price(per_unit, units("150")) == (units("100"), units("50"), 50, 2, 100)
    assert price(per_unit, units("80")) == (units("80"), 0, 0, 2, 0)  # only what was used is free
    package = UsagePrice(PricingModel.PACKAGE, unit_amount=500, package_size=1000, free_units=1000)
    assert price(package, units("2001"))[:3] == (units("1000"), units("1001"), 2)
    graduated = UsagePrice(PricingModel.GRADUATED, free_units=1000, tiers=GRADUATED.tiers)
    # 13,345 used, 1,000 free: the tiers price the 12,345 billed
    assert price(graduated, units("13345")) == (units("1000"), units("12345"), 12_345, 1, 20_445)
    volume = UsagePrice(PricingModel.VOLUME, free_units=10, tiers=VOLUME.tiers)
    assert price(volume, units("1010"))[1:] == (units("1000"), 1000, 3, 3000)


@pytest.mark.parametrize(
    "usage_price",
    [
        UsagePrice(PricingModel.PER_UNIT, unit_amount=2),
        UsagePrice(PricingModel.PACKAGE, unit_amount=500, package_size=1000),
        GRADUATED,
        VOLUME,
        UsagePrice(PricingModel.GRADUATED, tiers=(Tier(None, 7, flat_amount=300),)),
    ],
)
@pytest.mark.parametrize("used", [-1, -units("5000"), 0])
def test_no_usage_or_negative_usage_costs_nothing(usage_price: UsagePrice, used: int) -> None:
    free, chargeable, quantity, _, amount = price(usage_price, used)
    assert (free, chargeable, quantity, amount) == (0, 0, 0, 0)


@st.composite
def graduated_prices(draw: st.DrawFn) -> UsagePrice:
    bounds = sorted(draw(st.sets(st.integers(1, 10**6), max_size=4)))
    amounts = st.integers(0, 10_000)
    tiers = tuple(
        Tier(up_to, draw(amounts), draw(st.one_of(st.just(0), amounts))) for up_to in [*bounds, None]
    )
    assert check_tiers(tiers) is None
    return UsagePrice(PricingModel.GRADUATED, free_units=draw(st.sampled_from([0, 0, 10, 1000])), tiers=tiers)


usage = st.one_of(st.integers(0, 2 * 10**6 * MICRO), st.integers(0, 10**6).map(lambda u: u * MICRO))


@given(graduated_prices(), usage, usage)
def test_graduated_never_costs_more_than_every_unit_at_the_top_price_and_never_less_for_more_usage(
    usage_price: UsagePrice, a: int, b: int
) -> None:
    low, high = sorted([a, b])
    _, chargeable, _, _, amount = price(usage_price, high)
    top = max(t.unit_amount for t in usage_price.tiers)
    flat = sum(t.flat_amount for t in usage_price.tiers)
    ceiling_micro = chargeable * top + flat * MICRO
    assert amount <= (ceiling_micro + MICRO // 2) // MICRO  # the bound, rounded half up like the amount
    assert price(usage_price, low)[4] <= amount


# -- a period priced across the plans it had ------------------------------------------

TIERED = UsagePrice(
    PricingModel.GRADUATED,
    free_units=100,
    tiers=(
        Tier(1_000, 3),
        Tier(5_000, 2, flat_amount=50),
        Tier(None, 1),
    ),
)
BILLED = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def usage_of(units: int, at: int = 0) -> DayStats:
    return DayStats(units * MICRO, 1, units * MICRO, at, units * MICRO)


def priced(segments: list[tuple[UsagePrice | None, DayStats | None]], aggregation: Aggregation) -> int:
    return charge(
        segments, meter_name="m", display_name="M", aggregation=aggregation, currency="USD", period=BILLED
    ).amount


@given(st.lists(st.integers(0, 4_000), min_size=1, max_size=5))
def test_one_plan_in_parts_costs_what_it_costs_for_the_whole_period(parts: list[int]) -> None:
    split = priced([(TIERED, usage_of(p)) for p in parts], Aggregation.SUM)
    assert split == price(TIERED, sum(parts) * MICRO)[4]


def test_free_units_and_tiers_count_once_across_plans() -> None:
    per_unit = UsagePrice(PricingModel.PER_UNIT, unit_amount=2, free_units=100)
    # 80 then 80 units: 100 free over the period, then 60 at 2 cents, whichever plan.
    assert priced([(per_unit, usage_of(80)), (per_unit, usage_of(80))], Aggregation.SUM) == 120
    # A plan that does not charge for the meter prices its part at nothing, at its place.
    assert priced([(per_unit, usage_of(150)), (None, usage_of(1_000))], Aggregation.SUM) == 100
    assert priced([(None, usage_of(1_000)), (per_unit, usage_of(150))], Aggregation.SUM) == 300


def test_a_peak_is_billed_once_at_the_dearest_plans_price() -> None:
    cheap, dear = (
        UsagePrice(PricingModel.PER_UNIT, unit_amount=1),
        UsagePrice(PricingModel.PER_UNIT, unit_amount=3),
    )
    same_peak = [(cheap, usage_of(500)), (dear, usage_of(500)), (cheap, usage_of(500))]
    assert priced(same_peak, Aggregation.MAX) == 1_500
    # Moving to a plan that charges nothing for the meter before the period ends avoids nothing.
    assert priced([(dear, usage_of(400)), (None, usage_of(900))], Aggregation.MAX) == 1_200


# -- a plan's share is priced before it is rounded, and never negative ----------------

PER_CENT = UsagePrice(PricingModel.PER_UNIT, unit_amount=1)
DEAR_THEN_CHEAP = UsagePrice(PricingModel.VOLUME, tiers=(Tier(100, 10), Tier(None, 1)))


def usage_in_micros(micros: int) -> DayStats:
    return DayStats(micros, 1, micros, 0, micros)


def test_a_four_and_a_half_cent_share_bills_five_cents_not_the_difference_of_rounded_prices() -> None:
    # 1.5 units on a plan that does not charge, then 4.5 at a cent each: 6 cents less 1.5.
    # Rounded before subtracting it was 6 - 2 = 4 cents; rounded once it is 4.5 -> 5.
    segments = [(None, usage_in_micros(1_500_000)), (PER_CENT, usage_in_micros(4_500_000))]
    assert priced(segments, Aggregation.SUM) == 5


def test_crossing_into_a_cheaper_volume_tier_bills_the_new_units_at_that_tier_never_a_credit() -> None:
    # 100 units on a plan without usage charges, then 1 on a volume plan (10 cents up to 100
    # units, 1 cent above): the 101 units fall in the 1-cent tier, so its unit costs 1 cent.
    # Priced as the difference at its place it came to 101 - 1,000 = -899 cents.
    segments = [(None, usage_of(100)), (DEAR_THEN_CHEAP, usage_of(1))]
    assert priced(segments, Aggregation.SUM) == 1
    # One volume plan in two parts bills what it bills the whole period: 101 units at 1 cent.
    assert priced([(DEAR_THEN_CHEAP, usage_of(100)), (DEAR_THEN_CHEAP, usage_of(1))], Aggregation.SUM) == 101


@st.composite
def any_prices(draw: st.DrawFn) -> UsagePrice:
    model = draw(st.sampled_from(list(PricingModel)))
    free = draw(st.sampled_from([0, 0, 10, 1_000]))
    amounts = st.integers(0, 500)
    if model is PricingModel.PER_UNIT:
        return UsagePrice(model, unit_amount=draw(amounts), free_units=free)
    if model is PricingModel.PACKAGE:
        return UsagePrice(
            model, unit_amount=draw(amounts), package_size=draw(st.integers(1, 1_000)), free_units=free
        )
    bounds = sorted(set(draw(st.lists(st.integers(1, 100_000), max_size=3))))
    tiers = tuple(Tier(b, draw(amounts), draw(st.one_of(st.just(0), amounts))) for b in [*bounds, None])
    return UsagePrice(model, free_units=free, tiers=tiers)


shares = st.lists(st.integers(0, 200_000 * MICRO), min_size=1, max_size=5)


@given(st.lists(st.one_of(st.none(), any_prices()), min_size=5, max_size=5), shares)
def test_no_usage_line_is_negative_whatever_plans_the_period_had(
    plans: list[UsagePrice | None], parts: list[int]
) -> None:
    segments = [(plan, usage_in_micros(part)) for plan, part in zip(plans, parts, strict=False)]
    assert priced(segments, Aggregation.SUM) >= 0


@given(any_prices(), shares)
def test_one_price_in_any_parts_bills_what_it_bills_the_whole_period_within_a_minor_unit(
    usage_price: UsagePrice, parts: list[int]
) -> None:
    whole = price(usage_price, sum(parts))[4]
    assert abs(priced([(usage_price, usage_in_micros(p)) for p in parts], Aggregation.SUM) - whole) <= 1
