"""Seat arithmetic: how many seats of each type a plan and its add-ons give, how
many are in use, and the bounds a plan puts on them.

Total seats of a type = the plan's included seats (FULL only)
                        + sum of quantity x seats per unit of that type's add-ons.
A plan's minimum and maximum bound the total over every type, the number the
customer sees as ``SeatSummary.total``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from models.kernel.enums import SeatType
from models.kernel.errors import AboveMaximumSeats, BelowMinimumSeats, NoSeatsAvailable, ValidationFailed

# Seat counts travel as GraphQL Ints (32-bit).
MAX_SEATS = 2**31 - 1


class SeatPlan(Protocol):
    name: str
    included_seats: int
    min_seats: int | None
    max_seats: int | None


class SeatAddon(Protocol):
    seat_type: str | None
    seats_per_unit: int


@dataclass(frozen=True, slots=True)
class SeatTypeCount:
    seat_type: SeatType
    total: int
    used: int

    @property
    def available(self) -> int:
        return max(self.total - self.used, 0)


@dataclass(frozen=True, slots=True)
class SeatSummary:
    included: int
    by_type: tuple[SeatTypeCount, ...]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.by_type)

    @property
    def purchased(self) -> int:
        return self.total - self.included

    @property
    def used(self) -> int:
        return sum(c.used for c in self.by_type)

    @property
    def available(self) -> int:
        return sum(c.available for c in self.by_type)


def seat_totals(plan: SeatPlan | None, items: Iterable[tuple[SeatAddon, int]]) -> dict[SeatType, int]:
    """Seats of each type bought by a plan (None: no subscription) and add-on quantities."""
    totals = dict.fromkeys(SeatType, 0)
    if plan is not None:
        totals[SeatType.FULL] = plan.included_seats
    for addon, quantity in items:
        if addon.seat_type is not None:
            totals[SeatType(addon.seat_type)] += quantity * addon.seats_per_unit
    return totals


def summarize(
    plan: SeatPlan | None, items: Iterable[tuple[SeatAddon, int]], used: Mapping[SeatType, int]
) -> SeatSummary:
    totals = seat_totals(plan, items)
    return SeatSummary(
        included=plan.included_seats if plan is not None else 0,
        by_type=tuple(SeatTypeCount(t, totals[t], used.get(t, 0)) for t in SeatType),
    )


def check_bounds(plan: SeatPlan, total: int) -> None:
    """The plan's minimum and maximum, over the seats of every type; and never more
    seats than the API can count."""
    if total > MAX_SEATS:
        raise ValidationFailed(
            "input.addons",
            f"would give {total} seats, more than the {MAX_SEATS} the API can count; lower the quantities",
        )
    if plan.min_seats is not None and total < plan.min_seats:
        raise BelowMinimumSeats(
            f"{plan.name} needs at least {plan.min_seats} seats; this would give {total}. "
            f"Add {plan.min_seats - total} more."
        )
    if plan.max_seats is not None and total > plan.max_seats:
        raise AboveMaximumSeats(
            f"{plan.name} allows at most {plan.max_seats} seats; this would give {total}. "
            f"Remove {total - plan.max_seats}, or choose a larger plan."
        )


def overbooked(totals: Mapping[SeatType, int], used: Mapping[SeatType, int]) -> dict[SeatType, int]:
    """Seat types with more members than seats, and by how many."""
    return {t: used.get(t, 0) - totals[t] for t in SeatType if used.get(t, 0) > totals[t]}


def check_seat_free(seat_type: SeatType, total: int, used: int) -> None:
    """Seat enforcement at an invite: a member takes a free seat of its type, or none is
    left and the invite is refused (NO_SEATS_AVAILABLE)."""
    if used >= total:
        raise NoSeatsAvailable(seat_type.value)
