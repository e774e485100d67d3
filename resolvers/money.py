from __future__ import annotations

import strawberry

from models.billing.money import Money as MoneyValue


@strawberry.type(description="An amount in the currency's minor unit (cents for USD, yen for JPY).")
class Money:
    amount: int = strawberry.field(description="Minor units: 9900 is $99.00; 1000 is ¥1,000.")
    currency: str = strawberry.field(description="ISO 4217.")
    formatted: str = strawberry.field(description="For people, e.g. `$99.00`, `¥1,000`.")

    @classmethod
    def of(cls, amount: int, currency: str) -> Money:
        return cls(amount=amount, currency=currency, formatted=MoneyValue(amount, currency).formatted)
