"""Amounts at Stripe: the gateway counts in CLDR minor units, Stripe in its own scale
per currency (zero-decimal, three-decimal, or hundredths where the gateway has none)."""

from __future__ import annotations

from typing import Any

from models.kernel.money import Money, minor_digits
from models.platform.provider import (
    InvoiceToCollect,
    ProviderError,
)

# Amounts: the gateway counts in CLDR minor units (``models.kernel.money.minor_digits``),
# Stripe's API in its own (https://docs.stripe.com/currencies#special-cases): 0 digits
# for its zero-decimal currencies, 3 for five currencies (last digit 0), and 2 for every
# other, including those CLDR gives none (ALL, ISK, LAK, UGX, ...: 100 = one unit).
STRIPE_ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)


# Three decimals, but Stripe takes only amounts whose last digit is 0.
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def stripe_digits(currency: str) -> int:
    """How many decimals Stripe's API counts ``currency`` in."""
    code = currency.upper()
    return 0 if code in STRIPE_ZERO_DECIMAL else 3 if code in STRIPE_THREE_DECIMAL else 2


def _shift(currency: str) -> int:
    """Stripe's digits less the gateway's: positive, Stripe's unit is smaller."""
    return stripe_digits(currency) - minor_digits(currency.upper())


def to_stripe_amount(amount: int, currency: str) -> int:
    """An amount in the gateway's minor units as Stripe's API takes it; ValueError
    (naming the amount and the rule) when Stripe cannot represent it."""
    code = currency.upper()
    shift = _shift(code)
    if shift >= 0:
        stripe_amount = amount * 10**shift
    else:
        step = 10**-shift
        if amount % step:
            raise ValueError(
                f"Stripe counts {code} in {stripe_digits(code)} decimals; {Money(amount, code).formatted} "
                "has more"
            )
        stripe_amount = amount // step
    if code in STRIPE_THREE_DECIMAL and stripe_amount % 10:
        raise ValueError(
            f"Stripe takes {code} amounts only in steps of 0.010 (the last of the three decimals 0); "
            f"{Money(amount, code).formatted} is not one"
        )
    return stripe_amount


def from_stripe_amount(amount: int, currency: str) -> int:
    """An amount Stripe reports, in the gateway's minor units: the reverse of
    ``to_stripe_amount``. Inbound invoices (webhooks, mirrored SALES_LED invoices)
    need it too. ValueError for an amount finer than the gateway's unit (an ISK amount
    that is not whole krónur)."""
    code = currency.upper()
    shift = _shift(code)
    if shift <= 0:
        return amount * 10**-shift
    step = 10**shift
    if amount % step:
        raise ValueError(
            f"Stripe's {code} amount {amount} (in 1/{10 ** stripe_digits(code)} of a {code}) is not a whole "
            f"number of units of the gateway's {code} ({minor_digits(code)} decimals)"
        )
    return amount // step


def stripe_amounts(invoice: InvoiceToCollect) -> dict[str | None, int]:
    """Each item's amount (by key; None: the amount due) in Stripe's scale, or a
    ProviderError (not retryable) naming what Stripe cannot represent."""
    amounts: dict[str | None, int] = {}
    try:
        for item in invoice.items:
            amounts[item.key] = to_stripe_amount(item.amount, invoice.currency)
        amounts[None] = to_stripe_amount(invoice.amount_due, invoice.currency)
    except ValueError as exc:
        raise ProviderError(
            f"gateway invoice {invoice.number} ({invoice.invoice_id}) cannot be collected in Stripe: {exc}. "
            "Nothing was created in Stripe; collect this invoice another way.",
            retryable=False,
        ) from None
    return amounts


def gateway_amount(amount: Any, currency: str | None) -> int | None:
    if not isinstance(amount, int) or not currency:
        return None
    try:
        return from_stripe_amount(amount, currency)
    except ValueError:
        return None


def shown(amount: Any, currency: str) -> str:
    """A Stripe amount for a person: ``$749.00``, or the raw number when it has no money form."""
    gateway = gateway_amount(amount, currency)
    if gateway is None or not currency:
        return f"{amount} ({currency or 'no currency'}, Stripe's units)"
    return Money(gateway, currency).formatted
