"""The operator console in a real browser, on SQLite and PostgreSQL: an operator signs in
with an ADMIN key, finds a tenant, corrects its billing address (and the change is owed
to the payment provider through the outbox), reads an invoice with its lines, turns off
plan changes in the billing portal, and redelivers a webhook; each page is screenshotted.
Nothing is fetched beyond loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.conftest import Offline
from tests.browser.console_helpers import (
    Receiver,
    RefusingProvider,
    Traffic,
    customer_syncs,
    gql,
    settled_failures,
)
from tests.builders.served import Server

Shot = Callable[[Page, str], Awaitable[Path]]

TENANT_QUERY = """query CheckTenant($id: ID!) {
  tenant(id: $id) { billingInfo { companyName address { line1 city postalCode country } } }
}"""
INVOICE_QUERY = """query CheckInvoice($id: ID!) {
  invoice(id: $id) { number lines { description amount { formatted } } }
}"""
PORTAL_QUERY = """query CheckPortal {
  portalConfiguration { changePlan changeSeats cancelAtPeriodEnd cancelImmediately pause applyCoupons
    manageMembers prorationBillingMode }
}"""
DELIVERIES_QUERY = """query CheckDeliveries($endpointId: ID!) {
  webhookDeliveries(endpointId: $endpointId) { edges { node { id attempts status } } }
}"""


def serve_with_provider(serve: Callable[..., Server], provider: RefusingProvider) -> Server:
    """The demo with Stripe as provider, one that refuses every call: what the gateway owes
    it goes through the outbox, and each refusal shows as the tenant's provider error."""
    return serve(
        GATEWAY_PROVIDER="stripe",
        GATEWAY_STRIPE_API_KEY="sk_test_console",
        GATEWAY_STRIPE_API_BASE=provider.url,
        GATEWAY_WEBHOOKS_ALLOW_PRIVATE="true",
    )


def a_delivered_webhook(server: Server, receiver: Receiver) -> str:
    """An endpoint for usage.recorded on the receiver, and one event delivered to it."""
    tenant = gql(server, "query T { tenants(first: 1) { edges { node { id } } } }")["tenants"]["edges"][0]
    created = gql(
        server,
        """mutation E($url: String!) { createWebhookEndpoint(input: {url: $url, events: ["usage.recorded"]}) {
             ... on NewWebhookEndpoint { endpoint { id } } ... on Error { code message } } }""",
        {"url": receiver.url},
    )["createWebhookEndpoint"]
    assert "endpoint" in created, created
    recorded = gql(
        server,
        """mutation U($t: ID!) { recordUsage(input: {tenantId: $t, meterName: "api_calls", value: 3}) {
             __typename ... on Error { code message } } }""",
        {"t": tenant["node"]["id"]},
    )["recordUsage"]
    assert recorded["__typename"] == "UsageRecorded", recorded
    deadline = time.monotonic() + 20
    while not receiver.ids:
        assert time.monotonic() < deadline, "the webhook was never delivered"
        time.sleep(0.1)
    return created["endpoint"]["id"]


