"""A failed payment does not lock a team out at once: a PAST_DUE subscription's
entitlements hold for the grace (GATEWAY_PAST_DUE_GRACE_DAYS), then stop; paying what
was owed brings them back."""

from __future__ import annotations

from datetime import timedelta

import httpx

from models.kernel.clock import FixedClock
from models.platform.deps import Deps
from tests.builders.api import START, Api
from tests.builders.entitlements import entitlement, feature, grant
from tests.builders.stripe_webhooks import deliver, invoice_event, state, subscribed_tenant


async def test_a_past_due_tenant_keeps_its_features_within_the_grace_and_loses_them_after(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, invoice = await subscribed_tenant(api, deps)
    plan = (await api("query($s: ID!) { subscription(id: $s) { plan { id } } }", {"s": subscription}))[
        "subscription"
    ]["plan"]["id"]
    await feature(api, "sso", "BOOLEAN")
    await grant(api, "sso", plan=plan)
    t0 = int(START.timestamp())

    failed = invoice_event("invoice.payment_failed", "evt_fail", invoice_id=invoice, created=t0 + 60)
    assert (await deliver(client, failed)).status_code == 200
    assert await state(api, invoice, subscription) == ("OPEN", "PAST_DUE")
    assert (await entitlement(api, tenant, "sso"))["enabled"] is True

    clock = deps.clock
    assert isinstance(clock, FixedClock)
    clock.set(START + deps.policy.past_due_grace - timedelta(minutes=1))
    assert (await entitlement(api, tenant, "sso"))["enabled"] is True
    clock.set(START + deps.policy.past_due_grace + timedelta(minutes=1))
    past_grace = await entitlement(api, tenant, "sso")
    assert (past_grace["enabled"], past_grace["reason"]) == (False, "SUBSCRIPTION_INACTIVE")

    paid = invoice_event("invoice.payment_succeeded", "evt_paid", invoice_id=invoice, status="paid")
    assert (await deliver(client, paid)).status_code == 200
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    assert (await entitlement(api, tenant, "sso"))["enabled"] is True
