"""Managing webhook endpoints: who may register which, what a URL and an event list
must be (a tenant's key may not point the gateway at loopback or private addresses),
secrets shown once, and the delivery log paged newest first."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from models.kernel.enums import EventType
from models.platform import events
from models.platform.deps import Deps
from models.webhooks import deliveries
from models.webhooks.rules import EVENT_TYPES
from tests.builders.api import Api, new_key, new_tenant
from tests.builders.webhook_endpoints import DELIVERIES, create_endpoint, new_endpoint

HOOK = "https://hooks.example.com/billing"
LIST = """query($id: ID) { webhookEndpoints(tenantId: $id) { id url events tenantId description enabled } }"""


def code(result: dict[str, Any]) -> str:
    return result.get("code") or result["__typename"]


async def as_tenant(api: Api, tenant_id: str, role: str = "TENANT") -> Api:
    return api.as_key((await new_key(api, role, tenant_id))["secret"])


async def test_an_endpoint_comes_with_a_standard_webhooks_secret_shown_once(api: Api) -> None:
    tenant = await new_tenant(api, "Acme")
    created = await create_endpoint(
        api, HOOK, ["seats.changed", "invoice.paid", "seats.changed"], tenant, description="ERP sync"
    )
    assert created["__typename"] == "NewWebhookEndpoint"
    endpoint, secret = created["endpoint"], created["secret"]
    assert {k: endpoint[k] for k in ("url", "events", "tenantId", "description", "enabled", "createdAt")} == {
        "url": HOOK,
        "events": ["seats.changed", "invoice.paid"],
        "tenantId": tenant,
        "description": "ERP sync",
        "enabled": True,
        "createdAt": "2026-01-15T12:00:00+00:00",
    }
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    listed = (await api(LIST, {"id": tenant}))["webhookEndpoints"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert secret not in json.dumps(listed)
    again = await create_endpoint(api, HOOK, ["seats.changed"], tenant)
    assert again["secret"] != secret  # each endpoint signs with its own


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "hooks.example.com/billing",
        "/relative/path",
        "https://",
        "https://user:pw@hooks.example.com/",
        "http://hooks.example.com:99999/",
        "",
    ],
)
async def test_a_url_must_be_absolute_http_or_https(api: Api, url: str) -> None:
    result = await create_endpoint(api, url, ["seats.changed"])
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.url"), result


async def test_event_types_must_be_known_and_at_least_one(api: Api) -> None:
    result = await create_endpoint(api, HOOK, ["seats.changed", "seat.changed"])
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.events")
    assert "'seat.changed' is not an event type" in result["message"]
    assert all(t in result["message"] for t in EVENT_TYPES)
    result = await create_endpoint(api, HOOK, [])
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.events")
    assert "at least one" in result["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/billing",
        "https://127.0.0.1/hooks",
        "https://127.1/hooks",
        "https://2130706433/",
        "https://0x7f.0.0.1/",
        "https://10.1.2.3/",
        "https://192.168.1.10/",
        "https://172.16.0.5/",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[fd00::1]/",
        "https://localhost/",
        "https://admin.localhost:8443/",
        "https://localhost./",
        "https://224.0.0.1/",
    ],
)
async def test_a_tenants_key_may_not_point_the_gateway_at_private_addresses(api: Api, url: str) -> None:
    tenant = await new_tenant(api, "Acme")
    mine = await as_tenant(api, tenant)
    result = await create_endpoint(mine, url, ["seats.changed"], tenant)
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.url"), result


async def test_who_may_register_an_endpoint(api: Api) -> None:
    acme, globex = await new_tenant(api, "Acme"), await new_tenant(api, "Globex")
    acme_key, acme_partner = await as_tenant(api, acme), await as_tenant(api, acme, "PARTNER")

    assert (
        code(await create_endpoint(acme_key, "https://8.8.8.8/hooks", ["seats.changed"], acme))
        == "NewWebhookEndpoint"
    )
    assert code(await create_endpoint(acme_key, HOOK, ["seats.changed"], globex)) == "NOT_FOUND"
    assert code(await create_endpoint(acme_key, HOOK, ["seats.changed"], None)) == "FORBIDDEN"
    assert code(await create_endpoint(acme_partner, HOOK, ["seats.changed"], acme)) == "NOT_FOUND"
    assert code(await create_endpoint(acme_partner, HOOK, ["seats.changed"], None)) == "FORBIDDEN"
    assert code(await create_endpoint(api, HOOK, ["seats.changed"], "ten_missing")) == "NOT_FOUND"
    # The operator's own tools may live on loopback, over plain http.
    assert (
        code(await create_endpoint(api, "http://127.0.0.1:9000/hooks", ["seats.changed"], None))
        == "NewWebhookEndpoint"
    )
    assert (
        code(await create_endpoint(api, "http://127.0.0.1:9000/hooks", ["seats.changed"], acme))
        == "NewWebhookEndpoint"
    )


async def test_each_key_sees_and_changes_only_its_tenants_endpoints(api: Api, deps: Deps) -> None:
    acme, globex = await new_tenant(api, "Acme"), await new_tenant(api, "Globex")
    acme_hook, _ = await new_endpoint(api, HOOK, ["seats.changed"], acme)
    globex_hook, _ = await new_endpoint(api, HOOK, ["seats.changed"], globex)
    all_hook, _ = await new_endpoint(api, HOOK, ["seats.changed"], None)
    acme_key = await as_tenant(api, acme)

    assert [e["id"] for e in (await api(LIST, {"id": None}))["webhookEndpoints"]] == [
        acme_hook,
        globex_hook,
        all_hook,
    ]
    assert [e["id"] for e in (await api(LIST, {"id": globex}))["webhookEndpoints"]] == [globex_hook]
    assert [e["id"] for e in (await acme_key(LIST, {"id": None}))["webhookEndpoints"]] == [acme_hook]
    body = await acme_key.raw(LIST, {"id": globex})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    update = """mutation($id: ID!, $input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id,
                  input: $input) { __typename ... on WebhookEndpoint { url events description enabled }
                  ... on ValidationError { field } ... on Error { code } } }"""
    delete = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename ... on Error { code } } }"
    for other in (globex_hook, all_hook):
        updated = await acme_key(update, {"id": other, "input": {"enabled": False}})
        assert code(updated["updateWebhookEndpoint"]) == "NOT_FOUND"
        assert code((await acme_key(delete, {"id": other}))["deleteWebhookEndpoint"]) == "NOT_FOUND"
        body = await acme_key.raw(DELIVERIES, {"id": other})
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    changed = await acme_key(
        update,
        {
            "id": acme_hook,
            "input": {"url": "https://erp.example.com/in", "events": ["invoice.paid"], "description": "ERP"},
        },
    )
    assert changed["updateWebhookEndpoint"] == {
        "__typename": "WebhookEndpoint",
        "url": "https://erp.example.com/in",
        "events": ["invoice.paid"],
        "description": "ERP",
        "enabled": True,
    }
    refused = await acme_key(update, {"id": acme_hook, "input": {"url": "https://10.0.0.1/"}})
    assert refused["updateWebhookEndpoint"] == {
        "__typename": "ValidationError",
        "field": "input.url",
        "code": "VALIDATION_FAILED",
    }
    refused = await acme_key(update, {"id": acme_hook, "input": {"events": ["nope"]}})
    assert refused["updateWebhookEndpoint"] == {
        "__typename": "ValidationError",
        "field": "input.events",
        "code": "VALIDATION_FAILED",
    }

    # Another tenant's deliveries cannot be sent again either.
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        events.record_event(session, deps.bus, EventType.SEATS_CHANGED, globex, {"tenantId": globex}, now)
    await deliveries.dispatch_events(deps)
    edges = (await api(DELIVERIES, {"id": globex_hook}))["webhookDeliveries"]["edges"]
    (delivery,) = [e["node"]["id"] for e in edges]
    redeliver = """mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename
                     ... on ValidationError { field } ... on Error { code } } }"""
    assert code((await acme_key(redeliver, {"id": delivery}))["redeliverWebhook"]) == "NOT_FOUND"
    assert code((await acme_key(redeliver, {"id": "msg_missing"}))["redeliverWebhook"]) == "NOT_FOUND"
    await api(update, {"id": globex_hook, "input": {"enabled": False}})
    assert (await api(redeliver, {"id": delivery}))["redeliverWebhook"] == {
        "__typename": "ValidationError",
        "field": "deliveryId",
        "code": "VALIDATION_FAILED",
    }


async def test_the_delivery_log_pages_newest_first(api: Api, deps: Deps) -> None:
    tenant = await new_tenant(api, "Acme")
    hook, _ = await new_endpoint(api, HOOK, ["usage.recorded"], tenant)
    now = deps.clock.now()
    emitted = []
    async with deps.store.transaction() as session:
        for n in range(3):
            emitted.append(
                events.record_event(session, deps.bus, EventType.USAGE_RECORDED, tenant, {"n": n}, now).id
            )
    assert await deliveries.dispatch_events(deps) == 3

    page = (await api(DELIVERIES, {"id": hook, "first": 2}))["webhookDeliveries"]
    assert [e["node"]["eventId"] for e in page["edges"]] == [emitted[2], emitted[1]]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await api(DELIVERIES, {"id": hook, "first": 2, "after": page["pageInfo"]["endCursor"]})
    assert [e["node"]["eventId"] for e in rest["webhookDeliveries"]["edges"]] == [emitted[0]]
    assert rest["webhookDeliveries"]["pageInfo"]["hasNextPage"] is False
    node = page["edges"][0]["node"]
    assert (node["status"], node["attempts"], node["attemptLog"], node["nextAttemptAt"]) == (
        "PENDING",
        0,
        [],
        now.isoformat(),
    )
    by_status = """query($id: ID!, $s: WebhookDeliveryStatus) {
                     webhookDeliveries(endpointId: $id, status: $s) { edges { node { id } } } }"""
    assert len((await api(by_status, {"id": hook, "s": "PENDING"}))["webhookDeliveries"]["edges"]) == 3
    assert (await api(by_status, {"id": hook, "s": "SUCCEEDED"}))["webhookDeliveries"]["edges"] == []
