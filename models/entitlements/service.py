"""Features, what plans and add-ons grant of them, and the answer to "may this tenant do
this, right now".

Catalog writes need an ADMIN key and are audited (entries with no tenant); each tells
the tenants it moves (``entitlements.changed``). Every key reads the catalog. A tenant's
entitlements are read by ADMIN, its TENANT keys and its PARTNER keys (integrations gate
what they push); ``customerState`` (credit balance included) by ADMIN and TENANT keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.entitlements.inputs import FeatureCreate, FeatureGrantCreate
from models.entitlements.payloads import EntitlementsChangedPayload
from models.entitlements.queries import (
    TenantEntitlements,
    feature_by_code,
    features,
    member_seat_type,
    tenant_entitlements,
)
from models.entitlements.rules import Entitlement
from models.kernel.enums import FeatureKind, SubscriptionStatus
from models.kernel.errors import NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.platform import audit, locks
from models.platform.access import Principal, require_admin, require_tenant, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps, insert_unique
from models.platform.events import emit
from models.tables import (
    FeatureGrantRow,
    FeatureRow,
    MeterRow,
    SubscriptionAddonRow,
    SubscriptionRow,
    TenantRow,
)

CATALOG_CHANGED = "catalog.changed"


def _feature_state(row: FeatureRow) -> dict[str, Any]:
    return {"code": row.code, "kind": row.kind, "archived": row.archived_at is not None}


def _grant_state(row: FeatureGrantRow, code: str) -> dict[str, Any]:
    return {
        "feature": code,
        "planId": row.plan_id,
        "addonId": row.addon_id,
        "limit": row.limit_units,
        "overage": row.overage,
        "seatTypes": row.seat_types,
        "revoked": row.revoked_at is not None,
    }


async def create_feature(deps: Deps, actor: Principal, spec: FeatureCreate) -> FeatureRow:
    require_admin(actor, "createFeature")
    now = deps.clock.now()
    meter_id = None
    if spec.meter_name is not None:
        async with deps.store.read() as session:
            meter = await session.scalar(select(MeterRow).where(MeterRow.name == spec.meter_name))
        if meter is None:
            raise ValidationFailed(
                "input.meterName", f"no meter is named {spec.meter_name!r}; create it first"
            )
        meter_id = meter.id
    row = FeatureRow(
        id=new_id("feat"),
        code=spec.code,
        name=spec.name,
        description=spec.description,
        kind=spec.kind,
        meter_id=meter_id,
        created_at=now,
    )
    row = await insert_unique(
        deps, row, "input.code", f"{spec.code!r} is already a feature's code; pick another"
    )
    async with deps.store.transaction() as session:
        _audit(session, actor, "feature.created", row.id, None, _feature_state(row), now)
    return row


async def archive_feature(deps: Deps, actor: Principal, feature_id: str) -> FeatureRow:
    """Retire a feature: no tenant is entitled to it any more, and no one can grant it."""
    require_admin(actor, "archiveFeature")
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await locks.feature(session, feature_id)
        if row is None:
            raise NotFound("Feature", feature_id)
        if row.archived_at is None:
            before = _feature_state(row)
            row.archived_at = now
            _audit(session, actor, "feature.archived", row.id, before, _feature_state(row), now)
            grants = (
                await session.scalars(
                    select(FeatureGrantRow).where(
                        FeatureGrantRow.feature_id == row.id, FeatureGrantRow.revoked_at.is_(None)
                    )
                )
            ).all()
            await _announce(session, deps, [g.plan_id for g in grants], [g.addon_id for g in grants])
    return row


async def grant_feature(deps: Deps, actor: Principal, spec: FeatureGrantCreate) -> FeatureGrantRow:
    """A plan or an add-on grants a feature (again: the new grant replaces the old)."""
    require_admin(actor, "grantFeature")
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        if spec.plan_id is not None and await locks.plan(session, spec.plan_id) is None:
            raise NotFound("Plan", spec.plan_id)
        if spec.addon_id is not None and await locks.addon(session, spec.addon_id) is None:
            raise NotFound("Addon", spec.addon_id)
        feature = await feature_by_code(session, spec.feature_code)
        if feature.kind is FeatureKind.BOOLEAN and spec.limit is not None:
            raise ValidationFailed("input.limit", "a BOOLEAN feature is on or off; leave the limit out")
        replaced = await _active_grant(session, feature.id, spec.plan_id, spec.addon_id)
        before = None
        if replaced is not None:
            before = _grant_state(replaced, feature.code)
            replaced.revoked_at = now
            await session.flush()  # the partial unique index admits the new grant only once this is revoked
        row = FeatureGrantRow(
            id=new_id("grant"),
            feature_id=feature.id,
            plan_id=spec.plan_id,
            addon_id=spec.addon_id,
            limit_units=spec.limit,
            overage=spec.overage,
            seat_types=spec.seat_types,
            created_at=now,
        )
        session.add(row)
        _audit(session, actor, "feature.granted", row.id, before, _grant_state(row, feature.code), now)
        await _announce(session, deps, [spec.plan_id], [spec.addon_id])
    return row


async def revoke_grant(deps: Deps, actor: Principal, grant_id: str) -> FeatureGrantRow:
    """The plan or add-on no longer grants the feature; subscribers lose it at once."""
    require_admin(actor, "revokeFeatureGrant")
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await locks.feature_grant(session, grant_id)
        if row is None:
            raise NotFound("FeatureGrant", grant_id)
        if row.revoked_at is None:
            feature = await session.get(FeatureRow, row.feature_id)
            code = feature.code if feature else row.feature_id
            before = _grant_state(row, code)
            row.revoked_at = now
            _audit(session, actor, "feature.revoked", row.id, before, _grant_state(row, code), now)
            await _announce(session, deps, [row.plan_id], [row.addon_id])
    return row


async def list_features(deps: Deps, include_archived: bool = False) -> list[FeatureRow]:
    async with deps.store.read() as session:
        return await features(session, include_archived=include_archived)


async def _active_grant(
    session: AsyncSession, feature_id: str, plan_id: str | None, addon_id: str | None
) -> FeatureGrantRow | None:
    grantor = FeatureGrantRow.plan_id == plan_id if plan_id else FeatureGrantRow.addon_id == addon_id
    grant_id = await session.scalar(
        select(FeatureGrantRow.id).where(
            FeatureGrantRow.feature_id == feature_id, FeatureGrantRow.revoked_at.is_(None), grantor
        )
    )
    return await locks.feature_grant(session, grant_id) if grant_id else None


def _audit(
    session: AsyncSession,
    actor: Principal,
    action: str,
    subject_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    at: datetime,
) -> None:
    audit.record(
        session,
        actor,
        tenant_id=None,
        action=action,
        subject_id=subject_id,
        before=before,
        after=after,
        at=at,
    )


async def _announce(
    session: AsyncSession, deps: Deps, plan_ids: Sequence[str | None], addon_ids: Sequence[str | None]
) -> None:
    """Tell every tenant whose live subscription has one of these plans or add-ons that
    its entitlements changed (a catalog change), each as its clock now sees them."""
    plans = [p for p in plan_ids if p]
    addons = [a for a in addon_ids if a]
    holders = select(SubscriptionAddonRow.subscription_id).where(SubscriptionAddonRow.addon_id.in_(addons))
    tenant_ids = (
        await session.scalars(
            select(SubscriptionRow.tenant_id)
            .where(
                SubscriptionRow.status != SubscriptionStatus.CANCELLED,
                or_(SubscriptionRow.plan_id.in_(plans), SubscriptionRow.id.in_(holders)),
            )
            .order_by(SubscriptionRow.tenant_id)
        )
    ).all()
    for tenant_id in tenant_ids:
        tenant = await session.get(TenantRow, tenant_id)
        if tenant is None:  # pragma: no cover - a subscription's tenant always exists
            continue
        now = (await tenant_clock(session, deps, tenant)).now()
        state = await tenant_entitlements(session, deps, tenant, now)
        emit(
            session, deps, EntitlementsChangedPayload.of(tenant.id, CATALOG_CHANGED, state.entitlements), now
        )


# -- reads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerState:
    tenant: TenantRow
    state: TenantEntitlements


async def _visible_tenant(session: AsyncSession, actor: Principal, tenant_id: str) -> TenantRow:
    require_visible(actor.can_meter(tenant_id), "Tenant", tenant_id)
    tenant = await session.get(TenantRow, tenant_id)
    if tenant is None:
        raise NotFound("Tenant", tenant_id)
    return tenant


async def entitlements(
    deps: Deps, actor: Principal, tenant_id: str, codes: Sequence[str] | None, member_id: str | None
) -> TenantEntitlements:
    """The tenant's (or one member's) entitlements to the features named, else to every one."""
    async with deps.store.read() as session:
        tenant = await _visible_tenant(session, actor, tenant_id)
        seat_type = await member_seat_type(session, tenant_id, member_id) if member_id else None
        if codes is not None:
            for code in codes:
                await feature_by_code(session, code)  # an unknown code is NOT_FOUND, not a silent gap
        now = (await tenant_clock(session, deps, tenant)).now()
        return await tenant_entitlements(session, deps, tenant, now, codes=codes, seat_type=seat_type)


async def entitlement(
    deps: Deps, actor: Principal, tenant_id: str, code: str, member_id: str | None
) -> Entitlement:
    return (await entitlements(deps, actor, tenant_id, [code], member_id)).of(code)


async def customer_state(deps: Deps, actor: Principal, tenant_id: str) -> CustomerState:
    """What a frontend needs in one call; the subscription, seats and balance are read
    by the API's loaders, the entitlements here."""
    require_tenant(actor, tenant_id)
    async with deps.store.read() as session:
        tenant = await session.get(TenantRow, tenant_id)
        if tenant is None:
            raise NotFound("Tenant", tenant_id)
        now = (await tenant_clock(session, deps, tenant)).now()
        return CustomerState(tenant, await tenant_entitlements(session, deps, tenant, now))
