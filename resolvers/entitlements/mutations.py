from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from models.entitlements import consume as consumption
from models.entitlements import service as entitlements
from models.entitlements.inputs import Consumption, FeatureCreate, FeatureGrantCreate
from models.tables import FeatureGrantRow, FeatureRow, MeterRow
from resolvers.entitlements.inputs import ConsumeEntitlementInput, CreateFeatureInput, GrantFeatureInput
from resolvers.entitlements.types import Entitlement, EntitlementConsumed, Feature, FeatureGrant
from resolvers.shared.context import Info
from resolvers.shared.errors import (
    ForbiddenError,
    IdempotencyConflictError,
    LimitReachedError,
    NotEntitledError,
    NotFoundError,
    ValidationError,
)

CreateFeatureResult = Annotated[
    Feature | ValidationError | ForbiddenError, strawberry.union("CreateFeatureResult")
]
GrantFeatureResult = Annotated[
    FeatureGrant | ValidationError | NotFoundError | ForbiddenError, strawberry.union("GrantFeatureResult")
]
RevokeFeatureGrantResult = Annotated[
    FeatureGrant | NotFoundError | ForbiddenError, strawberry.union("RevokeFeatureGrantResult")
]
ArchiveFeatureResult = Annotated[
    Feature | NotFoundError | ForbiddenError, strawberry.union("ArchiveFeatureResult")
]
ConsumeEntitlementResult = Annotated[
    EntitlementConsumed
    | LimitReachedError
    | NotEntitledError
    | ValidationError
    | NotFoundError
    | IdempotencyConflictError,
    strawberry.union("ConsumeEntitlementResult"),
]


async def _feature(info: Info, row: FeatureRow) -> Feature:
    if row.meter_id is None:
        return Feature.from_row(row)
    async with info.context.deps.store.read() as session:
        name = await session.scalar(select(MeterRow.name).where(MeterRow.id == row.meter_id))
    return Feature.from_row(row, name)


async def _grant(info: Info, grant_id: str) -> FeatureGrant:
    async with info.context.deps.store.read() as session:
        grant = await session.get(FeatureGrantRow, grant_id)
        assert grant is not None
        feature = await session.get(FeatureRow, grant.feature_id)
        assert feature is not None
    return FeatureGrant.from_row(grant, feature)


@strawberry.type
class EntitlementMutations:
    @strawberry.mutation(description="Create a feature (ADMIN): BOOLEAN, LIMIT, or METERED on a meter.")
    async def create_feature(self, info: Info, input: CreateFeatureInput) -> CreateFeatureResult:
        ctx = info.context
        row = await entitlements.create_feature(
            ctx.deps, ctx.actor, FeatureCreate.parse(strawberry.asdict(input))
        )
        return await _feature(info, row)

    @strawberry.mutation(
        description="A plan or an add-on grants a feature (ADMIN); granting again replaces the grant. Its "
        "subscribers' entitlements change at once (entitlements.changed)."
    )
    async def grant_feature(self, info: Info, input: GrantFeatureInput) -> GrantFeatureResult:
        ctx = info.context
        row = await entitlements.grant_feature(
            ctx.deps, ctx.actor, FeatureGrantCreate.parse(strawberry.asdict(input))
        )
        return await _grant(info, row.id)

    @strawberry.mutation(description="Take a grant back (ADMIN); its subscribers lose it at once.")
    async def revoke_feature_grant(self, info: Info, grant_id: strawberry.ID) -> RevokeFeatureGrantResult:
        ctx = info.context
        row = await entitlements.revoke_grant(ctx.deps, ctx.actor, grant_id)
        return await _grant(info, row.id)

    @strawberry.mutation(
        description="Retire a feature (ADMIN): no one is entitled to it, and it can't be granted."
    )
    async def archive_feature(self, info: Info, feature_id: strawberry.ID) -> ArchiveFeatureResult:
        ctx = info.context
        return await _feature(info, await entitlements.archive_feature(ctx.deps, ctx.actor, feature_id))

    @strawberry.mutation(
        description="Check a LIMIT or METERED feature and record what is used, in one atomic step: "
        "LimitReachedError (nothing recorded) when it would pass a BLOCK limit. Idempotent by key."
    )
    async def consume_entitlement(
        self, info: Info, input: ConsumeEntitlementInput
    ) -> ConsumeEntitlementResult:
        ctx = info.context
        consumed = await consumption.consume(ctx.deps, ctx.actor, Consumption.parse(strawberry.asdict(input)))
        return EntitlementConsumed(
            entitlement=Entitlement.of(consumed.entitlement), duplicate=consumed.duplicate
        )
