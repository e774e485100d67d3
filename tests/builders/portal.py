"""Billing portal steps: make a link through the API, open it as the portal page does, and
call /graphql as the page would (its session cookie and the X-Portal-Session header)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.builders.api import Api

RETURN_URL = "https://app.example/billing"
LINK = """mutation($t: ID!, $r: String!) { createPortalSession(tenantId: $t, returnUrl: $r) { __typename
  ... on PortalSession { url expiresAt } ... on ValidationError { field } ... on Error { code message } } }"""


async def create_link(api: Api, tenant_id: str, return_url: str = RETURN_URL) -> dict[str, Any]:
    return (await api(LINK, {"t": tenant_id, "r": return_url}))["createPortalSession"]


def token_of(url: str) -> str:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("token="), url
    return fragment.removeprefix("token=")


async def open_link(http: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    """POST /portal/session as the portal page does with the link's token."""
    return await http.post(
        "/portal/session", json={"token": token_of(url)}, headers={"X-Portal-Session": "1", **headers}
    )


def session_cookie(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    value = response.cookies.get("gw_portal_session")
    assert value, response.headers
    return value


class PortalApi(Api):
    """GraphQL as the portal page sends it: the session cookie, no API key."""

    def __init__(self, http: httpx.AsyncClient, cookie: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(http, None)
        self.cookie = cookie
        self.headers = {"X-Portal-Session": "1"} if headers is None else headers

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={**self.headers, "Cookie": f"gw_portal_session={self.cookie}"},
        )
        assert response.status_code == 200, response.text
        return response.json()


async def portal_for(api: Api, tenant_id: str) -> PortalApi:
    """A portal session on the tenant, opened from a link the API made."""
    link = await create_link(api, tenant_id)
    assert link["__typename"] == "PortalSession", link
    return PortalApi(api.http, session_cookie(await open_link(api.http, link["url"])))
