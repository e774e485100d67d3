"""Metering rules, no I/O: usage quantities, how points fold into a day's
statistics and days into a count, and what a usage charge costs.

Quantities are exact: integers of millionths of a unit (``MICRO``). A point is the
value of a meter at one second; ADD and SUB change it, DIRECT sets it, a delete
removes it. A day keeps every statistic (sum, number of points, maximum, latest
point), so a count in any aggregation is read from days without touching points.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from zoneinfo import ZoneInfo

from models.invoicing.rules import Line
from models.kernel.enums import Aggregation, LineKind, PricingModel

MICRO = 1_000_000
# One event moves a point by at most 10^11 units, and a day's sum stays within
# 10^17 millionths, so a month of days sums well inside a 64-bit integer.
MAX_EVENT_UNITS = 10**11
MAX_DAY_MICROS = 10**17


def to_micros(value: float) -> int:
    """A usage value as millionths of a unit, rounded half away from zero at the
    sixth decimal. Raises ValueError for NaN, infinities and values past the limit."""
    if not math.isfinite(value):
        raise ValueError("must be a finite number, not NaN or an infinity")
    if abs(value) > MAX_EVENT_UNITS:
        raise ValueError(
            f"must be at most {MAX_EVENT_UNITS:,} in size; split larger usage into several events"
        )
    if abs(value) < 1e9:
        # Fast path: with fewer than 16 digits the product is within 0.12 of the exact
        # decimal, so a product this close to an integer rounds like the decimal would.
        scaled = value * MICRO
        nearest = round(scaled)
        if abs(scaled - nearest) < 0.25:
            return int(nearest)
    try:
        exact = Decimal(repr(float(value))).scaleb(6).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # pragma: no cover - finite floats always convert
        raise ValueError("is not a number") from None
    return int(exact)


def from_micros(micros: int) -> float:
    """For the API's Float: exact to the sixth decimal for any count it carries."""
    return micros / MICRO


def format_units(micros: int) -> str:
    """``12,345`` or ``1.5``: six decimals at most, trailing zeros dropped."""
    whole, frac = divmod(abs(micros), MICRO)
    sign = "-" if micros < 0 else ""
    text = f"{whole:,}"
    if frac:
        text += "." + f"{frac:06d}".rstrip("0")
    return sign + text


@dataclass(slots=True)
class DayStats:
    """One tenant's meter on one local day. ``points`` is never 0 for a stored day."""

    total: int
    points: int
    max_value: int
    latest_ts: int
    latest_value: int


def fold_days(days: Iterable[DayStats]) -> DayStats | None:
    """The statistics of consecutive days together (a month, a billing period)."""
    result: DayStats | None = None
    for day in days:
        if result is None:
            result = DayStats(day.total, day.points, day.max_value, day.latest_ts, day.latest_value)
            continue
        result.total += day.total
        result.points += day.points
        result.max_value = max(result.max_value, day.max_value)
        if day.latest_ts > result.latest_ts:
            result.latest_ts, result.latest_value = day.latest_ts, day.latest_value
    return result


def count_of(stats: DayStats | None, aggregation: Aggregation) -> int:
    """A count in millionths of a unit (COUNT: the number of points, in whole units)."""
    if stats is None:
        return 0
    if aggregation is Aggregation.SUM:
        return stats.total
    if aggregation is Aggregation.MAX:
        return stats.max_value
    if aggregation is Aggregation.COUNT:
        return stats.points * MICRO
    return stats.latest_value


def stats_of_points(points: Iterable[tuple[int, int]]) -> DayStats | None:
    """Statistics of (ts, value) points, computed directly: what rollups must equal."""
    result: DayStats | None = None
    for ts, value in points:
        if result is None:
            result = DayStats(value, 1, value, ts, value)
            continue
        result.total += value
        result.points += 1
        result.max_value = max(result.max_value, value)
        if ts > result.latest_ts:
            result.latest_ts, result.latest_value = ts, value
    return result


