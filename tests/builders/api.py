"""The GraphQL client the tests call the gateway with, and the first steps of most
tests: a tenant and an API key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class Api:
    """GraphQL over the app's real HTTP route, as a client would call it."""

    def __init__(self, http: httpx.AsyncClient, key: str | None) -> None:
        self.http = http
        self.key = key

    def as_key(self, key: str | None) -> Api:
        return Api(self.http, key)

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an operation that must not produce GraphQL errors."""
        body = await self.raw(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]


async def new_tenant(api: Api, name: str = "Team", test_clock_id: str | None = None) -> str:
    data = await api(
        """mutation($name: String!, $clock: ID) { createTenant(input: {name: $name,
             email: "team@example.com", currency: "USD", testClockId: $clock}) {
             ... on Tenant { id } ... on Error { code message } } }""",
        {"name": name, "clock": test_clock_id},
    )
    return data["createTenant"]["id"]


async def new_key(api: Api, role: str, tenant_id: str | None = None) -> dict[str, Any]:
    """{secret, apiKey {id role name tenantId secretHint revokedAt}} or an error."""
    spec: dict[str, Any] = {"role": role, "name": f"{role.lower()} key"}
    if tenant_id:
        spec["tenantId"] = tenant_id
    data = await api(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename
             ... on NewApiKey { secret apiKey { id role name tenantId secretHint revokedAt } }
             ... on Error { code message } } }""",
        {"input": spec},
    )
    return data["createApiKey"]
