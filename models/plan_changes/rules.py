"""What a plan change costs today, and what an invoice comes to.

One function, ``change_lines``, prices every change, so a preview is by
construction what the change charges. Proration is day-granular in the tenant's
timezone: factor = remaining days (the change day counts) / days in the period.
Amounts are computed in ``Decimal`` and each line is rounded half-up (half away
from zero) once, to the currency's minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from models.invoicing.rules import Item, Line, Totals
from models.kernel.enums import LineKind, ProrationMode
from models.kernel.money import Money, half_up


def days_left(start: datetime, end: datetime, at: datetime, timezone: str) -> tuple[int, int]:
    """(remaining days counting the day of ``at``, days in the period), by calendar
    dates in ``timezone``. 15 of 30: a change on Nov 16 in a Nov 1 - Dec 1 period."""
    zone = ZoneInfo(timezone)
    first, last, today = (moment.astimezone(zone).date() for moment in (start, end, at))
    days = max((last - first).days, 1)
    # A period that ends later on the day of the change still has that day left.
    return min(max((last - today).days, 1 if at < end else 0), days), days


@dataclass(frozen=True, slots=True)
class Window:
    """The part of the current period a change pays for."""

    remaining: int
    days: int
    start: datetime  # the change
    end: datetime  # the end of the current period

    @property
    def factor(self) -> Fraction:
        return Fraction(self.remaining, self.days)

    @property
    def note(self) -> str:
        return f"{self.remaining} of {self.days} days"


def change_lines(
    current: Sequence[Item], new: Sequence[Item], mode: ProrationMode, window: Window
) -> list[Line]:
    """The lines a change bills now, before tax and credits.

    ``PRORATED_IMMEDIATELY`` bills each difference for the remaining days,
    ``DIFFERENCE_IMMEDIATELY`` the full difference of one period; both keep the
    cycle. An item whose quantity changes gets one line for the delta; an item
    dropped gets a CREDIT line for its unused time and an item added a PRORATION
    line for its remaining time. ``FULL_IMMEDIATELY`` bills the new items for a
    whole new period (the caller restarts the period); ``DO_NOT_BILL`` bills nothing.
    """
    if mode is ProrationMode.DO_NOT_BILL:
        return []
    if mode is ProrationMode.FULL_IMMEDIATELY:
        return [item.line() for item in new]
    prorated = mode is ProrationMode.PRORATED_IMMEDIATELY
    factor = window.factor if prorated else Fraction(1)
    suffix = f" ({window.note})" if prorated else " (difference for a full period)"
    before = {item.key: item for item in current}
    after = {item.key: item for item in new}
    lines: list[Line] = []

    def add(item: Item, quantity: int, description: str) -> None:
        if quantity == 0 or item.unit_amount == 0:
            return
        amount = half_up(quantity * item.unit_amount * factor.numerator, factor.denominator)
        kind = LineKind.PRORATION if quantity > 0 else LineKind.CREDIT
        lines.append(
            Line(
                kind,
                description + suffix,
                quantity,
                item.unit_amount,
                amount,
                item.addon_id,
                factor=factor,
                period=(window.start, window.end),
            )
        )

    dropped, taken = ("Unused time on {}", "Remaining time on {}") if prorated else ("{} removed", "{} added")
    for key, old in before.items():
        replacement = after.get(key)
        if replacement is None:
            add(old, -old.quantity, dropped.format(old.describe(old.quantity)))
            continue
        delta = replacement.quantity - old.quantity
        verb = "Adding" if delta > 0 else "Removing"
        add(replacement, delta, f"{verb} {abs(delta)} × {replacement.describe(1)}")
    for key, item in after.items():
        if key not in before:
            add(item, item.quantity, taken.format(item.describe(item.quantity)))
    return lines


def _what(plan_changed: str | None, seat_delta: int) -> str:
    if plan_changed:
        return f"Switching to {plan_changed}"
    if seat_delta:
        count = abs(seat_delta)
        return f"{'Adding' if seat_delta > 0 else 'Removing'} {count} seat{'s' if count != 1 else ''}"
    return "This change"


def describe_in_trial(
    *, currency: str, plan_changed: str | None, seat_delta: int, trial_ends: str, first_total: int
) -> str:
    """A change during a trial: "Switching to Pro takes effect now and costs nothing
    during the trial; the first invoice, when the trial ends on 2026-12-17, will be $49.00." """
    return (
        f"{_what(plan_changed, seat_delta)} takes effect now and costs nothing during the trial; the first "
        f"invoice, when the trial ends on {trial_ends}, will be {Money(first_total, currency).formatted}."
    )


def describe(
    *,
    currency: str,
    plan_changed: str | None,
    seat_delta: int,
    mode: ProrationMode,
    totals: Totals,
    window: Window | None,
    takes_effect: str | None = None,
    renewal_total: int = 0,
) -> str:
    """The sentence a customer reads before confirming:
    "Adding 5 seats costs $25.00 today (15 of 30 days prorated)."

    ``plan_changed`` names the new plan when there is one; ``takes_effect`` is the
    date of a change scheduled for the renewal."""

    def money(amount: int) -> str:
        return Money(amount, currency).formatted

    what = _what(plan_changed, seat_delta)
    if takes_effect:
        return (
            f"{what} takes effect on {takes_effect}; nothing is charged today, and the renewal "
            f"invoice will be {money(renewal_total)}."
        )
    if mode is ProrationMode.DO_NOT_BILL:
        return f"{what} costs nothing today (not billed)."
    if totals.total > 0:
        cost = f"costs {money(totals.amount_due)} today"
        if totals.credits_applied:
            cost += f" after {money(totals.credits_applied)} of credit"
    elif totals.total < 0:
        cost = f"credits {money(totals.credit_granted)} to the credit balance"
    else:
        cost = "costs nothing today"
    detail = {
        ProrationMode.PRORATED_IMMEDIATELY: f" ({window.note} prorated)" if window else "",
        ProrationMode.DIFFERENCE_IMMEDIATELY: " (the full difference of the period prices)",
        ProrationMode.FULL_IMMEDIATELY: " (a new period starts today)",
    }[mode]
    return f"{what} {cost}{detail}."
