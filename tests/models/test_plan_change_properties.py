"""Property test of plan changes through the service layer, on both databases.

Each example builds its own tenant (USD or JPY, a tax rate, a timezone) on its own
test clock, an old and a new monthly plan (possibly the same one) with one or two
add-ons attached to both, subscribes at the clock's time, advances to a random day
and hour of the period, previews a change (any of the four modes, applied now or at
the next billing date), applies it, and advances through the renewal (sometimes one
more period). Then it checks what a customer reading the invoices would check:

- the preview's lines and summary are the invoice the change issues (no lines: no invoice);
- every invoice adds up: lines sum to the subtotal, tax is the tenant's rate of it
  rounded half away from zero, total = subtotal + tax, amount due = max(total, 0)
  - credits applied, never negative;
- the credit balance is never negative, after any invoice, and is what the invoices
  granted minus what they consumed (the ledger rows, and ``credit_balances``);
- with a random coupon (percent or amount off, ONCE, REPEATING or FOREVER, on everything,
  the old plan only, or the old plan and an add-on) redeemed at subscribe, each DISCOUNT
  line takes off something between nothing and what the other lines come to (exactly the
  percentage rounded half-up, or the amount capped, when it covers everything), a ONCE
  coupon discounts one invoice, a REPEATING one at most its periods, and the rest of
  these properties hold for what the invoices come to before the discount;
- money is conserved over the cycle: the first invoice and the change invoice
  together cost what the plans cost for the days each was used (prorated: within
  half a minor unit per prorated line, the half-up rounding of each line);
  difference: the new price; full: both prices; not billed or scheduled: the old
  price. Each renewal bills the new plan's recurring price for the next period of
  the cycle (restarted at the change by FULL_IMMEDIATELY), paid first from the
  credit balance.
"""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models.catalog import service as catalog
from models.invoicing.queries import credit_balances, invoice_lines
from models.kernel.enums import EffectiveAt, ProrationMode
from models.plan_changes import service as plan_changes
from models.plan_changes.inputs import PlanChangeRequest
from models.platform.access import operator
from models.platform.deps import Deps
from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate
from models.tables import (
    CouponRow,
    CreditEntryRow,
    InvoiceLineRow,
    InvoiceRow,
    PlanAddonRow,
    PlanRow,
    SubscriptionRow,
)
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate
from models.test_clocks import service as test_clocks

ACTOR = operator()
_serial = itertools.count()


def unique(prefix: str) -> str:
    """A catalog code no other example uses."""
    return f"{prefix}_{next(_serial)}"


def half_away(value: Fraction) -> int:
    """``value`` rounded to an integer, halves away from zero (the invoices' rule)."""
    magnitude = abs(value)
    rounded = int(magnitude) + (1 if magnitude - int(magnitude) >= Fraction(1, 2) else 0)
    return rounded if value >= 0 else -rounded


def months_after(anchor: datetime, months: int, zone: ZoneInfo) -> datetime:
    """The period boundary ``months`` after ``anchor``: the same local day and wall
    time, on the month's last day when it is shorter (Jan 31 -> Feb 28 -> Mar 31)."""
    local = anchor.astimezone(zone)
    year, month = divmod(local.year * 12 + local.month - 1 + months, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)


@dataclass(frozen=True)
class PlanDraw:
    base_price: int
    included_seats: int


@dataclass(frozen=True)
class AddonDraw:
    price: int
    seat_type: str | None
    seats_per_unit: int


@dataclass(frozen=True)
class CouponDraw:
    percent_off: int | None  # thousandths of a percent
    amount_off: int | None
    duration: str
    periods: int | None
    covers: str  # "all", "old plan", "old plan and first add-on"


