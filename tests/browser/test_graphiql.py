"""GraphiQL at /graphql in Chromium with the network cut at loopback (issue 21, done-when 1):
it renders from the vendored assets, takes a pasted key once for the tab's session, and
runs the README's first query."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.conftest import Offline
from tests.builders.served import Server

# Every Content-Security-Policy violation the page reports, recorded before its first script.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


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
    await open_graphiql(page, server)
    await expect(page.locator(".graphiql-query-editor")).to_contain_text("tenants(first: 10)")
    await expect(page.locator(".key-bar")).to_contain_text("No key")

    await page.get_by_role("textbox", name="API key").fill(server.admin_key)
    await page.get_by_role("button", name="Use key").click()
    await expect(page.locator(".key-bar")).to_contain_text("in use for this tab")
    async with page.expect_request(
        lambda r: r.method == "POST" and "tenants(first: 10)" in (r.post_data or "")
    ) as sent:
        await page.locator(".graphiql-execute-button").click()
    assert (await (await sent.value).all_headers())["authorization"] == f"Bearer {server.admin_key}"
    result = page.locator(".graphiql-response")
    await expect(result).to_contain_text('"name": "Acme Analytics"')
    await expect(result).to_contain_text('"companyName": "Sakura Design K.K."')
    await expect(result).not_to_contain_text('"errors"')
    await screenshot(page, "graphiql")

    assert server.admin_key in (await storage(page, "sessionStorage")).values()
    assert server.admin_key not in json.dumps(await storage(page, "localStorage"))
    assert server.admin_key not in page.url
    assert offline.blocked == []
    assert await page.evaluate("window.cspViolations") == []


async def test_the_key_is_kept_for_the_tabs_session_and_forgotten_on_request(
    serve: Callable[..., Server], page: Page, offline: Offline
) -> None:
    server = serve()
    await open_graphiql(page, server)
    await page.get_by_role("textbox", name="API key").fill(f'{{"Authorization": "Bearer {server.admin_key}"}}')
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
