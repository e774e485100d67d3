"""Amounts in Stripe's scale (https://docs.stripe.com/currencies#special-cases): the
gateway counts in CLDR minor units, Stripe's API in 0 decimals for its zero-decimal
currencies, 3 for BHD, JOD, KWD, OMR and TND (last digit 0), and 2 for every other, so
currencies CLDR gives no minor unit (ALL, ISK, LAK, LBP, MMK, RSD, SOS, UGX, YER) go out
in hundredths of whole units. What Stripe cannot represent is refused before anything
is made in it."""

from __future__ import annotations

import pytest

from gateway.providers.stripe_amounts import from_stripe_amount, to_stripe_amount
from tests.builders.billing import create_plan, subscribe
from tests.builders.stripe_world import StripeWorld


@pytest.mark.parametrize(
    ("amount", "currency", "stripe_amount"),
    [
        (249_00, "USD", 249_00),
        (1_000, "JPY", 1_000),
        (-25_00, "eur", -25_00),
        (12_345, "HUF", 12_345),
        (1_000, "ISK", 100_000),
        (1, "isk", 100),
        (-50, "ISK", -5_000),
        (37_000, "UGX", 3_700_000),
        (1_230, "KWD", 1_230),
        (-20, "BHD", -20),
        (10, "JOD", 10),
        (0, "OMR", 0),
        (5_550, "TND", 5_550),
        # CLDR 0 decimals, Stripe 2: a whole lek is 100 for Stripe (a review found these charged 100x too
        # little).
        (500, "ALL", 50_000),
        (12_000, "LAK", 1_200_000),
        (90_000, "LBP", 9_000_000),
        (2_100, "MMK", 210_000),
        (1_170, "RSD", 117_000),
        (5_700, "SOS", 570_000),
        (2_500, "YER", 250_000),
        (-3, "all", -300),
        # Zero-decimal in both.
        (1, "JPY", 1),
        (500, "KRW", 500),
        (10_000, "CLP", 10_000),
        (250, "XOF", 250),
        (1_230, "LYD", 123),  # CLDR 3, Stripe 2: tenths of a cent shifted down, when whole
    ],
)
def test_amounts_go_out_in_stripes_scale_and_come_back_unchanged(
    amount: int, currency: str, stripe_amount: int
) -> None:
    assert to_stripe_amount(amount, currency) == stripe_amount
    assert from_stripe_amount(stripe_amount, currency) == amount


@pytest.mark.parametrize(
    ("amount", "currency"), [(1_234, "KWD"), (-5, "BHD"), (1, "JOD"), (9_999, "OMR"), (5_551, "TND")]
)
def test_three_decimal_amounts_stripe_cannot_take_are_refused_by_name(amount: int, currency: str) -> None:
    with pytest.raises(ValueError, match=rf"Stripe takes {currency} amounts only in steps of 0\.010"):
        to_stripe_amount(amount, currency)


@pytest.mark.parametrize("currency", ["ISK", "UGX", "ALL", "LAK", "LBP", "MMK", "RSD", "SOS", "YER"])
@pytest.mark.parametrize("amount", [1, 150, -99])
def test_an_amount_from_stripe_in_fractions_of_a_unit_the_gateway_lacks_has_no_gateway_form(
    amount: int, currency: str
) -> None:
    with pytest.raises(ValueError, match="not a whole number of units"):
        from_stripe_amount(amount, currency)


def test_an_amount_finer_than_stripes_scale_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"Stripe counts LYD in 2 decimals; LYD1\.231 has more"):
        to_stripe_amount(1_231, "LYD")


async def test_an_isk_invoice_is_charged_in_stripes_hundredths_and_recorded_in_kronur(
    world: StripeWorld,
) -> None:
    tenant, customer_id = await world.card_holder("Reykjavik", currency="ISK")
    plan = await create_plan(world.api, "team_isk", 14_900, currency="ISK")
    invoice = (await subscribe(world.api, tenant, plan))["latestInvoice"]
    assert (invoice["currency"], invoice["amountDue"]["amount"]) == ("ISK", 14_900)

    await world.run_tasks()

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["currency"], charged["total"], charged["status"]) == ("isk", 1_490_000, "paid")
    local = await world.invoice(invoice["id"])
    assert (local["status"], local["total"]["amount"]) == ("PAID", 14_900)
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert task.status == "DONE"


async def test_an_albanian_lek_invoice_is_charged_in_hundredths_and_recorded_in_leke(
    world: StripeWorld,
) -> None:
    tenant, customer_id = await world.card_holder("Tirana", currency="ALL")
    plan = await create_plan(world.api, "team_all", 2_500, currency="ALL")  # 2,500 leke
    invoice = (await subscribe(world.api, tenant, plan))["latestInvoice"]

    await world.run_tasks()

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["currency"], charged["total"], charged["status"]) == ("all", 250_000, "paid")
    local = await world.wait_for_status(invoice["id"], "PAID")
    assert local["total"]["amount"] == 2_500


async def test_a_kwd_amount_stripe_cannot_take_fails_for_good_before_anything_is_made(
    world: StripeWorld,
) -> None:
    tenant, customer_id = await world.card_holder("Kuwait", currency="KWD")
    plan = await create_plan(world.api, "team_kwd", 29_995, currency="KWD")  # 29.995 KWD
    invoice = (await subscribe(world.api, tenant, plan))["latestInvoice"]

    await world.run_tasks()

    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert (task.status, task.attempts) == ("FAILED", 1)
    assert invoice["number"] in task.last_error and "29.995" in task.last_error
    assert "Stripe takes KWD amounts only in steps of 0.010" in task.last_error
    assert world.proxy.posts("/v1/invoices") == [] and world.proxy.posts("/v1/invoiceitems") == []
    assert await world.stripe_invoices(customer_id) == []
    assert (await world.invoice(invoice["id"]))["status"] == "OPEN"
