"""Catalog, subscription and seat steps as a client performs them over GraphQL."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api

SUBSCRIPTION = """id status currentPeriodStart currentPeriodEnd
  plan { id code } addons { addon { id code } quantity }
  seats { included purchased total used available byType { seatType total used available } }
  latestInvoice { id number status currency total { amount currency formatted } amountDue { amount }
                  subtotal { amount } periodStart periodEnd
                  lines { kind description quantity unitAmount { amount } amount { amount } } }"""


async def _create(api: Api, kind: str, spec: dict[str, Any]) -> str:
    """createPlan / createAddon with USD and a name from the code unless given."""
    spec = {"name": spec["code"].replace("_", " ").title(), "currency": "USD", **spec}
    result = (
        await api(
            f"""mutation($input: Create{kind}Input!) {{ create{kind}(input: $input) {{
             __typename ... on {kind} {{ id }} ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )[f"create{kind}"]
    assert result["__typename"] == kind, result
    return result["id"]


async def create_plan(api: Api, code: str, base_price: int, **fields: Any) -> str:
    return await _create(api, "Plan", {"code": code, "basePrice": base_price, **fields})


async def create_addon(api: Api, code: str, price: int, **fields: Any) -> str:
    return await _create(api, "Addon", {"code": code, "price": price, **fields})


async def attach(api: Api, plan_id: str, addon_id: str) -> dict[str, Any]:
    return (
        await api(
            """mutation($plan: ID!, $addon: ID!) { attachAddon(planId: $plan, addonId: $addon) {
             __typename ... on Plan { id addons { id } } ... on Error { code message } } }""",
            {"plan": plan_id, "addon": addon_id},
        )
    )["attachAddon"]


async def archive(api: Api, addon_id: str) -> None:
    result = (
        await api(
            "mutation($id: ID!) { archiveAddon(addonId: $id) { __typename ... on Error { code message } } }",
            {"id": addon_id},
        )
    )["archiveAddon"]
    assert result["__typename"] == "Addon", result


async def plan_with_seat_addon(
    api: Api, code: str, base_price: int, seat_price: int, **plan_fields: Any
) -> tuple[str, str]:
    """A plan and its per-seat FULL add-on, attached."""
    plan = await create_plan(api, code, base_price, **plan_fields)
    addon = await create_addon(api, f"{code}_seat", seat_price, seatType="FULL", name=f"{code} seat")
    assert (await attach(api, plan, addon))["__typename"] == "Plan"
    return plan, addon


async def subscribe(
    api: Api, tenant_id: str, plan_id: str, addons: dict[str, int] | None = None, key: str | None = None
) -> dict[str, Any]:
    """The SubscribeResult: a Subscription (with SUBSCRIPTION's fields) or an error."""
    spec = {
        "tenantId": tenant_id,
        "planId": plan_id,
        "addons": [{"addonId": a, "quantity": q} for a, q in (addons or {}).items()],
        "idempotencyKey": key,
    }
    return (
        await api(
            f"""mutation($input: SubscribeInput!) {{ subscribe(input: $input) {{ __typename
             ... on Subscription {{ {SUBSCRIPTION} }}
             ... on SeatsInUseError {{ membersToRemove members {{ email }} }}
             ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["subscribe"]


async def invite(api: Api, tenant_id: str, email: str, seat_type: str = "FULL") -> dict[str, Any]:
    return (
        await api(
            """mutation($input: InviteMemberInput!) { inviteMember(input: $input) { __typename
             ... on Member { id email seatType status }
             ... on Error { code message } } }""",
            {"input": {"tenantId": tenant_id, "email": email, "seatType": seat_type}},
        )
    )["inviteMember"]


async def seats(api: Api, tenant_id: str) -> dict[str, Any]:
    return (
        await api(
            """query($id: ID!) { tenant(id: $id) { seats { included purchased total used available
             byType { seatType total used available } } } }""",
            {"id": tenant_id},
        )
    )["tenant"]["seats"]


def by_type(summary: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """{seatType: (total, used)}"""
    return {t["seatType"]: (t["total"], t["used"]) for t in summary["byType"]}


INVOICE = """id number status reason currency periodStart periodEnd
  subtotal { amount } tax { amount } creditsApplied { amount } total { amount formatted } amountDue { amount }
  lines { kind description quantity unitAmount { amount } amount { amount } periodStart periodEnd }"""
PREVIEW = """effectiveAt
  immediateCharge {
    lineItems { kind description quantity unitAmount { amount } prorationFactor amount { amount }
                periodStart periodEnd }
    summary { currency subtotal { amount } tax { amount } customerCredits { amount } totalAmount { amount }
              amountDue { amount formatted } creditToBalance { amount } text } }
  newSubscription { plan { id code } addons { addon { id code } quantity } seats { total used available }
                    currentPeriodStart currentPeriodEnd }"""
CHANGE = f"""subscription {{ {SUBSCRIPTION} scheduledChange {{ effectiveAt plan {{ code }}
  addons {{ addon {{ code }} quantity }} }} }} invoice {{ {INVOICE} }}"""


def change_input(
    subscription_id: str,
    plan_id: str,
    addons: dict[str, int] | None = None,
    mode: str = "PRORATED_IMMEDIATELY",
    effective_at: str = "IMMEDIATELY",
    key: str | None = None,
) -> dict[str, Any]:
    """A ChangePlanInput; ``addons`` None keeps the current add-ons, {} removes them."""
    spec: dict[str, Any] = {
        "subscriptionId": subscription_id,
        "planId": plan_id,
        "prorationBillingMode": mode,
        "effectiveAt": effective_at,
        "idempotencyKey": key,
    }
    if addons is not None:
        spec["addons"] = [{"addonId": a, "quantity": q} for a, q in addons.items()]
    return spec


async def preview_change(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    """The PreviewChangePlanResult: a PlanChangePreview (PREVIEW's fields) or an error."""
    return (
        await api(
            f"""mutation($input: ChangePlanInput!) {{ previewChangePlan(input: $input) {{ __typename
             ... on PlanChangePreview {{ {PREVIEW} }}
             ... on SeatsInUseError {{ membersToRemove members {{ email }} }}
             ... on ValidationError {{ field }} ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["previewChangePlan"]


async def change_plan(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    """The ChangePlanResult: a PlanChange (CHANGE's fields) or an error."""
    return (
        await api(
            f"""mutation($input: ChangePlanInput!) {{ changePlan(input: $input) {{ __typename
             ... on PlanChange {{ {CHANGE} }}
             ... on SeatsInUseError {{ membersToRemove members {{ email }} }}
             ... on ValidationError {{ field }} ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["changePlan"]


async def advance(api: Api, clock_id: str, to: str) -> None:
    result = (
        await api(
            """mutation($id: ID!, $t: DateTime!) { advanceTestClock(id: $id, frozenTime: $t) {
             __typename ... on Error { code message } } }""",
            {"id": clock_id, "t": to},
        )
    )["advanceTestClock"]
    assert result["__typename"] == "TestClock", result


async def invoices(api: Api, tenant_id: str, first: int = 50) -> list[dict[str, Any]]:
    """The tenant's invoices, newest first."""
    data = (
        await api(
            f"""query($id: ID!, $first: Int) {{ tenant(id: $id) {{
             invoices(first: $first) {{ edges {{ node {{ {INVOICE} }} }} }} }} }}""",
            {"id": tenant_id, "first": first},
        )
    )["tenant"]
    return [edge["node"] for edge in data["invoices"]["edges"]]


async def credit_balance(api: Api, tenant_id: str) -> int:
    data = await api("query($id: ID!) { tenant(id: $id) { creditBalance { amount } } }", {"id": tenant_id})
    return data["tenant"]["creditBalance"]["amount"]
