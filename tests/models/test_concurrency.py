"""Writers that race: row locks (PostgreSQL) and the write lock (SQLite) serialize them."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from gateway import demo
from models.api_keys.service import authenticate
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.migrate import upgrade
from models.platform.store import Store
from models.test_clocks import service as test_clocks
from tests.builders.api import START


async def test_concurrent_advances_never_move_a_clock_back(deps: Deps) -> None:
    clock = await test_clocks.create_test_clock(deps, operator(), START)
    targets = [START + timedelta(days=d) for d in random.sample(range(1, 200), 30)]

    async def advance(target):  # type: ignore[no-untyped-def]
        try:
            await test_clocks.move_test_clock(deps, operator(), clock.id, target)
            return True
        except Exception as exc:  # only "must be later" may lose the race
            assert "only move forward" in str(exc), exc
            return False

    results = await asyncio.gather(*(advance(t) for t in targets))
    assert any(results)
    final = await test_clocks.get_test_clock(deps, operator(), clock.id)
    # Without the lock, a slower writer could overwrite a later time with an earlier one.
    assert final.frozen_time == max(targets)


async def test_concurrent_seeds_add_the_demo_tenants_once(deps: Deps) -> None:
    results = await asyncio.gather(*(demo.seed_demo(deps) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(demo.DEMO_TENANTS)]


async def test_each_demo_start_revokes_the_previous_demo_key(deps: Deps) -> None:
    first = await demo.rotate_demo_admin_key(deps)
    second = await demo.rotate_demo_admin_key(deps)
    assert await authenticate(deps, first) is None
    assert (await authenticate(deps, second)) is not None


async def test_replicas_migrating_at_once_all_start(empty_db_url: str) -> None:
    stores = [Store(empty_db_url) for _ in range(3)]
    try:
        # Unserialized, PostgreSQL replicas block each other creating the same tables.
        await asyncio.wait_for(asyncio.gather(*(upgrade(store) for store in stores)), timeout=60)
    finally:
        for store in stores:
            await store.dispose()
