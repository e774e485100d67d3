"""Tenant scope: a TENANT key of another tenant gets NOT_FOUND for every object of
this tenant, through every query and mutation that takes a tenant or object id.

The walk is driven by the schema: a new field that takes an id fails this test until
a case for it is added below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLInputObjectType, GraphQLSchema, get_named_type

from gateway.schema import build_schema
from models.platform.deps import Deps
from models.webhooks import deliveries as webhook_deliveries
from tests.builders.api import Api, new_key, new_tenant
from tests.builders.billing import invite, plan_with_seat_addon, subscribe

# Root field -> (operation, variables from the victim's objects). Every case must
# answer NOT_FOUND to the other tenant's TENANT key.
Objects = dict[str, str]
CASES: dict[str, tuple[str, Callable[[Objects], dict[str, Any]]]] = {
    "Query.tenant": ("query($id: ID!) { tenant(id: $id) { id } }", lambda o: {"id": o["tenant"]}),
    "Query.testClock": (
        "query($id: ID!) { testClock(id: $id) { id } }",
        lambda o: {"id": o["clock"]},
    ),
    "Query.apiKeys": (
        "query($id: ID!) { apiKeys(tenantId: $id) { edges { node { id } } } }",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.updateBillingInfo": (
        """mutation($id: ID!) { updateBillingInfo(tenantId: $id, input: {companyName: "Pwned"}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.createApiKey": (
        """mutation($id: ID!) { createApiKey(input: {role: TENANT, tenantId: $id}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.revokeApiKey": (
        "mutation($id: ID!) { revokeApiKey(id: $id) { __typename ... on Error { code } } }",
        lambda o: {"id": o["key"]},
    ),
    "Query.subscription": (
        "query($id: ID!) { subscription(id: $id) { id } }",
        lambda o: {"id": o["subscription"]},
    ),
    "Query.auditLog": (
        "query($id: ID!) { auditLog(tenantId: $id) { edges { node { id } } } }",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.subscribe": (
        """mutation($id: ID!, $plan: ID!) { subscribe(input: {tenantId: $id, planId: $plan}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"], "plan": o["plan"]},
    ),
    "Mutation.inviteMember": (
        """mutation($id: ID!) { inviteMember(input: {tenantId: $id, email: "mole@evil.example"}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.removeMember": (
        "mutation($id: ID!) { removeMember(memberId: $id) { __typename ... on Error { code } } }",
        lambda o: {"id": o["member"]},
    ),
    "Query.invoice": (
        "query($id: ID!) { invoice(id: $id) { id } }",
        lambda o: {"id": o["invoice"]},
    ),
    "Mutation.previewChangePlan": (
        """mutation($id: ID!, $plan: ID!) { previewChangePlan(input: {subscriptionId: $id, planId: $plan}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["subscription"], "plan": o["plan"]},
    ),
    "Mutation.createPaymentSetupSession": (
        """mutation($id: ID!) { createPaymentSetupSession(tenantId: $id, returnUrl: "https://evil.example/") {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.createPortalSession": (
        """mutation($id: ID!) { createPortalSession(tenantId: $id, returnUrl: "https://evil.example/") {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.changePlan": (
        """mutation($id: ID!, $plan: ID!) {
             changePlan(input: {subscriptionId: $id, planId: $plan, addons: []}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["subscription"], "plan": o["plan"]},
    ),
    "Mutation.pauseSubscription": (
        """mutation($id: ID!) { pauseSubscription(subscriptionId: $id) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["subscription"]},
    ),
    "Mutation.resumeSubscription": (
        """mutation($id: ID!) { resumeSubscription(subscriptionId: $id) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["subscription"]},
    ),
    "Mutation.cancelSubscription": (
        """mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: false) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["subscription"]},
    ),
    "Mutation.recordUsage": (
        """mutation($id: ID!) { recordUsage(input: {tenantId: $id, meterName: "api_calls", value: 1}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.recordUsageBatch": (
        """mutation($id: ID!) {
             recordUsageBatch(events: [{tenantId: $id, meterName: "api_calls", value: 1}]) {
             __typename ... on UsageBatchRecorded { accepted errors { code } } ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.deleteUsage": (
        """mutation($id: ID!) { deleteUsage(tenantId: $id, meterName: "api_calls",
             timestamp: "2026-01-15T11:00:00Z") { __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.meterUnitDateCount": (
        """query($id: ID!) { meterUnitDateCount(tenantId: $id, meterName: "api_calls", date: "2026-01-15") {
             count } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.meterUnitTodayCount": (
        """query($id: ID!) { meterUnitTodayCount(tenantId: $id, meterName: "api_calls") { count } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.meterUnitMonthCount": (
        """query($id: ID!) { meterUnitMonthCount(tenantId: $id, meterName: "api_calls", month: "2026-01") {
             count } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.meterUnitThisMonthCount": (
        """query($id: ID!) { meterUnitThisMonthCount(tenantId: $id, meterName: "api_calls") { count } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.meterUnitDateCounts": (
        """query($id: ID!) { meterUnitDateCounts(tenantId: $id, date: "2026-01-15") { count } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.meterUnitMonthCounts": (
        """query($id: ID!) { meterUnitMonthCounts(tenantId: $id, month: "2026-01") { count } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.meterUnitPeriodCounts": (
        """query($id: ID!) { meterUnitPeriodCounts(tenantId: $id, meterName: "api_calls", from: "2026-01-01",
             to: "2026-01-15") { count } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.webhookEndpoints": (
        "query($id: ID!) { webhookEndpoints(tenantId: $id) { id } }",
        lambda o: {"id": o["tenant"]},
    ),
    "Query.webhookDeliveries": (
        "query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node { id } } } }",
        lambda o: {"id": o["webhook"]},
    ),
    "Mutation.createWebhookEndpoint": (
        """mutation($id: ID!) { createWebhookEndpoint(input: {url: "https://evil.example/in",
             events: ["seats.changed"], tenantId: $id}) { __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.updateWebhookEndpoint": (
        """mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: "https://evil.example/in"}) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["webhook"]},
    ),
    "Mutation.deleteWebhookEndpoint": (
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename ... on Error { code } } }",
        lambda o: {"id": o["webhook"]},
    ),
    "Mutation.redeliverWebhook": (
        "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename ... on Error { code } } }",
        lambda o: {"id": o["delivery"]},
    ),
    "Query.entitlement": (
        'query($id: ID!) { entitlement(tenantId: $id, featureCode: "sso") { enabled } }',
        lambda o: {"id": o["tenant"]},
    ),
    "Query.customerState": (
        "query($id: ID!) { customerState(tenantId: $id) { tenant { id } } }",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.consumeEntitlement": (
        """mutation($id: ID!) { consumeEntitlement(input: {tenantId: $id, featureCode: "projects",
             idempotencyKey: "k"}) { __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"]},
    ),
    "Mutation.issueEntitlementToken": (
        """mutation($id: ID!, $member: ID!) { issueEntitlementToken(tenantId: $id, memberId: $member) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["tenant"], "member": o["member"]},
    ),
    "Mutation.applyCoupon": (
        """mutation($id: ID!) { applyCoupon(subscriptionId: $id, couponCode: "ANY") {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["subscription"]},
    ),
    "Mutation.removeDiscount": (
        """mutation($id: ID!) { removeDiscount(subscriptionId: $id) {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["subscription"]},
    ),
    "Mutation.advanceTestClock": (
        """mutation($id: ID!) { advanceTestClock(id: $id, frozenTime: "2030-01-01T00:00:00Z") {
             __typename ... on Error { code } } }""",
        lambda o: {"id": o["clock"]},
    ),
}
# Operations no tenant-scoped key may run at all: FORBIDDEN before any object is read.
ADMIN_ONLY: dict[str, str] = {
    "Mutation.attachAddon": """mutation { attachAddon(planId: "plan_x", addonId: "addon_x") {
        __typename ... on Error { code } } }""",
    "Mutation.archiveAddon": """mutation { archiveAddon(addonId: "addon_x") {
        __typename ... on Error { code } } }""",
    "Mutation.createPlan": """mutation { createPlan(input: {code: "x", name: "X", currency: "USD",
        basePrice: 0}) { __typename ... on Error { code } } }""",
    "Mutation.createAddon": """mutation { createAddon(input: {code: "x", name: "X", currency: "USD",
        price: 0}) { __typename ... on Error { code } } }""",
    "Mutation.updateMeter": """mutation { updateMeter(id: "meter_x", aggregation: MAX) {
        __typename ... on Error { code } } }""",
    "Mutation.addUsageCharge": """mutation { addUsageCharge(input: {planId: "plan_x", meterName: "api_calls",
        unitAmount: 1}) { __typename ... on Error { code } } }""",
    "Mutation.setTaxRate": """mutation { setTaxRate(tenantId: "ten_x", taxRate: "10") {
        __typename ... on Error { code } } }""",
    "Mutation.createTenant": """mutation { createTenant(input: {name: "X", email: "x@y.example",
        currency: "USD", testClockId: "clock_x"}) { __typename ... on Error { code } } }""",
    "Mutation.retryProviderTasks": """mutation { retryProviderTasks(tenantId: "ten_x") {
        __typename ... on Error { code } } }""",
    "Mutation.setPaymentTerms": """mutation {
        setPaymentTerms(tenantId: "ten_x", collectionMethod: SEND_INVOICE) {
            __typename ... on Error { code } } }""",
    "Mutation.recordPayment": """mutation {
        recordPayment(input: {invoiceId: "inv_x", amount: 1, method: OTHER}) {
            __typename ... on Error { code } } }""",
    "Mutation.issueCreditNote": """mutation {
        issueCreditNote(input: {invoiceId: "inv_x", amount: 1, reason: "x"}) {
            __typename ... on Error { code } } }""",
    "Mutation.voidInvoice": """mutation { voidInvoice(invoiceId: "inv_x") {
        __typename ... on Error { code } } }""",
    "Mutation.grantFeature": """mutation { grantFeature(input: {planId: "plan_x", featureCode: "sso"}) {
        __typename ... on Error { code } } }""",
    "Mutation.revokeFeatureGrant": """mutation { revokeFeatureGrant(grantId: "grant_x") {
        __typename ... on Error { code } } }""",
    "Mutation.archiveFeature": """mutation { archiveFeature(featureId: "feat_x") {
        __typename ... on Error { code } } }""",
    "Mutation.createCoupon": """mutation { createCoupon(input: {code: "x", name: "X", percentOff: "10",
        duration: ONCE, appliesTo: ["plan_x"]}) { __typename ... on Error { code } } }""",
    "Mutation.archiveCoupon": """mutation { archiveCoupon(couponId: "coupon_x") {
        __typename ... on Error { code } } }""",
    "Mutation.grantCredits": """mutation { grantCredits(input: {tenantId: "ten_x", amount: 100,
        description: "Goodwill"}) { __typename ... on Error { code } } }""",
}


def _takes_an_id(type_: Any, seen: set[str]) -> bool:
    named = get_named_type(type_)
    if named.name == "ID":
        return True
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        seen.add(named.name)
        return any(_takes_an_id(f.type, seen) for f in named.fields.values())
    return False


def fields_taking_ids(schema: GraphQLSchema) -> set[str]:
    found = set()
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        for name, field in (root.fields if root else {}).items():
            if any(_takes_an_id(arg.type, set()) for arg in field.args.values()):
                found.add(f"{root.name}.{name}")
    return found


# GraphQL subscriptions run over the websocket only; tests/gateway/test_live.py walks
# each with another tenant's key (NOT_FOUND, and no event).
LIVE = {
    "Live.seatsChanged",
    "Live.usageRecorded",
    "Live.invoiceEvents",
    "Live.entitlementsChanged",
    "Live.subscriptionEvents",
}


def test_every_field_that_takes_an_id_is_walked() -> None:
    assert fields_taking_ids(build_schema()._schema) <= set(CASES) | set(ADMIN_ONLY) | LIVE


# Usage ingestion and reads: a tenant's own PARTNER key may run these.
METERING = {name for name in CASES if "Usage" in name or name.startswith("Query.meterUnit")} | {
    "Query.entitlement",
    "Mutation.consumeEntitlement",
    "Mutation.issueEntitlementToken",
}


async def assert_not_found_everywhere(caller: Api, objects: Objects, skip: set[str] | None = None) -> None:
    for name, (operation, variables) in CASES.items():
        if name in (skip or set()):
            continue
        body = await caller.raw(operation, variables(objects))
        result = (body.get("data") or {}).get(name.split(".")[1])
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        if result is not None and "errors" in result:  # a batch reports each event's error
            assert result["accepted"] == 0, (name, body)
            codes.extend(e["code"] for e in result["errors"])
        elif result is not None:
            codes.append(result.get("code"))
        assert codes == ["NOT_FOUND"], (name, body)


async def test_another_tenants_key_gets_not_found_everywhere(api: Api, deps: Deps) -> None:
    clock = (
        await api(
            'mutation { createTestClock(frozenTime: "2026-03-01T00:00:00Z") { ... on TestClock { id } } }'
        )
    )["createTestClock"]["id"]
    victim = await new_tenant(api, "Victim", test_clock_id=clock)
    victim_key = await new_key(api, "TENANT", victim)
    intruder = api.as_key((await new_key(api, "TENANT", await new_tenant(api, "Intruder")))["secret"])
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00, includedSeats=5)
    subscribed = await subscribe(api, victim, plan, {seat: 1})
    subscription, invoice = subscribed["id"], subscribed["latestInvoice"]["id"]
    webhook = (
        await api(
            """mutation($id: ID!) { createWebhookEndpoint(input: {url: "https://hooks.victim.example/in",
             events: ["seats.changed"], tenantId: $id}) {
             ... on NewWebhookEndpoint { endpoint { id } } } }""",
            {"id": victim},
        )
    )["createWebhookEndpoint"]["endpoint"]["id"]
    member = (await invite(api, victim, "ann@victim.example"))["id"]
    await webhook_deliveries.dispatch_events(deps)  # the seats.changed events, owed to the victim's endpoint
    deliveries = "query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node { id } } } }"
    delivery = (await api(deliveries, {"id": webhook}))["webhookDeliveries"]["edges"][0]["node"]["id"]
    await api('mutation { createMeter(input: {name: "api_calls"}) { ... on Meter { id } } }')
    objects = {
        "tenant": victim,
        "key": victim_key["apiKey"]["id"],
        "clock": clock,
        "plan": plan,
        "subscription": subscription,
        "member": member,
        "invoice": invoice,
        "webhook": webhook,
        "delivery": delivery,
    }

    await assert_not_found_everywhere(intruder, objects)
    for name, operation in ADMIN_ONLY.items():
        result = (await intruder(operation))[name.split(".")[1]]
        assert result["code"] == "FORBIDDEN", (name, result)

    # The victim's own PARTNER key ingests usage; the account is as invisible to it.
    partner = api.as_key((await new_key(api, "PARTNER", victim))["secret"])
    await assert_not_found_everywhere(partner, objects, skip=METERING)
    month = await api(CASES["Query.meterUnitMonthCount"][0], {"id": victim})
    assert month["meterUnitMonthCount"]["count"] == 0  # no intruder's usage was counted

    # And nothing changed: the victim's key still works and its billing info is intact.
    victim_api = api.as_key(victim_key["secret"])
    tenant = (
        await victim_api(
            """query($id: ID!) { tenant(id: $id) { billingInfo { companyName } members { email }
             subscription { id status addons { quantity } } invoices { edges { node { id } } } } }""",
            {"id": victim},
        )
    )["tenant"]
    assert tenant == {
        "billingInfo": None,
        "subscription": {"id": subscription, "status": "ACTIVE", "addons": [{"quantity": 1}]},
        "members": [{"email": "ann@victim.example"}],
        "invoices": {"edges": [{"node": {"id": invoice}}]},
    }
    endpoints = await api("query($id: ID) { webhookEndpoints(tenantId: $id) { id url } }", {"id": None})
    assert endpoints["webhookEndpoints"] == [{"id": webhook, "url": "https://hooks.victim.example/in"}]
    clock_now = (await api("query($id: ID!) { testClock(id: $id) { frozenTime } }", {"id": clock}))[
        "testClock"
    ]
    assert clock_now["frozenTime"] == "2026-03-01T00:00:00+00:00"


async def test_a_tenant_sees_the_test_clock_it_lives_on_but_cannot_move_it(api: Api) -> None:
    clock = (
        await api(
            'mutation { createTestClock(frozenTime: "2026-03-01T00:00:00Z") { ... on TestClock { id } } }'
        )
    )["createTestClock"]["id"]
    tenant = await new_tenant(api, "On the clock", test_clock_id=clock)
    as_tenant = api.as_key((await new_key(api, "TENANT", tenant))["secret"])
    operation, variables = CASES["Query.testClock"]
    assert (await as_tenant(operation, variables({"clock": clock})))["testClock"] == {"id": clock}
    operation, variables = CASES["Mutation.advanceTestClock"]
    result = (await as_tenant(operation, variables({"clock": clock})))["advanceTestClock"]
    assert result == {"__typename": "ForbiddenError", "code": "FORBIDDEN"}
