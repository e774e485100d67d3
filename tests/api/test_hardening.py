"""Hostile or broken requests get a 4xx or a GraphQL error, never a 500, and the
gateway stays healthy; unexpected failures are masked and logged with a request id."""

from __future__ import annotations

import base64
import io
import json
import uuid

import httpx
import pytest
from graphql import get_introspection_query
from sqlalchemy import text

from gateway.app import create_app
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api
from tests.builders.hostile import abusive_requests, assert_refused_cleanly

CASES = [what for what, _ in abusive_requests("")]


@pytest.mark.parametrize("what", CASES)
async def test_hostile_requests_are_refused_cleanly(
    client: httpx.AsyncClient, admin_key: str, what: str
) -> None:
    request = dict(abusive_requests(admin_key))[what]
    method = "GET" if "params" in request else "POST"
    assert_refused_cleanly(what, await client.request(method, "/graphql", **request))
    assert (await client.get("/healthz")).json() == {"status": "ok", "database": "up"}
    ok = await client.post(
        "/graphql",
        json={"query": "{ tenants { edges { cursor } } }"},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert ok.json() == {"data": {"tenants": {"edges": []}}}


async def test_the_limits_say_which_limit_every_time(api: Api) -> None:
    many = "{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }"
    deep = "query { __schema { types { " + "fields { type { " * 10 + "name" + " } }" * 10 + " } } }"
    huge = "{ " + "__typename " * 20_001 + "}"
    for _ in range(2):  # the second time comes from the parse/validation cache
        assert "aliases" in (await api.raw(many))["errors"][0]["message"].lower()
        assert "depth" in (await api.raw(deep))["errors"][0]["message"].lower()
        assert "tokens" in (await api.raw(huge))["errors"][0]["message"].lower()
        assert "Syntax Error" in (await api.raw("{ tenants { "))["errors"][0]["message"]


async def test_graphiql_introspection_fits_the_limits(api: Api) -> None:
    data = await api(get_introspection_query(descriptions=True))
    assert any(t["name"] == "Tenant" for t in data["__schema"]["types"])


async def test_graphiql_is_served_to_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/graphql"


async def outage(api: Api, deps: Deps, table: str, request_id: str) -> httpx.Response:
    """Lose one table, as an outage or a botched deploy would, then ask for tenants."""
    async with deps.store.transaction() as session:
        await session.execute(text(f"ALTER TABLE {table} RENAME TO {table}_gone"))
    return await api.http.post(
        "/graphql",
        json={"query": "{ tenants { edges { cursor } } }"},
        headers={"Authorization": f"Bearer {api.key}", "X-Request-ID": request_id},
    )


async def test_a_key_store_outage_is_a_503_with_the_request_id(
    api: Api, deps: Deps, log_output: io.StringIO
) -> None:
    response = await outage(api, deps, "api_keys", "req-outage-1")
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "req-outage-1"
    assert "req-outage-1" in response.text and "api_keys" not in response.text
    logged = [json.loads(line) for line in log_output.getvalue().splitlines()]
    failure = next(e for e in logged if e["logger"] == "gateway.app")
    assert failure["request_id"] == "req-outage-1"
    assert "api_keys" in failure["exc"]


async def test_a_failing_resolver_is_masked(api: Api, deps: Deps, log_output: io.StringIO) -> None:
    response = await outage(api, deps, "tenants", "req-abc-123")
    assert response.status_code == 200
    body = response.json()
    error = body["errors"][0]
    assert error["message"] == "Unexpected error. Quote request id req-abc-123 when reporting it."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-abc-123"}
    assert "tenants" not in json.dumps(error["extensions"]) and "SELECT" not in response.text
    logged = [json.loads(line) for line in log_output.getvalue().splitlines()]
    failure = next(e for e in logged if e["logger"] == "gateway.graphql")
    assert failure["request_id"] == "req-abc-123"
    assert "tenants" in failure["exc"]  # the real cause is in the log, not the response


async def test_healthz_reports_a_database_that_does_not_answer(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/missing-dir/gateway.db"
    app = create_app(Settings(database_url=url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


async def test_unstorable_text_is_refused_the_same_on_every_database(api: Api) -> None:
    """PostgreSQL text cannot hold U+0000, no driver encodes a lone surrogate: the
    edge refuses both, naming where they were."""
    variable = await api.raw("query($id: ID!) { tenant(id: $id) { id } }", {"id": "ten_\x00"})
    assert variable["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "$id"}
    nested = await api.raw(
        'mutation($i: BillingInfoInput!) { updateBillingInfo(tenantId: "t", input: $i) { __typename } }',
        {"i": {"address": {"line1": "a\x00", "city": "c", "country": "US"}}},
    )
    assert nested["errors"][0]["extensions"]["field"] == "$i.address.line1"
    literal = await api.raw('{ tenant(id: "ten_\\u0000") { id } }')
    assert literal["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "id"}
    surrogate = await api.http.post(
        "/graphql",
        content=b'{"query": "query($id: ID!) { tenant(id: $id) { id } }", "variables": {"id": "\\ud800"}}',
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )
    assert surrogate.json()["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "$id"}
    cursor = await api.raw(
        "query($a: String) { tenants(after: $a) { edges { cursor } } }",
        {"a": base64.urlsafe_b64encode(b"id:\x00").decode()},
    )
    assert cursor["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "after"}


async def test_errors_before_execution_carry_codes_and_their_own_locations(api: Api) -> None:
    syntax = await api.raw("{ tenants { ")
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    # Equal documents from different texts: each answer points into its own text.
    first = await api.raw("{\n  nope }")
    second = await api.raw("{   nope }")
    assert first["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert first["errors"][0]["locations"] == [{"line": 2, "column": 3}]
    assert second["errors"][0]["locations"] == [{"line": 1, "column": 5}]


async def test_anonymous_documents_are_never_cached(api: Api) -> None:
    from gateway import extensions

    before = extensions._parse.cache_info().currsize
    for i in range(20):
        await api.as_key(None).raw("{ __typename x%d: __typename }" % i)
    assert extensions._parse.cache_info().currsize == before
    await api.raw("{ __typename cached_%s: __typename }" % uuid.uuid4().hex)
    assert extensions._parse.cache_info().currsize == min(before + 1, extensions.CACHE_ENTRIES)


async def test_an_exception_escaping_the_app_still_answers_with_the_request_id(
    log_output: io.StringIO,
) -> None:
    from gateway.middleware import RequestContextMiddleware

    async def broken(scope, receive, send):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    app = RequestContextMiddleware(broken, max_body_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/x", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": "req-42",
    }
    assert "boom" not in response.text
    logged = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert any(
        e["logger"] == "gateway.http" and "boom" in e.get("exc", "") and e["request_id"] == "req-42"
        for e in logged
    )
