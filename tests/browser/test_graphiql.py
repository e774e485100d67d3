"""GraphiQL at /graphql in Chromium with the network cut at loopback (issue 21, done-when 1):
it renders from the vendored assets, takes a pasted key once for the tab's session, and
runs the README's first query."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Offline
from tests.builders.served import Server

README = Path(__file__).resolve().parents[2] / "README.md"

# Every Content-Security-Policy violation the page reports, recorded before its first script.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def readme_first_query() -> str:
    return re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.S)[0]


def editor_text(page: Page) -> Awaitable[str]:
    return page.evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()")


async def open_graphiql(page: Page, server: Server) -> None:
    await page.add_init_script(RECORD_CSP_VIOLATIONS)
    response = await page.goto(f"{server.base}/graphql")
    assert response is not None and response.status == 200
    await expect(page.locator(".graphiql-container")).to_be_visible()


async def storage(page: Page, area: str) -> dict[str, str]:
    return json.loads(await page.evaluate(f"JSON.stringify({{...{area}}})"))


async def test_graphiql_runs_the_readmes_first_query_offline_with_a_pasted_key(
    serve: Callable[..., Server],
    page: Page,
    offline: Offline,
    screenshot: Callable[[Page, str], Awaitable[Path]],
) -> None:
    server = serve()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda error: failed.append(str(error)))
    await open_graphiql(page, server)
    await expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    assert await editor_text(page) == readme_first_query()
    await expect(page.locator(".key-bar")).to_contain_text("No key")

    await page.get_by_role("textbox", name="API key").fill(server.admin_key)
    await page.get_by_role("button", name="Use key").click()
    await expect(page.locator(".key-bar")).to_contain_text("in use for this tab")
    async with page.expect_request(
        lambda r: r.method == "POST" and (r.post_data_json or {}).get("query") == readme_first_query()
    ) as sent:
        await page.locator(".graphiql-execute-button").click()
    assert (await (await sent.value).all_headers())["authorization"] == f"Bearer {server.admin_key}"
    result = page.locator(".graphiql-response")
    await expect(result).to_contain_text('"name": "Acme Analytics"')
    await expect(result).to_contain_text('"companyName": "Sakura Design K.K."')
    await expect(result).not_to_contain_text('"errors"')
    await screenshot(page, "graphiql")
    # Anonymous introspection is off: the docs come from introspecting with the key.
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    await expect(page.locator(".graphiql-doc-explorer")).to_contain_text("subscription: Live")
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    await expect(page.locator(".graphiql-explorer-root")).to_contain_text("customerState")
    await page.get_by_role("button", name="Open settings dialog").click()
    await expect(page.get_by_role("dialog")).to_contain_text("Clear storage")
    await page.keyboard.press("Escape")
    await page.get_by_role("tab", name="Catalog").click()
    await page.locator(".graphiql-execute-button").click()  # several operations: a menu to pick one
    await page.get_by_role("menuitem", name="Catalog").click()
    await expect(result).to_contain_text('"code": "team_pro"')

    assert server.admin_key in (await storage(page, "sessionStorage")).values()
    assert server.admin_key not in json.dumps(await storage(page, "localStorage"))
    assert server.admin_key not in page.url
    assert offline.blocked == []
    assert await page.evaluate("window.cspViolations") == []
    assert failed == []


async def test_the_key_is_kept_for_the_tabs_session_and_forgotten_on_request(
    serve: Callable[..., Server], page: Page, offline: Offline
) -> None:
    server = serve()
    await open_graphiql(page, server)
    await page.get_by_role("textbox", name="API key").fill(
        f'{{"Authorization": "Bearer {server.admin_key}"}}'
    )
    await page.get_by_role("button", name="Use key").click()

    await page.reload()
    await expect(page.locator(".key-bar")).to_contain_text("in use for this tab")
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(".graphiql-response")).to_contain_text("Nordwind Logistics")

    await page.get_by_role("button", name="Forget key").click()
    await expect(page.locator(".key-bar")).to_contain_text("No key")
    assert server.admin_key not in json.dumps(await storage(page, "sessionStorage"))
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(".graphiql-response")).to_contain_text("UNAUTHENTICATED")
    assert offline.blocked == []


async def test_a_vendored_file_that_does_not_match_its_pinned_hash_is_refused(
    serve: Callable[..., Server], page: Page, offline: Offline
) -> None:
    server = serve()
    tampered = "window.tampered = true; /* not the React the manifest pins */"
    await page.route(
        "**/react.production.min.js",
        lambda route: route.fulfill(body=tampered, content_type="text/javascript"),
    )
    await page.goto(f"{server.base}/graphql")
    await expect(page.locator("#graphiql-page")).to_contain_text("GraphiQL's files did not load")
    assert await page.evaluate("window.tampered") is None
    assert offline.blocked == []


async def set_operation(page: Page, text: str) -> None:
    """Replace the query editor's text (GraphiQL's CodeMirror), as a paste would."""
    await expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    await page.evaluate(
        "text => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(text)",
        text,
    )
    await expect(page.locator(".graphiql-query-editor")).to_contain_text(text)
    # GraphiQL has parsed it once the tab bears the operation's name.
    name = text.split("{")[0].split()[-1]
    await expect(page.locator(".graphiql-tab-active")).to_contain_text(name)


async def graphql(server: Server, query: str, variables: dict[str, object]) -> dict[str, Any]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {server.admin_key}"}) as client:
        response = await client.post(f"{server.base}/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


async def test_a_subscription_in_graphiql_authenticates_its_socket_with_the_pasted_key(
    serve: Callable[..., Server], page: Page, offline: Offline
) -> None:
    server = serve()
    tenants = await graphql(server, "{ tenants(first: 10) { edges { node { id name } } } }", {})
    nordwind = next(
        e["node"]["id"] for e in tenants["tenants"]["edges"] if e["node"]["name"] == "Nordwind Logistics"
    )
    await open_graphiql(page, server)
    await page.get_by_role("textbox", name="API key").fill(server.admin_key)
    await page.get_by_role("button", name="Use key").click()
    await set_operation(
        page, f'subscription Seats {{ seatsChanged(tenantId: "{nordwind}") {{ reason seats {{ used }} }} }}'
    )

    sent: list[str] = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(frame)))
    await page.locator(".graphiql-execute-button").click()

    # The socket subscribes a moment after its ack: invite until the first event shows.
    result = page.locator(".graphiql-response")
    for attempt in range(10):
        invited = await graphql(
            server, INVITE, {"tenantId": nordwind, "email": f"new{attempt}@nordwind.example"}
        )
        assert invited["inviteMember"]["__typename"] == "Member", invited
        with contextlib.suppress(AssertionError):
            await expect(result).to_contain_text('"reason": "member.invited"', timeout=1000)
            break
    await expect(result).to_contain_text('"reason": "member.invited"')
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {server.admin_key}"}}
    assert json.loads(sent[0]) == init
    assert offline.blocked == []


INVITE = """
mutation Invite($tenantId: ID!, $email: String!) {
  inviteMember(input: {tenantId: $tenantId, email: $email}) { __typename }
}
"""
