"""The reads that decide entitlements, shared by the service, the consumption, the
reactions and the tokens: what the live subscription grants, what was used, in one
session (a snapshot, or the caller's locked transaction)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.entitlements.rules import Entitlement, Grant, Standing, decide
from models.kernel.enums import FeatureKind, MemberStatus, SeatType, SubscriptionStatus
from models.kernel.errors import NotFound
from models.metering.billing import usage_between
from models.metering.rules import count_of
from models.platform.clocks import with_clocks
from models.platform.deps import Deps
from models.tables import (
    FeatureGrantRow,
    FeatureRow,
    FeatureUsageRow,
    MemberRow,
    MeterRow,
    SubscriptionAddonRow,
    SubscriptionRow,
    TenantRow,
)


@dataclass(frozen=True, slots=True)
class TenantEntitlements:
    """A tenant's entitlements at ``now``, and the subscription period they count in."""

    now: datetime
    subscription: SubscriptionRow | None
    entitlements: list[Entitlement]

    def of(self, code: str) -> Entitlement:
        return next(e for e in self.entitlements if e.feature_code == code)


async def features(
    session: AsyncSession, codes: Sequence[str] | None = None, *, include_archived: bool = False
) -> list[FeatureRow]:
    """Features by code (all of them when ``codes`` is None), in code order."""
    query = select(FeatureRow).order_by(FeatureRow.code)
    if codes is not None:
        query = query.where(FeatureRow.code.in_(list(codes)))
    if not include_archived:
        query = query.where(FeatureRow.archived_at.is_(None))
    return list((await session.scalars(query)).all())


async def feature_by_code(session: AsyncSession, code: str) -> FeatureRow:
    found = await features(session, [code])
    if not found:
        raise NotFound("Feature", code)
    return found[0]


async def live_subscription(session: AsyncSession, tenant_id: str) -> SubscriptionRow | None:
    return await session.scalar(
        select(SubscriptionRow).where(
            SubscriptionRow.tenant_id == tenant_id, SubscriptionRow.status != SubscriptionStatus.CANCELLED
        )
    )


async def member_seat_type(session: AsyncSession, tenant_id: str, member_id: str) -> SeatType:
    """The seat type of one of the tenant's active members (NOT_FOUND otherwise)."""
    member = await session.get(MemberRow, member_id)
    if member is None or member.tenant_id != tenant_id or member.status is not MemberStatus.ACTIVE:
        raise NotFound("Member", member_id)
    return member.seat_type


async def grants_of(
    session: AsyncSession, subscription: SubscriptionRow, feature_ids: Sequence[str]
) -> dict[str, list[Grant]]:
    """feature id -> what the subscription's plan and add-ons (times their quantity) grant."""
    held = {
        row.addon_id: row.quantity
        for row in (
            await session.scalars(
                select(SubscriptionAddonRow).where(SubscriptionAddonRow.subscription_id == subscription.id)
            )
        ).all()
    }
    grantors = FeatureGrantRow.plan_id == subscription.plan_id
    if held:
        grantors = or_(grantors, FeatureGrantRow.addon_id.in_(list(held)))
    rows = (
        await session.scalars(
            select(FeatureGrantRow).where(
                FeatureGrantRow.revoked_at.is_(None),
                FeatureGrantRow.feature_id.in_(list(feature_ids)),
                grantors,
            )
        )
    ).all()
    grants: dict[str, list[Grant]] = defaultdict(list)
    for row in rows:
        grants[row.feature_id].append(
            Grant(
                limit_units=row.limit_units,
                overage=row.overage,
                seat_types=frozenset(row.seat_types) if row.seat_types is not None else None,
                units=held.get(row.addon_id, 0) if row.addon_id else 1,
            )
        )
    return grants


