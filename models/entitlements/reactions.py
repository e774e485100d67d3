"""What moves entitlements, told in the same transaction that moved them.

A reaction (``models.platform.events.react``) sees every transaction's events just
before it commits. When one of them can move a tenant's entitlements (a subscription
started, changed plan, renewed, was cancelled, failed a payment; seats changed) the
tenant's entitlements are read as they now stand and ``entitlements.changed`` is
emitted, once per tenant and transaction, its ``reason`` the first such event's type.
A member's invite (``seats.changed`` for ``member.invited``) moves none: what a tenant is
entitled to is read from its subscription, its grants and its usage, never its members,
and a member's own entitlement depends on its seat type alone (no other member's), so
the hot path of seat invites pays nothing here. A removal still tells (the member it
took away lost every entitlement it had).
When usage was recorded on a meter that a METERED feature counts, the thresholds its
usage reached are announced (``usage.threshold_reached`` at 80% and 100%, once each per
billing period), and reaching 100% is an ``entitlements.changed`` too. A gateway with no
features pays one indexed read per such transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.entitlements.payloads import EntitlementsChangedPayload, UsageThresholdReachedPayload
from models.entitlements.queries import TenantEntitlements, tenant_entitlements
from models.entitlements.rules import thresholds_reached
from models.kernel.enums import EntitlementReason, EventType, FeatureKind
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.events import Event, emit, react
from models.tables import FeatureRow, MeterRow, TenantRow, UsageThresholdRow

LIMIT_REACHED = "usage.limit_reached"
MOVING = frozenset(
    t.value
    for t in (
        EventType.SUBSCRIPTION_ACTIVE,
        EventType.SUBSCRIPTION_PLAN_CHANGED,
        EventType.SUBSCRIPTION_RENEWED,
        EventType.SUBSCRIPTION_CANCELLED,
        EventType.SEATS_CHANGED,
        EventType.INVOICE_PAYMENT_FAILED,
        # The subscription lifecycle's other transitions (a trial's end is subscription.active).
        EventType.SUBSCRIPTION_PAST_DUE,
        EventType.SUBSCRIPTION_UNPAID,
        EventType.SUBSCRIPTION_RECOVERED,
        EventType.SUBSCRIPTION_PAUSED,
        EventType.SUBSCRIPTION_RESUMED,
    )
)


@react
async def announce_entitlements(session: AsyncSession, deps: Deps, events: Sequence[Event]) -> None:
    moved: dict[str, str] = {}
    metered: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.tenant_id is None:
            continue
        if event.type in MOVING and not _invite(event):
            moved.setdefault(event.tenant_id, event.type)
        elif event.type == EventType.USAGE_RECORDED:
            metered[event.tenant_id].update(event.data.get("meters", {}))
    if not (moved or metered) or await session.scalar(select(FeatureRow.id).limit(1)) is None:
        return
    for tenant_id, reason in moved.items():
        tenant = await session.get(TenantRow, tenant_id)
        if tenant is not None:
            await _announce(session, deps, tenant, reason)
    if metered:
        await _thresholds(session, deps, metered)


def _invite(event: Event) -> bool:
    """Whether ``event`` tells of a member invited: no entitlement moves with it."""
    return event.type == EventType.SEATS_CHANGED and event.data.get("reason") == "member.invited"


async def _announce(session: AsyncSession, deps: Deps, tenant: TenantRow, reason: str) -> None:
    now = (await tenant_clock(session, deps, tenant)).now()
    state = await tenant_entitlements(session, deps, tenant, now)
    emit(session, deps, EntitlementsChangedPayload.of(tenant.id, reason, state.entitlements), now)


async def _thresholds(session: AsyncSession, deps: Deps, metered: dict[str, set[str]]) -> None:
    names = set().union(*metered.values())
    counted = (
        await session.execute(
            select(FeatureRow.code, FeatureRow.id, MeterRow.name)
            .join(MeterRow, MeterRow.id == FeatureRow.meter_id)
            .where(
                FeatureRow.kind == FeatureKind.METERED,
                FeatureRow.archived_at.is_(None),
                MeterRow.name.in_(sorted(names)),
            )
        )
    ).all()
    if not counted:
        return
    for tenant_id, meter_names in sorted(metered.items()):
        codes = {code: (feature_id, meter) for code, feature_id, meter in counted if meter in meter_names}
        tenant = await session.get(TenantRow, tenant_id) if codes else None
        if tenant is None:
            continue
        now = (await tenant_clock(session, deps, tenant)).now()
        state = await tenant_entitlements(session, deps, tenant, now, codes=sorted(codes))
        if await _announce_thresholds(session, deps, tenant, state, codes):
            await _announce(session, deps, tenant, LIMIT_REACHED)


async def _announce_thresholds(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    state: TenantEntitlements,
    features: dict[str, tuple[str, str]],
) -> bool:
    """Announce the thresholds newly reached (``features``: code -> (id, meter name));
    whether a limit (100%) was among them."""
    subscription = state.subscription
    if subscription is None:
        return False
    start = subscription.current_period_start
    limit_reached = False
    for entitlement in state.entitlements:
        counts = entitlement.reason in (None, EntitlementReason.LIMIT_REACHED)
        if entitlement.limit is None or entitlement.used_micros is None or not counts:
            continue
        feature_id, meter_name = features[entitlement.feature_code]
        announced = set(
            (
                await session.scalars(
                    select(UsageThresholdRow.percent).where(
                        UsageThresholdRow.tenant_id == tenant.id,
                        UsageThresholdRow.feature_id == feature_id,
                        UsageThresholdRow.period_start == start,
                    )
                )
            ).all()
        )
        for percent in thresholds_reached(entitlement.limit, entitlement.used_micros):
            if percent in announced:
                continue
            session.add(
                UsageThresholdRow(
                    tenant_id=tenant.id,
                    feature_id=feature_id,
                    period_start=start,
                    percent=percent,
                    reached_at=state.now,
                )
            )
            reached = UsageThresholdReachedPayload(
                tenant_id=tenant.id,
                feature_code=entitlement.feature_code,
                meter_name=meter_name,
                percent=percent,
                limit=entitlement.limit,
                used=entitlement.used or 0,
                period_start=start,
                period_end=subscription.current_period_end,
            )
            emit(session, deps, reached, state.now)
            limit_reached = limit_reached or percent == 100
    return limit_reached
