from __future__ import annotations

import functools

import strawberry

from models.kernel.money import Money as MoneyValue
from resolvers.shared.scalars import MinorUnits


@functools.lru_cache(maxsize=4096)
def _formatted(amount: int, currency: str) -> str:
    """Babel's formatting costs ~100 µs an amount; a page of invoices shows the same
    few amounts over and over."""
    return MoneyValue(amount, currency).formatted


@strawberry.type(description="An amount in the currency's minor unit (cents for USD, yen for JPY).")
class Money:
    amount: MinorUnits = strawberry.field(description="Minor units: 9900 is $99.00; 1000 is ¥1,000.")
    currency: str = strawberry.field(description="ISO 4217.")

    @strawberry.field(description="For people, e.g. `$99.00`, `¥1,000`.")
    def formatted(self) -> str:
        # Worked out only when asked for: most clients read `amount`.
        return _formatted(self.amount, self.currency)

    @classmethod
    def of(cls, amount: int, currency: str) -> Money:
        return cls(amount=amount, currency=currency)
