"""consumeEntitlement: check a LIMIT or METERED feature and record what is used, in one
step under the tenant's lock, so N concurrent consumptions against k remaining admit
exactly k (as seat invites do). Idempotent by key: a retry replays the first answer.

A METERED feature's consumption is usage of its meter (a point at the tenant's now, as
``recordUsage`` records it, so the meter's counts and invoices include it); a LIMIT
feature's is what the tenant holds (``feature_usage``), which a negative amount gives
back (a project deleted). Plain ``recordUsage`` never refuses: it says what happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.entitlements.inputs import Consumption
from models.entitlements.payloads import EntitlementsChangedPayload
from models.entitlements.queries import feature_by_code, tenant_entitlements
from models.entitlements.rules import MICROS, Entitlement
from models.kernel.enums import Aggregation, EntitlementReason, FeatureKind, Overage
from models.kernel.errors import IdempotencyConflict, LimitReached, NotEntitled, ValidationFailed
from models.metering import ingest
from models.metering.rules import format_units
from models.platform import locks
from models.platform.access import Principal, require_visible
from models.platform.deps import Deps
from models.platform.events import emit
from models.subscriptions.timeline import renew_first
from models.tables import ConsumptionRow, FeatureRow, FeatureUsageRow, MeterRow, SubscriptionRow, TenantRow

LIMIT_REACHED = "usage.limit_reached"
BELOW_LIMIT = "usage.below_limit"  # a LIMIT feature given back under its limit is on again


@dataclass(frozen=True, slots=True)
class Consumed:
    entitlement: Entitlement  # after this consumption (for a replay: as it stands now)
    duplicate: bool


async def consume(deps: Deps, actor: Principal, spec: Consumption) -> Consumed:
    require_visible(actor.can_meter(spec.tenant_id), "Tenant", spec.tenant_id)
    async with deps.store.transaction() as session:
        tenant = await locks.tenant(session, spec.tenant_id)
        feature = await feature_by_code(session, spec.feature_code)
        if feature.kind is FeatureKind.BOOLEAN:
            raise ValidationFailed(
                "input.featureCode",
                f"{feature.code!r} is a BOOLEAN feature: nothing to consume; ask `entitlement`",
            )
        # A period that has ended renews first, as for every change: a METERED limit
        # counts the period the consumption falls in, never the one that just closed.
        now = await renew_first(session, deps, tenant, await locks.live_subscription(session, tenant.id))
        prior = await session.get(ConsumptionRow, (tenant.id, spec.idempotency_key))
        if prior is not None:
            return await _replay(session, deps, tenant, feature, prior, spec, now)
        state = await tenant_entitlements(session, deps, tenant, now, codes=[feature.code])
        before = state.of(feature.code)
        amount = spec.amount_micros
        if feature.kind is FeatureKind.METERED:
            await _check_adds_up(session, feature)
        _check(before, feature, amount)
        if feature.kind is FeatureKind.LIMIT:
            await _hold(session, tenant.id, feature.id, amount, now)
        else:
            await _record_usage(
                session, deps, actor, tenant, feature, spec, _counted_at(now, state.subscription)
            )
        session.add(
            ConsumptionRow(
                tenant_id=tenant.id,
                idempotency_key=spec.idempotency_key,
                feature_id=feature.id,
                amount_micros=amount,
                at=now,
            )
        )
        after = replace(before, used_micros=(before.used_micros or 0) + amount)
        after = _decided_again(after)
        if after.enabled != before.enabled and feature.kind is FeatureKind.LIMIT:
            # METERED features are announced by the usage they recorded (the reactions).
            state = await tenant_entitlements(session, deps, tenant, now)
            emit(
                session,
                deps,
                EntitlementsChangedPayload.of(
                    tenant.id, LIMIT_REACHED if not after.enabled else BELOW_LIMIT, state.entitlements
                ),
                now,
            )
        return Consumed(after, False)


async def _check_adds_up(session: AsyncSession, feature: FeatureRow) -> None:
    """A consumption adds its amount to the meter's count: true of a SUM meter only (a MAX
    or LATEST meter's count is one point's value, a COUNT meter's the points, however big)."""
    meter = await session.get(MeterRow, feature.meter_id)
    if meter is not None and meter.aggregation is not Aggregation.SUM:
        raise ValidationFailed(
            "input.featureCode",
            f"{feature.code!r} counts meter {meter.name!r}, which aggregates by {meter.aggregation.value}: "
            "only a SUM meter's usage adds up consumption by consumption; record its usage with "
            "recordUsage and check it with `entitlement`",
        )


