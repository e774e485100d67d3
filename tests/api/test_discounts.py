"""Coupons and discounts through GraphQL, on both databases: a DISCOUNT line comes off
the lines a coupon covers before tax (a percentage rounded half-up once, an amount off
capped at what it covers), for one invoice, N periods or for ever; coupons that cannot
apply are refused with COUPON_NOT_APPLICABLE; a previewed change with a discount is
what the change invoices."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api
from tests.builders.billing import (
    INVOICE,
    advance,
    change_input,
    change_plan,
    create_plan,
    plan_with_seat_addon,
    preview_change,
    subscribe,
)
from tests.builders.clocks import new_clock, tenant_on

DISCOUNT = "discount { startedAt endsAt periodsLeft coupon { code timesRedeemed } }"


async def create_coupon(api: Api, code: str, **fields: Any) -> dict[str, Any]:
    spec = {"code": code, "name": code.title(), "duration": "FOREVER", **fields}
    return (
        await api(
            """mutation($input: CreateCouponInput!) { createCoupon(input: $input) { __typename
             ... on Coupon { id couponCode: code percentOff amountOff { amount currency } duration appliesTo }
             ... on Error { code message } } }""",
            {"input": spec},
        )
    )["createCoupon"]


async def coupon(api: Api, code: str, **fields: Any) -> str:
    created = await create_coupon(api, code, **fields)
    assert created["__typename"] == "Coupon", created
    return created["id"]


async def subscribe_with(
    api: Api, tenant: str, plan: str, addons: dict[str, int], code: str | None
) -> dict[str, Any]:
    spec = {
        "tenantId": tenant,
        "planId": plan,
        "addons": [{"addonId": a, "quantity": q} for a, q in addons.items()],
        "couponCode": code,
    }
    return (
        await api(
            f"""mutation($input: SubscribeInput!) {{ subscribe(input: $input) {{ __typename
             ... on Subscription {{ id {DISCOUNT} latestInvoice {{ {INVOICE} }} }}
             ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["subscribe"]


async def apply_coupon(api: Api, subscription: str, code: str) -> dict[str, Any]:
    return (
        await api(
            f"""mutation($s: ID!, $c: String!) {{ applyCoupon(subscriptionId: $s, couponCode: $c) {{
             __typename ... on Subscription {{ id {DISCOUNT} }} ... on Error {{ code message }} }} }}""",
            {"s": subscription, "c": code},
        )
    )["applyCoupon"]


async def set_tax(api: Api, tenant: str, rate: str) -> None:
    result = await api(
        """mutation($t: ID!, $r: Decimal!) { setTaxRate(tenantId: $t, taxRate: $r) { __typename } }""",
        {"t": tenant, "r": rate},
    )
    assert result["setTaxRate"]["__typename"] == "Tenant", result


async def history(api: Api, tenant: str) -> list[dict[str, Any]]:
    """The tenant's invoices, oldest first."""
    data = await api(
        f"""query($id: ID!) {{ tenant(id: $id) {{
             invoices(first: 50) {{ edges {{ node {{ {INVOICE} }} }} }} }} }}""",
        {"id": tenant},
    )
    return [edge["node"] for edge in reversed(data["tenant"]["invoices"]["edges"])]


def kinds(invoice: dict[str, Any]) -> list[tuple[str, int]]:
    return [(line["kind"], line["amount"]["amount"]) for line in invoice["lines"]]


async def team_pro(api: Api, currency: str = "USD") -> tuple[str, str, str, str]:
    """A clock at 2026-11-01, a tenant on it and Team Pro: $99 with FULL seats at $15."""
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock, currency=currency)
    plan, seat = await plan_with_seat_addon(api, "team_pro", 99_00, 15_00, name="Team Pro")
    return clock, tenant, plan, seat


async def test_twenty_percent_off_team_pro_is_199_20_before_tax(api: Api) -> None:
    _, tenant, plan, seat = await team_pro(api)
    await set_tax(api, tenant, "10")
    created = await create_coupon(api, "launch20", percentOff="20")
    assert (created["couponCode"], created["percentOff"], created["amountOff"]) == ("LAUNCH20", "20", None)
    sub = await subscribe_with(api, tenant, plan, {seat: 10}, "launch20")
    assert sub["__typename"] == "Subscription", sub
    invoice = sub["latestInvoice"]
    assert kinds(invoice) == [("BASE", 99_00), ("ADDON", 150_00), ("DISCOUNT", -49_80)]
    assert invoice["lines"][-1]["description"] == "Launch20 (20% off)"
    assert invoice["subtotal"]["amount"] == 199_20  # $249 less 20 %
    assert invoice["tax"]["amount"] == 19_92  # tax on the discounted subtotal
    assert invoice["total"]["formatted"] == "$219.12"
    assert sub["discount"]["coupon"] == {"code": "LAUNCH20", "timesRedeemed": 1}
    assert sub["discount"]["endsAt"] is None  # FOREVER


async def test_fifty_dollars_off_for_three_periods_then_full_price(api: Api) -> None:
    clock, tenant, plan, seat = await team_pro(api)
    await coupon(api, "fifty3", amountOff=50_00, currency="USD", duration="REPEATING", durationInPeriods=3)
    sub = await subscribe_with(api, tenant, plan, {seat: 10}, "FIFTY3")
    assert sub["discount"]["endsAt"] == "2027-02-01T00:00:00+00:00"
    await advance(api, clock, "2027-03-01T00:00:00Z")  # four renewals
    invoices = await history(api, tenant)
    assert [i["subtotal"]["amount"] for i in invoices] == [199_00, 199_00, 199_00, 249_00, 249_00]
    assert [i["periodStart"][:10] for i in invoices] == [
        "2026-11-01",
        "2026-12-01",
        "2027-01-01",
        "2027-02-01",
        "2027-03-01",
    ]
    assert all(kinds(i)[-1] == ("DISCOUNT", -50_00) for i in invoices[:3])
    assert all(kind != "DISCOUNT" for i in invoices[3:] for kind, _ in kinds(i))
    data = await api(f"""query($id: ID!) {{ subscription(id: $id) {{ {DISCOUNT} }} }}""", {"id": sub["id"]})
    assert data["subscription"]["discount"] is None  # its periods are spent


async def test_a_coupon_limited_to_the_seat_addon_takes_off_only_the_seats(api: Api) -> None:
    _, tenant, plan, seat = await team_pro(api)
    await coupon(api, "seats_half", percentOff="50", appliesTo=[seat])
    sub = await subscribe_with(api, tenant, plan, {seat: 10}, "seats_half")
    assert kinds(sub["latestInvoice"]) == [("BASE", 99_00), ("ADDON", 150_00), ("DISCOUNT", -75_00)]
    assert sub["latestInvoice"]["subtotal"]["amount"] == 174_00

    # A plan without that add-on has nothing it covers.
    other = await tenant_on(api, "Solo", await new_clock(api, "2026-11-01T00:00:00Z"))
    solo = await create_plan(api, "solo", 10_00)
    refused = await subscribe_with(api, other, solo, {}, "seats_half")
    assert refused["code"] == "COUPON_NOT_APPLICABLE" and "covers nothing" in refused["message"]


async def test_a_coupon_in_jpy_takes_yen_off_and_is_refused_in_dollars(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Tokyo KK", clock, timezone="Asia/Tokyo", currency="JPY")
    plan = await create_plan(api, "tokyo", 10_000, currency="JPY", name="Tokyo")
    await coupon(api, "yen1500", amountOff=1_500, currency="JPY")
    await coupon(api, "usd10", amountOff=10_00, currency="USD")
    refused = await subscribe_with(api, tenant, plan, {}, "usd10")
    assert refused["code"] == "COUPON_NOT_APPLICABLE" and "JPY" in refused["message"]
    sub = await subscribe_with(api, tenant, plan, {}, "yen1500")
    invoice = sub["latestInvoice"]
    assert kinds(invoice) == [("BASE", 10_000), ("DISCOUNT", -1_500)]
    assert invoice["lines"][-1]["description"] == "Yen1500 (¥1,500 off)"
    assert invoice["total"]["formatted"] == "¥8,500"


async def test_an_amount_off_never_takes_an_invoice_below_zero(api: Api) -> None:
    _, tenant, _, _ = await team_pro(api)
    cheap = await create_plan(api, "cheap", 20_00)
    await coupon(api, "big", amountOff=500_00, currency="USD", duration="ONCE")
    sub = await subscribe_with(api, tenant, cheap, {}, "big")
    assert kinds(sub["latestInvoice"]) == [("BASE", 20_00), ("DISCOUNT", -20_00)]
    assert sub["latestInvoice"]["total"]["amount"] == 0 and sub["latestInvoice"]["status"] == "PAID"
    assert sub["discount"] is None  # ONCE: spent on that invoice


async def test_an_expired_an_exhausted_and_an_archived_coupon_are_refused(api: Api) -> None:
    clock, tenant, plan, seat = await team_pro(api)
    # Expired on the tenant's clock (2026-11-01), though not on the process's.
    await coupon(api, "old", percentOff="10", redeemBy="2026-10-31T23:59:59Z")
    expired = await subscribe_with(api, tenant, plan, {seat: 1}, "old")
    assert expired["code"] == "COUPON_NOT_APPLICABLE" and "expired" in expired["message"]

    once = await coupon(api, "one_only", percentOff="10", maxRedemptions=1)
    assert (await subscribe_with(api, tenant, plan, {seat: 1}, "one_only"))["__typename"] == "Subscription"
    other = await tenant_on(api, "Second", clock)
    exhausted = await subscribe_with(api, other, plan, {seat: 1}, "one_only")
    assert exhausted["code"] == "COUPON_NOT_APPLICABLE" and "limit" in exhausted["message"]
    assert (await history(api, other)) == []  # nothing was subscribed or invoiced

    archived = await api(
        "mutation($id: ID!) { archiveCoupon(couponId: $id) { __typename ... on Coupon { archivedAt } } }",
        {"id": once},
    )
    assert archived["archiveCoupon"]["archivedAt"] is not None
    await coupon(api, "later", percentOff="5")
    await api(
        "mutation($id: ID!) { archiveCoupon(couponId: $id) { __typename } }",
        {"id": await coupon(api, "gone", percentOff="5")},
    )
    refused = await subscribe_with(api, other, plan, {seat: 1}, "gone")
    assert refused["code"] == "COUPON_NOT_APPLICABLE" and "archived" in refused["message"]
    unknown = await subscribe_with(api, other, plan, {seat: 1}, "nope")
    assert unknown["code"] == "COUPON_NOT_APPLICABLE"


async def test_a_coupon_takes_a_percent_or_an_amount_and_names_what_exists(api: Api) -> None:
    both = await create_coupon(api, "both", percentOff="10", amountOff=100, currency="USD")
    assert both["code"] == "VALIDATION_FAILED"
    repeating = await create_coupon(api, "rep", percentOff="10", duration="REPEATING")
    assert repeating["code"] == "VALIDATION_FAILED"
    nowhere = await create_coupon(api, "nowhere", percentOff="10", appliesTo=["plan_missing"])
    assert nowhere["code"] == "VALIDATION_FAILED"


async def test_apply_coupon_discounts_the_next_invoices_once_per_subscription(api: Api) -> None:
    clock, tenant, plan, seat = await team_pro(api)
    sub = await subscribe(api, tenant, plan, {seat: 10})
    await coupon(api, "tenoff", percentOff="10")
    await coupon(api, "other", percentOff="15")
    applied = await apply_coupon(api, sub["id"], "tenoff")
    assert applied["discount"]["coupon"]["code"] == "TENOFF"
    second = await apply_coupon(api, sub["id"], "other")
    assert second["code"] == "COUPON_NOT_APPLICABLE" and "removeDiscount" in second["message"]
    await advance(api, clock, "2026-12-01T00:00:00Z")
    renewal = (await history(api, tenant))[-1]
    assert kinds(renewal)[-1] == ("DISCOUNT", -24_90)
    removed = await api(
        f"""mutation($s: ID!) {{ removeDiscount(subscriptionId: $s) {{
             ... on Subscription {{ {DISCOUNT} }} }} }}""",
        {"s": sub["id"]},
    )
    assert removed["removeDiscount"]["discount"] is None
    await advance(api, clock, "2027-01-01T00:00:00Z")
    assert (await history(api, tenant))[-1]["subtotal"]["amount"] == 249_00


async def test_the_preview_of_a_discounted_change_is_its_invoice(api: Api) -> None:
    clock, tenant, plan, seat = await team_pro(api)
    await set_tax(api, tenant, "8.875")
    assert (await create_coupon(api, "third", percentOff="33.333"))["percentOff"] == "33.333"
    sub = await subscribe_with(api, tenant, plan, {seat: 10}, "third")
    await advance(api, clock, "2026-11-11T09:30:00Z")
    spec = change_input(sub["id"], plan, {seat: 17})
    preview = await preview_change(api, spec)
    changed = await change_plan(api, spec)
    charge, invoice = preview["immediateCharge"], changed["invoice"]
    assert [(li["kind"], li["amount"]["amount"]) for li in charge["lineItems"]] == kinds(invoice)
    assert kinds(invoice)[-1][0] == "DISCOUNT"
    summary = charge["summary"]
    assert (summary["subtotal"], summary["tax"], summary["totalAmount"]) == (
        invoice["subtotal"],
        invoice["tax"],
        {"amount": invoice["total"]["amount"]},
    )
    assert summary["amountDue"]["amount"] == invoice["amountDue"]["amount"]
    prorated = sum(amount for kind, amount in kinds(invoice) if kind != "DISCOUNT")
    assert kinds(invoice)[-1][1] == -round(prorated * 0.33333)
