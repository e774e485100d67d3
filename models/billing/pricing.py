"""What a subscription costs per period: a base line and one line per add-on."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from models.errors import ValidationFailed

# The API carries amounts as GraphQL Ints, which are 32-bit.
MAX_AMOUNT = 2**31 - 1


class LineKind(enum.Enum):
    BASE = "BASE"
    ADDON = "ADDON"
    USAGE = "USAGE"
    PRORATION = "PRORATION"
    CREDIT = "CREDIT"


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


def _seats(count: int) -> str:
    return f"{count} seat{'s' if count != 1 else ''}"


def recurring_lines(plan: PricedPlan, items: Iterable[tuple[PricedAddon, int]]) -> list[Line]:
    """One period of the plan and its add-ons, billed in advance."""
    base = plan.name + (f" ({_seats(plan.included_seats)} included)" if plan.included_seats else "")
    lines = [Line(LineKind.BASE, base, 1, plan.base_price, plan.base_price)]
    for addon, quantity in items:
        description = addon.name
        if addon.seat_type is not None and addon.seats_per_unit > 1:
            description += f" ({_seats(quantity * addon.seats_per_unit)})"
        lines.append(
            Line(LineKind.ADDON, description, quantity, addon.price, addon.price * quantity, addon.id)
        )
    return lines


def check_representable(lines: Iterable[Line]) -> None:
    """Refuse a purchase whose amounts the API could not show (over 2,147,483,647
    minor units on a line or in total) instead of failing when it is read."""
    lines = list(lines)
    if any(abs(line.amount) > MAX_AMOUNT for line in lines) or abs(sum(l.amount for l in lines)) > MAX_AMOUNT:
        raise ValidationFailed(
            "input.addons", f"the amount would exceed {MAX_AMOUNT} minor units, the most one invoice can carry; "
            "lower the quantities or split the purchase"
        )
