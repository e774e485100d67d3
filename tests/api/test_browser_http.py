"""GraphQL over HTTP as browsers and frontend clients speak it: CORS on /graphql for the
origins of GATEWAY_CORS_ORIGINS, `application/graphql-response+json` with the spec's
status codes, batches refused in JSON, and Relay's complete PageInfo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from pydantic import ValidationError
from websockets.typing import Origin, Subprotocol

from gateway.app import create_app
from gateway.cli import _settings
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api, new_tenant
from tests.builders.live_subscriptions import serve

APP = "https://app.example.com"
MODERN = "application/graphql-response+json, application/json;q=0.9"
TYPENAME = {"query": "query Probe { __typename }"}


@asynccontextmanager
async def gateway(db_url: str, deps: Deps, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=db_url, **settings), deps=deps)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as http:
        yield http


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, apollographql-client-name",
    }


async def new_feature(api: Api, code: str) -> None:
    data = await api(
        """mutation Feature($code: String!) { createFeature(input: {code: $code, name: $code, kind: BOOLEAN})
             { __typename ... on Error { code message } } }""",
        {"code": code},
    )
    assert data["createFeature"]["__typename"] == "Feature", data


# -- CORS --


async def test_a_listed_origin_gets_its_preflight_answered_and_can_read_the_data(
    db_url: str, deps: Deps, admin_key: str
) -> None:
    async with gateway(db_url, deps, cors_origins=f"{APP}, http://localhost:3000") as http:
        answer = await http.options("/graphql", headers=preflight(APP))
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == APP
        assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
        allowed = answer.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "content-type", "accept", "apollographql-client-name"):
            assert header in allowed
        assert "access-control-allow-credentials" not in answer.headers

        data = await http.post(
            "/graphql", json=TYPENAME, headers={"Origin": APP, "Authorization": f"Bearer {admin_key}"}
        )
        assert data.json() == {"data": {"__typename": "Query"}}
        assert data.headers["access-control-allow-origin"] == APP
        assert "x-request-id" in data.headers["access-control-expose-headers"].lower()
        other = await http.options("/graphql", headers=preflight("http://localhost:3000", "GET"))
        assert other.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_an_origin_not_listed_gets_no_allow_origin_header(
    db_url: str, deps: Deps, admin_key: str
) -> None:
    async with gateway(db_url, deps, cors_origins=APP) as http:
        answer = await http.options("/graphql", headers=preflight("https://evil.example"))
        assert answer.status_code == 400
        assert "access-control-allow-origin" not in answer.headers
        posted = await http.post(
            "/graphql",
            json=TYPENAME,
            headers={"Origin": "https://evil.example", "Authorization": f"Bearer {admin_key}"},
        )
        assert "access-control-allow-origin" not in posted.headers
        near = await http.options("/graphql", headers=preflight("http://app.example.com"))
        assert "access-control-allow-origin" not in near.headers  # another scheme is another origin


async def test_without_the_setting_no_origin_is_allowed_and_cors_stays_off_other_paths(
    db_url: str, deps: Deps, client: httpx.AsyncClient
) -> None:
    answer = await client.options("/graphql", headers=preflight(APP))
    assert "access-control-allow-origin" not in answer.headers
    async with gateway(db_url, deps, cors_origins=APP) as http:
        health = await http.get("/healthz", headers={"Origin": APP})
        assert "access-control-allow-origin" not in health.headers


@pytest.mark.parametrize(
    "value",
    [
        "https://app.example.com/",
        "https://app.example.com/billing",
        "app.example.com",
        "ftp://app.example.com",
        "https://*.example.com",
        "*, https://app.example.com",
        "null",
        "https://app.example.com:99999",
    ],
)
def test_a_cors_setting_that_is_not_a_list_of_origins_fails_start_up_in_one_line(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError):
        Settings(cors_origins=value)
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", value)
    with pytest.raises(SystemExit) as exited:
        _settings()
    message = str(exited.value)
    assert message.startswith("billing-gateway: bad settings: GATEWAY_CORS_ORIGINS: ")
    assert "\n" not in message


def test_origins_are_kept_as_browsers_send_them() -> None:
    settings = Settings(cors_origins="HTTPS://App.Example.com:443, http://localhost:8080,http://[::1]:80")
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:8080", "http://[::1]")
    assert Settings(cors_origins="*").cors_origins == ("*",)
    assert Settings().cors_origins == ()


# -- application/graphql-response+json --


async def post_modern(http: httpx.AsyncClient, body: Any, key: str | None) -> httpx.Response:
    headers = {"Accept": MODERN}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return await http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("what", "body", "code"),
    [
        ("an unparsable document", {"query": "query Broken { tenants { "}, "GRAPHQL_PARSE_FAILED"),
        ("an invalid document", {"query": "query Unknown { nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        ("no document", {"variables": {}}, "BAD_REQUEST"),
        (
            "variables of the wrong type",
            {
                "query": "query P($n: Int) { tenants(first: $n) { edges { cursor } } }",
                "variables": {"n": "x"},
            },
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ],
)
async def test_request_errors_in_graphql_response_json_are_400_without_data(
    client: httpx.AsyncClient, admin_key: str, what: str, body: dict[str, Any], code: str
) -> None:
    answer = await post_modern(client, body, admin_key)
    assert answer.status_code == 400, what
    assert answer.headers["content-type"].startswith("application/graphql-response+json")
    payload = answer.json()
    assert "data" not in payload, what
    assert payload["errors"][0]["extensions"]["code"] == code, (what, payload)


async def test_a_good_document_in_graphql_response_json_is_200_with_data(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    answer = await post_modern(client, TYPENAME, admin_key)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_an_execution_error_in_graphql_response_json_is_200_with_its_data_entry(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    # The field fails while the operation runs; its non-null connection nulls `data`.
    answer = await post_modern(
        client, {"query": 'query BadCursor { tenants(after: "x") { edges { cursor } } }'}, admin_key
    )
    assert answer.status_code == 200
    payload = answer.json()
    assert "data" in payload and payload["data"] is None
    assert payload["errors"][0]["path"] == ["tenants"]
    assert payload["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


async def test_a_missing_key_in_graphql_response_json_is_401(client: httpx.AsyncClient) -> None:
    answer = await post_modern(client, {"query": "query T { tenants { edges { cursor } } }"}, None)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_body_that_is_not_json_in_graphql_response_json_is_400_as_a_graphql_response(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    answer = await client.post(
        "/graphql",
        content=b'{"query": ',
        headers={
            "Accept": MODERN,
            "Content-Type": "application/json",
            "Authorization": f"Bearer {admin_key}",
        },
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_application_json_keeps_answering_200_with_errors_for_a_document_that_does_not_parse(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    for accept in ("application/json", "*/*", "application/json, application/graphql-response+json;q=0.5"):
        answer = await client.post(
            "/graphql",
            json={"query": "query Broken {"},
            headers={"Accept": accept, "Authorization": f"Bearer {admin_key}"},
        )
        assert answer.status_code == 200, accept
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_a_mutation_over_get_is_405_allowing_post(client: httpx.AsyncClient, admin_key: str) -> None:
    for accept in ("application/json", MODERN):
        answer = await client.get(
            "/graphql",
            params={"query": 'mutation Revoke { revokeApiKey(id: "key_x") { __typename } }'},
            headers={"Accept": accept, "Authorization": f"Bearer {admin_key}"},
        )
        assert answer.status_code == 405, accept
        assert answer.headers["allow"] == "POST"
        assert answer.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_the_entitlement_fast_path_answers_graphql_response_json_in_that_media_type(
    client: httpx.AsyncClient, api: Api, admin_key: str
) -> None:
    tenant = await new_tenant(api, "Media")
    await new_feature(api, "sso")
    query = 'query Check($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { enabled reason } }'
    plain = await client.post(
        "/graphql",
        json={"query": query, "variables": {"t": tenant}},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    modern = await post_modern(client, {"query": query, "variables": {"t": tenant}}, admin_key)
    assert modern.headers["content-type"].startswith("application/graphql-response+json")
    assert (
        modern.json()
        == plain.json()
        == {"data": {"entitlement": {"enabled": False, "reason": "SUBSCRIPTION_INACTIVE"}}}
    )


# -- batches --


@pytest.mark.parametrize("batch", [[TYPENAME, TYPENAME], [], [1, 2, 3]])
async def test_a_batch_is_refused_with_a_400_in_json(
    client: httpx.AsyncClient, admin_key: str, batch: list
) -> None:
    for accept in ("application/json", MODERN):
        answer = await client.post(
            "/graphql", json=batch, headers={"Accept": accept, "Authorization": f"Bearer {admin_key}"}
        )
        assert answer.status_code == 400
        error = answer.json()["errors"][0]
        assert error["extensions"] == {"code": "BATCHING_NOT_SUPPORTED"}
        assert "one operation per request" in error["message"]


# -- PageInfo --

PAGE = """query Page($first: Int, $after: String) { tenants(first: $first, after: $after) {
  edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


async def test_page_info_tells_both_ends_of_every_page(api: Api) -> None:
    names = [f"Paged {i}" for i in range(5)]
    for name in names:
        await new_tenant(api, name)
    first = (await api(PAGE, {"first": 2}))["tenants"]
    assert [e["node"]["name"] for e in first["edges"]] == names[:2]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    second = (await api(PAGE, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["tenants"]
    assert [e["node"]["name"] for e in second["edges"]] == names[2:4]
    assert second["pageInfo"]["hasPreviousPage"] is True and second["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["startCursor"] == second["edges"][0]["cursor"]
    last = (await api(PAGE, {"first": 2, "after": second["pageInfo"]["endCursor"]}))["tenants"]
    assert [e["node"]["name"] for e in last["edges"]] == names[4:]
    assert last["pageInfo"]["hasPreviousPage"] is True and last["pageInfo"]["hasNextPage"] is False
    beyond = (await api(PAGE, {"first": 2, "after": last["pageInfo"]["endCursor"]}))["tenants"]
    assert beyond["edges"] == []
    assert beyond["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


async def test_page_info_of_a_newest_first_list_tells_both_ends_too(api: Api) -> None:
    tenant = await new_tenant(api, "Credited")
    for amount in (100, 200, 300):
        await api(
            """mutation Grant($t: ID!, $a: MinorUnits!) { grantCredits(input: {tenantId: $t, amount: $a,
                 description: "goodwill"}) { __typename ... on Error { code message } } }""",
            {"t": tenant, "a": amount},
        )
    query = """query Ledger($t: ID!, $after: String) {
      tenant(id: $t) { creditLedger(first: 2, after: $after) {
        edges { cursor node { amount { amount } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
    first = (await api(query, {"t": tenant}))["tenant"]["creditLedger"]
    assert [e["node"]["amount"]["amount"] for e in first["edges"]] == [300, 200]
    assert first["pageInfo"]["hasPreviousPage"] is False and first["pageInfo"]["hasNextPage"] is True
    second = (await api(query, {"t": tenant, "after": first["pageInfo"]["endCursor"]}))["tenant"][
        "creditLedger"
    ]
    assert [e["node"]["amount"]["amount"] for e in second["edges"]] == [100]
    assert second["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": second["edges"][0]["cursor"],
        "endCursor": second["edges"][0]["cursor"],
    }


async def test_pages_on_a_listed_origin_may_open_the_websocket_and_others_may_not(
    db_url: str, deps: Deps
) -> None:
    settings = Settings(database_url=db_url, cors_origins=APP)
    async with serve(settings, deps) as address:
        url, protocols = f"ws://{address}/graphql", [Subprotocol("graphql-transport-ws")]
        async with websockets.connect(url, subprotocols=protocols, origin=Origin(APP)) as ws:
            assert ws.subprotocol == "graphql-transport-ws"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, subprotocols=protocols, origin=Origin("https://evil.example")):
                pass
        assert refused.value.response.status_code == 403
