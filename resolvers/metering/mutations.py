from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import strawberry

from models.kernel.errors import DomainError
from models.metering import ingest as usage
from models.metering import service as meters
from models.metering.inputs import MeterCreate
from resolvers.metering.inputs import CreateMeterInput, RecordUsageInput
from resolvers.metering.types import Meter, UsageBatchRecorded, UsageDeleted, UsageEventError, UsageRecorded
from resolvers.shared.context import Info
from resolvers.shared.enums import Aggregation
from resolvers.shared.errors import (
    ERROR_TYPES,
    ForbiddenError,
    IdempotencyConflictError,
    NotFoundError,
    ValidationError,
)

CreateMeterResult = Annotated[Meter | ValidationError | ForbiddenError, strawberry.union("CreateMeterResult")]
UpdateMeterResult = Annotated[Meter | NotFoundError | ForbiddenError, strawberry.union("UpdateMeterResult")]
RecordUsageResult = Annotated[
    UsageRecorded | ValidationError | NotFoundError | IdempotencyConflictError,
    strawberry.union("RecordUsageResult"),
]
RecordUsageBatchResult = Annotated[
    UsageBatchRecorded | ValidationError, strawberry.union("RecordUsageBatchResult")
]
DeleteUsageResult = Annotated[
    UsageDeleted | ValidationError | NotFoundError, strawberry.union("DeleteUsageResult")
]


def _event(input: RecordUsageInput) -> dict[str, Any]:
    """The input as the usage service takes events: keyed by the API's field names."""
    return {
        "tenantId": input.tenant_id,
        "meterName": input.meter_name,
        "value": input.value,
        "method": input.method,
        "timestamp": input.timestamp,
        "idempotencyKey": input.idempotency_key,
    }


async def record_usage_batch(info: Any, events: Sequence[Mapping[str, Any]]) -> Any:
    """Also installed as the field's raw resolver (see ``gateway.schema``): it takes
    events as graphql-core coerced them, mappings keyed by the API's field names."""
    ctx = info.context
    try:
        outcome = await usage.record_batch(ctx.deps, ctx.actor, events)
    except DomainError as exc:
        error_type, build = ERROR_TYPES[type(exc)]
        if error_type is not ValidationError:
            raise
        return build(exc)
    return UsageBatchRecorded(
        accepted=outcome.accepted,
        duplicates=outcome.duplicates,
        errors=[UsageEventError.of(index, error) for index, error in outcome.errors],
    )


@strawberry.type
class MeteringMutations:
    @strawberry.mutation(description="Create a meter (ADMIN).")
    async def create_meter(self, info: Info, input: CreateMeterInput) -> CreateMeterResult:
        ctx = info.context
        return Meter.from_row(
            await meters.create_meter(ctx.deps, ctx.actor, MeterCreate.parse(strawberry.asdict(input)))
        )

    @strawberry.mutation(
        description="Change how a meter's points combine (ADMIN); every count follows, past ones too."
    )
    async def update_meter(
        self, info: Info, id: strawberry.ID, aggregation: Aggregation
    ) -> UpdateMeterResult:
        ctx = info.context
        return Meter.from_row(await meters.update_meter(ctx.deps, ctx.actor, id, aggregation))

    @strawberry.mutation(
        description="Record one usage event (ADMIN, the tenant's own TENANT or PARTNER key)."
    )
    async def record_usage(self, info: Info, input: RecordUsageInput) -> RecordUsageResult:
        ctx = info.context
        return UsageRecorded.of(await usage.record_usage(ctx.deps, ctx.actor, _event(input)))

    @strawberry.mutation(
        description="Record up to 10,000 usage events in one transaction; invalid ones are reported by index "
        "and the rest are recorded."
    )
    async def record_usage_batch(self, info: Info, events: list[RecordUsageInput]) -> RecordUsageBatchResult:
        return await record_usage_batch(info, [_event(e) for e in events])

    @strawberry.mutation(
        description="Delete the usage point at a timestamp (as SaaSus's DeleteMeteringUnitTimestampCount)."
    )
    async def delete_usage(
        self, info: Info, tenant_id: strawberry.ID, meter_name: str, timestamp: datetime
    ) -> DeleteUsageResult:
        ctx = info.context
        recorded = await usage.delete_usage(ctx.deps, ctx.actor, tenant_id, meter_name, timestamp)
        return UsageDeleted(
            meter_name=recorded.meter_name, timestamp=recorded.timestamp, deleted=recorded.existed
        )
