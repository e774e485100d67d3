"""Entitlements: what a plan and its add-ons grant, asked of the tenant or one member,
exact at the moment asked; consumption that never passes a BLOCK limit."""

from __future__ import annotations

from tests.builders.api import Api, new_key, new_tenant
from tests.builders.billing import (
    advance,
    attach,
    change_plan,
    create_addon,
    create_plan,
    invite,
    subscribe,
)
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.entitlements import (
    consume,
    create_feature,
    entitlement,
    feature,
    grant,
    grant_feature,
)
from tests.builders.metering import new_meter, record

CANCEL = """mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: false) {
  __typename ... on Error { code message } } }"""


async def catalog(api: Api) -> dict[str, str]:
    """Starter ($10, 3 projects) and Enterprise ($100, SSO, 10 projects, editing for FULL seats
    only), a project pack add-on (+5 projects a unit) and a viewer seat add-on."""
    starter = await create_plan(api, "starter", 10_00, includedSeats=2)
    enterprise = await create_plan(api, "enterprise", 100_00, includedSeats=5)
    pack = await create_addon(api, "project_pack", 5_00)
    viewer = await create_addon(api, "viewer_seat", 0, seatType="VIEWER")
    for plan in (starter, enterprise):
        await attach(api, plan, pack)
        await attach(api, plan, viewer)
    await feature(api, "sso", "BOOLEAN")
    await feature(api, "projects", "LIMIT")
    await feature(api, "editing", "BOOLEAN")
    await grant(api, "projects", plan=starter, limit=3)
    await grant(api, "projects", plan=enterprise, limit=10)
    await grant(api, "projects", addon=pack, limit=5)
    await grant(api, "sso", plan=enterprise)
    await grant(api, "editing", plan=enterprise, seatTypes=["FULL"])
    await grant(api, "editing", plan=starter, seatTypes=["FULL"])
    return {"starter": starter, "enterprise": enterprise, "pack": pack, "viewer": viewer}


def state(e: dict) -> tuple:
    return e["enabled"], e["reason"], e["limit"], e["used"], e["remaining"]


async def test_a_tenant_without_a_subscription_is_inactive_and_a_plan_without_the_feature_is_not_in_plan(
    api: Api,
) -> None:
    plans = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    assert state(await entitlement(api, tenant, "sso")) == (False, "SUBSCRIPTION_INACTIVE", None, None, None)

    await subscribe(api, tenant, plans["starter"])
    assert state(await entitlement(api, tenant, "sso")) == (False, "NOT_IN_PLAN", None, None, None)
    assert state(await entitlement(api, tenant, "projects")) == (True, None, 3, 0, 3)

    unknown = await api.raw(
        'query($t: ID!) { entitlement(tenantId: $t, featureCode: "teleport") { enabled } }', {"t": tenant}
    )
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_limit_is_consumed_exactly_and_the_next_consumption_is_limit_reached(api: Api) -> None:
    plans = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plans["starter"])
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])

    for n in range(3):
        consumed = await consume(own, tenant, "projects", f"project-{n}")
        assert consumed["__typename"] == "EntitlementConsumed", consumed
    assert state(consumed["entitlement"]) == (False, "LIMIT_REACHED", 3, 3, 0)

    refused = await consume(own, tenant, "projects", "project-3")
    assert (refused["__typename"], refused["code"]) == ("LimitReachedError", "LIMIT_REACHED")
    assert "limit of 3" in refused["message"] and "nothing was recorded" in refused["message"]
    assert state(refused["entitlement"]) == (False, "LIMIT_REACHED", 3, 3, 0)

    replay = await consume(own, tenant, "projects", "project-0")
    assert (replay["__typename"], replay["duplicate"]) == ("EntitlementConsumed", True)
    conflict = await consume(own, tenant, "projects", "project-0", amount=2)
    assert conflict["code"] == "IDEMPOTENCY_CONFLICT"

    given_back = await consume(own, tenant, "projects", "project-0-deleted", amount=-1)
    assert state(given_back["entitlement"]) == (True, None, 3, 2, 1)
    assert state(await entitlement(own, tenant, "projects")) == (True, None, 3, 2, 1)