def local_day(ts: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, UTC).astimezone(zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """The [first, stop) epoch seconds from one local midnight to the next (23 or 25
    hours across DST). Where a clock went back over midnight, some seconds after
    ``stop`` still fall on ``day``: match points to days with ``local_day``."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start.date() + timedelta(days=1)
    stop = datetime(end.year, end.month, end.day, tzinfo=zone)
    return int(start.timestamp()), int(stop.timestamp())


def month_days(month: date) -> tuple[date, date]:
    """The first and the last day of ``month`` (December 9999 too)."""
    return month.replace(day=1), month.replace(day=calendar.monthrange(month.year, month.month)[1])


# -- pricing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: int | None  # units; None: no upper bound (the last tier)
    unit_amount: int  # minor units per unit
    flat_amount: int = 0  # minor units, once the tier is reached


@dataclass(frozen=True, slots=True)
class UsagePrice:
    model: PricingModel
    unit_amount: int = 0  # per unit (PER_UNIT) or per package (PACKAGE)
    package_size: int = 1
    free_units: int = 0
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True, slots=True)
class PricedUsage:
    """One meter's usage in a period, priced."""

    meter_name: str
    display_name: str
    aggregation: Aggregation
    units: int  # millionths, as the meter aggregates the period
    free: int  # millionths of the free units actually used
    chargeable: int  # millionths
    quantity: int  # what the invoice line counts: units, or packages
    unit_amount: int  # per unit, per package, or the marginal tier's price
    amount: int
    currency: str
    period: tuple[datetime, datetime]
    meter_id: str = ""

    def line(self) -> Line:
        return Line(
            LineKind.USAGE, self.describe(), self.quantity, self.unit_amount, self.amount, period=self.period
        )

    def describe(self) -> str:
        used = f"{self.display_name}: {format_units(self.units)} used"
        if self.free:
            used += f", {format_units(self.free)} free"
        return f"{used}, {format_units(self.chargeable)} billed"


def _round(micro_amount: int) -> int:
    """Millionths of a minor unit to minor units, halves away from zero."""
    quotient, remainder = divmod(abs(micro_amount), MICRO)
    rounded = quotient + (1 if remainder * 2 >= MICRO else 0)
    return rounded if micro_amount >= 0 else -rounded


def price(price: UsagePrice, units: int) -> tuple[int, int, int, int, int]:
    """(free used, chargeable, line quantity, unit amount, amount) for ``units``
    millionths of usage in a period. Negative usage (more SUB than ADD) costs nothing.
    Rounding happens once, on the line's amount."""
    free, chargeable, quantity, unit_amount, micro_amount = _exact(price, units)
    return free, chargeable, quantity, unit_amount, _round(micro_amount)


def _exact(price: UsagePrice, units: int) -> tuple[int, int, int, int, int]:
    """``price``, its amount left exact, in millionths of a minor unit."""
    used = max(units, 0)
    free = min(used, price.free_units * MICRO)
    chargeable = used - free
    if price.model is PricingModel.PER_UNIT:
        return free, chargeable, _round(chargeable), price.unit_amount, chargeable * price.unit_amount
    if price.model is PricingModel.PACKAGE:
        packages = -(-chargeable // (price.package_size * MICRO))
        return free, chargeable, packages, price.unit_amount, packages * price.unit_amount * MICRO
    tiers = price.tiers
    if not chargeable:
        return free, 0, 0, tiers[0].unit_amount if tiers else 0, 0
    if price.model is PricingModel.VOLUME:
        tier = next(t for t in tiers if t.up_to is None or chargeable <= t.up_to * MICRO)
        micro_amount = chargeable * tier.unit_amount + tier.flat_amount * MICRO
        return free, chargeable, _round(chargeable), tier.unit_amount, micro_amount
    micro_amount, floor, marginal = 0, 0, tiers[0].unit_amount
    for tier in tiers:
        ceiling = chargeable if tier.up_to is None else min(chargeable, tier.up_to * MICRO)
        if ceiling <= floor:
            break
        micro_amount += (ceiling - floor) * tier.unit_amount + tier.flat_amount * MICRO
        marginal, floor = tier.unit_amount, ceiling
    return free, chargeable, _round(chargeable), marginal, micro_amount


def _half_up(micro_amount: Fraction) -> int:
    """An exact amount in millionths of a minor unit, rounded once to minor units (halves away from zero)."""
    minor = micro_amount / MICRO
    rounded = math.floor(abs(minor) + Fraction(1, 2))
    return rounded if minor >= 0 else -rounded


_NOTHING = UsagePrice(PricingModel.PER_UNIT)  # a plan that does not charge for the meter


def charge(
    segments: Sequence[tuple[UsagePrice | None, DayStats | None]],
    *,
    meter_id: str = "",
    meter_name: str,
    display_name: str,
    aggregation: Aggregation,
    currency: str,
    period: tuple[datetime, datetime],
) -> PricedUsage:
    """A meter's usage in a period, priced across the plans the period had, in order:
    one (price, usage statistics) per plan, None where a plan does not charge for it.

    SUM and COUNT accumulate over the period, so free units and tiers count once. Each
    plan bills a share of the line, worked out exactly and rounded once with the others:
    a per-unit, package or graduated price bills its units at their place in the period's
    running total (what it gives the total at the end of its share, less what it gives the
    total before); a volume price, where the tier of the whole total prices every unit,
    bills its units at that tier's average (its price for the period's total, times its
    part of the units). So no share is negative, and plans with one price bill exactly
    what that price gives the whole period. MAX and LATEST do not add up: the period
    bills the dearest of its plans' priced values (a constant peak under three plans is
    billed once, and moving to a plan that does not charge for the meter before the
    period ends avoids nothing)."""
    if aggregation in (Aggregation.SUM, Aggregation.COUNT):
        units_of = [count_of(stats, aggregation) for _, stats in segments]
        whole = sum(units_of)
        total = free = chargeable = quantity = 0
        unit_amount = 0
        micro_amount = Fraction(0)
        for (usage_price, _), units in zip(segments, units_of, strict=True):
            rule = usage_price or _NOTHING
            before, after = _exact(rule, total), _exact(rule, total + units)
            free, chargeable = free + after[0] - before[0], chargeable + after[1] - before[1]
            quantity += after[2] - before[2]
            if rule.model is PricingModel.VOLUME:
                if whole > 0 and units > 0:
                    micro_amount += Fraction(_exact(rule, whole)[4] * units, whole)
            else:
                micro_amount += after[4] - before[4]
            if usage_price is not None:
                unit_amount = after[3]
            total += units
        return PricedUsage(
            meter_name,
            display_name,
            aggregation,
            total,
            free,
            chargeable,
            quantity,
            unit_amount,
            _half_up(micro_amount),
            currency,
            period,
            meter_id,
        )
    best: PricedUsage | None = None
    for usage_price, stats in segments:
        units = count_of(stats, aggregation)
        priced = price(usage_price or _NOTHING, units)
        candidate = PricedUsage(
            meter_name, display_name, aggregation, units, *priced, currency, period, meter_id
        )
        if best is None or (candidate.amount, candidate.units) > (best.amount, best.units):
            best = candidate
    assert best is not None, "a period has at least one plan"
    return best


def check_tiers(tiers: Sequence[Tier]) -> str | None:
    """Why these tiers cannot price usage, or None: ascending bounds, the last unbounded."""
    if not tiers:
        return "needs at least one tier"
    bounds = [t.up_to for t in tiers]
    if bounds[-1] is not None:
        return "the last tier must have no upTo, so every quantity has a price"
    if any(b is None for b in bounds[:-1]):
        return "only the last tier may leave upTo empty"
    finite = [b for b in bounds[:-1] if b is not None]
    if any(b < 1 for b in finite) or any(b2 <= b1 for b1, b2 in zip(finite, finite[1:], strict=False)):
        return "upTo must be at least 1 and rise from tier to tier"
    return None
