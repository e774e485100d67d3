"""Which credit an invoice uses: pure.

A tenant's credit balance is made of lots: each credit grant's remaining amount, and a
pool of credit that never expires and belongs to no grant (a plan downgrade's GRANTED
credit, a credit note's CREDIT_NOTE credit). An invoice draws the soonest-expiring credit
first: grants by their expiry (the older grant first at the same instant), then grants
without expiry (oldest first), then the pool."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Lot:
    grant_id: str | None  # None: the pool of credit that belongs to no grant
    remaining: int
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Draw:
    grant_id: str | None
    amount: int


def draw_order(lot: Lot, position: int) -> tuple[int, datetime | None, int]:
    """Soonest-expiring first; then, among credit that never expires, grants before the
    pool; ``position`` (the order lots were given: grants oldest first) breaks ties."""
    if lot.expires_at is not None:
        return (0, lot.expires_at, position)
    return (1 if lot.grant_id is not None else 2, None, position)


def allocate(lots: list[Lot], amount: int) -> list[Draw]:
    """Draw ``amount`` from ``lots`` in draw order: one Draw per lot drawn on, never more
    than a lot holds. Raises ValueError when the lots do not hold ``amount``."""
    if amount < 0:
        raise ValueError("an invoice draws a positive amount of credit")
    if any(lot.remaining < 0 for lot in lots):
        raise ValueError("a lot never holds a negative amount")
    if amount > sum(lot.remaining for lot in lots):
        raise ValueError(f"the credit balance does not hold {amount}")
    ordered = [lot for _, lot in sorted(enumerate(lots), key=lambda pair: draw_order(pair[1], pair[0]))]
    draws: list[Draw] = []
    left = amount
    for lot in ordered:
        if left == 0:
            break
        take = min(left, lot.remaining)
        if take > 0:
            draws.append(Draw(lot.grant_id, take))
            left -= take
    return draws


def pool(balance: int, grants_remaining: list[int]) -> int:
    """The credit that belongs to no grant: the balance less what live grants hold."""
    free = balance - sum(grants_remaining)
    if free < 0:
        raise ValueError("live grants hold more than the credit balance")
    return free
