from __future__ import annotations

import strawberry

from resolvers.shared.enums import FeatureKind, Overage, SeatType
from resolvers.shared.scalars import Long


@strawberry.input
class CreateFeatureInput:
    code: str = strawberry.field(description="Unique, lowercase: letters, digits, `_` and `-`.")
    name: str
    description: str | None = None
    kind: FeatureKind
    meter_name: str | None = strawberry.field(default=None, description="METERED only: the meter it counts.")


@strawberry.input
class GrantFeatureInput:
    plan_id: strawberry.ID | None = strawberry.field(default=None, description="The plan that grants, or…")
    addon_id: strawberry.ID | None = strawberry.field(default=None, description="…the add-on that grants.")
    feature_code: str
    limit: Long | None = strawberry.field(
        default=None, description="LIMIT and METERED: how many (an add-on's: per unit); null: unlimited."
    )
    overage: Overage = Overage.BLOCK
    seat_types: list[SeatType] | None = strawberry.field(
        default=None, description="Only members of these seat types; null: every seat type."
    )


@strawberry.input
class ConsumeEntitlementInput:
    tenant_id: strawberry.ID
    feature_code: str
    amount: float = strawberry.field(
        default=1.0,
        description="How much: METERED, usage recorded on its meter (positive); LIMIT, what the tenant now "
        "holds more of (negative gives back).",
    )
    idempotency_key: str = strawberry.field(description="A retry with the same key replays the first answer.")
