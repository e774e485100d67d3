from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.test_clocks import service as test_clocks
from resolvers.shared.context import Info
from resolvers.shared.errors import ForbiddenError, NotFoundError, ValidationError
from resolvers.test_clocks.types import TestClock

TestClockResult = Annotated[
    TestClock | ValidationError | ForbiddenError | NotFoundError,
    strawberry.union("TestClockResult"),
]


@strawberry.type
class TestClockMutations:
    @strawberry.mutation(description="Create a test clock frozen at `frozenTime` (ADMIN).")
    async def create_test_clock(
        self, info: Info, frozen_time: datetime, name: str | None = None
    ) -> TestClockResult:
        ctx = info.context
        row = await test_clocks.create_test_clock(ctx.deps, ctx.actor, frozen_time, name)
        return TestClock.from_row(row)

    @strawberry.mutation(
        description=(
            "Move a test clock forward to `frozenTime` (ADMIN); it never moves back. What falls due on the "
            "way "
            "runs: each period that ends renews (or cancels), in order."
        )
    )
    async def advance_test_clock(
        self, info: Info, id: strawberry.ID, frozen_time: datetime
    ) -> TestClockResult:
        ctx = info.context
        row = await test_clocks.advance_test_clock(ctx.deps, ctx.actor, id, frozen_time)
        return TestClock.from_row(row)
