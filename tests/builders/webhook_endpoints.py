"""Outbound webhook endpoints as a client creates them, and their delivery log."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api

ENDPOINT = """__typename ... on NewWebhookEndpoint { secret endpoint { id url events tenantId description
  enabled createdAt } } ... on ValidationError { field } ... on Error { code message }"""

DELIVERIES = """query($id: ID!, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $id, first: $first, after: $after) {
    edges { node { id eventId eventType status attempts nextAttemptAt createdAt
                   attemptLog { attempt at statusCode error durationMs responseBody } } }
    pageInfo { hasNextPage endCursor } } }"""


async def create_endpoint(
    api: Api, url: str, event_types: list[str], tenant_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """The CreateWebhookEndpointResult."""
    spec = {"url": url, "events": event_types, "tenantId": tenant_id, **fields}
    return (
        await api(
            f"""mutation($input: CreateWebhookEndpointInput!) {{
              createWebhookEndpoint(input: $input) {{ {ENDPOINT} }} }}""",
            {"input": spec},
        )
    )["createWebhookEndpoint"]


async def new_endpoint(
    api: Api, url: str, event_types: list[str], tenant_id: str | None = None
) -> tuple[str, str]:
    """(endpoint id, secret)"""
    created = await create_endpoint(api, url, event_types, tenant_id)
    assert created["__typename"] == "NewWebhookEndpoint", created
    return created["endpoint"]["id"], created["secret"]
