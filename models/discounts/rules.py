"""What a coupon takes off, pure: which lines it covers, and the DISCOUNT line.

A percentage is taken of the covered lines' total, rounded half-up once; an amount off
is capped at that total. Either way the discount is never more than the covered lines
(nor the whole invoice) come to and never below zero (lines that credit are not
discounted further), and it is taken before tax: ``settle`` taxes the discounted
subtotal, then credits pay."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from models.invoicing.rules import Line
from models.kernel.enums import LineKind
from models.kernel.money import Money, half_up

PERCENT = 100_000  # percent_off is kept in thousandths of a percent: 100 % is 100000
COVERABLE = frozenset({LineKind.BASE, LineKind.ADDON, LineKind.USAGE, LineKind.PRORATION, LineKind.CREDIT})


@dataclass(frozen=True, slots=True)
class Terms:
    """What a coupon takes off: a percentage or an amount, and what it applies to."""

    name: str
    percent_off: int | None  # thousandths of a percent
    amount_off: int | None
    currency: str | None
    applies_to: frozenset[str] | None  # plan and add-on ids; None: everything

    def label(self) -> str:
        if self.percent_off is not None:
            whole, rest = divmod(self.percent_off, 1000)
            shown = f"{whole}" + (f".{rest:03d}".rstrip("0") if rest else "")
            return f"{self.name} ({shown}% off)"
        assert self.amount_off is not None and self.currency is not None
        return f"{self.name} ({Money(self.amount_off, self.currency).formatted} off)"


def covers(terms: Terms, line: Line, plan_id: str) -> bool:
    """Whether the coupon takes something off ``line`` of a subscription on ``plan_id``:
    an add-on's lines (its prorations too) by the add-on's id; the base, its prorations
    and usage by the plan's."""
    if line.kind not in COVERABLE:
        return False
    if terms.applies_to is None:
        return True
    return (line.addon_id or plan_id) in terms.applies_to


def covers_anything(terms: Terms, plan_id: str, addon_ids: Collection[str]) -> bool:
    """Whether a subscription on ``plan_id`` with these add-ons has anything the coupon covers."""
    return terms.applies_to is None or bool(terms.applies_to & {plan_id, *addon_ids})


def discount_amount(terms: Terms, covered_total: int) -> int:
    """What comes off ``covered_total`` (minor units): never more than it, never below zero."""
    if covered_total <= 0:
        return 0
    if terms.percent_off is not None:
        return min(half_up(covered_total * terms.percent_off, PERCENT), covered_total)
    assert terms.amount_off is not None
    return min(terms.amount_off, covered_total)


def discount_line(terms: Terms, lines: Sequence[Line], plan_id: str) -> Line | None:
    """The DISCOUNT line for ``lines`` (negative), or None when nothing comes off."""
    covered = sum(line.amount for line in lines if covers(terms, line, plan_id))
    # Never below zero: not past what the covered lines, nor the whole invoice, come to.
    off = min(discount_amount(terms, covered), max(sum(line.amount for line in lines), 0))
    if off == 0:
        return None
    return Line(LineKind.DISCOUNT, terms.label(), 1, -off, -off)


def with_discount(terms: Terms | None, lines: Sequence[Line], plan_id: str) -> list[Line]:
    """``lines`` followed by their DISCOUNT line, if the coupon takes anything off."""
    line = discount_line(terms, lines, plan_id) if terms is not None else None
    return [*lines, line] if line is not None else list(lines)
