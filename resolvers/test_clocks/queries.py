from __future__ import annotations

import strawberry

from models.test_clocks import service as test_clocks
from resolvers.shared.context import Info
from resolvers.test_clocks.types import TestClock


@strawberry.type
class TestClockQueries:
    @strawberry.field(description="A test clock (ADMIN keys only).")
    async def test_clock(self, info: Info, id: strawberry.ID) -> TestClock | None:
        ctx = info.context
        return TestClock.from_row(await test_clocks.get_test_clock(ctx.deps, ctx.actor, id))
