from __future__ import annotations

import strawberry

from models.kernel.enums import EffectiveAt as EffectiveAtValue
from models.kernel.enums import ProrationMode as ProrationModeValue
from resolvers.shared.enums import EffectiveAt, ProrationBillingMode
from resolvers.subscriptions.inputs import AddonQuantityInput


@strawberry.input
class ChangePlanInput:
    subscription_id: strawberry.ID
    plan_id: strawberry.ID = strawberry.field(
        description="The plan to be on; the current one to change add-ons only."
    )
    proration_billing_mode: ProrationBillingMode = ProrationModeValue.PRORATED_IMMEDIATELY
    addons: list[AddonQuantityInput] | None = strawberry.field(
        default=None,
        description="The new totals: `[]` removes every add-on; left out, the current ones stay.",
    )
    effective_at: EffectiveAt = EffectiveAtValue.IMMEDIATELY
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key returns the first result instead of changing twice.",
    )
