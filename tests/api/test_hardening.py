"""Hostile or broken requests get a 4xx or a GraphQL error, never a 500, and the
gateway stays healthy; unexpected failures are masked and logged with a request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from graphql import get_introspection_query
from sqlalchemy import text

from gateway.app import create_app
from gateway.logging import configure_logging
from gateway.settings import Settings
from models.services.base import Deps
from tests.conftest import Api


def abusive_requests(key: str) -> list[tuple[str, dict]]:
    """(what, httpx request kwargs) for each hostile payload."""
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
    ]


@pytest.mark.parametrize("index", range(13))
async def test_hostile_requests_are_refused_cleanly(
    client: httpx.AsyncClient, admin_key: str, index: int
) -> None:
    what, request = abusive_requests(admin_key)[index]
    method = "GET" if "params" in request else "POST"
    response = await client.request(method, "/graphql", **request)
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    if response.status_code == 200:
        body = response.json()
        assert body.get("errors"), (what, body)
        assert all(e.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR" for e in body["errors"])
    assert (await client.get("/healthz")).json() == {"status": "ok", "database": "up"}
    ok = await client.post("/graphql", json={"query": "{ tenants { edges { cursor } } }"}, headers={"Authorization": f"Bearer {admin_key}"})
    assert ok.json() == {"data": {"tenants": {"edges": []}}}


async def test_the_limits_say_which_limit(api: Api) -> None:
    many = await api.raw("{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }")
    assert "aliases" in many["errors"][0]["message"].lower()
    deep = await api.raw("query { __schema { types { " + "fields { type { " * 10 + "name" + " } }" * 10 + " } } }")
    assert "depth" in deep["errors"][0]["message"].lower()
    huge = await api.raw("{ " + "__typename " * 20_001 + "}")
    assert "tokens" in huge["errors"][0]["message"].lower()


async def test_graphiql_introspection_fits_the_limits(api: Api) -> None:
    data = await api.as_key(None)(get_introspection_query(descriptions=True))
    assert any(t["name"] == "Tenant" for t in data["__schema"]["types"])


async def test_graphiql_is_served_to_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/graphql"


@pytest.fixture
def error_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream)
    yield stream
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


async def test_a_key_store_outage_is_a_503_with_the_request_id(
    api: Api, deps: Deps, error_log: io.StringIO
) -> None:
    async with deps.store.transaction() as session:
        await session.execute(text("ALTER TABLE api_keys RENAME TO api_keys_gone"))
    response = await api.http.post(
        "/graphql",
        json={"query": "{ tenants { edges { cursor } } }"},
        headers={"Authorization": f"Bearer {api.key}", "X-Request-ID": "req-outage-1"},
    )
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "req-outage-1"
    assert "req-outage-1" in response.text and "api_keys" not in response.text
    logged = [json.loads(line) for line in error_log.getvalue().splitlines()]
    failure = next(e for e in logged if e["logger"] == "gateway.app")
    assert failure["request_id"] == "req-outage-1"
    assert "api_keys" in failure["exc"]


async def test_a_failing_resolver_is_masked(api: Api, deps: Deps, error_log: io.StringIO) -> None:
    async with deps.store.transaction() as session:
        await session.execute(text("ALTER TABLE tenants RENAME TO tenants_gone"))
    response = await api.http.post(
        "/graphql",
        json={"query": "{ tenants { edges { cursor } } }"},
        headers={"Authorization": f"Bearer {api.key}", "X-Request-ID": "req-abc-123"},
    )
    assert response.status_code == 200
    body = response.json()
    error = body["errors"][0]
    assert error["message"] == "Unexpected error. Quote request id req-abc-123 when reporting it."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-abc-123"}
    assert "tenants" not in json.dumps(error["extensions"]) and "SELECT" not in response.text
    logged = [json.loads(line) for line in error_log.getvalue().splitlines()]
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
