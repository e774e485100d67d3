"""Outbound webhooks cannot be turned against the gateway's own network: an endpoint's
host is resolved (through the resolver the test controls) at registration and at every
delivery, a tenant's may only ever reach public addresses, the call goes to the very
address checked, and what the delivery log shows a tenant says nothing of the network
behind the gateway."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.webhooks.outbound import run_deliveries
from models.kernel.enums import EventType
from models.kernel.errors import ValidationFailed
from models.platform import events
from models.platform.access import operator
from models.platform.deps import Deps, WebhookPolicy
from models.webhooks import rules
from models.webhooks import service as webhooks
from models.webhooks.inputs import WebhookEndpointCreate
from tests.builders.api import Api, new_key, new_tenant
from tests.builders.dns import FakeDns
from tests.builders.receivers import Receiver, closed_port, raw_server, receiving
from tests.builders.webhook_endpoints import DELIVERIES, create_endpoint, new_endpoint

HOST = "hooks.partner.example"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


async def tenant_and_key(api: Api, name: str = "Acme") -> tuple[str, Api]:
    tenant = await new_tenant(api, name)
    return tenant, api.as_key((await new_key(api, "TENANT", tenant))["secret"])


async def emit(deps: Deps, tenant: str) -> None:
    async with deps.store.transaction() as session:
        events.record_event(session, deps.bus, EventType.USAGE_RECORDED, tenant, {"n": 1}, deps.clock.now())


async def attempts(api: Api, endpoint: str) -> list[dict[str, Any]]:
    """The attempts of the endpoint's only delivery, as ``api``'s key reads them."""
    (edge,) = (await api(DELIVERIES, {"id": endpoint}))["webhookDeliveries"]["edges"]
    return edge["node"]["attemptLog"]


async def test_a_tenants_key_may_not_register_a_host_name_that_resolves_to_a_private_address(
    api: Api, dns: FakeDns
) -> None:
    tenant, mine = await tenant_and_key(api)
    dns.names.update(
        {
            "loopback.partner.example": ["127.0.0.1"],
            "metadata.partner.example": ["169.254.169.254"],
            "mixed.partner.example": ["8.8.8.8", "10.0.0.7"],  # one private answer is enough
            "nat64.partner.example": ["64:ff9b::7f00:1"],
            "mapped.partner.example": ["::ffff:192.168.0.1"],
            "nowhere.partner.example": [],  # does not resolve: told alike
        }
    )
    messages = set()
    for name in list(dns.names):
        refused = await create_endpoint(mine, f"https://{name}/in", ["usage.recorded"], tenant)
        assert (refused["code"], refused["field"]) == ("VALIDATION_FAILED", "input.url"), (name, refused)
        messages.add(refused["message"].replace(name, "HOST"))
    assert messages == {"input.url: 'HOST' does not resolve to a public address; use a public host name"}

    dns.names["public.partner.example"] = ["8.8.8.8", "2606:4700:4700::1111"]
    created = await create_endpoint(mine, "https://public.partner.example/in", ["usage.recorded"], tenant)
    assert created["__typename"] == "NewWebhookEndpoint"
    # The operator's own tools may live on loopback (GATEWAY_WEBHOOKS_ALLOW_PRIVATE, set for the tests).
    created = await create_endpoint(api, "http://loopback.partner.example/in", ["usage.recorded"], tenant)
    assert created["__typename"] == "NewWebhookEndpoint"


async def test_an_admin_may_register_a_private_address_only_where_the_operator_allows_it(
    deps: Deps, dns: FakeDns
) -> None:
    dns.names["erp.corp.internal"] = ["10.1.2.3"]
    closed = dataclasses.replace(deps, policy=dataclasses.replace(deps.policy, webhooks=WebhookPolicy()))
    for url in ("http://erp.corp.internal/hooks", "http://127.0.0.1:9000/hooks"):
        spec = WebhookEndpointCreate.parse({"url": url, "events": ["usage.recorded"]})
        with pytest.raises(ValidationFailed) as refused:
            await webhooks.create_endpoint(closed, operator(), spec)
        assert refused.value.field == "input.url"
        assert "GATEWAY_WEBHOOKS_ALLOW_PRIVATE=true" in refused.value.reason
        row, _ = await webhooks.create_endpoint(deps, operator(), spec)
        assert row.allow_private is True
    spec = WebhookEndpointCreate.parse({"url": f"https://{HOST}/in", "events": ["usage.recorded"]})
    assert (await webhooks.create_endpoint(deps, operator(), spec))[0].allow_private is False


async def test_a_name_that_resolves_to_loopback_after_registration_is_not_delivered_to(
    api: Api, deps: Deps, dns: FakeDns, receiver: Receiver
) -> None:
    tenant, mine = await tenant_and_key(api)
    # Public at registration (the fake's default address)...
    tenants, _ = await new_endpoint(mine, receiver.url("/tenant", HOST, "https"), ["usage.recorded"], tenant)
    # ...as is an ADMIN's: registered public, it may never be delivered to a private address.
    admins, _ = await new_endpoint(api, receiver.url("/admin", HOST), ["usage.recorded"], tenant)
    dns.names[HOST] = ["127.0.0.1"]  # ...then the partner's DNS points at the gateway's loopback
    await emit(deps, tenant)

    assert await run_deliveries(deps) == 3  # the event, and two attempts
    assert receiver.requests == []
    for endpoint in (tenants, admins):
        (attempt,) = await attempts(api, endpoint)
        assert (attempt["statusCode"], attempt["error"]) == (None, rules.REFUSED_ADDRESS)
        assert (
            attempt["error"]
            == "address not allowed: the host does not resolve to an address the gateway may call"
        )
    assert dns.lookups.count(HOST) == 4  # each registration, each delivery


async def test_a_private_endpoint_is_called_at_the_address_checked_with_its_host_name(
    api: Api, deps: Deps, dns: FakeDns, receiver: Receiver
) -> None:
    tenant = await new_tenant(api, "Acme")
    dns.names["partner.internal"] = ["127.0.0.1"]  # a name only the fake knows
    endpoint, secret = await new_endpoint(
        api, receiver.url("/hooks", "partner.internal"), ["usage.recorded"], tenant
    )
    await emit(deps, tenant)

    assert await run_deliveries(deps) == 2
    (request,) = receiver.requests
    assert request.headers["host"] == f"partner.internal:{receiver.port}"
    assert request.verified(secret)["data"] == {"n": 1}
    assert request.headers["connection"] == "close"  # no pooled connection is reused for another name
    assert dns.lookups == ["partner.internal", "partner.internal"]  # registration, delivery
    assert (await attempts(api, endpoint))[0]["statusCode"] == 200

    # The operator no longer allows private addresses: the endpoint is not called there.
    closed = dataclasses.replace(deps, policy=dataclasses.replace(deps.policy, webhooks=WebhookPolicy()))
    await emit(deps, tenant)
    assert await run_deliveries(closed) == 2
    assert len(receiver.requests) == 1
    edges = (await api(DELIVERIES, {"id": endpoint}))["webhookDeliveries"]["edges"]
    assert edges[0]["node"]["attemptLog"][0]["error"] == rules.REFUSED_ADDRESS


async def test_tls_is_negotiated_for_the_host_name_at_the_address_checked(
    api: Api, deps: Deps, dns: FakeDns
) -> None:
    tenant = await new_tenant(api, "Acme")
    dns.names["secure.partner.internal"] = ["127.0.0.1"]
    async with raw_server("garbage") as server:
        url = server.url("/hooks", "secure.partner.internal", "https")
        endpoint, _ = await new_endpoint(api, url, ["usage.recorded"], tenant)
        await emit(deps, tenant)
        await run_deliveries(deps)
    (hello,) = server.first_bytes
    assert hello[:1] == b"\x16"  # a TLS handshake record: the ClientHello...
    assert b"secure.partner.internal" in hello  # ...naming the host (SNI), sent to 127.0.0.1
    (attempt,) = await attempts(api, endpoint)
    assert attempt["error"] == rules.TLS_FAILED


async def test_a_tenants_key_sees_no_response_body_and_an_admins_does(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    tenant, mine = await tenant_and_key(api)
    endpoint, _ = await new_endpoint(api, receiver.url("/down"), ["usage.recorded"], tenant)
    receiver.answers["/down"] = [503]
    await emit(deps, tenant)
    await run_deliveries(deps)

    (as_admin,) = await attempts(api, endpoint)
    (as_tenant,) = await attempts(mine, endpoint)
    assert (as_admin["statusCode"], as_admin["responseBody"]) == (503, "receiver is down")
    assert (as_tenant["statusCode"], as_tenant["responseBody"]) == (503, None)


async def test_error_texts_do_not_tell_a_closed_port_from_an_unreachable_host_or_a_reset(
    api: Api, deps: Deps
) -> None:
    async def no_route(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 113] No route to host", request=request)

    tenant = await new_tenant(api, "Acme")
    sock, port = closed_port()
    async with raw_server("reset") as reset:
        urls = [f"http://127.0.0.1:{port}/hooks", "http://10.255.255.1:8080/hooks", reset.url()]
        endpoints = [(await new_endpoint(api, url, ["usage.recorded"], tenant))[0] for url in urls]
        await emit(deps, tenant)
        # The unreachable host: what the operating system says of one, where no test can reach one.
        async with httpx.AsyncClient(mounts={"all://10.255.255.1": httpx.MockTransport(no_route)}) as http:
            assert await run_deliveries(deps, http=http) == 4
    sock.close()

    errors = [(await attempts(api, endpoint))[0]["error"] for endpoint in endpoints]
    assert errors == [rules.CONNECTION_FAILED] * 3
    assert rules.CONNECTION_FAILED == "Connection failed: refused, unreachable or reset"
