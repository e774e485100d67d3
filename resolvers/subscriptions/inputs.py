from __future__ import annotations

import strawberry


@strawberry.input
class AddonQuantityInput:
    addon_id: strawberry.ID
    quantity: int = strawberry.field(description="Units; a 5-seat pack bought twice is 2.")


@strawberry.input
class SubscribeInput:
    tenant_id: strawberry.ID
    plan_id: strawberry.ID
    addons: list[AddonQuantityInput] = strawberry.field(default_factory=list)
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key returns the first result instead of subscribing twice.",
    )
    trial: bool | None = strawberry.field(
        default=None,
        description="null: the plan's trial if the tenant never had one of it; true: the trial, or "
        "VALIDATION_FAILED; false: no trial, invoiced now.",
    )
    coupon_code: str | None = strawberry.field(
        default=None,
        description="A coupon to redeem: its discount comes off the first invoice on (COUPON_NOT_APPLICABLE "
        "when it cannot).",
    )
