"""What an operation may cost is checked before it runs: anonymous introspection, many
aliased schemas or pages, lists longer than any input, answers larger than a client holds."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from graphql import get_introspection_query, parse

from bench.workloads.dashboard import DASHBOARD, FLEET
from gateway.app import create_app
from gateway.limits import UNREAD_LIST_ITEMS, operation_cost
from gateway.schema import build_schema
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api, new_key, new_tenant

SCHEMAS_99 = (
    "{ " + " ".join(f"s{i}: __schema {{ types {{ name fields {{ name }} }} }}" for i in range(99)) + " }"
)
INVOICE_PAGES_99 = (
    "query($t: ID!) { "
    + " ".join(
        f"p{i}: tenant(id: $t) {{ invoices(first: 100) {{ edges {{ node {{ id number status "
        "total { amount currency } lines { kind description amount { amount } } } } } }"
        for i in range(99)
    )
    + " }"
)


@asynccontextmanager
async def gateway(settings: Settings, deps: Deps, **changes: object) -> AsyncIterator[httpx.AsyncClient]:
    """The test app with some settings changed."""
    app = create_app(settings.model_copy(update=changes), deps=deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g.test") as http:
        yield http


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_anonymous_introspection_amplification_is_refused_before_it_costs_anything(api: Api) -> None:
    anonymous = api.as_key(None)
    await anonymous.raw(SCHEMAS_99)  # warm the parser: the refusal is timed, not the import
    started = time.perf_counter()
    body = await anonymous.raw(SCHEMAS_99)
    elapsed = time.perf_counter() - started
    assert code(body) == "UNAUTHENTICATED" and body.get("data") is None
    assert elapsed < 0.1, f"the refusal took {elapsed * 1000:.0f} ms"


async def test_a_document_asks_for_the_schema_once_even_with_a_key(api: Api) -> None:
    body = await api.raw(SCHEMAS_99)
    assert code(body) == "GRAPHQL_VALIDATION_FAILED"
    assert "__schema once" in body["errors"][0]["message"]
    assert body.get("data") is None
    # GraphiQL's one introspection still answers.
    data = await api(get_introspection_query(descriptions=True))
    assert any(t["name"] == "Invoice" for t in data["__schema"]["types"])


async def test_anonymous_introspection_is_one_schema_when_the_setting_allows_it(
    settings: Settings, deps: Deps
) -> None:
    async with gateway(settings, deps, anonymous_introspection=True) as http:
        anonymous = Api(http, None)
        assert (await anonymous("{ __schema { queryType { name } } }"))["__schema"]["queryType"][
            "name"
        ] == "Query"
        assert code(await anonymous.raw(SCHEMAS_99)) == "GRAPHQL_VALIDATION_FAILED"
        assert code(await anonymous.raw("{ tenants { edges { cursor } } }")) == "UNAUTHENTICATED"


async def test_a_tenant_key_asking_for_99_pages_of_invoices_is_told_the_cost_and_the_limit(api: Api) -> None:
    tenant = await new_tenant(api, "Acme")
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])
    body = await own.raw(INVOICE_PAGES_99, {"t": tenant})
    assert code(body) == "QUERY_COST_EXCEEDED" and body.get("data") is None
    extensions = body["errors"][0]["extensions"]
    assert extensions["cost"] > extensions["maxCost"] == 1_000_000
    message = body["errors"][0]["message"]
    assert f"{extensions['cost']:,}" in message and "1,000,000" in message
    assert "GATEWAY_MAX_QUERY_COST" in message
    # One such page is an ordinary request.
    one_page = INVOICE_PAGES_99.split(" p1:")[0] + " }"
    assert (await own(one_page, {"t": tenant}))["p0"]["invoices"]["edges"] == []


async def test_the_cost_counts_the_page_a_variable_asks_for(settings: Settings, deps: Deps, api: Api) -> None:
    paged = """query($n: Int) { tenants(first: $n) { edges { node { id name
        invoices(first: $n) { edges { cursor } } } } } }"""
    async with gateway(settings, deps, max_query_cost=5_000) as http:
        limited = Api(http, api.key)
        assert (await limited(paged, {"n": 10}))["tenants"]["edges"] == []
        refused = await limited.raw(paged, {"n": 100})
        assert code(refused) == "QUERY_COST_EXCEEDED"
        assert refused["errors"][0]["extensions"]["maxCost"] == 5_000


async def test_a_list_twice_as_long_as_any_input_takes_is_refused_unread_naming_it(api: Api) -> None:
    tenant = await new_tenant(api, "Acme")
    event = {"tenantId": tenant, "meterName": "calls", "value": 1, "idempotencyKey": "k"}
    body = await api.raw(
        "mutation($events: [RecordUsageInput!]!) { recordUsageBatch(events: $events) { __typename } }",
        {"events": [event] * (UNREAD_LIST_ITEMS + 1)},
    )
    assert code(body) == "VALIDATION_FAILED"
    assert body["errors"][0]["extensions"]["field"] == "$events"
    assert "at most 10,000 fit in one call" in body["errors"][0]["message"]


async def test_an_answer_larger_than_the_response_cap_is_one_error_saying_so(
    settings: Settings, deps: Deps, api: Api
) -> None:
    async with gateway(settings, deps, max_response_bytes=64 * 1024) as http:
        response = await http.post(
            "/graphql",
            json={"query": get_introspection_query(descriptions=True)},
            headers={"Authorization": f"Bearer {api.key}"},
        )
    assert len(response.content) < 1024
    body = response.json()
    assert body["data"] is None and code(body) == "RESPONSE_TOO_LARGE"
    assert body["errors"][0]["extensions"]["maxSize"] == 64 * 1024
    assert "GATEWAY_MAX_RESPONSE_BYTES" in body["errors"][0]["message"]


def test_the_dashboard_and_a_page_of_100_tenants_dashboards_fit_the_default_cost() -> None:
    schema = build_schema(Settings())._schema
    limit = Settings().max_query_cost
    dashboard = operation_cost(schema, parse(DASHBOARD), None, {"id": "ten_x"})
    fleet = operation_cost(schema, parse(FLEET), None, {"first": 100})
    assert dashboard < fleet < limit
    assert operation_cost(schema, parse(INVOICE_PAGES_99), None, {"t": "ten_x"}) > limit


async def test_the_response_cap_counts_bytes_so_non_ascii_text_is_not_let_through_at_triple_size(
    settings: Settings, deps: Deps, api: Api
) -> None:
    name = "請求" * 40  # 80 characters, 240 bytes in UTF-8
    for _ in range(12):
        await new_tenant(api, name)
    query = "{ tenants(first: 12) { edges { node { name } } } }"
    async with gateway(settings, deps, max_response_bytes=2 * 1024) as http:
        answer = await http.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {api.key}"}
        )
    # 12 names: about 1,100 characters but 3,000 bytes
    assert code(answer.json()) == "RESPONSE_TOO_LARGE"
    assert answer.json()["errors"][0]["extensions"]["size"] > 2 * 1024
