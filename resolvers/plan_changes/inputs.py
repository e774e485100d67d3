from __future__ import annotations

import strawberry

from models.kernel.enums import EffectiveAt as EffectiveAtValue
from models.kernel.enums import ProrationMode as ProrationModeValue
from resolvers.subscriptions.inputs import AddonQuantityInput

ProrationBillingMode = strawberry.enum(
    ProrationModeValue,
    name="ProrationBillingMode",
    description=(
        "PRORATED_IMMEDIATELY: bill the difference for the days left now (the day of the change counts); "
        "DIFFERENCE_IMMEDIATELY: bill a whole period's difference now, a downgrade's goes to the credit balance; "
        "FULL_IMMEDIATELY: bill the new items in full now and start a new period today; "
        "DO_NOT_BILL: apply without charge or credit."
    ),
)
EffectiveAt = strawberry.enum(
    EffectiveAtValue, name="EffectiveAt",
    description="IMMEDIATELY, or NEXT_BILLING_DATE: scheduled for the renewal, which bills it in full.",
)


@strawberry.input
class ChangePlanInput:
    subscription_id: strawberry.ID
    plan_id: strawberry.ID = strawberry.field(description="The plan to be on; the current one to change add-ons only.")
    proration_billing_mode: ProrationBillingMode = ProrationModeValue.PRORATED_IMMEDIATELY
    addons: list[AddonQuantityInput] | None = strawberry.field(
        default=None, description="The new totals: `[]` removes every add-on; left out, the current ones stay."
    )
    effective_at: EffectiveAt = EffectiveAtValue.IMMEDIATELY
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key returns the first result instead of changing twice."
    )