def _check(entitlement: Entitlement, feature: FeatureRow, amount: int) -> None:
    if not entitlement.enabled and entitlement.reason is not EntitlementReason.LIMIT_REACHED:
        reason = entitlement.reason.value if entitlement.reason else "not entitled"
        raise NotEntitled(
            f"The tenant may not use {feature.code!r} ({reason}); nothing was recorded.",
            entitlement=entitlement,
        )
    if amount > 0 and not entitlement.admits(amount):
        raise LimitReached(
            f"{format_units(amount)} more of {feature.code!r} would pass its limit of "
            f"{entitlement.limit:,} ({entitlement.remaining:,} remaining); nothing was recorded.",
            entitlement=entitlement,
        )
    if amount < 0 and feature.kind is FeatureKind.METERED:
        raise ValidationFailed("input.amount", "a METERED feature's usage only grows; give a positive amount")
    if amount < 0 and (entitlement.used_micros or 0) + amount < 0:
        raise ValidationFailed(
            "input.amount",
            f"gives back {format_units(-amount)} but the tenant holds "
            f"{format_units(entitlement.used_micros or 0)}",
        )


def _decided_again(entitlement: Entitlement) -> Entitlement:
    """The entitlement once its usage changed: LIMIT_REACHED comes or goes with it."""
    reached = (
        entitlement.limit is not None
        and entitlement.overage is Overage.BLOCK
        and (entitlement.used_micros or 0) >= entitlement.limit * MICROS
    )
    if entitlement.reason not in (None, EntitlementReason.LIMIT_REACHED):
        return entitlement
    return replace(
        entitlement, enabled=not reached, reason=EntitlementReason.LIMIT_REACHED if reached else None
    )


def _counted_at(now: datetime, subscription: SubscriptionRow | None) -> datetime:
    """When a METERED consumption's usage is recorded: now, except in the fraction of a
    second before the period's first whole second. Meters keep whole seconds (a point at
    12:00:00.4 is at 12:00:00) and a period counts those from its first whole second, so
    usage recorded at now there would count in the period before, and the next check would
    not see it; it is recorded at that first second instead (less than a second later)."""
    first = math.ceil(subscription.current_period_start.timestamp()) if subscription is not None else 0
    if math.floor(now.timestamp()) >= first:
        return now
    return datetime.fromtimestamp(first, UTC)


async def _hold(session: AsyncSession, tenant_id: str, feature_id: str, amount: int, now: datetime) -> None:
    row = await session.get(FeatureUsageRow, (tenant_id, feature_id))
    if row is None:
        session.add(
            FeatureUsageRow(tenant_id=tenant_id, feature_id=feature_id, used_micros=amount, updated_at=now)
        )
    else:
        row.used_micros += amount
        row.updated_at = now


async def _record_usage(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    feature: FeatureRow,
    spec: Consumption,
    at: datetime,
) -> None:
    meter = await session.get(MeterRow, feature.meter_id)
    assert meter is not None  # a METERED feature's meter is a foreign key
    outcome = await ingest.record_in(
        session,
        deps,
        actor,
        [
            {
                "tenantId": tenant.id,
                "meterName": meter.name,
                "value": spec.amount,
                "timestamp": at,
                "idempotencyKey": f"consume:{spec.idempotency_key}",
            }
        ],
        path="input",
        single=True,
    )
    if outcome.errors:
        raise outcome.errors[0][1]


async def _replay(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    feature: FeatureRow,
    prior: ConsumptionRow,
    spec: Consumption,
    now: datetime,
) -> Consumed:
    if prior.feature_id != feature.id or prior.amount_micros != spec.amount_micros:
        raise IdempotencyConflict(
            f"Idempotency key {spec.idempotency_key!r} (input.idempotencyKey) was first used to consume "
            "something else; use a new key for a new consumption."
        )
    state = await tenant_entitlements(session, deps, tenant, now, codes=[feature.code])
    return Consumed(state.of(feature.code), True)
