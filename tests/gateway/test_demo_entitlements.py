"""The demo's entitlements, as a newcomer exploring them in GraphiQL finds them: SSO on
Enterprise, projects by tier, API calls capped on Starter, editing for FULL seats only;
seeding again adds nothing."""

from __future__ import annotations

from typing import Any

from gateway import demo
from models.platform.deps import Deps
from tests.builders.api import Api, new_tenant
from tests.builders.billing import subscribe
from tests.builders.entitlements import entitlement

PLANS = "{ plans { id code features { featureCode kind limit overage seatTypes } } }"
AUDIT = "{ catalogAuditLog(first: 100) { edges { node { action } } } }"


def grants(plan: dict[str, Any]) -> dict[str, tuple]:
    return {f["featureCode"]: (f["kind"], f["limit"], f["seatTypes"]) for f in plan["features"]}


async def catalog_actions(api: Api) -> list[str]:
    return [e["node"]["action"] for e in (await api(AUDIT))["catalogAuditLog"]["edges"]]


async def test_seeding_twice_grants_each_plan_its_features_once(api: Api, deps: Deps) -> None:
    await demo.seed_demo(deps)
    first = await catalog_actions(api)
    await demo.seed_demo(deps)
    assert await catalog_actions(api) == first
    assert sorted(first) == sorted(["feature.created"] * 4 + ["feature.granted"] * len(demo.DEMO_GRANTS))

    plans = {p["code"]: grants(p) for p in (await api(PLANS))["plans"]}
    editing = ("BOOLEAN", None, ["FULL"])
    assert plans["starter"] == {
        "api_calls": ("METERED", 10_000, None),
        "editing": editing,
        "projects": ("LIMIT", 3, None),
    }
    assert plans["team_pro"] == {
        "api_calls": ("METERED", None, None),
        "editing": editing,
        "projects": ("LIMIT", 20, None),
    }
    assert plans["enterprise"] == {
        "api_calls": ("METERED", None, None),
        "editing": editing,
        "projects": ("LIMIT", None, None),
        "sso": ("BOOLEAN", None, None),
    }
    assert {code for code, features in plans.items() if "sso" in features} == {"enterprise"}
    assert all(
        features["projects"][1] == 20 for code, features in plans.items() if code not in demo.DEMO_PROJECTS
    )


async def test_acmes_viewer_may_not_edit_and_its_full_members_may(api: Api, deps: Deps) -> None:
    await demo.seed_demo(deps)
    tenants = (await api("{ tenants { edges { node { id name members { id email seatType } } } } }"))[
        "tenants"
    ]
    acme = next(e["node"] for e in tenants["edges"] if e["node"]["name"] == "Acme Analytics")
    members = {m["email"]: m["id"] for m in acme["members"]}

    refused = await entitlement(api, acme["id"], "editing", members["viewer@acme.example"])
    assert (refused["enabled"], refused["reason"]) == (False, "SEAT_TYPE_EXCLUDED")
    assert (await entitlement(api, acme["id"], "editing", members["ana@acme.example"]))["enabled"] is True

    # Team Pro: 20 projects, API calls unlimited (and charged for), no SSO.
    projects = await entitlement(api, acme["id"], "projects")
    assert (projects["enabled"], projects["limit"], projects["remaining"]) == (True, 20, 20)
    calls = await entitlement(api, acme["id"], "api_calls")
    assert (calls["enabled"], calls["limit"], calls["remaining"]) == (True, None, None)
    sso = await entitlement(api, acme["id"], "sso")
    assert (sso["enabled"], sso["reason"]) == (False, "NOT_IN_PLAN")


async def test_an_enterprise_subscriber_has_sso_and_a_starter_one_a_capped_api(api: Api, deps: Deps) -> None:
    await demo.seed_demo(deps)
    plans = {p["code"]: p["id"] for p in (await api(PLANS))["plans"]}
    addons = {a["code"]: a["id"] for a in (await api("{ addons { id code } }"))["addons"]}
    enterprise, starter = await new_tenant(api, "Initech"), await new_tenant(api, "Hooli")
    subscribed = await subscribe(api, enterprise, plans["enterprise"], {addons["enterprise_seat"]: 25})
    assert subscribed["__typename"] == "Subscription", subscribed
    assert (await subscribe(api, starter, plans["starter"]))["__typename"] == "Subscription"

    assert (await entitlement(api, enterprise, "sso"))["enabled"] is True
    assert (await entitlement(api, enterprise, "projects"))["limit"] is None  # unlimited
    assert (await entitlement(api, starter, "sso"))["reason"] == "NOT_IN_PLAN"
    calls = await entitlement(api, starter, "api_calls")
    assert (calls["enabled"], calls["limit"], calls["remaining"], calls["overage"]) == (
        True,
        10_000,
        10_000,
        "BLOCK",
    )
    assert (await entitlement(api, starter, "projects"))["limit"] == 3
