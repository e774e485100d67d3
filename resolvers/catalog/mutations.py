from __future__ import annotations

from typing import Annotated

import strawberry

from models.catalog import service as catalog
from models.catalog.inputs import AddonCreate, PlanCreate
from models.metering import service as meters
from models.metering.inputs import UsageChargeCreate
from resolvers.catalog.inputs import CreateAddonInput, CreatePlanInput
from resolvers.catalog.types import Addon, Plan
from resolvers.metering.inputs import AddUsageChargeInput
from resolvers.shared.context import Info
from resolvers.shared.errors import (
    AddonArchivedError,
    CurrencyMismatchError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)

CreatePlanResult = Annotated[Plan | ValidationError | ForbiddenError, strawberry.union("CreatePlanResult")]
CreateAddonResult = Annotated[Addon | ValidationError | ForbiddenError, strawberry.union("CreateAddonResult")]
AttachAddonResult = Annotated[
    Plan | NotFoundError | CurrencyMismatchError | AddonArchivedError | ForbiddenError,
    strawberry.union("AttachAddonResult"),
]
ArchiveAddonResult = Annotated[Addon | NotFoundError | ForbiddenError, strawberry.union("ArchiveAddonResult")]


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(description="Create a plan (ADMIN).")
    async def create_plan(self, info: Info, input: CreatePlanInput) -> CreatePlanResult:
        ctx = info.context
        return Plan.from_row(
            await catalog.create_plan(ctx.deps, ctx.actor, PlanCreate.parse(strawberry.asdict(input)))
        )

    @strawberry.mutation(description="Create an add-on (ADMIN); give it a seatType to sell seats.")
    async def create_addon(self, info: Info, input: CreateAddonInput) -> CreateAddonResult:
        ctx = info.context
        return Addon.from_row(
            await catalog.create_addon(ctx.deps, ctx.actor, AddonCreate.parse(strawberry.asdict(input)))
        )

    @strawberry.mutation(description="Offer an add-on with a plan (ADMIN); both must share a currency.")
    async def attach_addon(
        self, info: Info, plan_id: strawberry.ID, addon_id: strawberry.ID
    ) -> AttachAddonResult:
        ctx = info.context
        return Plan.from_row(await catalog.attach_addon(ctx.deps, ctx.actor, plan_id, addon_id))

    @strawberry.mutation(description="Stop selling an add-on (ADMIN); subscriptions that have it keep it.")
    async def archive_addon(self, info: Info, addon_id: strawberry.ID) -> ArchiveAddonResult:
        ctx = info.context
        return Addon.from_row(await catalog.archive_addon(ctx.deps, ctx.actor, addon_id))


AddUsageChargeResult = Annotated[
    Plan | ValidationError | NotFoundError | ForbiddenError, strawberry.union("AddUsageChargeResult")
]


@strawberry.type
class UsageChargeMutations:
    """A plan's usage charges (listed after metering's mutations, where addUsageCharge always stood)."""

    @strawberry.mutation(
        description="Charge a plan's subscribers for a meter's usage each period, in arrears (ADMIN)."
    )
    async def add_usage_charge(self, info: Info, input: AddUsageChargeInput) -> AddUsageChargeResult:
        ctx = info.context
        return Plan.from_row(
            await meters.add_usage_charge(
                ctx.deps, ctx.actor, UsageChargeCreate.parse(strawberry.asdict(input))
            )
        )