async def test_an_add_ons_limit_counts_once_per_unit_bought(api: Api) -> None:
    plans = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    subscription = await subscribe(api, tenant, plans["starter"], {plans["pack"]: 2})
    assert state(await entitlement(api, tenant, "projects")) == (True, None, 3 + 2 * 5, 0, 13)

    changed = await change_plan(
        api,
        {
            "subscriptionId": subscription["id"],
            "planId": plans["enterprise"],
            "prorationBillingMode": "DO_NOT_BILL",
            "addons": [{"addonId": plans["pack"], "quantity": 3}],
        },
    )
    assert changed["__typename"] == "PlanChange", changed
    assert state(await entitlement(api, tenant, "projects")) == (True, None, 10 + 3 * 5, 0, 25)


async def test_a_viewer_member_is_refused_a_full_only_feature_that_a_full_member_has(api: Api) -> None:
    plans = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plans["enterprise"], {plans["viewer"]: 2})
    full = await invite(api, tenant, "ada@acme.example.com", "FULL")
    viewer = await invite(api, tenant, "vic@acme.example.com", "VIEWER")

    assert (await entitlement(api, tenant, "editing", full["id"]))["enabled"] is True
    refused = await entitlement(api, tenant, "editing", viewer["id"])
    assert (refused["enabled"], refused["reason"]) == (False, "SEAT_TYPE_EXCLUDED")
    # What the seat type does not restrict, the viewer has; the tenant as a whole has editing.
    assert (await entitlement(api, tenant, "sso", viewer["id"]))["enabled"] is True
    assert (await entitlement(api, tenant, "editing"))["enabled"] is True

    other = await new_tenant(api, "Globex")
    missing = await api.raw(
        'query($t: ID!, $m: ID!) { entitlement(tenantId: $t, featureCode: "sso", memberId: $m) { enabled } }',
        {"t": other, "m": full["id"]},
    )
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_cancelled_subscription_grants_nothing_and_consumption_says_not_entitled(api: Api) -> None:
    plans = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    subscription = await subscribe(api, tenant, plans["enterprise"])
    assert (await api(CANCEL, {"id": subscription["id"]}))["cancelSubscription"][
        "__typename"
    ] == "Subscription"

    assert state(await entitlement(api, tenant, "sso")) == (False, "SUBSCRIPTION_INACTIVE", None, None, None)
    refused = await consume(api, tenant, "projects", "after-cancel")
    assert (refused["__typename"], refused["entitlement"]["reason"]) == (
        "NotEntitledError",
        "SUBSCRIPTION_INACTIVE",
    )


async def test_a_metered_limit_counts_the_billing_period_and_resets_at_renewal(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme", clock)
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    plan = await create_plan(api, "metered", 10_00)
    await grant(api, "api", plan=plan, limit=100)
    await subscribe(api, tenant, plan)

    await advance(api, clock, "2026-03-10T12:00:00Z")
    assert (await record(api, tenant, "api_calls", 60, "2026-03-10T10:00:00Z"))[
        "__typename"
    ] == "UsageRecorded"
    api_calls = await entitlement(api, tenant, "api")
    assert state(api_calls) == (True, None, 100, 60, 40)
    assert api_calls["resetsAt"] == "2026-04-01T00:00:00+00:00"

    assert (await consume(api, tenant, "api", "call-1", amount=40))["__typename"] == "EntitlementConsumed"
    assert state(await entitlement(api, tenant, "api")) == (False, "LIMIT_REACHED", 100, 100, 0)
    refused = await consume(api, tenant, "api", "call-2")
    assert refused["__typename"] == "LimitReachedError"
    # Plain recordUsage says what happened and never refuses.
    assert (await record(api, tenant, "api_calls", 5, "2026-03-10T11:00:00Z"))[
        "__typename"
    ] == "UsageRecorded"

    await advance(api, clock, "2026-04-01T00:00:01Z")
    renewed = await entitlement(api, tenant, "api")
    assert state(renewed) == (True, None, 100, 0, 100)
    assert renewed["resetsAt"] == "2026-05-01T00:00:00+00:00"


async def test_overage_allow_keeps_the_feature_on_past_its_limit(api: Api) -> None:
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    plan = await create_plan(api, "payg", 0)
    await grant(api, "api", plan=plan, limit=10, overage="ALLOW")
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plan)
    consumed = await consume(api, tenant, "api", "big", amount=25)
    assert consumed["__typename"] == "EntitlementConsumed"
    assert state(consumed["entitlement"]) == (True, None, 10, 25, 0)


