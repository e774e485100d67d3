"""What a plan change (and its preview) takes: a validated input model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from models.kernel.enums import EffectiveAt, ProrationMode
from models.kernel.validation import Input
from models.subscriptions.inputs import AddonQuantity, IdempotencyKey, ObjectId


class PlanChangeRequest(Input):
    subscription_id: ObjectId
    plan_id: ObjectId
    proration_billing_mode: ProrationMode = ProrationMode.PRORATED_IMMEDIATELY
    # The new totals; [] removes every add-on, None keeps the current ones.
    addons: Annotated[list[AddonQuantity], Field(max_length=100)] | None = None
    effective_at: EffectiveAt = EffectiveAt.IMMEDIATELY
    idempotency_key: IdempotencyKey | None = None