async def sign_in(page: Page, server: Server, key: str) -> None:
    await page.goto(f"{server.base}/console")
    await page.get_by_label("ADMIN API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()


def searched_for(body: str | None, text: str) -> bool:
    try:
        return bool(body) and json.loads(body or "").get("variables", {}).get("search") == text
    except ValueError:
        return False


async def find_tenant(page: Page, shot: Shot) -> str:
    await expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    # The search runs on the server (tenants(search:)), not over every tenant in the browser.
    async with page.expect_request(lambda r: searched_for(r.post_data, "saKURA")):
        await page.get_by_label("Search tenants").fill("saKURA")
    await expect(page.locator("main table tbody tr")).to_have_count(1)
    await shot(page, "console-tenants")
    await page.get_by_role("link", name="Sakura Design").click()
    await expect(page.get_by_role("heading", name="Sakura Design", level=1)).to_be_visible()
    await shot(page, "console-tenant")
    return page.url.rsplit("/", 1)[1]


async def change_billing_address(page: Page, server: Server, db_url: str, tenant_id: str) -> None:
    before = await customer_syncs(db_url, tenant_id)
    await page.get_by_label("Country (ISO code, e.g. JP)").fill("Japan")
    await page.get_by_role("button", name="Save").click()
    refusal = page.locator("#billing [role=alert]")
    await expect(refusal).to_contain_text("VALIDATION_FAILED")  # a typed error, naming the field
    await expect(refusal).to_contain_text("country")
    await page.get_by_label("Address line 1").fill("2-7-2 Marunouchi")
    await page.get_by_label("Postal code").fill("100-7090")
    await page.get_by_label("Country (ISO code, e.g. JP)").fill("jp")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Billing info saved.")).to_be_visible()

    address = gql(server, TENANT_QUERY, {"id": tenant_id})["tenant"]["billingInfo"]["address"]
    assert address == {
        "line1": "2-7-2 Marunouchi",
        "city": "Chiyoda-ku",
        "postalCode": "100-7090",
        "country": "JP",
    }
    after = await customer_syncs(db_url, tenant_id)
    assert len(after) == len(before) + 1  # the refused save queued nothing; this one a call
    assert after[-1].created_at > before[-1].created_at


async def read_invoice(page: Page, server: Server, shot: Shot) -> None:
    await page.locator("#invoices a").first.click()
    heading = page.get_by_role("heading", level=1)
    await expect(heading).to_contain_text("Invoice SAKURA-")
    invoice_id = page.url.rsplit("/", 1)[1]
    invoice = gql(server, INVOICE_QUERY, {"id": invoice_id})["invoice"]
    await expect(heading).to_have_text(f"Invoice {invoice['number']}")
    rows = page.locator("#lines table:not(.totals) tbody tr")
    await expect(rows).to_have_count(len(invoice["lines"]))
    for row, line in zip(await rows.all(), invoice["lines"], strict=True):
        await expect(row).to_contain_text(line["description"])
        await expect(row.locator("td").last).to_have_text(line["amount"]["formatted"])  # ¥: no minor unit
    await shot(page, "console-invoice")


async def visit_catalog(page: Page, shot: Shot) -> None:
    await page.get_by_role("link", name="Catalog").click()
    await expect(page.get_by_role("heading", name="Plans")).to_be_visible()
    await expect(page.locator("#plans tbody tr").first).to_be_visible()
    await shot(page, "console-catalog")


async def turn_off_plan_changes_in_the_portal(page: Page, server: Server, shot: Shot) -> None:
    before = gql(server, PORTAL_QUERY)["portalConfiguration"]
    assert before["changePlan"] is True
    await page.get_by_role("link", name="Billing portal").click()
    await expect(page.get_by_role("heading", name="Billing portal settings", level=1)).to_be_visible()
    switch = page.get_by_label("Switch to another plan")
    await expect(switch).to_be_checked()
    await switch.uncheck()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Billing portal settings saved.")).to_be_visible()
    await expect(switch).not_to_be_checked()
    await shot(page, "console-portal-configuration")
    after = gql(server, PORTAL_QUERY)["portalConfiguration"]
    assert after == {**before, "changePlan": False}  # that one setting, and nothing else


async def retry_provider_calls(page: Page, db_url: str, tenant_id: str, shot: Shot) -> None:
    failed = await settled_failures(db_url, tenant_id)
    assert failed >= 1  # the customer sync, at least
    await page.get_by_role("link", name="Provider errors").click()
    row = page.locator("#provider-errors tbody tr", has_text="Sakura Design")
    await expect(row).to_contain_text("Refused by the test")
    await shot(page, "console-provider-errors")
    await row.get_by_role("button", name="Retry provider calls for Sakura Design").click()
    await expect(row.get_by_role("status")).to_have_text(
        f"{failed} provider call(s) queued again for Sakura Design."
    )
    await settled_failures(db_url, tenant_id)  # sent again (and refused again) by the worker


async def redeliver(page: Page, server: Server, receiver: Receiver, endpoint_id: str, shot: Shot) -> None:
    await page.get_by_role("link", name="Webhooks").click()
    await expect(page.get_by_text(receiver.url)).to_be_visible()
    await shot(page, "console-webhooks")
    await page.get_by_role("link", name=f"Open the delivery log of {receiver.url}").click()
    delivery = gql(server, DELIVERIES_QUERY, {"endpointId": endpoint_id})["webhookDeliveries"]["edges"][0][
        "node"
    ]
    attempts = page.locator(f'[data-attempts="{delivery["id"]}"]')
    await expect(attempts).to_have_text(str(delivery["attempts"]))
    await shot(page, "console-webhook-deliveries")
    await page.get_by_role("button", name=f"Redeliver usage.recorded ({delivery['id']})").click()
    await expect(page.get_by_text(f"Delivery {delivery['id']} queued to be sent again")).to_be_visible()
    for _ in range(100):  # the worker sends it within moments; the log shows the new attempt
        if len(receiver.ids) >= 2:
            break
        await asyncio.sleep(0.1)
    assert receiver.ids == [delivery["id"], delivery["id"]]  # the same webhook-id, sent again
    await page.get_by_role("button", name="Reload").click()
    await expect(attempts).to_have_text(str(delivery["attempts"] + 1))


async def switch_to_japanese_and_sign_out(page: Page, shot: Shot) -> None:
    await page.get_by_label("Language").select_option("ja")
    await expect(page.get_by_role("link", name="カタログ")).to_be_visible()
    await expect(page.get_by_role("heading", name="配信ログ")).to_be_visible()
    await expect(page.get_by_text("今すぐ再送するようキューに入れました")).to_be_visible()  # notices too
    await shot(page, "console-ja")
    await page.get_by_role("button", name="サインアウト").click()
    await expect(page.get_by_label("ADMIN API キー")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0


async def test_an_operator_signs_in_finds_a_tenant_fixes_its_address_reads_an_invoice_and_redelivers(
    serve: Callable[..., Server], db_url: str, page: Page, offline: Offline, screenshot: Shot
) -> None:
    provider = RefusingProvider()
    server = serve_with_provider(serve, provider)
    receiver = Receiver()
    traffic = Traffic(page)
    try:
        endpoint_id = a_delivered_webhook(server, receiver)
        await page.add_init_script("localStorage.setItem('console.lang', 'en')")
        await sign_in(page, server, server.admin_key)
        assert await page.evaluate("sessionStorage.getItem('console.adminKey')") == server.admin_key
        assert server.admin_key not in await page.evaluate("JSON.stringify(localStorage)")
        assert server.admin_key not in page.url
        tenant_id = await find_tenant(page, screenshot)
        await change_billing_address(page, server, db_url, tenant_id)
        await read_invoice(page, server, screenshot)
        await visit_catalog(page, screenshot)
        await turn_off_plan_changes_in_the_portal(page, server, screenshot)
        await retry_provider_calls(page, db_url, tenant_id, screenshot)
        await redeliver(page, server, receiver, endpoint_id, screenshot)
        await switch_to_japanese_and_sign_out(page, screenshot)
    finally:
        receiver.stop()
        provider.stop()
    assert any("/v1/customers" in request for request in provider.requests)
    traffic.assert_only_persisted_console_queries(server)
    assert offline.blocked == []


async def test_a_wrong_key_and_a_tenant_key_are_refused_with_a_reason(
    serve: Callable[..., Server], page: Page, offline: Offline, screenshot: Shot
) -> None:
    server = serve()
    tenant = gql(server, "query T { tenants(first: 1) { edges { node { id } } } }")["tenants"]["edges"][0]
    created = gql(
        server,
        """mutation K($t: ID!) { createApiKey(input: {role: TENANT, tenantId: $t}) {
             ... on NewApiKey { secret } ... on Error { code message } } }""",
        {"t": tenant["node"]["id"]},
    )["createApiKey"]
    await page.add_init_script("localStorage.setItem('console.lang', 'en')")
    shell = await page.goto(f"{server.base}/console")
    assert shell is not None
    policy = shell.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy  # no inline script runs
    assert "<script>" not in await shell.text()
    await page.keyboard.press("Tab")  # by keyboard: the first stop skips to the content
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await sign_in(page, server, "gwk_not-a-key")
    await expect(page.get_by_role("alert")).to_have_text("This key is not valid, or it has been revoked.")
    await expect(page.get_by_label("ADMIN API key")).to_be_focused()  # to type another at once
    await page.keyboard.press("Control+A")
    await page.keyboard.type(created["secret"])
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("it is not an ADMIN key")
    await screenshot(page, "console-sign-in-refused")
    assert await page.evaluate("sessionStorage.length") == 0
    await expect(page.get_by_role("navigation")).to_have_count(0)
    assert offline.blocked == []
