"""consumeEntitlement: check a LIMIT or METERED feature and record what is used, in one
step under the tenant's lock, so N concurrent consumptions against k remaining admit
exactly k (as seat invites do). Idempotent by key: a retry replays the first answer.

A METERED feature's consumption is usage of its meter (a point at the tenant's now, as
``recordUsage`` records it, so the meter's counts and invoices include it); a LIMIT
feature's is what the tenant holds (``feature_usage``), which a negative amount gives
back (a project deleted). Plain ``recordUsage`` never refuses: it says what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.entitlements.inputs import Consumption
from models.entitlements.payloads import EntitlementsChangedPayload
from models.entitlements.queries import feature_by_code, tenant_entitlements
from models.entitlements.rules import MICROS, Entitlement
from models.kernel.enums import EntitlementReason, FeatureKind, Overage
from models.kernel.errors import IdempotencyConflict, LimitReached, NotEntitled, ValidationFailed
from models.metering import ingest
from models.metering.rules import format_units
from models.platform import locks
from models.platform.access import Principal, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.events import emit
from models.tables import ConsumptionRow, FeatureRow, FeatureUsageRow, MeterRow, TenantRow

LIMIT_REACHED = "usage.limit_reached"


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
        now = (await tenant_clock(session, deps, tenant)).now()
        prior = await session.get(ConsumptionRow, (tenant.id, spec.idempotency_key))
        if prior is not None:
            return await _replay(session, deps, tenant, feature, prior, spec, now)
        before = (await tenant_entitlements(session, deps, tenant, now, codes=[feature.code])).of(
            feature.code
        )
        amount = spec.amount_micros
        _check(before, feature, amount)
        if feature.kind is FeatureKind.LIMIT:
            await _hold(session, tenant.id, feature.id, amount, now)
        else:
            await _record_usage(session, deps, actor, tenant, feature, spec)
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
                EntitlementsChangedPayload.of(tenant.id, LIMIT_REACHED, state.entitlements),
                now,
            )
        return Consumed(after, False)


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
