"""The Alembic migrations build exactly the schema the models describe, and undo it."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from models.store import Store
from models.store.migrate import downgrade, upgrade
from models.tables import metadata


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
