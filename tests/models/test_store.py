"""The store: one transaction per use case, nothing half-written, UTC in and out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from models.kernel.errors import NotFound
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.store import Store, UnsupportedDatabaseUrl
from models.tables import TenantRow, TestClockRow
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate

SPEC = {"name": "T", "email": "t@t.example", "currency": "USD"}


async def count(store: Store) -> int:
    async with store.read() as session:
        return await session.scalar(select(func.count()).select_from(TenantRow))


async def test_a_failed_use_case_writes_nothing(deps: Deps) -> None:
    # A crash after a write inside the unit of work rolls the write back...
    with pytest.raises(RuntimeError):
        async with deps.store.transaction() as session:
            session.add(
                TestClockRow(id="clock_x", frozen_time=datetime.now(UTC), created_at=datetime.now(UTC))
            )
            await session.flush()
            raise RuntimeError("crash mid-use-case")
    async with deps.store.read() as session:
        assert await session.get(TestClockRow, "clock_x") is None
    # ...and a use case that fails on bad input leaves no tenant behind.
    with pytest.raises(NotFound):
        await tenants.create_tenant(
            deps, operator(), TenantCreate.parse({**SPEC, "test_clock_id": "clock_missing"})
        )
    assert await count(deps.store) == 0


async def test_times_come_back_aware_and_in_utc(deps: Deps) -> None:
    tokyo = datetime(2026, 4, 1, 1, 0, tzinfo=timezone(timedelta(hours=9)))
    async with deps.store.transaction() as session:
        session.add(TestClockRow(id="clock_t", frozen_time=tokyo, created_at=tokyo))
    async with deps.store.read() as session:
        row = await session.get(TestClockRow, "clock_t")
    assert row.frozen_time == tokyo
    assert row.frozen_time.utcoffset() == timedelta(0)
    assert row.frozen_time.isoformat() == "2026-03-31T16:00:00+00:00"


async def test_naive_times_are_refused(deps: Deps) -> None:
    with pytest.raises(Exception, match="naive"):
        async with deps.store.transaction() as session:
            session.add(
                TestClockRow(id="clock_n", frozen_time=datetime(2026, 1, 1), created_at=datetime.now(UTC))
            )


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path}/pragmas.db")
    try:
        async with store.read() as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await store.dispose()


async def test_foreign_keys_are_enforced(deps: Deps) -> None:
    now = datetime.now(UTC)
    with pytest.raises(Exception, match="(?i)foreign key"):
        async with deps.store.transaction() as session:
            session.add(
                TenantRow(
                    id="ten_x",
                    name="x",
                    email="x@x.example",
                    currency="USD",
                    timezone="UTC",
                    test_clock_id="clock_missing",
                    invoice_prefix="X",
                    created_at=now,
                    updated_at=now,
                )
            )


@pytest.mark.parametrize("url", ["mysql+aiomysql://root@localhost/db", "sqlite:///sync.db", "not a url"])
def test_unsupported_database_urls_say_what_is_supported(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseUrl, match="sqlite\\+aiosqlite"):
        Store(url)
