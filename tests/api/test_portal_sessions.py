"""Billing portal sessions through HTTP: a link made by the API opens once into a cookie
session scoped to one tenant, which may read that tenant and make only the changes the
operator's portal configuration allows."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.requests import Request

from gateway import portal_session
from models.kernel.clock import FixedClock
from models.kernel.errors import ValidationFailed
from models.platform.access import operator
from models.platform.deps import Deps
from models.portal import service as portal
from tests.builders.api import START, Api, new_key, new_tenant
from tests.builders.billing import change_input, change_plan, plan_with_seat_addon, preview_change, subscribe
from tests.builders.portal import (
    RETURN_URL,
    PortalApi,
    create_link,
    open_link,
    portal_for,
    session_cookie,
    token_of,
)

TENANT = "query($id: ID!) { tenant(id: $id) { id name } }"
CANCEL = """mutation($s: ID!, $end: Boolean!) { cancelSubscription(subscriptionId: $s, atPeriodEnd: $end) {
  __typename ... on Subscription { cancelAtPeriodEnd } ... on Error { code message } } }"""
CONFIGURE = """mutation($input: PortalConfigurationInput!) { updatePortalConfiguration(input: $input) {
  __typename ... on PortalConfiguration { changePlan changeSeats cancelAtPeriodEnd cancelImmediately pause
  applyCoupons manageMembers prorationBillingMode } ... on Error { code message } } }"""


def _code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_an_admin_and_the_tenants_own_key_make_links_another_tenants_key_does_not(api: Api) -> None:
    tenant, other = await new_tenant(api, "Acme"), await new_tenant(api, "Other")
    own_key = (await new_key(api, "TENANT", tenant))["secret"]
    other_key = (await new_key(api, "TENANT", other))["secret"]
    partner_key = (await new_key(api, "PARTNER", tenant))["secret"]

    by_admin = await create_link(api, tenant)
    assert by_admin["__typename"] == "PortalSession"
    assert by_admin["url"].startswith("http://gateway.test/portal#token=")
    assert by_admin["expiresAt"] == (START + timedelta(minutes=5)).isoformat()
    assert (await create_link(api.as_key(own_key), tenant))["__typename"] == "PortalSession"
    for key in (other_key, partner_key):
        refused = await create_link(api.as_key(key), tenant)
        assert refused["code"] == "NOT_FOUND", refused


async def test_a_link_opens_once_into_an_http_only_same_site_strict_cookie(api: Api) -> None:
    tenant = await new_tenant(api)
    link = await create_link(api, tenant)

    opened = await open_link(api.http, link["url"])
    assert opened.json() == {
        "tenantId": tenant,
        "returnUrl": RETURN_URL,
        "expiresAt": opened.json()["expiresAt"],
    }
    set_cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" in set_cookie
    assert "path=/" in set_cookie
    assert session_cookie(opened) not in link["url"]  # the session is not the link

    again = await open_link(api.http, link["url"])
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "already used" in again.json()["error"]["message"]
    assert "set-cookie" not in again.headers

    unknown = await open_link(api.http, link["url"] + "x")
    assert unknown.status_code == 401 and "not valid" in unknown.json()["error"]["message"]


async def test_a_link_opened_by_many_browsers_at_once_opens_exactly_one_session(api: Api) -> None:
    tenant = await new_tenant(api)
    link = await create_link(api, tenant)

    answers = await asyncio.gather(*(open_link(api.http, link["url"]) for _ in range(8)))

    assert sorted(a.status_code for a in answers) == [200] + [401] * 7
    assert len({a.cookies.get("gw_portal_session") for a in answers if a.status_code == 200}) == 1


async def test_a_link_opened_after_it_expires_is_refused(api: Api, clock: FixedClock) -> None:
    tenant = await new_tenant(api)
    link = await create_link(api, tenant)
    clock.set(START + timedelta(minutes=5))

    late = await open_link(api.http, link["url"])

    assert late.status_code == 401
    assert "expired" in late.json()["error"]["message"] and "5 minutes" in late.json()["error"]["message"]
    clock.set(START)  # and it stays used up by nothing: it simply expired
    assert (await open_link(api.http, link["url"])).status_code == 200


async def test_opening_a_link_needs_the_portal_header_and_the_gateways_own_origin(api: Api) -> None:
    tenant = await new_tenant(api)
    link = await create_link(api, tenant)
    token = token_of(link["url"])

    bare = await api.http.post("/portal/session", json={"token": token})
    foreign = await open_link(api.http, link["url"], Origin="https://evil.example")

    assert bare.status_code == 403 and "X-Portal-Session" in bare.json()["error"]["message"]
    assert foreign.status_code == 403 and "Origin" in foreign.json()["error"]["message"]
    same = await open_link(api.http, link["url"], Origin="http://gateway.test")
    assert same.status_code == 200  # neither refusal used the link up


async def test_a_portal_session_reads_its_own_tenant_and_not_another(api: Api) -> None:
    tenant, other = await new_tenant(api, "Acme"), await new_tenant(api, "Other")
    session = await portal_for(api, tenant)

    assert (await session(TENANT, {"id": tenant}))["tenant"]["name"] == "Acme"
    hidden = await session.raw(TENANT, {"id": other})
    assert hidden["data"]["tenant"] is None and _code(hidden) == "NOT_FOUND"
    current = (await session("{ portalSession { tenantId returnUrl expiresAt } }"))["portalSession"]
    assert current["tenantId"] == tenant and current["returnUrl"] == RETURN_URL
    assert current["expiresAt"] == (START + timedelta(hours=1)).isoformat()
    assert (await api("{ portalSession { id } }"))["portalSession"] is None  # an API key is no session


@pytest.mark.parametrize(
    "operation",
    [
        'mutation { createApiKey(input: {role: TENANT, tenantId: "$T", name: "x"}) { __typename } }',
        'mutation { createPortalSession(tenantId: "$T", returnUrl: "https://a.example") { __typename } }',
        '{ apiKeys(tenantId: "$T") { edges { cursor } } }',
        '{ auditLog(tenantId: "$T") { edges { cursor } } }',
        'mutation { recordUsage(input: {tenantId: "$T", meterName: "m", value: 1}) { __typename } }',
        "mutation { updatePortalConfiguration(input: {pause: true}) { __typename } }",
    ],
)
async def test_a_portal_session_may_not_call_what_the_portal_does_not_use(api: Api, operation: str) -> None:
    tenant = await new_tenant(api)
    session = await portal_for(api, tenant)

    body = await session.raw(operation.replace("$T", tenant))

    assert _code(body) == "FORBIDDEN", body
    assert "billing portal session" in body["errors"][0]["message"]


async def test_a_cookie_without_the_portal_header_or_from_another_origin_authenticates_nothing(
    api: Api,
) -> None:
    tenant = await new_tenant(api)
    session = await portal_for(api, tenant)
    no_header = PortalApi(api.http, session.cookie, headers={})
    cross_site = PortalApi(
        api.http, session.cookie, {"X-Portal-Session": "1", "Origin": "https://evil.example"}
    )

    for caller in (no_header, cross_site):
        body = await caller.raw(TENANT, {"id": tenant})
        assert _code(body) == "UNAUTHENTICATED", body
    assert (await session(TENANT, {"id": tenant}))["tenant"]["id"] == tenant


async def test_a_session_ends_when_idle_and_when_signed_out(api: Api, clock: FixedClock) -> None:
    tenant = await new_tenant(api)
    session = await portal_for(api, tenant)
    clock.set(START + timedelta(minutes=50))
    await session(TENANT, {"id": tenant})  # use moves the idle expiry
    clock.set(START + timedelta(minutes=100))
    assert (await session(TENANT, {"id": tenant}))["tenant"]["id"] == tenant

    clock.set(START + timedelta(minutes=161))
    idle = await session.raw(TENANT, {"id": tenant})
    assert _code(idle) == "UNAUTHENTICATED" and "session has ended" in idle["errors"][0]["message"]

    clock.set(START)
    fresh = await portal_for(api, tenant)
    ended = await api.http.post(
        "/portal/session/end",
        headers={"X-Portal-Session": "1", "Cookie": f"gw_portal_session={fresh.cookie}"},
    )
    assert ended.json() == {"ended": True}
    assert _code(await fresh.raw(TENANT, {"id": tenant})) == "UNAUTHENTICATED"


async def _subscribed(api: Api) -> tuple[str, str, str, str]:
    """A tenant on a plan with 5 FULL seats bought: (tenant, subscription, plan, seat add-on)."""
    plan, seat = await plan_with_seat_addon(api, "team", 0, 1000)
    tenant = await new_tenant(api)
    subscription = await subscribe(api, tenant, plan, {seat: 5})
    return tenant, subscription["id"], plan, seat


async def test_the_portal_configuration_decides_what_a_session_may_change(api: Api) -> None:
    tenant, subscription, plan, seat = await _subscribed(api)
    other_plan, _ = await plan_with_seat_addon(api, "other", 500, 1000)
    session = await portal_for(api, tenant)

    defaults = await session("{ portalConfiguration { changeSeats cancelImmediately prorationBillingMode } }")
    assert defaults["portalConfiguration"] == {
        "changeSeats": True,
        "cancelImmediately": False,
        "prorationBillingMode": "PRORATED_IMMEDIATELY",
    }
    assert (await preview_change(session, change_input(subscription, plan, {seat: 10})))[
        "__typename"
    ] == "PlanChangePreview"
    free = await change_plan(session, change_input(subscription, plan, {seat: 10}, mode="DO_NOT_BILL"))
    assert free["code"] == "PORTAL_ACTION_NOT_ALLOWED" and "PRORATED_IMMEDIATELY" in free["message"]
    now = (await session(CANCEL, {"s": subscription, "end": False}))["cancelSubscription"]
    assert now["__typename"] == "PortalActionNotAllowedError" and "cancelImmediately" in now["message"]

    configured = await api(CONFIGURE, {"input": {"changeSeats": False, "changePlan": False}})
    assert configured["updatePortalConfiguration"]["changeSeats"] is False
    assert configured["updatePortalConfiguration"]["cancelAtPeriodEnd"] is True  # left as it was
    seats = await change_plan(session, change_input(subscription, plan, {seat: 10}))
    assert seats["code"] == "PORTAL_ACTION_NOT_ALLOWED" and "changeSeats" in seats["message"]
    switch = await preview_change(session, change_input(subscription, other_plan, {}))
    assert switch["code"] == "PORTAL_ACTION_NOT_ALLOWED" and "changePlan" in switch["message"]

    by_key = await change_plan(api, change_input(subscription, plan, {seat: 10}))  # API keys: unchanged
    assert by_key["__typename"] == "PlanChange", by_key
    at_end = (await session(CANCEL, {"s": subscription, "end": True}))["cancelSubscription"]
    assert at_end == {"__typename": "Subscription", "cancelAtPeriodEnd": True}
    audit = await api(
        "query($t: ID!) { auditLog(tenantId: $t, first: 50) { edges { node { actor action } } } }",
        {"t": tenant},
    )
    actors = {e["node"]["actor"] for e in audit["auditLog"]["edges"]}
    assert any(actor.startswith("portal:ps_") for actor in actors), actors  # the session is named


async def test_only_an_admin_changes_the_portal_configuration(api: Api) -> None:
    tenant = await new_tenant(api)
    own_key = (await new_key(api, "TENANT", tenant))["secret"]

    refused = (await api.as_key(own_key)(CONFIGURE, {"input": {"pause": True}}))["updatePortalConfiguration"]

    assert refused["code"] == "FORBIDDEN"
    assert (await api("{ portalConfiguration { pause } }"))["portalConfiguration"]["pause"] is False


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://app.example/billing", "must use https"),
        ("http://127.0.0.1:3000/billing", "GATEWAY_PORTAL_ALLOW_LOOPBACK_RETURN"),
        ("javascript:alert(1)", "absolute https URL"),
        ("/billing", "absolute https URL"),
        ("https://user:pw@app.example/", "user name or password"),
        ("https://" + "a" * 2000 + ".example/", "at most 2000"),
    ],
)
async def test_the_return_url_must_be_https(api: Api, url: str, problem: str) -> None:
    tenant = await new_tenant(api)

    refused = await create_link(api, tenant, url)

    assert refused["code"] == "VALIDATION_FAILED" and refused["field"] == "returnUrl"
    assert problem in refused["message"]


async def test_a_loopback_return_url_is_allowed_where_the_operator_allows_it(deps: Deps, api: Api) -> None:
    tenant = await new_tenant(api)
    policy = dataclasses.replace(
        deps.policy, portal=dataclasses.replace(deps.policy.portal, allow_loopback_return=True)
    )
    development = dataclasses.replace(deps, policy=policy)

    link = await portal.create_portal_session(
        development, operator(), tenant, "http://localhost:3000/billing", base_url="http://127.0.0.1:8000/"
    )

    assert link.url.startswith("http://127.0.0.1:8000/portal#token=")
    with pytest.raises(ValidationFailed):
        await portal.create_portal_session(
            development, operator(), tenant, "http://10.0.0.5/billing", base_url="http://127.0.0.1:8000"
        )


async def test_no_link_token_or_session_secret_reaches_the_logs_or_the_database(
    api: Api, deps: Deps, log_output: io.StringIO
) -> None:
    tenant = await new_tenant(api)
    link = await create_link(api, tenant)
    opened = await open_link(api.http, link["url"])
    cookie = session_cookie(opened)
    await PortalApi(api.http, cookie)(TENANT, {"id": tenant})
    await open_link(api.http, link["url"])  # refused: logged, without the token

    logged = log_output.getvalue()
    assert "portal" in logged and "SELECT" in logged  # the logs were captured
    for secret in (token_of(link["url"]), cookie):
        assert secret[5:] not in logged
    async with deps.store.read() as session:
        from sqlalchemy import select

        from models.tables import PortalSessionRow

        stored = [
            str(v) for row in (await session.execute(select(PortalSessionRow.__table__))).all() for v in row
        ]
    assert stored and not [v for v in stored if token_of(link["url"]) in v or cookie in v]


async def test_the_portal_page_is_a_static_shell_under_a_strict_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/portal")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert '<script type="module" src="/assets/portal/app.js"></script>' in page.text
    assert page.text.count("<script") == 1  # no inline script
    assert (await client.get("/assets/portal/app.js")).status_code == 200


async def test_pausing_members_and_coupons_follow_their_settings(api: Api) -> None:
    tenant, subscription, _, _ = await _subscribed(api)
    session = await portal_for(api, tenant)
    pause = """mutation($s: ID!) { pauseSubscription(subscriptionId: $s) {
      __typename ... on Error { code message } } }"""
    coupon = """mutation($s: ID!) { applyCoupon(subscriptionId: $s, couponCode: "NOPE") {
      __typename ... on Error { code message } } }"""
    invite = """mutation($t: ID!) { inviteMember(input: {tenantId: $t, email: "x@portal.example"}) {
      __typename ... on Error { code message } } }"""

    refused = (await session(pause, {"s": subscription}))["pauseSubscription"]
    assert (
        refused["code"] == "PORTAL_ACTION_NOT_ALLOWED" and "portalConfiguration.pause" in refused["message"]
    )
    unknown = (await session(coupon, {"s": subscription}))["applyCoupon"]
    assert unknown["code"] == "COUPON_NOT_APPLICABLE"  # allowed, but there is no such coupon
    assert (await session(invite, {"t": tenant}))["inviteMember"]["__typename"] == "Member"

    await api(CONFIGURE, {"input": {"pause": True, "applyCoupons": False, "manageMembers": False}})

    assert (await session(pause, {"s": subscription}))["pauseSubscription"]["__typename"] == "Subscription"
    assert (await session(coupon, {"s": subscription}))["applyCoupon"]["code"] == "PORTAL_ACTION_NOT_ALLOWED"
    assert (await session(invite, {"t": tenant}))["inviteMember"]["code"] == "PORTAL_ACTION_NOT_ALLOWED"


async def test_the_printable_invoice_is_the_sessions_own_tenants_only(api: Api) -> None:
    tenant, _, plan, seat = await _subscribed(api)
    other = await new_tenant(api, "Other")
    theirs = (await subscribe(api, other, plan, {seat: 1}))["latestInvoice"]
    ours = (
        await api(
            "query($t: ID!) { tenant(id: $t) { subscription { latestInvoice { id number } } } }",
            {"t": tenant},
        )
    )["tenant"]["subscription"]["latestInvoice"]
    session = await portal_for(api, tenant)
    cookie = {"Cookie": f"gw_portal_session={session.cookie}"}

    printed = await api.http.get(f"/portal/invoices/{ours['id']}", headers=cookie)
    assert printed.status_code == 200 and f"Invoice {ours['number']}" in printed.text
    assert "$50.00" in printed.text and "frame-ancestors 'none'" in printed.headers["content-security-policy"]
    assert (await api.http.get(f"/portal/invoices/{theirs['id']}", headers=cookie)).status_code == 404
    assert (await api.http.get(f"/portal/invoices/{ours['id']}")).status_code == 401


@pytest.mark.parametrize(
    ("public_url", "request_url", "secure"),
    [
        (None, "http://127.0.0.1:8000/portal/session", False),  # development: browsers drop Secure here
        (None, "https://billing.example.com/portal/session", True),
        # behind a proxy that forwards a loopback Host over plain http: the public URL decides
        ("https://billing.example.com", "http://127.0.0.1:8000/portal/session", True),
        ("http://localhost:8000", "http://127.0.0.1:8000/portal/session", False),
    ],
)
def test_the_session_cookie_is_secure_unless_the_portal_is_served_over_plain_http_on_loopback(
    deps: Deps, public_url: str | None, request_url: str, secure: bool
) -> None:
    policy = dataclasses.replace(
        deps.policy, portal=dataclasses.replace(deps.policy.portal, public_url=public_url)
    )
    url = urlsplit(request_url)
    request = Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": url.scheme,
            "path": url.path,
            "query_string": b"",
            "headers": [(b"host", url.netloc.encode())],
        }
    )
    assert portal_session.secure_cookie(request, dataclasses.replace(deps, policy=policy)) is secure


REVOKE = """mutation($id: ID!) { revokeApiKey(id: $id) { __typename ... on Error { code message } } }"""


async def test_revoking_the_key_that_made_a_link_ends_its_session_and_voids_its_unopened_links(
    api: Api,
) -> None:
    tenant = await new_tenant(api)
    made = await new_key(api, "TENANT", tenant)
    own = api.as_key(made["secret"])
    session = await portal_for(own, tenant)
    unopened = await create_link(own, tenant)
    by_admin = await portal_for(api, tenant)  # made by another key: stays
    assert (await session(TENANT, {"id": tenant}))["tenant"]["id"] == tenant

    assert (await api(REVOKE, {"id": made["apiKey"]["id"]}))["revokeApiKey"]["__typename"] == "ApiKey"

    ended = await session.raw(TENANT, {"id": tenant})
    assert _code(ended) == "UNAUTHENTICATED"
    refused = await open_link(api.http, unopened["url"])
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    assert (await by_admin(TENANT, {"id": tenant}))["tenant"]["id"] == tenant