async def used_micros(
    session: AsyncSession,
    tenant: TenantRow,
    subscription: SubscriptionRow | None,
    rows: Sequence[FeatureRow],
) -> dict[str, int]:
    """feature id -> what the tenant used: of a LIMIT feature, what it holds; of a METERED
    one, its meter's count over the current billing period (0 without a subscription)."""
    used: dict[str, int] = {}
    limited = [f.id for f in rows if f.kind is FeatureKind.LIMIT]
    if limited:
        held = await session.scalars(
            select(FeatureUsageRow).where(
                FeatureUsageRow.tenant_id == tenant.id, FeatureUsageRow.feature_id.in_(limited)
            )
        )
        used.update({row.feature_id: row.used_micros for row in held})
    metered = [f for f in rows if f.kind is FeatureKind.METERED and f.meter_id]
    if metered and subscription is not None:
        meters = {
            m.id: m
            for m in (
                await session.scalars(select(MeterRow).where(MeterRow.id.in_([f.meter_id for f in metered])))
            ).all()
        }
        stats = await usage_between(
            session, tenant, list(meters), subscription.current_period_start, subscription.current_period_end
        )
        for feature in metered:
            meter = meters.get(feature.meter_id or "")
            if meter is not None:
                used[feature.id] = count_of(stats.get(meter.id), meter.aggregation)
    return used


async def tenant_entitlements(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    now: datetime,
    *,
    codes: Sequence[str] | None = None,
    seat_type: SeatType | None = None,
) -> TenantEntitlements:
    """The tenant's entitlement to each feature (those named, else every unarchived one)
    at ``now`` (the tenant's clock), for a member of ``seat_type`` when given."""
    subscription = await live_subscription(session, tenant.id)
    rows = await features(session, codes)
    grants = await grants_of(session, subscription, [f.id for f in rows]) if subscription else {}
    used = await used_micros(session, tenant, subscription, rows)
    standing = (
        Standing(subscription.status, subscription.past_due_at, deps.policy.past_due_grace)
        if subscription is not None
        else None
    )
    resets_at = subscription.current_period_end if subscription is not None else None
    return TenantEntitlements(
        now,
        subscription,
        [
            decide(
                f.code,
                f.kind,
                grants.get(f.id, []),
                standing,
                now,
                seat_type=seat_type,
                used_micros=used.get(f.id, 0),
                resets_at=resets_at,
            )
            for f in rows
        ],
    )


async def grants_of_plans(
    session: AsyncSession, plan_ids: Sequence[str]
) -> list[list[tuple[FeatureGrantRow, FeatureRow]]]:
    """Each plan's active grants of unarchived features, by feature code."""
    return await _grants_by(session, FeatureGrantRow.plan_id, plan_ids)


async def grants_of_addons(
    session: AsyncSession, addon_ids: Sequence[str]
) -> list[list[tuple[FeatureGrantRow, FeatureRow]]]:
    """Each add-on's active grants of unarchived features, by feature code."""
    return await _grants_by(session, FeatureGrantRow.addon_id, addon_ids)


async def _grants_by(
    session: AsyncSession, column: Any, keys: Sequence[str]
) -> list[list[tuple[FeatureGrantRow, FeatureRow]]]:
    rows = await session.execute(
        select(FeatureGrantRow, FeatureRow)
        .join(FeatureRow, FeatureRow.id == FeatureGrantRow.feature_id)
        .where(FeatureGrantRow.revoked_at.is_(None), FeatureRow.archived_at.is_(None), column.in_(list(keys)))
        .order_by(FeatureRow.code)
    )
    by_key: dict[str, list[tuple[FeatureGrantRow, FeatureRow]]] = defaultdict(list)
    for grant, feature in rows.all():
        by_key[grant.plan_id or grant.addon_id or ""].append((grant, feature))
    return [by_key.get(key, []) for key in keys]


async def entitlements_of_tenants(
    session: AsyncSession, deps: Deps, tenants: Sequence[TenantRow]
) -> list[list[Entitlement]]:
    """Each tenant's entitlements to every feature, at its clock's now."""
    clocks = await with_clocks(session, deps, tenants)
    return [
        (await tenant_entitlements(session, deps, tenant, clocks[tenant.id].now)).entitlements
        for tenant in tenants
    ]
