from __future__ import annotations

from typing import Annotated

import strawberry

from models.plan_changes import service as plan_changes
from models.plan_changes.inputs import PlanChangeRequest
from resolvers.plan_changes.inputs import ChangePlanInput
from resolvers.plan_changes.types import PlanChange, PlanChangePreview
from resolvers.shared.context import Info
from resolvers.shared.errors import (
    ForbiddenError,
    IdempotencyConflictError,
    PortalActionNotAllowedError,
    PurchaseErrors,
    SubscriptionNotActiveError,
)

_CHANGE_ERRORS = PurchaseErrors | SubscriptionNotActiveError | ForbiddenError | PortalActionNotAllowedError
PreviewChangePlanResult = Annotated[
    PlanChangePreview | _CHANGE_ERRORS, strawberry.union("PreviewChangePlanResult")
]
ChangePlanResult = Annotated[
    PlanChange | _CHANGE_ERRORS | IdempotencyConflictError, strawberry.union("ChangePlanResult")
]


@strawberry.type
class PlanChangeMutations:
    @strawberry.mutation(
        description="What changePlan with this input would charge now and leave; changes nothing."
    )
    async def preview_change_plan(self, info: Info, input: ChangePlanInput) -> PreviewChangePlanResult:
        ctx = info.context
        change = await plan_changes.preview_change(
            ctx.deps, ctx.actor, PlanChangeRequest.parse(strawberry.asdict(input))
        )
        return PlanChangePreview.of(change)

    @strawberry.mutation(
        description="Change the plan and add-on totals now (billed by prorationBillingMode) or at the "
        "renewal."
    )
    async def change_plan(self, info: Info, input: ChangePlanInput) -> ChangePlanResult:
        ctx = info.context
        return PlanChange.of(
            await plan_changes.change_plan(
                ctx.deps, ctx.actor, PlanChangeRequest.parse(strawberry.asdict(input))
            )
        )
