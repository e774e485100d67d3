"""The billing portal in Chromium, against `billing-gateway serve --demo`: a customer opens
a portal link and, on the seed example's day 16, adds 5 seats seeing "$25.00 today" before
confirming, is told who must go before seats can be cut, cancels at period end and prints
an invoice; the page holds no API key, and a used link is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Request, expect

from tests.browser.conftest import Offline
from tests.builders.api import Api
from tests.builders.billing import advance, attach, create_addon, create_plan, invite, subscribe
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.portal import create_link
from tests.builders.served import Server

Shot = Callable[[Page, str], Awaitable[Path]]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Team:
    api: Api
    tenant: str
    subscription: str
    addon: str


@pytest.fixture
async def admin(serve: Callable[..., Server]) -> AsyncIterator[tuple[Server, Api]]:
    server = serve()
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        yield server, Api(http, server.admin_key)


async def seed_example(api: Api) -> Team:
    """$10 a seat, 5 seats, 3 members, on a test clock at day 16 of a 30-day April; the plan
    grants 1,000 API calls a period, 40 used on each of the first days."""
    clock = await new_clock(api, "2026-04-01T00:00:00Z")
    tenant = await tenant_on(api, "Portal Co", clock)
    plan = await create_plan(api, "portal_team", 0)
    seat = await create_addon(api, "portal_seat", 1000, seatType="FULL", name="Seat")
    assert (await attach(api, plan, seat))["__typename"] == "Plan"
    granted = await api(
        """mutation($p: ID!) { grantFeature(input: {planId: $p, featureCode: "api_calls", limit: 1000}) {
             __typename } }""",
        {"p": plan},
    )
    assert granted["grantFeature"]["__typename"] == "FeatureGrant", granted
    subscription = await subscribe(api, tenant, plan, {seat: 5})
    for name in ("ana", "bo", "cy"):
        assert (await invite(api, tenant, f"{name}@portal.example"))["__typename"] == "Member"
    await advance(api, clock, "2026-04-16T00:00:00Z")
    for day in range(1, 16):
        await api(
            """mutation($t: ID!, $at: DateTime!, $v: Float!) { recordUsage(input: {tenantId: $t,
                 meterName: "api_calls", value: $v, timestamp: $at}) { __typename } }""",
            {"t": tenant, "at": f"2026-04-{day:02d}T12:00:00Z", "v": 40 + day},
        )
    return Team(api, tenant, subscription["id"], seat)


async def open_portal(page: Page, api: Api, server: Server, tenant: str) -> str:
    link = await create_link(api, tenant, f"{server.base}/console")
    assert link["__typename"] == "PortalSession", link
    await page.goto(link["url"])
    await expect(page.get_by_role("heading", name="Plan and status")).to_be_visible()
    return link["url"]


async def test_a_customer_adds_seats_sees_who_must_go_cancels_and_prints_an_invoice(
    admin: tuple[Server, Api],
    browser_context: tuple[BrowserContext, Offline],
    page: Page,
    screenshot: Shot,
) -> None:
    server, api = admin
    team = await seed_example(api)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    url = await open_portal(page, api, server, team.tenant)
    await expect(page.locator("#plan")).to_contain_text("Active")
    await screenshot(page, "portal-overview")

    seats = page.get_by_label("Seat ($10.00 each)")
    await seats.fill("10")
    preview = page.get_by_test_id("preview")
    await expect(preview).to_contain_text("$25.00 today")
    await expect(preview).to_contain_text("$100.00 at each renewal")
    whole = await screenshot(page, "portal-change-preview")
    await page.locator("#change").screenshot(
        path=str(whole.with_name(whole.name.replace("preview", "preview-section")))
    )
    await preview.get_by_role("button", name="Review change").click()
    await preview.get_by_role("button", name="Confirm and pay $25.00").click()
    await expect(page.locator("#change")).to_contain_text("$25.00.")
    invoices = page.locator("#invoices")
    await expect(invoices.locator("tbody tr")).to_have_count(2)
    await expect(invoices).to_contain_text("$25.00")

    await seats.fill("1")
    await expect(page.locator("#change [role=alert]")).to_contain_text("Remove 2 member(s) first")
    for name in ("ana", "bo", "cy"):
        await expect(page.locator(".must-remove")).to_contain_text(f"{name}@portal.example")
    await screenshot(page, "portal-seats-in-use")
    await seats.fill("10")

    cancel = page.locator("#cancel")
    await cancel.get_by_role("button", name="Cancel at period end").click()
    await cancel.get_by_role("button", name="Yes, cancel at the end of the period").click()
    await expect(page.locator("#plan")).to_contain_text("Cancels at the end of the period")

    async with page.context.expect_page() as opened:
        await invoices.get_by_role("link", name="View / print").first.click()
    printable = await opened.value
    await expect(printable.get_by_role("heading", level=1)).to_contain_text("Invoice")
    await expect(printable.locator("table.lines")).to_contain_text("$25.00")
    await expect(printable.locator(".parties")).to_contain_text("Portal Co")
    await screenshot(printable, "portal-invoice-print")

    # The page holds no API key: nothing in its storage or cookies a script can read,
    # and no request carried one.
    stored = await page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), "
        "document.cookie])"
    )
    assert "gwk_" not in stored and server.admin_key not in stored and "gw_portal_session" not in stored
    assert sent and not [r for r in sent if "authorization" in r.headers]
    assert not [r for r in sent if server.admin_key in (r.post_data or "") + r.url]
    assert browser_context[1].blocked == []

    # The link was used: opening it again is refused, in words.
    again = await page.context.new_page()
    await again.goto(url)
    await expect(again.get_by_role("alert")).to_contain_text("already used")


async def test_the_portal_shows_usage_against_the_limit_and_a_member_invited_elsewhere(
    admin: tuple[Server, Api], page: Page, screenshot: Shot
) -> None:
    server, api = admin
    team = await seed_example(api)
    granted = await api(
        """mutation($t: ID!) { grantCredits(input: {tenantId: $t, amount: 1500,
             description: "Welcome credit"}) { __typename } }""",
        {"t": team.tenant},
    )
    assert granted["grantCredits"]["__typename"] == "CreditGrant", granted
    await open_portal(page, api, server, team.tenant)
    await expect(page.get_by_test_id("credit-balance")).to_have_text("$15.00")
    await expect(page.locator("#credit table")).to_contain_text("Welcome credit")

    chart = page.locator('figure[data-meter="api_calls"]')
    await expect(chart.locator("line.limit")).to_have_attribute("data-limit", "1000")
    counts = await api(
        """query($t: ID!) { meterUnitPeriodCounts(tenantId: $t, meterName: "api_calls", from: "2026-04-01",
             to: "2026-04-16") { date count } }""",
        {"t": team.tenant},
    )
    expected = {c["date"]: c["count"] for c in counts["meterUnitPeriodCounts"]}
    bars = chart.locator("rect.bar")
    await expect(bars).to_have_count(len(expected))
    shown = {
        await bar.get_attribute("data-date"): float(await bar.get_attribute("data-count") or "nan")
        for bar in await bars.all()
    }
    assert shown == expected and expected["2026-04-02"] == 42
    await screenshot(page, "portal-usage")

    assert (await invite(api, team.tenant, "dee@portal.example"))["__typename"] == "Member"
    await expect(page.locator("#seats")).to_contain_text("dee@portal.example")


async def test_a_used_link_and_another_tenants_data_are_refused(
    admin: tuple[Server, Api], page: Page, screenshot: Shot
) -> None:
    server, api = admin
    team = await seed_example(api)
    other = await tenant_on(api, "Other Co", await new_clock(api, "2026-04-01T00:00:00Z"))
    await open_portal(page, api, server, team.tenant)

    foreign = await page.evaluate(
        """async (id) => (await fetch("/graphql", {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json", "X-Portal-Session": "1"},
             body: JSON.stringify({query: "query($id: ID!) { tenant(id: $id) { name } }",
                                   variables: {id}})})).json()""",
        other,
    )
    assert foreign["data"]["tenant"] is None
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    fresh = await page.context.new_page()
    await fresh.goto(f"{server.base}/portal#token=not-a-real-token")
    await expect(fresh.get_by_role("alert")).to_contain_text("not valid")
    await screenshot(fresh, "portal-link-refused")


@pytest.mark.parametrize("width", ["desktop", "phone"])
async def test_every_portal_screen_is_captured_at_desktop_and_phone_width(
    admin: tuple[Server, Api], page: Page, screenshot: Shot, width: str
) -> None:
    server, api = admin
    team = await seed_example(api)
    await page.set_viewport_size(DESKTOP if width == "desktop" else PHONE)
    await open_portal(page, api, server, team.tenant)
    await expect(page.locator('figure[data-meter="api_calls"]')).to_be_visible()
    whole = await screenshot(page, f"portal-{width}")
    for section in ("plan", "seats", "change", "usage", "invoices", "credit", "entitlements", "cancel"):
        locator = page.locator(f"#{section}")
        await expect(locator).to_be_visible()
        name = whole.name.replace(f"portal-{width}", f"portal-{section}-{width}")
        await locator.screenshot(path=str(whole.with_name(name)))


async def test_a_full_seat_type_offers_more_seats_and_the_portal_speaks_japanese(
    admin: tuple[Server, Api], page: Page, screenshot: Shot
) -> None:
    server, api = admin
    team = await seed_example(api)
    await open_portal(page, api, server, team.tenant)
    seats = page.locator("#seats")

    for name in ("dee", "eve", "fay"):  # two seats are free
        await seats.get_by_label("Email").fill(f"{name}@portal.example")
        await seats.get_by_role("button", name="Invite").click()
        if name != "fay":
            await expect(seats.get_by_role("status")).to_contain_text(f"{name}@portal.example was invited")
    await expect(seats.get_by_role("alert")).to_contain_text("NO_SEATS_AVAILABLE")
    await expect(seats.get_by_role("link", name="Add seats")).to_have_attribute("href", "#change")
    await screenshot(page, "portal-no-seats")

    await page.get_by_label("Language").select_option("ja")
    await expect(page.get_by_role("heading", name="プランと状態")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
