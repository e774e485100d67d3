"""Apollo's automatic persisted queries, exactly as Apollo Client's PersistedQueryLink and
urql's persistedExchange walk them, and trusted documents (GATEWAY_PERSISTED_ONLY)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import app_or_exit, create_app
from gateway.cli import _settings
from gateway.pages.console import documents as documents_of_the_console
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api, new_tenant
from tests.builders.live_subscriptions import SEATS, live, next_data, serve

NOT_FOUND = {
    "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
}
TENANT = "query TenantName($id: ID!) { tenant(id: $id) { name } }"
CHECK = 'query Check($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { enabled reason } }'


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str, key: str | None = None) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": key or sha256(document)}}


@asynccontextmanager
async def gateway(db_url: str, deps: Deps, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=db_url, **settings), deps=deps)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as http:
        yield http


class Client:
    """Requests as the persisted-query links send them."""

    def __init__(self, http: httpx.AsyncClient, key: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {key}"}

    async def post(self, body: dict[str, Any], accept: str = "*/*") -> httpx.Response:
        return await self.http.post("/graphql", json=body, headers={**self.headers, "Accept": accept})

    async def get(self, document: str, variables: dict[str, Any], accept: str = "*/*") -> httpx.Response:
        params = {"variables": json.dumps(variables), "extensions": json.dumps(persisted(document))}
        return await self.http.get("/graphql", params=params, headers={**self.headers, "Accept": accept})


@pytest.fixture
def apq(client: httpx.AsyncClient, admin_key: str) -> Client:
    return Client(client, admin_key)


async def test_the_apollo_flow_unknown_hash_then_the_document_then_a_hash_only_get(
    apq: Client, api: Api
) -> None:
    tenant = await new_tenant(api, "Persisted")
    variables = {"id": tenant}
    unknown = await apq.post({"variables": variables, "extensions": persisted(TENANT)})
    assert unknown.status_code == 200
    assert unknown.json() == NOT_FOUND

    retried = await apq.post({"query": TENANT, "variables": variables, "extensions": persisted(TENANT)})
    assert retried.status_code == 200
    assert retried.json() == {"data": {"tenant": {"name": "Persisted"}}}

    cached = await apq.get(TENANT, variables)
    assert cached.status_code == 200
    assert cached.headers["content-type"] == "application/json"  # not GraphiQL, though */* is accepted
    assert cached.json() == {"data": {"tenant": {"name": "Persisted"}}}
    again = await apq.post({"variables": variables, "extensions": persisted(TENANT)})
    assert again.json() == {"data": {"tenant": {"name": "Persisted"}}}


async def test_the_flow_in_graphql_response_json_answers_not_found_with_200_too(apq: Client) -> None:
    modern = "application/graphql-response+json, application/json;q=0.9"
    document = "query Typename { __typename }"
    unknown = await apq.post({"extensions": persisted(document)}, modern)
    assert (unknown.status_code, unknown.json()) == (200, NOT_FOUND)
    assert unknown.headers["content-type"].startswith("application/graphql-response+json")
    retried = await apq.post({"query": document, "extensions": persisted(document)}, modern)
    assert retried.json() == {"data": {"__typename": "Query"}}
    cached = await apq.get(document, {}, modern)
    assert cached.json() == {"data": {"__typename": "Query"}}


async def test_a_document_whose_hash_is_not_its_sha256_is_refused_and_not_stored(apq: Client) -> None:
    document, other = "query A { __typename }", "query B { __typename }"
    refused = await apq.post({"query": document, "extensions": persisted(document, sha256(other))})
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["extensions"] == {"code": "PERSISTED_QUERY_HASH_MISMATCH"}
    assert "SHA-256" in error["message"]
    assert (await apq.post({"extensions": persisted(other)})).json() == NOT_FOUND


@pytest.mark.parametrize(
    "extension",
    [{"version": 2, "sha256Hash": "ab"}, {"version": 1}, {"version": 1, "sha256Hash": 5}, "yes"],
)
async def test_a_malformed_persisted_query_extension_is_a_400_naming_it(apq: Client, extension: Any) -> None:
    answer = await apq.post({"extensions": {"persistedQuery": extension}})
    assert answer.status_code == 400
    error = answer.json()["errors"][0]
    assert error["extensions"] == {"code": "PERSISTED_QUERY_INVALID"}
    assert "extensions.persistedQuery" in error["message"]


async def test_a_persisted_mutation_is_refused_over_get(apq: Client) -> None:
    mutation = 'mutation Revoke { revokeApiKey(id: "key_x") { __typename } }'
    registered = await apq.post({"query": mutation, "extensions": persisted(mutation)})
    assert registered.status_code == 200
    over_get = await apq.get(mutation, {})
    assert over_get.status_code == 405
    assert over_get.json()["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


async def test_the_store_forgets_the_least_recently_used_and_a_miss_costs_one_retry(
    db_url: str, deps: Deps, admin_key: str
) -> None:
    first, second = "query One { __typename }", "query Two { __typename }"
    async with gateway(db_url, deps, persisted_queries_cache_size=1) as http:
        apq = Client(http, admin_key)
        for document in (first, second):
            await apq.post({"query": document, "extensions": persisted(document)})
        assert (await apq.post({"extensions": persisted(second)})).json() == {"data": {"__typename": "Query"}}
        assert (await apq.post({"extensions": persisted(first)})).json() == NOT_FOUND
        retried = await apq.post({"query": first, "extensions": persisted(first)})
        assert retried.json() == {"data": {"__typename": "Query"}}
    async with gateway(db_url, deps, persisted_queries_cache_size=0) as http:
        apq = Client(http, admin_key)
        await apq.post({"query": first, "extensions": persisted(first)})
        assert (await apq.post({"extensions": persisted(first)})).json() == NOT_FOUND


async def new_feature(api: Api, code: str) -> None:
    await api(
        """mutation Feature($code: String!) { createFeature(input: {code: $code, name: $code, kind: BOOLEAN})
             { __typename } }""",
        {"code": code},
    )


async def test_a_persisted_entitlement_check_gets_the_answer_the_plain_one_gets(
    apq: Client, api: Api
) -> None:
    tenant = await new_tenant(api, "Checked")
    await new_feature(api, "sso")
    plain = await apq.post({"query": CHECK, "variables": {"t": tenant}})
    assert plain.json()["data"]["entitlement"] == {"enabled": False, "reason": "SUBSCRIPTION_INACTIVE"}
    body = {"variables": {"t": tenant}, "extensions": persisted(CHECK)}
    assert (await apq.post(body)).json() == NOT_FOUND
    assert (await apq.post({**body, "query": CHECK})).json() == plain.json()
    assert (await apq.post(body)).json() == plain.json()
    assert (await apq.get(CHECK, {"t": tenant})).json() == plain.json()


# -- trusted documents --


def manifest(tmp_path: Path, documents: list[str], apollo: bool = False) -> str:
    path = tmp_path / "persisted-documents.json"
    if apollo:
        operations = [{"id": sha256(d), "name": d.split()[1], "type": "query", "body": d} for d in documents]
        content: Any = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    else:
        content = {sha256(d): d for d in documents}
    path.write_text(json.dumps(content))
    return str(path)


@pytest.mark.parametrize("apollo", [False, True], ids=["codegen map", "apollo manifest"])
async def test_persisted_only_runs_the_trusted_documents_and_nothing_else(
    db_url: str, deps: Deps, admin_key: str, api: Api, tmp_path: Path, apollo: bool
) -> None:
    tenant = await new_tenant(api, "Trusted")
    await new_feature(api, "sso")
    documents = manifest(tmp_path, [TENANT, CHECK], apollo)
    async with gateway(db_url, deps, persisted_documents=documents, persisted_only=True) as http:
        apq = Client(http, admin_key)
        name = {"data": {"tenant": {"name": "Trusted"}}}
        assert (await apq.post({"variables": {"id": tenant}, "extensions": persisted(TENANT)})).json() == name
        assert (await apq.get(TENANT, {"id": tenant})).json() == name
        assert (await apq.post({"query": TENANT, "variables": {"id": tenant}})).json() == name
        checked = await apq.post({"query": CHECK, "variables": {"t": tenant}})  # the fast path's shape
        assert checked.json()["data"]["entitlement"]["reason"] == "SUBSCRIPTION_INACTIVE"

        other = "query Other { __typename }"
        other_check = CHECK.replace("Check", "Probe")
        for body in (
            {"query": other},
            {"query": other, "extensions": persisted(other)},
            {"query": other_check, "variables": {"t": tenant}},
        ):
            refused = await apq.post(body)
            assert refused.status_code == 400, body
            error = refused.json()["errors"][0]
            assert error["extensions"] == {"code": "PERSISTED_QUERY_NOT_ALLOWED"}, body
            assert "GATEWAY_PERSISTED_DOCUMENTS" in error["message"]
        assert (await apq.post({"extensions": persisted(other)})).json() == NOT_FOUND
        swapped = await apq.post({"query": other, "extensions": persisted(TENANT)})
        assert swapped.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_HASH_MISMATCH"}


async def test_persisted_only_still_trusts_the_consoles_own_documents_by_hash(
    db_url: str, deps: Deps, admin_key: str, tmp_path: Path
) -> None:
    document = documents_of_the_console()["CATALOG"]
    async with gateway(
        db_url, deps, persisted_documents=manifest(tmp_path, [TENANT]), persisted_only=True
    ) as http:
        answer = await Client(http, admin_key).post({"variables": {}, "extensions": persisted(document)})
    assert answer.status_code == 200
    assert "errors" not in answer.json(), answer.json()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ("[]", "must hold a JSON object"),
        ('{"abc": 5}', "the document must be text"),
        ('{"abc": "query {"}', "does not parse"),
        ('{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}', "version 1"),
    ],
)
def test_a_trusted_documents_file_that_cannot_serve_fails_start_up_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, says: str
) -> None:
    path = tmp_path / "documents.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("GATEWAY_PERSISTED_DOCUMENTS", str(path))
    monkeypatch.setenv("GATEWAY_PERSISTED_ONLY", "true")
    with pytest.raises(SystemExit) as exited:
        _settings()
    message = str(exited.value)
    assert message.startswith("billing-gateway: bad settings: GATEWAY_PERSISTED_DOCUMENTS: ")
    assert says in message and "\n" not in message


def test_persisted_only_without_a_documents_file_fails_start_up_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_PERSISTED_ONLY", "true")
    with pytest.raises(SystemExit) as exited:
        _settings()
    assert str(exited.value) == (
        "billing-gateway: bad settings: GATEWAY_PERSISTED_ONLY: true needs GATEWAY_PERSISTED_DOCUMENTS, "
        "the JSON file of the documents that may run"
    )


async def test_persisted_only_holds_on_the_websocket_too(
    db_url: str, deps: Deps, admin_key: str, api: Api, tmp_path: Path
) -> None:
    tenant = await new_tenant(api, "Socket")
    trusted = "query Typename { __typename }"
    settings = Settings(
        database_url=db_url, persisted_documents=manifest(tmp_path, [trusted]), persisted_only=True
    )
    async with serve(settings, deps) as address, live(address, admin_key) as socket:
        refused = await socket.subscribe(SEATS, {"t": tenant})
        message = await socket.receive()
        assert message["id"] == refused and message["type"] == "error", message
        assert message["payload"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_ALLOWED"}
        allowed = await socket.subscribe(trusted, {})
        assert next_data(await socket.receive(), allowed, "__typename") == "Query"


def test_a_trusted_document_the_schema_refuses_fails_start_up_in_one_line(
    db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "documents.json"
    path.write_text(json.dumps({"abc": "query Q { __typename }", "def": "query N { nope }"}))
    with pytest.raises(SystemExit) as exited:
        app_or_exit(Settings(database_url=db_url, persisted_documents=str(path)))
    assert str(exited.value) == (
        f"billing-gateway: bad settings: GATEWAY_PERSISTED_DOCUMENTS: {path}: entry 2 ('def') does not "
        "validate against the schema: Cannot query field 'nope' on type 'Query'."
    )