@dataclass(frozen=True)
class Scenario:
    currency: str
    tax_percent: str
    timezone: str
    start: tuple[int, int, int, int, int]  # local year, month, day (clipped to the month), hour, minute
    old_plan: PlanDraw
    new_plan: PlanDraw | None  # None: the change keeps the old plan
    addons: tuple[AddonDraw, ...]
    old_quantities: tuple[int, ...]
    new_quantities: tuple[int, ...] | None  # None: the change omits addons, keeping the current ones
    mode: ProrationMode
    effective_at: EffectiveAt
    change_day: int  # days after the start's local date, modulo the days of the period
    change_time: tuple[int, int]  # local hour, minute
    renewals: int  # periods renewed after the change, by one advance of the clock
    coupon: CouponDraw | None = None


prices = st.one_of(st.just(0), st.integers(1, 99), st.integers(100, 50_000))
plans = st.builds(PlanDraw, base_price=prices, included_seats=st.integers(0, 5))
addons = st.one_of(
    st.builds(AddonDraw, price=prices, seat_type=st.just(None), seats_per_unit=st.just(1)),
    st.builds(AddonDraw, price=prices, seat_type=st.just("FULL"), seats_per_unit=st.integers(1, 5)),
)
quantity = st.integers(0, 20)
coupons = st.one_of(
    st.none(),
    st.builds(
        CouponDraw,
        percent_off=st.one_of(st.integers(1, 100_000), st.sampled_from([20_000, 33_333, 50_000, 100_000])),
        amount_off=st.none(),
        duration=st.sampled_from(["ONCE", "REPEATING", "FOREVER"]),
        periods=st.integers(1, 3),
        covers=st.sampled_from(["all", "old plan", "old plan and first add-on"]),
    ),
    st.builds(
        CouponDraw,
        percent_off=st.none(),
        amount_off=st.one_of(st.integers(1, 99), st.integers(100, 60_000)),
        duration=st.sampled_from(["ONCE", "REPEATING", "FOREVER"]),
        periods=st.integers(1, 3),
        covers=st.sampled_from(["all", "old plan", "old plan and first add-on"]),
    ),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    drawn_addons = tuple(draw(st.lists(addons, min_size=1, max_size=2)))
    n = len(drawn_addons)
    keep_addons = draw(st.integers(0, 9)) == 0  # one change in ten omits addons
    return Scenario(
        currency=draw(st.sampled_from(["USD", "JPY"])),
        tax_percent=draw(st.sampled_from(["0", "0", "10", "8.875"])),
        timezone=draw(st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York"])),
        start=(
            draw(st.integers(2026, 2027)),
            draw(st.integers(1, 12)),
            draw(st.integers(1, 31)),
            draw(st.integers(0, 23)),
            draw(st.sampled_from([0, 17, 30, 59])),
        ),
        old_plan=draw(plans),
        new_plan=draw(st.one_of(st.none(), plans)),
        addons=drawn_addons,
        old_quantities=tuple(draw(quantity) for _ in range(n)),
        new_quantities=None if keep_addons else tuple(draw(quantity) for _ in range(n)),
        mode=draw(st.sampled_from(list(ProrationMode))),
        effective_at=draw(st.sampled_from([EffectiveAt.IMMEDIATELY] * 4 + [EffectiveAt.NEXT_BILLING_DATE])),
        change_day=draw(st.integers(0, 30)),
        change_time=(draw(st.integers(0, 23)), draw(st.sampled_from([0, 1, 29, 45, 59]))),
        renewals=draw(st.sampled_from([1, 1, 2])),
        coupon=draw(coupons),
    )


def recurring_price(plan: PlanDraw, draws: tuple[AddonDraw, ...], quantities: tuple[int, ...]) -> int:
    return plan.base_price + sum(a.price * q for a, q in zip(draws, quantities, strict=True))


@dataclass
class Books:
    """What the database holds for one tenant: its invoices in number order, each
    with its lines, and its subscription."""

    invoices: list[tuple[InvoiceRow, list[InvoiceLineRow]]]
    subscription: SubscriptionRow


async def read_books(deps: Deps, tenant_id: str, subscription_id: str, tax_percent: str) -> Books:
    """Read the tenant's books in one session and check that every invoice adds up
    and that the credit ledger is what the invoices granted minus what they
    consumed, never negative after any of them."""
    async with deps.store.read() as session:
        rows = list(
            (
                await session.scalars(
                    select(InvoiceRow).where(InvoiceRow.tenant_id == tenant_id).order_by(InvoiceRow.number)
                )
            ).all()
        )
        lines = await invoice_lines(session, [row.id for row in rows])
        entries = list(
            (await session.scalars(select(CreditEntryRow).where(CreditEntryRow.tenant_id == tenant_id))).all()
        )
        (balance,) = await credit_balances(session, [tenant_id])
        subscription = await session.get(SubscriptionRow, subscription_id)
    rate = Fraction(Decimal(tax_percent)) / 100
    running = 0
    for invoice, its_lines in zip(rows, lines, strict=True):
        assert sum(line.amount for line in its_lines) == invoice.subtotal, invoice.number
        assert invoice.tax == half_away(invoice.subtotal * rate), invoice.number
        assert invoice.total == invoice.subtotal + invoice.tax, invoice.number
        assert invoice.credits_applied == min(running, max(invoice.total, 0)), invoice.number
        assert invoice.amount_due == max(invoice.total, 0) - invoice.credits_applied >= 0, invoice.number
        assert invoice.status == ("PAID" if invoice.amount_due == 0 else "OPEN"), invoice.number
        granted = max(-invoice.total, 0)
        assert sorted((e.reason, e.amount) for e in entries if e.invoice_id == invoice.id) == sorted(
            [("APPLIED", -invoice.credits_applied)] * (invoice.credits_applied > 0)
            + [("GRANTED", granted)] * (granted > 0)
        ), invoice.number
        running += granted - invoice.credits_applied
        assert running >= 0, invoice.number
    assert balance == sum(entry.amount for entry in entries) == running
    return Books(list(zip(rows, lines, strict=True)), subscription)


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_plan_changes_bill_what_the_preview_showed_and_conserve_money(
    deps: Deps, scenario: Scenario
) -> None:
    s = scenario
    zone = ZoneInfo(s.timezone)
    year, month, day, hour, minute = s.start
    day = min(day, calendar.monthrange(year, month)[1])
    start = datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)

    clock = await test_clocks.create_test_clock(deps, ACTOR, start)
    tenant = await tenants.create_tenant(
        deps,
        ACTOR,
        TenantCreate.parse(
            {
                # A name of its own: its invoice prefix is then free at once.
                "name": f"T{next(_serial):07d} Co",
                "email": "team@example.com",
                "currency": s.currency,
                "timezone": s.timezone,
                "test_clock_id": clock.id,
                "tax_rate": Decimal(s.tax_percent),
            }
        ),
    )

    # The catalog in one transaction, through the same row builders and input
    # validation as createPlan/createAddon/attachAddon (one call each costs a
    # transaction; this example needs up to eight).
    def plan_row(draw: PlanDraw) -> PlanRow:
        return catalog.new_plan(
            catalog.PlanCreate.parse(
                {
                    "code": unique("plan"),
                    "name": "Plan",
                    "currency": s.currency,
                    "interval": "MONTH",
                    "base_price": draw.base_price,
                    "included_seats": draw.included_seats,
                }
            ),
            start,
        )

    old_plan = plan_row(s.old_plan)
    new_plan = plan_row(s.new_plan) if s.new_plan is not None else old_plan
    addon_rows = [
        catalog.new_addon(
            catalog.AddonCreate.parse(
                {
                    "code": unique("addon"),
                    "name": "Extra",
                    "currency": s.currency,
                    "price": draw.price,
                    "seat_type": draw.seat_type,
                    "seats_per_unit": draw.seats_per_unit,
                }
            ),
            start,
        )
        for draw in s.addons
    ]
    coupon = None
    if s.coupon is not None:
        c = s.coupon
        covered = {
            "all": None,
            "old plan": [old_plan.id],
            "old plan and first add-on": [old_plan.id, addon_rows[0].id],
        }[c.covers]
        coupon = CouponRow(
            id=unique("coupon"),
            code=unique("COUPON").upper(),
            name="Promo",
            percent_off=c.percent_off,
            amount_off=c.amount_off,
            currency=s.currency if c.amount_off is not None else None,
            duration=c.duration,
            duration_in_periods=c.periods if c.duration == "REPEATING" else None,
            applies_to=covered,
            created_at=start,
        )
    async with deps.store.transaction() as session:
        session.add_all([old_plan, *([new_plan] if new_plan is not old_plan else []), *addon_rows])
        session.add_all([coupon] if coupon is not None else [])
        await session.flush()
        session.add_all(
            PlanAddonRow(plan_id=plan_id, addon_id=addon.id, attached_at=start)
            for addon in addon_rows
            for plan_id in dict.fromkeys([old_plan.id, new_plan.id])
        )

    subscription = await subscriptions.subscribe(
        deps,
        ACTOR,
        SubscriptionCreate.parse(
            {
                "tenant_id": tenant.id,
                "plan_id": old_plan.id,
                "addons": [
                    {"addon_id": a.id, "quantity": q}
                    for a, q in zip(addon_rows, s.old_quantities, strict=True)
                ],
                "coupon_code": coupon.code if coupon is not None else None,
            }
        ),
    )
    end = subscription.current_period_end
    assert (subscription.current_period_start, end) == (start, months_after(start, 1, zone))
    first_day, last_day = start.astimezone(zone).date(), end.astimezone(zone).date()
    days = (last_day - first_day).days

    # A moment inside the period: a random day of it at a random local hour.
    change_date = first_day + timedelta(days=s.change_day % days)
    at = datetime.combine(change_date, time(*s.change_time), zone).astimezone(UTC)
    at = min(max(at, start + timedelta(minutes=1)), end - timedelta(minutes=1))
    remaining = (last_day - at.astimezone(zone).date()).days  # the day of the change counts
    await test_clocks.advance_test_clock(deps, ACTOR, clock.id, at)

    new_quantities = s.old_quantities if s.new_quantities is None else s.new_quantities
    spec = {
        "subscription_id": subscription.id,
        "plan_id": new_plan.id,
        "proration_billing_mode": s.mode,
        "effective_at": s.effective_at,
    }
    if s.new_quantities is not None:
        spec["addons"] = [
            {"addon_id": a.id, "quantity": q} for a, q in zip(addon_rows, new_quantities, strict=True)
        ]

    preview = await plan_changes.preview_change(deps, ACTOR, PlanChangeRequest.parse(spec))
    applied = await plan_changes.change_plan(deps, ACTOR, PlanChangeRequest.parse(spec))

    # The period after the change: kept, or restarted now by FULL_IMMEDIATELY.
    scheduled = s.effective_at is EffectiveAt.NEXT_BILLING_DATE
    restarted = s.mode is ProrationMode.FULL_IMMEDIATELY and not scheduled
    anchor = at if restarted else start
    changed = applied.subscription
    assert (changed.current_period_start, changed.current_period_end) == (
        anchor,
        months_after(anchor, 1, zone),
    )
    assert changed.plan_id == (old_plan.id if scheduled else new_plan.id)

    # Renew the period (sometimes two): one advance of the clock renews each, in order.
    await test_clocks.advance_test_clock(deps, ACTOR, clock.id, months_after(anchor, s.renewals, zone))
    books = await read_books(deps, tenant.id, subscription.id, s.tax_percent)
    billed = 2 if preview.lines else 1
    assert len(books.invoices) == billed + s.renewals  # so the preview issued nothing
    cycle, renewed = books.invoices[:billed], books.invoices[billed:]

    # The preview is the change's invoice; no lines, no invoice.
    if not preview.lines:
        assert applied.invoice is None and preview.totals.amount_due == 0
    else:
        change, change_lines = cycle[1]
        assert applied.invoice is not None and change.id == applied.invoice.id and change.reason == "CHANGE"
        t = preview.totals
        assert (change.subtotal, change.tax, change.total, change.credits_applied, change.amount_due) == (
            t.subtotal,
            t.tax,
            t.total,
            t.credits_applied,
            t.amount_due,
        )
        assert [(li.kind, li.quantity, li.unit_amount, li.amount) for li in change_lines] == [
            (li.kind.value, li.quantity, li.unit_amount, li.amount) for li in preview.lines
        ]

    # Each DISCOUNT line takes off between nothing and what the invoice's other lines come
    # to; the rest of the properties hold for what the invoices cost before it.
    discounted = [
        (invoice, -sum(li.amount for li in its if li.kind == "DISCOUNT")) for invoice, its in books.invoices
    ]
    for invoice, its in books.invoices:
        off = -sum(li.amount for li in its if li.kind == "DISCOUNT")
        before = sum(li.amount for li in its if li.kind != "DISCOUNT")
        assert [li.kind for li in its].count("DISCOUNT") <= 1 and 0 <= off, invoice.number
        assert off == 0 or off <= before, invoice.number
        c = s.coupon
        if off and c is not None and c.covers == "all":
            exact = half_away(Fraction(before * c.percent_off, 100_000)) if c.percent_off else c.amount_off
            assert off == min(exact, before), invoice.number
    if s.coupon is None:
        assert all(off == 0 for _, off in discounted)
    elif s.coupon.duration == "ONCE":
        assert sum(1 for _, off in discounted if off) <= 1
    elif s.coupon.duration == "REPEATING":
        assert sum(1 for i, off in discounted if off and i.reason != "CHANGE") <= s.coupon.periods
    full = {invoice.id: invoice.subtotal + off for invoice, off in discounted}

    # Money over the cycle: the first invoice and the change invoice together.
    old_price = recurring_price(s.old_plan, s.addons, s.old_quantities)
    new_price = recurring_price(s.new_plan or s.old_plan, s.addons, new_quantities)
    first = cycle[0][0]
    assert first.reason == "SUBSCRIBE" and full[first.id] == old_price
    charged = sum(full[invoice.id] for invoice, _ in cycle)
    if scheduled or s.mode is ProrationMode.DO_NOT_BILL:
        assert charged == old_price
    elif s.mode is ProrationMode.PRORATED_IMMEDIATELY:
        # Each prorated line is rounded half-up once: off by at most half a minor unit.
        cost = Fraction(old_price * (days - remaining) + new_price * remaining, days)
        assert abs(charged - cost) <= Fraction(len(preview.lines), 2), (charged, cost, remaining, days)
    elif s.mode is ProrationMode.DIFFERENCE_IMMEDIATELY:
        assert charged == new_price
    else:
        assert charged == old_price + new_price

    # Each renewal bills the new plan's recurring price for the next period of the
    # cycle (read_books checked that the credit balance paid what it could first).
    for k, (renewal, _) in enumerate(renewed, start=1):
        assert renewal.reason == "RENEWAL"
        assert (renewal.period_start, renewal.period_end) == (
            months_after(anchor, k, zone),
            months_after(anchor, k + 1, zone),
        )
        assert full[renewal.id] == new_price
    assert books.subscription.plan_id == new_plan.id
    assert books.subscription.current_period_end == months_after(anchor, s.renewals + 1, zone)

    # What the examples covered (shown by --hypothesis-show-statistics).
    event("discounted" if any(off for _, off in discounted) else "no discount")
    event("scheduled" if scheduled else s.mode.value)
    event("change credited the balance" if cycle[-1][0].total < 0 else "change credited nothing")
    event(
        "renewal paid from credit" if any(r.credits_applied for r, _ in renewed) else "renewal paid no credit"
    )
