"""What a billing portal session may call: the tenant's own reads, the changes the portal
makes (each as the operator's portalConfiguration allows), and the live updates it shows.

Installed on the built schema (``install``): every root field's resolver is wrapped, so a
portal session calling anything else gets FORBIDDEN, and a change the configuration does
not allow answers the typed ``PortalActionNotAllowedError`` before the mutation runs.
For API keys the wrapper is one attribute check."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema

from models.kernel.enums import ProrationMode
from models.kernel.errors import ErrorCode, Forbidden
from models.portal import actions
from resolvers.shared.context import Context
from resolvers.shared.errors import PortalActionNotAllowedError

Decide = Callable[[Context, dict[str, Any]], Awaitable[str | None]]

READS = frozenset(
    {
        "tenant",
        "plans",
        "addons",
        "subscription",
        "invoice",
        "meters",
        "features",
        "entitlement",
        "customerState",
        "portalConfiguration",
        "portalSession",
        "meterUnitDateCount",
        "meterUnitTodayCount",
        "meterUnitMonthCount",
        "meterUnitThisMonthCount",
        "meterUnitDateCounts",
        "meterUnitMonthCounts",
        "meterUnitPeriodCounts",
    }
)
LIVE = frozenset({"seatsChanged", "invoiceEvents", "entitlementsChanged", "subscriptionEvents"})


def _arg(args: dict[str, Any], name: str, snake: str) -> Any:
    return args[name] if name in args else args.get(snake)


async def _plan_change(ctx: Context, args: dict[str, Any]) -> str | None:
    spec = _arg(args, "input", "input") or {}
    addons = _arg(spec, "addons", "addons")
    return await actions.plan_change_refusal(
        ctx.deps,
        ctx.actor,
        subscription_id=str(_arg(spec, "subscriptionId", "subscription_id")),
        plan_id=str(_arg(spec, "planId", "plan_id")),
        addons=None
        if addons is None
        else {str(_arg(a, "addonId", "addon_id")): int(_arg(a, "quantity", "quantity")) for a in addons},
        mode=ProrationMode(
            _arg(spec, "prorationBillingMode", "proration_billing_mode") or "PRORATED_IMMEDIATELY"
        ),
    )


async def _cancel(ctx: Context, args: dict[str, Any]) -> str | None:
    return await actions.cancel_refusal(
        ctx.deps, at_period_end=bool(_arg(args, "atPeriodEnd", "at_period_end"))
    )


async def _pause(ctx: Context, _: dict[str, Any]) -> str | None:
    return await actions.pause_refusal(ctx.deps)


async def _coupon(ctx: Context, _: dict[str, Any]) -> str | None:
    return await actions.coupon_refusal(ctx.deps)


async def _members(ctx: Context, _: dict[str, Any]) -> str | None:
    return await actions.members_refusal(ctx.deps)


async def _always(_: Context, __: dict[str, Any]) -> str | None:
    return None


CHANGES: dict[str, Decide] = {
    "previewChangePlan": _plan_change,
    "changePlan": _plan_change,
    "cancelSubscription": _cancel,
    "pauseSubscription": _pause,
    "resumeSubscription": _pause,
    "applyCoupon": _coupon,
    "inviteMember": _members,
    "removeMember": _members,
    "createPaymentSetupSession": _always,  # card entry on the provider's own page
}


def _is_portal(info: Any) -> bool:
    principal = info.context.principal
    return principal is not None and principal.portal_session_id is not None


def _forbidden(name: str) -> Forbidden:
    return Forbidden(f"{name} is not available to a billing portal session; use an API key.")


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _guard_read(name: str, field: GraphQLField) -> None:
    resolve = field.resolve
    assert resolve is not None
    allowed = name in READS or name.startswith("__")

    def guarded(root: Any, info: Any, **args: Any) -> Any:
        if not allowed and _is_portal(info):
            raise _forbidden(name)
        return resolve(root, info, **args)

    field.resolve = guarded


def _guard_change(name: str, field: GraphQLField) -> None:
    resolve = field.resolve
    assert resolve is not None
    decide = CHANGES.get(name)

    async def checked(root: Any, info: Any, args: dict[str, Any]) -> Any:
        assert decide is not None
        refusal = await decide(info.context, args)
        if refusal is not None:
            return PortalActionNotAllowedError(code=ErrorCode.PORTAL_ACTION_NOT_ALLOWED, message=refusal)
        return await _awaited(resolve(root, info, **args))

    def guarded(root: Any, info: Any, **args: Any) -> Any:
        if not _is_portal(info):
            return resolve(root, info, **args)
        if decide is None:
            raise _forbidden(name)
        return checked(root, info, args)

    field.resolve = guarded


def _guard_live(name: str, field: GraphQLField) -> None:
    subscribe = field.subscribe
    if subscribe is None:
        return

    def guarded(root: Any, info: Any, **args: Any) -> Any:
        if name not in LIVE and _is_portal(info):
            raise _forbidden(name)
        return subscribe(root, info, **args)

    field.subscribe = guarded


def install(schema: GraphQLSchema) -> None:
    """Wrap every root field of the built schema (after any other wrapping)."""
    roots: list[tuple[GraphQLObjectType | None, Callable[[str, GraphQLField], None]]] = [
        (schema.query_type, _guard_read),
        (schema.mutation_type, _guard_change),
        (schema.subscription_type, _guard_live),
    ]
    for root, guard in roots:
        for name, field in (root.fields if root is not None else {}).items():
            guard(name, field)
