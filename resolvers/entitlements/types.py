"""Features, grants and entitlements as the API shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.entitlements.payloads import EntitlementData
from models.entitlements.rules import Entitlement as EntitlementValue
from models.kernel.enums import FeatureKind as FeatureKindValue
from models.tables import FeatureGrantRow, FeatureRow
from resolvers.shared.enums import EntitlementReason, FeatureKind, Overage, SeatType
from resolvers.shared.scalars import Long


@strawberry.type(description="Something a tenant may do, that plans and add-ons grant.")
class Feature:
    id: strawberry.ID
    code: str = strawberry.field(description="What apps ask about: `sso`, `projects`, `api_calls`.")
    name: str
    description: str | None
    kind: FeatureKind
    meter_name: str | None = strawberry.field(description="The meter a METERED feature counts.")
    archived_at: datetime | None = strawberry.field(description="Archived: no tenant is entitled to it.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: FeatureRow, meter_name: str | None = None) -> Feature:
        return cls(
            id=strawberry.ID(row.id),
            code=row.code,
            name=row.name,
            description=row.description,
            kind=FeatureKindValue(row.kind),
            meter_name=meter_name,
            archived_at=row.archived_at,
            created_at=row.created_at,
        )


@strawberry.type(description="A plan's or an add-on's grant of a feature.")
class FeatureGrant:
    id: strawberry.ID
    feature_code: str
    kind: FeatureKind
    plan_id: strawberry.ID | None
    addon_id: strawberry.ID | None
    limit: Long | None = strawberry.field(
        description="LIMIT and METERED features; null: unlimited. An add-on's counts once per unit bought."
    )
    overage: Overage
    seat_types: list[SeatType] | None = strawberry.field(
        description="Only members of these seat types are entitled; null: every seat type."
    )
    revoked_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: FeatureGrantRow, feature: FeatureRow) -> FeatureGrant:
        return cls(
            id=strawberry.ID(row.id),
            feature_code=feature.code,
            kind=FeatureKindValue(feature.kind),
            plan_id=strawberry.ID(row.plan_id) if row.plan_id else None,
            addon_id=strawberry.ID(row.addon_id) if row.addon_id else None,
            limit=row.limit_units,
            overage=row.overage,
            seat_types=list(row.seat_types) if row.seat_types is not None else None,
            revoked_at=row.revoked_at,
            created_at=row.created_at,
        )


@strawberry.type(
    description="Whether the tenant (or a member) may use a feature right now, and how much is left."
)
class Entitlement:
    feature_code: str
    kind: FeatureKind
    enabled: bool
    reason: EntitlementReason | None = strawberry.field(description="Why not, when not enabled.")
    limit: Long | None = strawberry.field(description="Null for BOOLEAN features and unlimited grants.")
    used: Long | None = strawberry.field(
        description="LIMIT: what the tenant holds; METERED: the meter's count this period (rounded up)."
    )
    remaining: Long | None = strawberry.field(description="limit − used, never below 0 (rounded down).")
    overage: Overage | None
    resets_at: datetime | None = strawberry.field(
        description="METERED: when the billing period, and so `used`, starts over."
    )

    @classmethod
    def of(cls, value: EntitlementValue) -> Entitlement:
        return cls(
            feature_code=value.feature_code,
            kind=value.kind,
            enabled=value.enabled,
            reason=value.reason,
            limit=value.limit,
            used=value.used,
            remaining=value.remaining,
            overage=value.overage,
            resets_at=value.resets_at,
        )

    @classmethod
    def of_data(cls, data: EntitlementData) -> Entitlement:
        """As an entitlements.changed event recorded it."""
        return cls(
            feature_code=data.feature_code,
            kind=data.kind,
            enabled=data.enabled,
            reason=data.reason,
            limit=data.limit,
            used=data.used,
            remaining=data.remaining,
            overage=data.overage,
            resets_at=data.resets_at,
        )


@strawberry.type(description="What consumeEntitlement recorded, and the entitlement after it.")
class EntitlementConsumed:
    entitlement: Entitlement
    duplicate: bool = strawberry.field(
        description="True when the idempotency key was seen before: nothing new was recorded."
    )
