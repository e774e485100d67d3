"""Amounts in Stripe's scale (https://docs.stripe.com/currencies#special-cases): the
gateway counts in CLDR minor units, where ISK and UGX have none; Stripe's API counts
them in hundredths of whole units, and takes three-decimal currencies only with a last
digit of 0. What Stripe cannot represent is refused before anything is made in it."""

from __future__ import annotations

import pytest

from gateway.providers.stripe import from_stripe_amount, to_stripe_amount
from tests.api.billing import create_plan, subscribe
from tests.providers.conftest import StripeWorld


@pytest.mark.parametrize(("amount", "currency", "stripe_amount"), [
    (249_00, "USD", 249_00), (1_000, "JPY", 1_000), (-25_00, "eur", -25_00), (12_345, "HUF", 12_345),
    (1_000, "ISK", 100_000), (1, "isk", 100), (-50, "ISK", -5_000), (37_000, "UGX", 3_700_000),
    (1_230, "KWD", 1_230), (-20, "BHD", -20), (10, "JOD", 10), (0, "OMR", 0), (5_550, "TND", 5_550),
])
def test_amounts_go_out_in_stripes_scale_and_come_back_unchanged(amount: int, currency: str, stripe_amount: int) -> None:
    assert to_stripe_amount(amount, currency) == stripe_amount
    assert from_stripe_amount(stripe_amount, currency) == amount


@pytest.mark.parametrize(("amount", "currency"), [(1_234, "KWD"), (-5, "BHD"), (1, "JOD"), (9_999, "OMR"),
                                                  (5_551, "TND")])
def test_three_decimal_amounts_stripe_cannot_take_are_refused_by_name(amount: int, currency: str) -> None:
    with pytest.raises(ValueError, match=rf"Stripe takes {currency} amounts only in steps of 0\.010"):
        to_stripe_amount(amount, currency)


@pytest.mark.parametrize("amount", [1, 150, -99])
def test_isk_from_stripe_in_fractions_of_a_krona_has_no_gateway_form(amount: int) -> None:
    with pytest.raises(ValueError, match="not a whole number of units"):
        from_stripe_amount(amount, "ISK")


async def test_an_isk_invoice_is_charged_in_stripes_hundredths_and_recorded_in_kronur(world: StripeWorld) -> None:
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


async def test_a_kwd_amount_stripe_cannot_take_fails_for_good_before_anything_is_made(world: StripeWorld) -> None:
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
