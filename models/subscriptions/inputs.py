"""What the subscription use cases take: validated input models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, StringConstraints

from models.kernel.errors import ValidationFailed
from models.kernel.validation import Input, Instant

ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class AddonQuantity(Input):
    addon_id: ObjectId
    quantity: Annotated[int, Field(ge=0, le=1_000_000)]


class SubscriptionCreate(Input):
    tenant_id: ObjectId
    plan_id: ObjectId
    addons: Annotated[list[AddonQuantity], Field(max_length=100)] = []
    idempotency_key: IdempotencyKey | None = None
    # None: the plan's trial if the tenant has not had one of it; True: the trial, or
    # VALIDATION_FAILED; False: no trial, invoiced now.
    trial: bool | None = None
    # A coupon to redeem: its discount starts with the first invoice.
    coupon_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class SubscriptionCancel(Input):
    subscription_id: ObjectId
    at_period_end: bool
    # Why (trimmed by Input); blank is as if not given.
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class SubscriptionPause(Input):
    subscription_id: ObjectId
    resumes_at: Instant | None = None


def distinct_addons(addons: Sequence[AddonQuantity], field: str) -> list[tuple[str, int]]:
    seen: set[str] = set()
    for index, item in enumerate(addons):
        if item.addon_id in seen:
            raise ValidationFailed(
                f"{field}[{index}].addonId",
                "lists an add-on twice; give each add-on once with its total quantity",
            )
        seen.add(item.addon_id)
    return [(item.addon_id, item.quantity) for item in addons]
