"""Money is an integer amount in the currency's minor unit plus an ISO 4217 code.

How many minor units a currency has (USD 2, JPY 0, KWD 3) and how an amount is
shown come from the CLDR data Babel ships, not from a hand-kept table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from babel.numbers import format_currency, get_currency_precision

# The largest integer every JSON reader keeps exact (JavaScript's Number.MAX_SAFE_INTEGER):
# the bound of every amount and quantity the API carries (the MinorUnits and Long scalars).
# About 90 trillion USD, or 9 quadrillion of a currency without minor units.
MAX_SAFE_INTEGER = 2**53 - 1


@functools.cache
def minor_digits(currency: str) -> int:
    """Digits after the decimal point: 2 for USD and EUR, 0 for JPY, 3 for KWD."""
    return get_currency_precision(currency)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"money amounts are integers in minor units, not {type(self.amount).__name__}")

    @property
    def formatted(self) -> str:
        """``$99.00``, ``¥1,000``, ``€0.50``, ``-$25.00``."""
        major = Decimal(self.amount).scaleb(-minor_digits(self.currency))
        return format_currency(major, self.currency, locale="en_US", currency_digits=True)


def half_up(numerator: int, denominator: int = 1) -> int:
    """``numerator / denominator`` rounded to an integer, halves away from zero."""
    with localcontext() as context:
        context.prec = 60  # exact for any amount the API can carry
        return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
