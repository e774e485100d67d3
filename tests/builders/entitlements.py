"""Features, grants and entitlement checks as a client performs them over GraphQL."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api

ENTITLEMENT = "featureCode kind enabled reason limit used remaining overage resetsAt"


async def create_feature(api: Api, code: str, kind: str, meter: str | None = None) -> dict[str, Any]:
    """The CreateFeatureResult: a Feature or an error."""
    spec: dict[str, Any] = {"code": code, "name": code.replace("_", " ").title(), "kind": kind}
    if meter is not None:
        spec["meterName"] = meter
    return (
        await api(
            """mutation($input: CreateFeatureInput!) { createFeature(input: $input) { __typename
             ... on Feature { id featureCode: code kind meterName } ... on ValidationError { field }
             ... on Error { code message } } }""",
            {"input": spec},
        )
    )["createFeature"]


async def feature(api: Api, code: str, kind: str, meter: str | None = None) -> str:
    created = await create_feature(api, code, kind, meter)
    assert created["__typename"] == "Feature", created
    return created["id"]


async def grant_feature(
    api: Api, code: str, *, plan: str | None = None, addon: str | None = None, **fields: Any
) -> dict[str, Any]:
    """The GrantFeatureResult: a FeatureGrant or an error."""
    spec = {"featureCode": code, "planId": plan, "addonId": addon, **fields}
    return (
        await api(
            """mutation($input: GrantFeatureInput!) { grantFeature(input: $input) { __typename
             ... on FeatureGrant { id featureCode planId addonId limit overage seatTypes }
             ... on ValidationError { field } ... on Error { code message } } }""",
            {"input": spec},
        )
    )["grantFeature"]


async def grant(api: Api, code: str, **fields: Any) -> str:
    granted = await grant_feature(api, code, **fields)
    assert granted["__typename"] == "FeatureGrant", granted
    return granted["id"]


async def entitlement(api: Api, tenant_id: str, code: str, member_id: str | None = None) -> dict[str, Any]:
    return (
        await api(
            f"""query($t: ID!, $f: String!, $m: ID) {{
             entitlement(tenantId: $t, featureCode: $f, memberId: $m) {{ {ENTITLEMENT} }} }}""",
            {"t": tenant_id, "f": code, "m": member_id},
        )
    )["entitlement"]


async def consume(api: Api, tenant_id: str, code: str, key: str, amount: float = 1) -> dict[str, Any]:
    """The ConsumeEntitlementResult: EntitlementConsumed {entitlement duplicate} or an error."""
    return (
        await api(
            f"""mutation($input: ConsumeEntitlementInput!) {{ consumeEntitlement(input: $input) {{ __typename
             ... on EntitlementConsumed {{ duplicate entitlement {{ {ENTITLEMENT} }} }}
             ... on LimitReachedError {{ code message entitlement {{ {ENTITLEMENT} }} }}
             ... on NotEntitledError {{ code message entitlement {{ {ENTITLEMENT} }} }}
             ... on ValidationError {{ field }}
             ... on Error {{ code message }} }} }}""",
            {"input": {"tenantId": tenant_id, "featureCode": code, "amount": amount, "idempotencyKey": key}},
        )
    )["consumeEntitlement"]
