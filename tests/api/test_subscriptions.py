"""Subscribing: the period starts on the tenant's clock, the first invoice carries
a base line and a line per add-on, and retries with an idempotency key are safe."""

from __future__ import annotations

from sqlalchemy import select

from models.platform.deps import Deps
from models.tables import InvoiceRow
from tests.builders.api import Api, new_key, new_tenant
from tests.builders.billing import attach, create_addon, create_plan, invite, plan_with_seat_addon, subscribe
from tests.builders.clocks import new_clock, tenant_on


async def test_first_invoice_starts_on_the_tenants_clock_with_a_line_per_item(api: Api) -> None:
    clock = await new_clock(api, "2026-01-31T15:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock, timezone="Asia/Tokyo")
    plan, seat = await plan_with_seat_addon(api, "team_pro", 99_00, 15_00, includedSeats=5, name="Team Pro")
    storage = await create_addon(api, "storage", 5_00, name="Extra storage 100 GB")
    await attach(api, plan, storage)

    subscription = await subscribe(api, tenant, plan, {seat: 10, storage: 2})

    assert subscription["status"] == "ACTIVE"
    # 2026-02-01 00:00 in Tokyo; a month later is 2026-03-01 00:00 there.
    assert subscription["currentPeriodStart"] == "2026-01-31T15:00:00+00:00"
    assert subscription["currentPeriodEnd"] == "2026-02-28T15:00:00+00:00"
    assert subscription["addons"] == [
        {"addon": {"id": seat, "code": "team_pro_seat"}, "quantity": 10},
        {"addon": {"id": storage, "code": "storage"}, "quantity": 2},
    ]
    invoice = subscription["latestInvoice"]
    assert (invoice["number"], invoice["status"], invoice["currency"]) == ("ACME-0001", "OPEN", "USD")
    assert [
        (li["kind"], li["description"], li["quantity"], li["unitAmount"]["amount"], li["amount"]["amount"])
        for li in invoice["lines"]
    ] == [
        ("BASE", "Team Pro (5 seats included)", 1, 99_00, 99_00),
        ("ADDON", "team_pro seat", 10, 15_00, 150_00),
        ("ADDON", "Extra storage 100 GB", 2, 5_00, 10_00),
    ]
    assert (
        invoice["subtotal"]["amount"]
        == invoice["total"]["amount"]
        == invoice["amountDue"]["amount"]
        == 259_00
    )
    assert (invoice["periodStart"], invoice["periodEnd"]) == (
        subscription["currentPeriodStart"],
        subscription["currentPeriodEnd"],
    )
    # Storage gives no seats: 5 included + 10 bought.
    assert subscription["seats"]["total"] == 15


async def test_a_jpy_plan_is_billed_in_whole_yen(api: Api) -> None:
    clock = await new_clock(api, "2026-04-01T00:00:00Z")
    tenant = await tenant_on(api, "Sakura Design", clock, timezone="Asia/Tokyo", currency="JPY")
    plan = await create_plan(api, "team_jp", 9_800, currency="JPY", includedSeats=3)
    seat = await create_addon(api, "seat_jp", 1_200, currency="JPY", seatType="FULL")
    await attach(api, plan, seat)
    invoice = (await subscribe(api, tenant, plan, {seat: 2}))["latestInvoice"]
    assert invoice["total"] == {"amount": 12_200, "currency": "JPY", "formatted": "¥12,200"}
    assert invoice["number"] == "SAKURA-0001"


async def test_an_idempotency_key_replays_the_first_result(api: Api, deps: Deps) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00, includedSeats=5)
    tenant = await new_tenant(api)
    first = await subscribe(api, tenant, plan, {seat: 1}, key="checkout-42")
    again = await subscribe(api, tenant, plan, {seat: 1}, key="checkout-42")
    assert again == first

    changed = await subscribe(api, tenant, plan, {seat: 2}, key="checkout-42")
    assert changed["code"] == "IDEMPOTENCY_CONFLICT", changed
    no_key = await subscribe(api, tenant, plan, {seat: 1})
    assert no_key["code"] == "ALREADY_SUBSCRIBED" and "changePlan" in no_key["message"]

    # One subscription, one invoice: nothing was charged twice.
    log = await api(
        "query($id: ID!) { auditLog(tenantId: $id) { edges { node { action } } } }", {"id": tenant}
    )
    assert [e["node"]["action"] for e in log["auditLog"]["edges"]] == ["subscription.created"]
    async with deps.store.read() as session:
        invoices = (
            await session.scalars(select(InvoiceRow.number).where(InvoiceRow.tenant_id == tenant))
        ).all()
    assert invoices == [first["latestInvoice"]["number"]]


