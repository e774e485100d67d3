"""On SQLite a process's write transactions queue on one lock before BEGIN IMMEDIATE
(models.platform.store): handed on at once, bounded like SQLite's own busy timeout, and a
transaction opened inside another of the same task refused instead of waiting for itself."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc, text

from models.platform import store as store_module
from models.platform.store import Store


@pytest.fixture
def sqlite_store(store: Store) -> Store:
    if store.dialect != "sqlite":
        pytest.skip("the writers' queue is SQLite's")
    return store


async def _write(store: Store, value: int, hold: float = 0.0) -> None:
    async with store.transaction() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS marks (value INTEGER)"))
        await session.execute(text("INSERT INTO marks VALUES (:v)"), {"v": value})
        await asyncio.sleep(hold)


async def test_concurrent_writers_of_one_process_each_commit_one_after_another(sqlite_store: Store) -> None:
    await asyncio.gather(*(_write(sqlite_store, i, 0.01) for i in range(20)))
    async with sqlite_store.read() as session:
        values = (await session.execute(text("SELECT value FROM marks ORDER BY value"))).scalars().all()
    assert values == list(range(20))


async def test_a_write_transaction_opened_inside_another_fails_at_once(sqlite_store: Store) -> None:
    with pytest.raises(RuntimeError, match="inside another"):
        async with sqlite_store.transaction():
            async with sqlite_store.transaction():
                pass
    await _write(sqlite_store, 1)  # the queue is free again


async def test_a_writer_that_waits_past_the_busy_timeout_fails_as_sqlite_would(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SQLITE_WRITER_WAIT", 0.2)
    holder = asyncio.create_task(_write(sqlite_store, 1, hold=1.0))
    await asyncio.sleep(0.05)
    with pytest.raises(exc.OperationalError, match="database is locked"):
        await _write(sqlite_store, 2)
    await holder
    await _write(sqlite_store, 3)  # and the queue serves the next writer
