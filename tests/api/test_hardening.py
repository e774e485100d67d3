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
from tests.conftest import Api


def abusive_requests(key: str) -> list[tuple[str, dict]]:
    """(what, httpx request kwargs) for each hostile payload. Several reach PostgreSQL
    with values SQLite would swallow: both must answer the same typed error."""
    auth = {"Authorization": f"Bearer {key}"}
    json_headers = {**auth, "Content-Type": "application/json"}
    nested = "query { __schema { types { " + "fields { type { " * 30 + "name" + " } }" * 30 + " } } }"
    return [
        ("malformed JSON", {"content": b'{"query": "{ tenants ', "headers": json_headers}),
        ("invalid UTF-8", {"content": b'{"query": "\xff\xfe\xfd"}', "headers": json_headers}),
        ("JSON that is not an object", {"content": b"[1, 2, 3]", "headers": json_headers}),
        ("no query", {"json": {"variables": {}}, "headers": auth}),
        (
            "wrong variable types",
            {"json": {"query": "query($n: Int) { tenants(first: $n) { edges { cursor } } }", "variables": {"n": "ten"}}, "headers": auth},
        ),
        (
            "variables that are not an object",
            {"json": {"query": "{ __typename }", "variables": "nope"}, "headers": auth},
        ),
        ("2 MB query", {"json": {"query": "{ " + "__typename " * 200_000 + "}"}, "headers": auth}),
        (
            "5,000 aliases",
            {"json": {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(5000)) + " }"}, "headers": auth},
        ),
        ("deep nesting", {"json": {"query": nested}, "headers": auth}),
        ("syntax error", {"json": {"query": "{ tenants { "}, "headers": auth}),
        ("unknown field", {"json": {"query": "{ nope }"}, "headers": auth}),
        ("a mutation over GET", {"params": {"query": "mutation { revokeApiKey(id: \"x\") { __typename } }"}, "headers": auth}),
        ("9 MB body", {"content": b"{" + b" " * 9_000_000 + b"}", "headers": json_headers}),
        (
            "NUL in a variable",
            {"json": {"query": "query($id: ID!) { tenant(id: $id) { id } }", "variables": {"id": "ten_\x00"}}, "headers": auth},
        ),
        ("NUL in a literal", {"json": {"query": '{ tenant(id: "ten_\\u0000") { id } }'}, "headers": auth}),
        (
            "NUL in a cursor",
            {"json": {"query": "query($a: String) { tenants(after: $a) { edges { cursor } } }",
                      "variables": {"a": base64.urlsafe_b64encode(b"id:\x00").decode()}}, "headers": auth},
        ),
        (
            "NUL in an input",
            {"json": {"query": "mutation($i: CreateTenantInput!) { createTenant(input: $i) { __typename } }",
                      "variables": {"i": {"name": "A\x00B", "email": "a@b.example", "currency": "USD"}}}, "headers": auth},
        ),
        (
            "overlong test clock name",
            {"json": {"query": 'mutation { createTestClock(frozenTime: "2026-01-01T00:00:00Z", name: "%s") { ... on Error { code } } }' % ("n" * 500)}, "headers": auth},
        ),
        ("a JSON number as the body", {"content": b"5", "headers": json_headers}),
        ("JSON null as the body", {"content": b"null", "headers": json_headers}),
        ("a JSON string as the body", {"content": b'"x"', "headers": json_headers}),
        ("a 5,000-digit number", {"content": b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5000 + b"}}", "headers": json_headers}),
        ("JSON nested 5,000 deep", {"content": b'{"query": "{ __typename }", "variables": {"n": ' + b"[" * 5000 + b"]" * 5000 + b"}}", "headers": json_headers}),
        ("GET with variables that are not an object", {"params": {"query": "{ __typename }", "variables": "5"}, "headers": auth}),
        ("GET with variables that are not JSON", {"params": {"query": "{ __typename }", "variables": "{nope"}, "headers": auth}),
        (
            "a lone surrogate",
            {"content": b'{"query": "query($id: ID!) { tenant(id: $id) { id } }", "variables": {"id": "\\ud800"}}', "headers": json_headers},
        ),
        (
            "a time past year 9999 in UTC",
            {"json": {"query": 'mutation { createTestClock(frozenTime: "9999-12-31T23:00:00-05:00") { ... on Error { code } } }'}, "headers": auth},
        ),
        ("a 5,000-digit Int literal", {"json": {"query": "{ tenants(first: %s) { edges { cursor } } }" % ("9" * 5000)}, "headers": auth}),
        (
            "overlong id",
            {"json": {"query": "query($id: ID!) { tenant(id: $id) { id } }", "variables": {"id": "t" * 10_000}}, "headers": auth},
        ),
    ]


CASES = [what for what, _ in abusive_requests("")]


def assert_refused_cleanly(what: str, response: httpx.Response) -> None:
    """A 4xx, or a 200 carrying a GraphQL error or a typed error, never an internal one."""
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    if response.status_code == 200:
        body = response.json()
        errors = body.get("errors") or []
        codes = [e.get("extensions", {}).get("code") for e in errors]
        assert None not in codes, (what, body)  # every GraphQL error carries a code
        codes += [v["code"] for v in (body.get("data") or {}).values() if isinstance(v, dict) and "code" in v]
        assert codes, (what, body)
        assert "INTERNAL_SERVER_ERROR" not in codes, (what, body)


@pytest.mark.parametrize("what", CASES)
async def test_hostile_requests_are_refused_cleanly(
    client: httpx.AsyncClient, admin_key: str, what: str
) -> None:
    request = dict(abusive_requests(admin_key))[what]
    method = "GET" if "params" in request else "POST"
    assert_refused_cleanly(what, await client.request(method, "/graphql", **request))
    assert (await client.get("/healthz")).json() == {"status": "ok", "database": "up"}
    ok = await client.post("/graphql", json={"query": "{ tenants { edges { cursor } } }"}, headers={"Authorization": f"Bearer {admin_key}"})
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
    data = await api.as_key(None)(get_introspection_query(descriptions=True))
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
        "mutation($i: BillingInfoInput!) { updateBillingInfo(tenantId: \"t\", input: $i) { __typename } }",
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
    assert response.json()["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    assert "boom" not in response.text
    logged = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert any(e["logger"] == "gateway.http" and "boom" in e.get("exc", "") and e["request_id"] == "req-42" for e in logged)