async def test_the_tenants_currency_must_match_the_plan(api: Api) -> None:
    clock = await new_clock(api, "2026-04-01T00:00:00Z")
    tenant = await tenant_on(api, "Euro team", clock, currency="EUR")
    plan = await create_plan(api, "team", 99_00)
    result = await subscribe(api, tenant, plan)
    assert result["code"] == "CURRENCY_MISMATCH" and "EUR" in result["message"], result


async def test_bad_subscribe_input_names_the_field(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00)
    tenant = await new_tenant(api)
    query = """mutation($input: SubscribeInput!) { subscribe(input: $input) { __typename
                 ... on ValidationError { code field message } ... on Error { code message } } }"""

    twice = {
        "tenantId": tenant,
        "planId": plan,
        "addons": [{"addonId": seat, "quantity": 1}, {"addonId": seat, "quantity": 2}],
    }
    result = (await api(query, {"input": twice}))["subscribe"]
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.addons[1].addonId"), result

    negative = {"tenantId": tenant, "planId": plan, "addons": [{"addonId": seat, "quantity": -1}]}
    result = (await api(query, {"input": negative}))["subscribe"]
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.addons[0].quantity"), result

    unknown = {"tenantId": tenant, "planId": "plan_nope"}
    assert (await api(query, {"input": unknown}))["subscribe"]["code"] == "NOT_FOUND"
    # Nothing was half-written: the tenant has no subscription and no audit entry.
    state = await api(
        "query($id: ID!) { tenant(id: $id) { subscription { id } } auditLog(tenantId: $id) "
        "{ edges { node { id } } } }",
        {"id": tenant},
    )
    assert state == {"tenant": {"subscription": None}, "auditLog": {"edges": []}}


async def test_an_amount_too_large_for_the_api_is_refused_up_front(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "big", 0, 1_000_000_000_000_000)
    result = await subscribe(api, await new_tenant(api), plan, {seat: 10})  # $100 trillion
    assert result["code"] == "VALIDATION_FAILED" and "9,007,199,254,740,991" in result["message"], result


async def test_a_tenant_key_subscribes_its_own_tenant_and_reads_the_subscription(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00, includedSeats=5)
    tenant = await new_tenant(api)
    key = await new_key(api, "TENANT", tenant)
    own = api.as_key(key["secret"])
    subscription = await subscribe(own, tenant, plan, {seat: 2})
    read = await own(
        "query($id: ID!) { subscription(id: $id) { id tenantId seats { total } } }",
        {"id": subscription["id"]},
    )
    assert read["subscription"] == {"id": subscription["id"], "tenantId": tenant, "seats": {"total": 7}}
    log = await api(
        "query($id: ID!) { auditLog(tenantId: $id) { edges { node { actor } } } }", {"id": tenant}
    )
    assert [e["node"]["actor"] for e in log["auditLog"]["edges"]] == [key["apiKey"]["id"]]
    # A partner key of the same tenant ingests usage; it may not buy anything.
    partner = api.as_key((await new_key(api, "PARTNER", tenant))["secret"])
    assert (await invite(partner, tenant, "ann@example.com"))["code"] == "NOT_FOUND"


async def test_more_seats_than_the_api_can_count_are_refused_before_anything_is_written(api: Api) -> None:
    plan = await create_plan(api, "guests", 0)
    pack = await create_addon(api, "guest_pack", 0, seatType="GUEST", seatsPerUnit=10_000)
    await attach(api, plan, pack)
    tenant = await new_tenant(api)
    result = await subscribe(api, tenant, plan, {pack: 1_000_000})
    assert result["code"] == "VALIDATION_FAILED" and "seats" in result["message"], result
    state = await api(
        "query($id: ID!) { tenant(id: $id) { subscription { id } seats { total } } }", {"id": tenant}
    )
    assert state["tenant"] == {"subscription": None, "seats": {"total": 0}}


async def test_a_clock_at_the_end_of_time_is_a_clear_error(api: Api) -> None:
    clock = await new_clock(api, "9999-12-20T00:00:00Z")
    tenant = await tenant_on(api, "Late", clock)
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    result = await subscribe(api, tenant, plan)
    assert result["code"] == "VALIDATION_FAILED" and "year 10000" in result["message"], result


async def test_invoice_numbers_never_collide_across_tenants_of_one_name(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    numbers = [
        (await subscribe(api, await new_tenant(api, "Team"), plan))["latestInvoice"]["number"]
        for _ in range(3)
    ]
    assert numbers == ["TEAM-0001", "TEAM2-0001", "TEAM3-0001"]
