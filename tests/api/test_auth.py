"""API keys, roles and tenant scope, as a caller sees them."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api, new_key, new_tenant

TENANT = """mutation($name: String!) {
  createTenant(input: {name: $name, email: "a@b.example", currency: "EUR"}) {
  ... on Tenant { id } ... on Error { code message } } }"""
KEY = """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  ... on Error { code message } } }"""
REVOKE = """mutation($id: ID!) { revokeApiKey(id: $id) {
  __typename ... on ApiKey { id revokedAt } ... on Error { code message } } }"""
GET = "query($id: ID!) { tenant(id: $id) { id name } }"
LIST = "{ tenants { edges { node { id } } } }"


async def test_no_key_answers_unauthenticated_for_every_field(api: Api) -> None:
    anonymous = api.as_key(None)
    for query in (LIST, '{ tenant(id: "x") { id } }', 'mutation { revokeApiKey(id: "k") { __typename } }'):
        body = await anonymous.raw(query)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "Authorization: Bearer" in body["errors"][0]["message"]
    # Hidden behind a fragment is still a data field.
    body = await anonymous.raw("{ ...F } fragment F on Query { tenants { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_typename_needs_no_key_and_introspection_does_unless_the_setting_allows_it(
    api: Api, deps: Deps, db_url: str
) -> None:
    anonymous = api.as_key(None)
    assert await anonymous("{ __typename }") == {"__typename": "Query"}
    refused = await anonymous.raw("{ __schema { queryType { name } } }")
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api("{ __schema { queryType { name } } }"))["__schema"]["queryType"]["name"] == "Query"

    open_app = create_app(Settings(database_url=db_url, anonymous_introspection=True), deps=deps)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=open_app), base_url="http://g.test"
    ) as http:
        data = await Api(http, None)("{ __schema { queryType { name } } }")
    assert data["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer gwk_thisisnotarealkeyatall0000000000000", "not valid or has been revoked"),
        ("Basic dXNlcjpwYXNz", "must read 'Bearer <key>'"),
        ("Bearer ", "must read 'Bearer <key>'"),
    ],
)
async def test_a_bad_key_is_unauthenticated(client: httpx.AsyncClient, header: str, message: str) -> None:
    response = await client.post("/graphql", json={"query": LIST}, headers={"Authorization": header})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert message in error["message"]


async def test_keys_are_shown_once_and_revocation_is_immediate(api: Api) -> None:
    tenant_id = await new_tenant(api)
    created = await new_key(api, "TENANT", tenant_id)
    assert created["apiKey"]["role"] == "TENANT"
    assert created["apiKey"]["tenantId"] == tenant_id
    assert created["secret"].startswith(created["apiKey"]["secretHint"])
    assert len(created["secret"]) > 40

    as_tenant = api.as_key(created["secret"])
    assert (await as_tenant(GET, {"id": tenant_id}))["tenant"]["id"] == tenant_id

    revoked = (await api(REVOKE, {"id": created["apiKey"]["id"]}))["revokeApiKey"]
    assert revoked["revokedAt"] is not None
    body = await as_tenant.raw(GET, {"id": tenant_id})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Revoking again keeps the first revocation time.
    again = (await api(REVOKE, {"id": created["apiKey"]["id"]}))["revokeApiKey"]
    assert again["revokedAt"] == revoked["revokedAt"]


async def test_api_keys_lists_what_the_key_may_manage(api: Api) -> None:
    mine, theirs = await new_tenant(api, "Mine"), await new_tenant(api, "Theirs")
    tenant_key = await new_key(api, "TENANT", mine)
    partner_key = await new_key(api, "PARTNER", mine)
    await new_key(api, "TENANT", theirs)
    listing = "query($t: ID) { apiKeys(tenantId: $t) { edges { node { id role tenantId } } } }"

    everything = (await api(listing))["apiKeys"]["edges"]
    assert len(everything) == 4  # the test's admin key and the three above
    ids = {e["node"]["id"] for e in (await api(listing, {"t": mine}))["apiKeys"]["edges"]}
    assert ids == {tenant_key["apiKey"]["id"], partner_key["apiKey"]["id"]}
    as_tenant = api.as_key(tenant_key["secret"])
    own = {e["node"]["id"] for e in (await as_tenant(listing))["apiKeys"]["edges"]}
    assert own == ids
    body = await api.as_key(partner_key["secret"]).raw(listing)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_role_and_tenant_must_agree(api: Api) -> None:
    tenant_id = await new_tenant(api)
    spec = {"role": "ADMIN", "tenantId": tenant_id}
    result = (await api(KEY, {"input": spec}))["createApiKey"]
    assert result["code"] == "VALIDATION_FAILED"
    assert "tenantId" in result["message"]
    result = (await api(KEY, {"input": {"role": "PARTNER"}}))["createApiKey"]
    assert result["code"] == "VALIDATION_FAILED"
    result = (await api(KEY, {"input": {"role": "TENANT", "tenantId": "ten_missing"}}))["createApiKey"]
    assert result["code"] == "NOT_FOUND"


async def test_tenant_key_manages_its_own_keys_but_never_admin_ones(api: Api) -> None:
    tenant_id = await new_tenant(api)
    as_tenant = api.as_key((await new_key(api, "TENANT", tenant_id))["secret"])
    partner = await new_key(as_tenant, "PARTNER", tenant_id)
    assert partner["apiKey"]["role"] == "PARTNER"
    assert (await as_tenant(REVOKE, {"id": partner["apiKey"]["id"]}))["revokeApiKey"]["revokedAt"]
    admin_attempt = await new_key(as_tenant, "ADMIN")
    assert admin_attempt["code"] == "FORBIDDEN"
    forbidden = (await as_tenant(TENANT, {"name": "Other"}))["createTenant"]
    assert forbidden["code"] == "FORBIDDEN"


async def test_tenants_lists_only_what_the_key_may_see(api: Api) -> None:
    mine = await new_tenant(api, "Mine")
    theirs = await new_tenant(api, "Theirs")
    as_tenant = api.as_key((await new_key(api, "TENANT", mine))["secret"])
    as_partner = api.as_key((await new_key(api, "PARTNER", mine))["secret"])
    assert [e["node"]["id"] for e in (await api(LIST))["tenants"]["edges"]] == [mine, theirs]
    assert [e["node"]["id"] for e in (await as_tenant(LIST))["tenants"]["edges"]] == [mine]
    assert (await as_partner(LIST))["tenants"]["edges"] == []
    # A partner key ingests and reads usage only: the account itself is invisible.
    body = await as_partner.raw(GET, {"id": mine})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_bootstrap_admin_key_from_the_environment(
    db_url: str, deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "bootstrap-" + "x" * 30
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_url)
    monkeypatch.setenv("GATEWAY_ADMIN_API_KEY", secret)
    app = create_app(Settings(), deps=deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        api = Api(http, secret)
        tenant_id = await new_tenant(api)
        assert (await api(GET, {"id": tenant_id}))["tenant"]["id"] == tenant_id
        body = await api.as_key(secret[:-1] + "y").raw(LIST)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
