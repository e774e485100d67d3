"""The Alembic migrations build exactly the schema the models describe, and undo it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from models.store import Store
from models.store.migrate import downgrade, upgrade
from models.tables import metadata
from tests.conftest import _pg_admin, _pg_url


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/empty.db"
        return
    request.getfixturevalue("pg_template")  # skips or fails exactly like the other PostgreSQL tests
    name = f"gw_e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield _pg_url(name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _diff_and_tables(store: Store) -> tuple[list[Any], set[str]]:
    def inspect_sync(conn: Any) -> tuple[list[Any], set[str]]:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        return diff, set(inspect(conn).get_table_names()) - {"alembic_version"}

    async with store.engine.connect() as conn:
        return await conn.run_sync(inspect_sync)


async def test_upgrade_matches_the_models_and_downgrade_undoes_it(empty_db_url: str) -> None:
    store = Store(empty_db_url)
    try:
        await upgrade(store)
        diff, tables = await _diff_and_tables(store)
        assert diff == [], "models and migrations disagree: add a migration"
        assert tables == set(metadata.tables)

        await upgrade(store)  # idempotent: serve runs it on every start
        await downgrade(store, "base")
        assert (await _diff_and_tables(store))[1] == set()

        await upgrade(store)
        assert (await _diff_and_tables(store))[0] == []
    finally:
        await store.dispose()
