"""One tenant's webhook endpoints cannot starve another tenant's: deliveries are claimed
tenants in turn, each tenant has a share of the slots, new events go out while older
deliveries are in flight, a tenant has a limited number of endpoints, and an endpoint
that keeps timing out is paused (its circuit)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from gateway.settings import Settings
from gateway.webhooks.outbound import PER_TENANT, run_deliveries
from gateway.workers import start_workers, stop_workers
from models.kernel.enums import EventType
from models.platform import events
from models.platform.deps import Deps
from models.tables import WebhookEndpointRow
from models.webhooks import deliveries
from models.webhooks.rules import CIRCUIT_THRESHOLD, timed_out
from tests.builders.api import Api, new_key, new_tenant
from tests.builders.receivers import Receiver, raw_server, receiving
from tests.builders.webhook_endpoints import DELIVERIES, create_endpoint, new_endpoint

LIMIT = 21  # endpoints per tenant, this module's setting (the default is 20)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """The test app's settings, with a limit of endpoints other than the default, so the
    tests see the setting reach the domain."""
    return Settings(database_url=db_url, webhooks_allow_private=True, max_webhook_endpoints_per_tenant=LIMIT)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


async def emit(deps: Deps, tenant: str, count: int = 1) -> None:
    async with deps.store.transaction() as session:
        for n in range(count):
            events.record_event(
                session, deps.bus, EventType.USAGE_RECORDED, tenant, {"n": n}, deps.clock.now()
            )


async def within(seconds: float, done: object) -> float:
    """How long until ``done()`` held, polling; ``seconds`` if it never did."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if done():  # type: ignore[operator]
            return time.monotonic() - started
        await asyncio.sleep(0.01)
    return seconds


async def test_twenty_never_answering_endpoints_of_one_tenant_delay_another_by_under_two_seconds(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    slow, quick = await new_tenant(api, "Slow"), await new_tenant(api, "Quick")
    async with raw_server("silent") as silent:
        for n in range(20):
            await new_endpoint(api, silent.url(f"/a{n}"), ["usage.recorded"], slow)
        await new_endpoint(api, receiver.url("/quick"), ["usage.recorded"], quick)
        assert deps.bus is not None
        workers = start_workers(deps, deps.bus, 0)  # as `serve` runs them
        try:
            await emit(deps, slow)  # 20 deliveries that never get an answer (10 s each)
            assert await within(5, lambda: silent.connections >= PER_TENANT) < 5
            await asyncio.sleep(0.2)  # the slow tenant's deliveries are in flight

            await emit(deps, quick)
            waited = await within(15, lambda: receiver.at("/quick"))
        finally:
            await stop_workers(workers)
    assert waited < 2, f"the quick tenant's delivery took {waited:.1f} s"
    assert silent.connections == PER_TENANT  # the slow tenant's share, not every slot


async def test_a_claim_takes_tenants_in_turn_and_each_tenant_only_its_share(api: Api, deps: Deps) -> None:
    busy, calm = await new_tenant(api, "Busy"), await new_tenant(api, "Calm")
    await new_endpoint(api, "https://hooks.busy.example/in", ["usage.recorded"], busy)
    await new_endpoint(api, "https://hooks.calm.example/in", ["usage.recorded"], calm)
    await emit(deps, busy, 12)  # due first...
    deps.clock.set(deps.clock.now() + timedelta(seconds=1))
    await emit(deps, calm)  # ...and one of another tenant's after them
    await deliveries.dispatch_events(deps)

    def owners(claimed: list[deliveries.DueDelivery]) -> list[str]:
        return sorted(item.owner for item in claimed)

    assert owners(await deliveries.claim_due_deliveries(deps, 2, per_tenant=5)) == sorted([busy, calm])
    # The busy tenant has one in flight: 4 more of its 11 due, of its 5.
    assert owners(await deliveries.claim_due_deliveries(deps, 50, per_tenant=5, busy={busy: 1})) == [busy] * 4
    # Its share in flight: none of its 7 due.
    assert await deliveries.claim_due_deliveries(deps, 50, per_tenant=5, busy={busy: 5}) == []
    assert owners(await deliveries.claim_due_deliveries(deps, 50, per_tenant=5)) == [busy] * 5


async def test_a_tenant_may_have_at_most_max_webhook_endpoints_per_tenant(api: Api) -> None:
    acme, globex = await new_tenant(api, "Acme"), await new_tenant(api, "Globex")
    for n in range(LIMIT):
        await new_endpoint(api, f"https://hooks.acme.example/{n}", ["usage.recorded"], acme)
    acme_key = api.as_key((await new_key(api, "TENANT", acme))["secret"])
    for caller in (api, acme_key):
        refused = await create_endpoint(caller, "https://hooks.acme.example/more", ["usage.recorded"], acme)
        assert (refused["code"], refused["field"]) == ("VALIDATION_FAILED", "input.tenantId"), refused
        assert f"the most it may have is {LIMIT}" in refused["message"]
    # Another tenant's, and the operator's all-tenant endpoints, are not counted.
    await new_endpoint(api, "https://hooks.globex.example/in", ["usage.recorded"], globex)
    await new_endpoint(api, "https://hooks.operator.example/in", ["usage.recorded"], None)
    # A deleted one makes room.
    (first,) = [e["id"] for e in (await api("{ webhookEndpoints { id tenantId } }"))["webhookEndpoints"]][:1]
    await api("mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }", {"id": first})
    await new_endpoint(api, "https://hooks.acme.example/more", ["usage.recorded"], acme)


async def test_an_endpoint_that_times_out_five_times_in_a_row_is_paused_and_an_answer_closes_it(
    api: Api, deps: Deps
) -> None:
    tenant = await new_tenant(api, "Sleepy")
    async with raw_server("silent") as silent, httpx.AsyncClient(timeout=0.2) as http:
        endpoint, _ = await new_endpoint(api, silent.url(), ["usage.recorded"], tenant)
        await emit(deps, tenant, CIRCUIT_THRESHOLD + 1)
        assert await run_deliveries(deps, http=http) == CIRCUIT_THRESHOLD + 1 + CIRCUIT_THRESHOLD
        # Five timeouts in a row: the sixth delivery is due, but waits a minute.
        assert await run_deliveries(deps, http=http) == 0
        assert await endpoint_circuit(deps, endpoint) == (5, deps.clock.now() + timedelta(minutes=1))

        deps.clock.set(deps.clock.now() + timedelta(minutes=1))
        assert await run_deliveries(deps, http=http) == CIRCUIT_THRESHOLD  # tried again: timed out again
        assert await endpoint_circuit(deps, endpoint) == (10, deps.clock.now() + timedelta(minutes=2))
    edges = (await api(DELIVERIES, {"id": endpoint}))["webhookDeliveries"]["edges"]
    errors = {a["error"] for e in edges for a in e["node"]["attemptLog"]}
    assert errors == {timed_out(0.2)} == {"no answer within 0.2 s"}

    # An answer, whatever its status, closes the circuit.
    deps.clock.set(deps.clock.now() + timedelta(minutes=2))
    (item, *_) = await deliveries.claim_due_deliveries(deps, 1)
    await deliveries.record_attempt(deps, item.delivery, 500, None, 5)
    assert await endpoint_circuit(deps, endpoint) == (0, None)


async def endpoint_circuit(deps: Deps, endpoint_id: str) -> tuple[int, object]:
    async with deps.store.read() as session:
        row = await session.get(WebhookEndpointRow, endpoint_id)
        assert row is not None
        return row.consecutive_timeouts, row.paused_until
