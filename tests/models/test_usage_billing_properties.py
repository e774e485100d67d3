"""Property tests of usage billing through the services, on both databases.

- A period split between plans by changes mid-period, every pricing model (per unit,
  package, graduated, volume, free units): no USAGE line is ever negative, and when the
  plans charge the same price for the meter the period bills what that one price gives
  its whole usage, within one minor unit per line.
- Usage recorded at any time, before or after its period was billed (the grace window,
  late usage): once everything has been billed, each period has been billed exactly what
  its final usage costs: nothing billed twice, nothing lost.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models.catalog import service as catalog
from models.catalog.inputs import PlanCreate
from models.kernel.enums import LineKind, PricingModel, ProrationMode
from models.metering import ingest as usage
from models.metering import service as meters
from models.metering.inputs import MeterCreate, UsageChargeCreate
from models.metering.rules import MICRO, Tier, UsagePrice, price
from models.plan_changes import service as plan_changes
from models.plan_changes.inputs import PlanChangeRequest
from models.platform.access import operator
from models.platform.deps import BillingPolicy, Deps
from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate
from models.tables import InvoiceLineRow, InvoiceRow
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate
from models.test_clocks import service as test_clocks

ACTOR = operator()
START = datetime(2026, 11, 1, tzinfo=UTC)
_serial = itertools.count()

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def usage_prices(draw: st.DrawFn) -> UsagePrice:
    model = draw(st.sampled_from(list(PricingModel)))
    free = draw(st.sampled_from([0, 0, 10, 500]))
    amounts = st.integers(0, 300)
    if model is PricingModel.PER_UNIT:
        return UsagePrice(model, unit_amount=draw(amounts), free_units=free)
    if model is PricingModel.PACKAGE:
        return UsagePrice(
            model, unit_amount=draw(amounts), package_size=draw(st.integers(1, 500)), free_units=free
        )
    bounds = sorted(set(draw(st.lists(st.integers(1, 3_000), max_size=2))))
    # Tiered prices fall as usage grows, as volume discounts do (and rise, sometimes).
    unit_amounts = sorted(draw(st.lists(amounts, min_size=len(bounds) + 1, max_size=len(bounds) + 1)))
    if draw(st.booleans()):
        unit_amounts.reverse()
    flats = [draw(st.one_of(st.just(0), amounts)) for _ in unit_amounts]
    tiers = tuple(Tier(b, u, f) for b, u, f in zip([*bounds, None], unit_amounts, flats, strict=True))
    return UsagePrice(model, free_units=free, tiers=tiers)


def charge_spec(plan_id: str, meter_name: str, usage_price: UsagePrice) -> UsageChargeCreate:
    return UsageChargeCreate.parse(
        {
            "plan_id": plan_id,
            "meter_name": meter_name,
            "model": usage_price.model,
            "unit_amount": usage_price.unit_amount,
            "package_size": usage_price.package_size,
            "free_units": usage_price.free_units,
            "tiers": [dataclasses.asdict(t) for t in usage_price.tiers] or None,
        }
    )


async def metered_tenant(deps: Deps, prices: list[UsagePrice | None]) -> tuple[str, str, str, list[str]]:
    """(clock id, tenant id, meter name, plan ids): a plan per price on one SUM meter (None:
    a plan that does not charge for it)."""
    n = next(_serial)
    clock = await test_clocks.create_test_clock(deps, ACTOR, START)
    tenant = await tenants.create_tenant(
        deps,
        ACTOR,
        TenantCreate.parse(
            {"name": f"P{n:07d} Co", "email": "a@b.example", "currency": "USD", "test_clock_id": clock.id}
        ),
    )
    meter_name = f"calls_{n}"
    await meters.create_meter(deps, ACTOR, MeterCreate.parse({"name": meter_name}))
    plans = []
    for i, usage_price in enumerate(prices):
        plan = await catalog.create_plan(
            deps,
            ACTOR,
            PlanCreate.parse({"code": f"p{n}_{i}", "name": f"Plan {i}", "currency": "USD", "base_price": 0}),
        )
        if usage_price is not None:
            await meters.add_usage_charge(deps, ACTOR, charge_spec(plan.id, meter_name, usage_price))
        plans.append(plan.id)
    return clock.id, tenant.id, meter_name, plans


async def record(deps: Deps, tenant: str, meter_name: str, units: int, at: datetime) -> None:
    await usage.record_usage(
        deps, ACTOR, {"tenantId": tenant, "meterName": meter_name, "value": units, "timestamp": at}
    )


async def usage_lines(deps: Deps, tenant: str) -> list[InvoiceLineRow]:
    async with deps.store.read() as session:
        query = (
            select(InvoiceLineRow)
            .join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
            .where(InvoiceRow.tenant_id == tenant, InvoiceLineRow.kind.in_([LineKind.USAGE, LineKind.CREDIT]))
        )
        return [
            line
            for line in (await session.scalars(query)).all()
            if line.kind is LineKind.USAGE or line.description.find("late usage") >= 0
        ]


@dataclass(frozen=True)
class Split:
    prices: list[UsagePrice | None]  # the plans, in the order the period has them (None: not metered)
    same_price: bool
    parts: list[int]  # units used under each plan
    days: list[int]  # the day of the month each plan starts (the first: day 1)


@st.composite
def splits(draw: st.DrawFn) -> Split:
    count = draw(st.integers(2, 3))
    same = draw(st.booleans())
    first = draw(usage_prices())
    others = st.one_of(st.none(), usage_prices())
    prices = [first] * count if same else [draw(others), *(draw(others) for _ in range(count - 1))]
    days = sorted(draw(st.lists(st.integers(2, 27), min_size=count - 1, max_size=count - 1, unique=True)))
    parts = draw(st.lists(st.integers(0, 5_000), min_size=count, max_size=count))
    return Split(prices, same, parts, [1, *days])


# The worked case: 100 units on a plan without usage charges, then 1 unit on a
# volume plan at 10 cents up to 100 units and 1 cent above (once billed as -$8.99).
CHEAPER_ABOVE_100 = UsagePrice(PricingModel.VOLUME, tiers=(Tier(100, 10), Tier(None, 1)))


@EXAMPLES
@example(split=Split([None, CHEAPER_ABOVE_100], same_price=False, parts=[100, 1], days=[1, 10]))
@given(split=splits())
async def test_usage_split_between_plans_is_never_negative_and_one_price_bills_the_whole_period(
    deps: Deps, split: Split
) -> None:
    clock, tenant, meter_name, plans = await metered_tenant(deps, split.prices)
    subscription = await subscriptions.subscribe(
        deps, ACTOR, SubscriptionCreate.parse({"tenant_id": tenant, "plan_id": plans[0]})
    )
    for i, (plan, day, units) in enumerate(zip(plans, split.days, split.parts, strict=True)):
        start = START + timedelta(days=day - 1, hours=1)
        await test_clocks.advance_test_clock(deps, ACTOR, clock, start)
        if i:
            change = {
                "subscription_id": subscription.id,
                "plan_id": plan,
                "proration_billing_mode": ProrationMode.PRORATED_IMMEDIATELY,
            }
            await plan_changes.change_plan(deps, ACTOR, PlanChangeRequest.parse(change))
        if units:
            await test_clocks.advance_test_clock(deps, ACTOR, clock, start + timedelta(hours=1))
            await record(deps, tenant, meter_name, units, start + timedelta(minutes=30))
    await test_clocks.advance_test_clock(deps, ACTOR, clock, START + timedelta(days=31))

    lines = await usage_lines(deps, tenant)
    assert all(line.amount >= 0 for line in lines), [(line.description, line.amount) for line in lines]
    if split.same_price:
        (line,) = lines
        whole = price(split.prices[0], sum(split.parts) * MICRO)[4]
        assert abs(line.amount - whole) <= 1


@dataclass(frozen=True)
class Report:
    at_hours: int  # when it is reported, hours after START (the clock moves there first)
    used_hours: int  # when it was used, hours after START (never after it is reported)
    units: int


@st.composite
def reports(draw: st.DrawFn) -> list[Report]:
    items = []
    for _ in range(draw(st.integers(1, 6))):
        # Used in the first two months; reported up to a few hours, or a month, later.
        used = draw(st.integers(0, 59 * 24))
        delay = draw(st.one_of(st.integers(0, 3), st.integers(0, 40 * 24)))
        items.append(Report(used + delay, used, draw(st.integers(1, 2_000))))
    return sorted(items, key=lambda r: r.at_hours)


@EXAMPLES
@given(usage_price=usage_prices(), late=reports())
async def test_usage_reported_at_any_time_is_billed_once_with_the_period_it_belongs_to(
    deps: Deps, usage_price: UsagePrice, late: list[Report]
) -> None:
    deps = dataclasses.replace(deps, policy=BillingPolicy())  # the default hour of grace
    clock, tenant, meter_name, (plan,) = await metered_tenant(deps, [usage_price])
    await subscriptions.subscribe(
        deps, ACTOR, SubscriptionCreate.parse({"tenant_id": tenant, "plan_id": plan})
    )
    now = START
    for report in late:
        at = START + timedelta(hours=report.at_hours, minutes=30)
        if at > now:
            await test_clocks.advance_test_clock(deps, ACTOR, clock, at)
            now = at
        await record(
            deps, tenant, meter_name, report.units, START + timedelta(hours=report.used_hours, minutes=10)
        )
    # Two more renewals, their grace windows passed: every late report has been billed.
    await test_clocks.advance_test_clock(deps, ACTOR, clock, now + timedelta(days=62))

    used: dict[str, int] = defaultdict(int)
    for report in late:
        used_at = START + timedelta(hours=report.used_hours)
        used["2026-11" if used_at.month == 11 else "2026-12"] += report.units
    billed: dict[str, int] = defaultdict(int)
    for line in await usage_lines(deps, tenant):
        billed[line.period_start.strftime("%Y-%m")] += line.amount
    for month in ("2026-11", "2026-12"):
        assert billed[month] == price(usage_price, used[month] * MICRO)[4], month
