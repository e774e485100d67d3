"""What a subscription costs per period: a base line and one line per add-on; what an
invoice comes to (tax, credits); when it is due, and when a failed charge is retried."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from typing import Protocol
from zoneinfo import ZoneInfo

from models.kernel.enums import LineKind
from models.kernel.errors import ValidationFailed
from models.kernel.money import MAX_SAFE_INTEGER, half_up

# The API carries amounts as GraphQL Ints, which are 32-bit.
MAX_AMOUNT = MAX_SAFE_INTEGER  # the most one amount may be: what the API carries exactly


class PricedPlan(Protocol):
    name: str
    base_price: int
    included_seats: int


class PricedAddon(Protocol):
    id: str
    name: str
    price: int
    seat_type: str | None
    seats_per_unit: int


@dataclass(frozen=True, slots=True)
class Line:
    kind: LineKind
    description: str
    quantity: int
    unit_amount: int
    amount: int
    addon_id: str | None = None
    # Set on prorated lines: the share of the period billed (remaining days / days).
    factor: Fraction | None = None
    # The time the line pays for, when it is not the invoice's whole period.
    period: tuple[datetime, datetime] | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One recurring thing a subscription pays for each period: its plan or an add-on."""

    key: str  # the plan's or the add-on's id; one item per key
    kind: LineKind  # BASE or ADDON
    label: str
    quantity: int
    unit_amount: int
    seats_per_unit: int = 0  # >1 for a seat pack, shown on its line
    addon_id: str | None = None

    def describe(self, quantity: int) -> str:
        if self.seats_per_unit > 1:
            return f"{self.label} ({_seats(quantity * self.seats_per_unit)})"
        return self.label

    def line(self) -> Line:
        return Line(
            self.kind,
            self.describe(self.quantity),
            self.quantity,
            self.unit_amount,
            self.unit_amount * self.quantity,
            self.addon_id,
        )


def _seats(count: int) -> str:
    return f"{count} seat{'s' if count != 1 else ''}"


class KeyedPlan(PricedPlan, Protocol):
    id: str


def recurring_items(plan: KeyedPlan, items: Iterable[tuple[PricedAddon, int]]) -> list[Item]:
    """What the plan and its add-ons cost per period: the base first, then each add-on."""
    base = plan.name + (f" ({_seats(plan.included_seats)} included)" if plan.included_seats else "")
    result = [Item(plan.id, LineKind.BASE, base, 1, plan.base_price)]
    for addon, quantity in items:
        pack = addon.seats_per_unit if addon.seat_type is not None else 0
        result.append(Item(addon.id, LineKind.ADDON, addon.name, quantity, addon.price, pack, addon.id))
    return result


def recurring_lines(plan: KeyedPlan, items: Iterable[tuple[PricedAddon, int]]) -> list[Line]:
    """One period of the plan and its add-ons, billed in advance."""
    return [item.line() for item in recurring_items(plan, items)]


def check_representable(
    lines: Iterable[Line], *totals: int, field: str = "input.addons", what: str | None = None
) -> None:
    """Refuse amounts the API could not show exactly (over 2^53 - 1 minor units on a
    line, in their sum, or in any of ``totals``: an invoice total with tax, a renewal, a
    credit balance) before they are stored, instead of failing when they are read."""
    lines = list(lines)
    amounts = [line.amount for line in lines] + [sum(line.amount for line in lines), *totals]
    if any(abs(amount) > MAX_AMOUNT for amount in amounts):
        if what:
            raise ValidationFailed(field, f"{what} {MAX_AMOUNT:,} minor units, the most the API can carry")
        raise ValidationFailed(
            field,
            "an amount (a line, an invoice total with tax, or the credit balance) would exceed "
            f"{MAX_AMOUNT:,} minor units, the most the API can carry; choose a smaller plan or fewer add-ons",
        )


# Tax rates are kept in parts per million of the taxed amount: 10 % is 100_000.
PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class Totals:
    """An invoice's money. ``total`` may be negative (a change that credits more
    than it charges); then nothing is due and ``credit_granted`` goes to the
    tenant's credit balance. Otherwise the balance pays what it can of the total."""

    subtotal: int
    tax: int
    total: int
    credits_applied: int
    amount_due: int
    credit_granted: int
    balance_after: int  # the tenant's credit balance once this invoice is issued


def settle(lines: Sequence[Line], tax_rate_ppm: int, credit_balance: int) -> Totals:
    if credit_balance < 0:
        raise ValueError("a credit balance is never negative")
    subtotal = sum(line.amount for line in lines)
    tax = half_up(subtotal * tax_rate_ppm, PPM)  # exclusive; a credit returns its tax too
    total = subtotal + tax
    applied = min(credit_balance, max(total, 0))
    return Totals(
        subtotal=subtotal,
        tax=tax,
        total=total,
        credits_applied=applied,
        amount_due=max(total, 0) - applied,
        credit_granted=max(-total, 0),
        balance_after=credit_balance - applied + max(-total, 0),
    )


def next_retry(failed_at: datetime, retries: int, schedule: tuple[int, ...]) -> datetime | None:
    """When a charge that failed at ``failed_at`` is tried again, after ``retries`` retries
    already queued; None once the schedule is spent."""
    return failed_at + timedelta(days=schedule[retries]) if retries < len(schedule) else None


def due_date(issued_at: datetime, days_until_due: int, timezone: str) -> datetime:
    """The end of the due day: net 30 on an invoice issued on the 1st is due by the end of
    the 31st in the tenant's timezone, so it is overdue from the 32nd."""
    local = issued_at.astimezone(ZoneInfo(timezone))
    day = local.date() + timedelta(days=days_until_due + 1)
    return datetime.combine(day, time(), ZoneInfo(timezone)).astimezone(UTC)
