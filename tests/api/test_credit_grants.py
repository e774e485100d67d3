"""Credit grants through GraphQL on a test clock: a grant pays the next invoice; the
soonest-expiring credit is used first and credit that never expires last; what is left
of a grant at its expiry leaves the balance with its own entry, once; and the ledger
explains the balance entry by entry."""

from __future__ import annotations

from datetime import timedelta

from models.kernel.clock import FixedClock
from models.platform.deps import Deps
from models.subscriptions.timeline import advance_tenant
from tests.builders.api import START, Api, new_key, new_tenant
from tests.builders.billing import advance, change_input, change_plan, create_plan, credit_balance, invoices
from tests.builders.billing import subscribe as subscribe_to
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.credits import credit_grants, grant, grant_credits, ledger, moves


async def _subscribed(api: Api, clock: str, price: int = 100_00) -> tuple[str, str]:
    tenant = await tenant_on(api, "Kumo Labs", clock)
    plan = await create_plan(api, f"team_{price}", price)
    return tenant, plan


async def test_a_grant_pays_the_next_invoice(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant, plan = await _subscribed(api, clock)
    assert (await subscribe_to(api, tenant, plan))["__typename"] == "Subscription"
    made = await grant_credits(api, tenant, 30_00, "2026-06-01T00:00:00Z", "Sorry for the outage")
    assert made["__typename"] == "CreditGrant", made
    assert (made["amount"], made["remaining"], made["currency"]) == (
        {"amount": 30_00},
        {"amount": 30_00},
        "USD",
    )
    assert (made["expiresAt"], made["createdAt"]) == (
        "2026-06-01T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
    )
    assert await credit_balance(api, tenant) == 30_00

    await advance(api, clock, "2026-04-01T00:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert (renewal["creditsApplied"]["amount"], renewal["amountDue"]["amount"]) == (30_00, 70_00)
    assert await credit_balance(api, tenant) == 0
    assert (await credit_grants(api, tenant))["Sorry for the outage"]["remaining"] == {"amount": 0}


async def test_two_grants_the_soonest_expiring_is_used_first(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant, plan = await _subscribed(api, clock, 60_00)
    await grant(api, tenant, 50_00, "2026-09-01T00:00:00Z", "later")
    await grant(api, tenant, 50_00, None, "never")
    await grant(api, tenant, 50_00, "2026-04-20T00:00:00Z", "sooner")
    assert (await subscribe_to(api, tenant, plan))["__typename"] == "Subscription"  # 60.00 to pay

    grants = await credit_grants(api, tenant)
    assert {name: g["remaining"]["amount"] for name, g in grants.items()} == {
        "sooner": 0,
        "later": 40_00,
        "never": 50_00,
    }
    uses = [m for m in moves(await ledger(api, tenant)) if m[0] == "APPLIED"]
    assert uses == [("APPLIED", -50_00, "sooner"), ("APPLIED", -10_00, "later")]


async def test_credit_that_never_expires_is_used_after_every_expiring_grant(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant = await tenant_on(api, "Kumo Labs", clock)
    big, small = await create_plan(api, "big", 100_00), await create_plan(api, "small", 40_00)
    subscription = (await subscribe_to(api, tenant, big))["id"]
    # A downgrade at once credits the difference for the whole period: never expires.
    changed = await change_plan(api, change_input(subscription, small, mode="DIFFERENCE_IMMEDIATELY"))
    assert changed["__typename"] == "PlanChange", changed
    downgrade_credit = await credit_balance(api, tenant)
    assert downgrade_credit > 0
    await grant(api, tenant, 10_00, "2026-05-01T00:00:00Z", "expiring")

    await advance(api, clock, "2026-04-01T00:00:00Z")  # the renewal: 40.00
    uses = [m for m in moves(await ledger(api, tenant)) if m[0] == "APPLIED"]
    assert uses == [("APPLIED", -10_00, "expiring"), ("APPLIED", -min(30_00, downgrade_credit), None)]


async def test_an_expiry_leaves_with_its_own_entry_at_expires_at_and_only_what_was_left(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant, plan = await _subscribed(api, clock, 50_00)
    await grant(api, tenant, 80_00, "2026-03-20T12:00:00Z", "launch credit")
    assert (await subscribe_to(api, tenant, plan))["__typename"] == "Subscription"  # uses 50.00
    bystander = await tenant_on(api, "No Subscription", clock)  # expiries need no subscription
    await grant(api, bystander, 5_00, "2026-03-10T00:00:00Z", "trial credit")

    await advance(api, clock, "2026-03-20T11:59:59Z")
    assert await credit_balance(api, tenant) == 30_00
    await advance(api, clock, "2026-03-25T00:00:00Z")
    assert await credit_balance(api, tenant) == 0
    expiries = [e for e in await ledger(api, tenant) if e["reason"] == "EXPIRED"]
    assert [(e["amount"]["amount"], e["at"], e["grant"]["description"]) for e in expiries] == [
        (-30_00, "2026-03-20T12:00:00+00:00", "launch credit")
    ]
    expired = (await credit_grants(api, tenant))["launch credit"]
    assert (expired["remaining"]["amount"], expired["expiredAt"]) == (0, "2026-03-20T12:00:00+00:00")
    assert moves(await ledger(api, bystander)) == [
        ("GRANT", 5_00, "trial credit"),
        ("EXPIRED", -5_00, "trial credit"),
    ]

    await advance(api, clock, "2026-04-25T00:00:00Z")  # a grant cannot expire twice
    assert len([e for e in await ledger(api, tenant) if e["reason"] == "EXPIRED"]) == 1
    assert len(await ledger(api, bystander)) == 2


async def test_the_ledger_explains_the_balance(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant, plan = await _subscribed(api, clock, 30_00)
    await grant(api, tenant, 20_00, "2026-04-15T00:00:00Z", "spring")
    await grant(api, tenant, 25_00, None, "forever")
    assert (await subscribe_to(api, tenant, plan))["__typename"] == "Subscription"
    await advance(api, clock, "2026-05-01T00:00:00Z")  # a renewal on 04-01 and 05-01

    entries = await ledger(api, tenant, page=2)  # walked two at a time
    balance = 0
    for entry in entries:
        balance += entry["amount"]["amount"]
        assert entry["balanceAfter"]["amount"] == balance >= 0, entries
    assert balance == await credit_balance(api, tenant) == 0
    assert moves(entries) == [
        ("GRANT", 20_00, "spring"),
        ("GRANT", 25_00, "forever"),
        ("APPLIED", -20_00, "spring"),
        ("APPLIED", -10_00, "forever"),
        ("APPLIED", -15_00, "forever"),
    ]
    numbers = [e["invoice"]["number"] if e["invoice"] else None for e in entries]
    assert numbers[:2] == [None, None] and numbers[2] == numbers[3] != numbers[4]


async def test_granting_is_for_admins_in_the_tenants_currency_and_a_past_expiry_is_refused(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant = await tenant_on(api, "Sakura", clock, currency="JPY")
    made = await grant_credits(api, tenant, 1_000)
    assert (made["currency"], made["expiresAt"]) == ("JPY", None)
    past = await grant_credits(api, tenant, 1_000, "2026-02-28T00:00:00Z")
    assert (past["__typename"], past["field"]) == ("ValidationError", "input.expiresAt")
    assert (await grant_credits(api, tenant, 0))["__typename"] == "ValidationError"
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])
    assert (await grant_credits(own, tenant, 1_000))["code"] == "FORBIDDEN"
    assert await credit_balance(api, tenant) == 1_000


async def test_a_grant_made_after_a_missed_renewal_does_not_pay_that_renewal(api: Api, deps: Deps) -> None:
    """The renewal fell due on the process clock and no worker has run yet: granting
    makes the renewal first, as the worker would have made it, without the grant; the
    grant pays the renewal after."""
    tenant = await new_tenant(api, "Late Worker")
    plan = await create_plan(api, "team_late", 100_00)
    assert (await subscribe_to(api, tenant, plan))["__typename"] == "Subscription"
    assert isinstance(deps.clock, FixedClock)
    deps.clock.set(START + timedelta(days=40))  # past the renewal; the worker is late

    made = await grant_credits(api, tenant, 30_00, None, "Goodwill")
    assert made["__typename"] == "CreditGrant", made
    renewal, first = await invoices(api, tenant)
    assert renewal["periodStart"] == first["periodEnd"]
    assert (renewal["creditsApplied"]["amount"], renewal["amountDue"]["amount"]) == (0, 100_00)
    assert (await credit_grants(api, tenant))["Goodwill"]["remaining"]["amount"] == 30_00
    assert await credit_balance(api, tenant) == 30_00

    deps.clock.set(START + timedelta(days=70))
    await advance_tenant(deps, tenant)  # the worker's next pass
    later = (await invoices(api, tenant))[0]
    assert (later["creditsApplied"]["amount"], later["amountDue"]["amount"]) == (30_00, 70_00)