async def test_catalog_inputs_are_refused_naming_the_field_and_changes_are_audited(api: Api) -> None:
    assert (await create_feature(api, "api", "METERED"))["field"] == "input.meterName"
    assert (await create_feature(api, "api", "METERED", meter="nope"))["field"] == "input.meterName"
    await feature(api, "sso", "BOOLEAN")
    assert (await create_feature(api, "sso", "BOOLEAN"))["field"] == "input.code"
    plan = await create_plan(api, "team", 10_00)
    assert (await grant_feature(api, "sso", plan=plan, limit=5))["field"] == "input.limit"
    assert (await grant_feature(api, "sso"))["field"] == "input.planId"
    assert (await grant_feature(api, "nope", plan=plan))["code"] == "NOT_FOUND"
    first = await grant(api, "sso", plan=plan)
    again = await grant(api, "sso", plan=plan, seatTypes=["FULL", "FULL"])
    assert first != again

    tenant = await new_tenant(api, "Acme")
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])
    assert (await create_feature(own, "x", "BOOLEAN"))["code"] == "FORBIDDEN"
    plans = (await api("{ plans { code features { featureCode seatTypes } } }"))["plans"]
    assert plans == [{"code": "team", "features": [{"featureCode": "sso", "seatTypes": ["FULL"]}]}]
    log = await api("{ catalogAuditLog { edges { node { action before after } } } }")
    actions = [e["node"]["action"] for e in log["catalogAuditLog"]["edges"]]
    assert actions == ["feature.created", "feature.granted", "feature.granted"]
    replaced = log["catalogAuditLog"]["edges"][-1]["node"]
    assert (replaced["before"]["seatTypes"], replaced["after"]["seatTypes"]) == (None, ["FULL"])


async def test_customer_state_and_tenant_entitlements_answer_in_one_call(api: Api) -> None:
    plans = await catalog(api)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plans["enterprise"])
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])
    data = await own(
        """query($t: ID!) { customerState(tenantId: $t) { tenant { id } subscription { status plan { code } }
             seats { total } creditBalance { amount } entitlements { featureCode enabled reason } }
           tenant(id: $t) { entitlements { featureCode enabled } } }""",
        {"t": tenant},
    )
    customer = data["customerState"]
    assert customer["subscription"] == {"status": "ACTIVE", "plan": {"code": "enterprise"}}
    assert customer["seats"]["total"] == 5 and customer["creditBalance"]["amount"] == 0
    assert [(e["featureCode"], e["enabled"]) for e in customer["entitlements"]] == [
        ("editing", True),
        ("projects", True),
        ("sso", True),
    ]
    assert data["tenant"]["entitlements"] == [
        {"featureCode": c, "enabled": e} for c, e in [("editing", True), ("projects", True), ("sso", True)]
    ]
    partner = api.as_key((await new_key(api, "PARTNER", tenant))["secret"])
    assert (await entitlement(partner, tenant, "projects"))["enabled"] is True
    hidden = await partner.raw(
        "query($t: ID!) { customerState(tenantId: $t) { tenant { id } } }", {"t": tenant}
    )
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_feature_on_a_max_meter_is_checked_not_consumed(api: Api) -> None:
    await new_meter(api, "storage_gb", aggregation="MAX")
    await feature(api, "storage", "METERED", meter="storage_gb")
    plan = await create_plan(api, "storage_plan", 10_00)
    await grant(api, "storage", plan=plan, limit=100)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plan)
    refused = await consume(api, tenant, "storage", "grow")
    assert refused["__typename"] == "ValidationError" and refused["field"] == "input.featureCode"
    assert (await entitlement(api, tenant, "storage"))["used"] == 0
