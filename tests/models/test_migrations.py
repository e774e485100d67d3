"""The Alembic migrations build exactly the schema the models describe, and undo it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from models.platform.migrate import downgrade, upgrade
from models.platform.store import Store
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


async def test_tenants_made_before_invoices_get_distinct_invoice_prefixes(empty_db_url: str) -> None:
    """0002 backfills the invoice prefix of tenants that exist from 0001, as a new
    tenant would get it: from the name, unique across tenants."""
    store = Store(empty_db_url)
    try:
        await upgrade(store, "0001")
        async with store.engine.begin() as conn:
            for i, name in enumerate(["Acme Analytics", "ACME corp", "株式会社さくら", "Nordwind"]):
                await conn.execute(
                    text(
                        "INSERT INTO tenants (id, name, email, currency, timezone, sales_mode, created_at, "
                        "updated_at) VALUES (:id, :name, 'x@y.example', 'USD', 'UTC', 'SELF_SERVE', :at, :at)"
                    ),
                    {"id": f"ten_{i}", "name": name, "at": datetime(2026, 1, 1, tzinfo=UTC)},
                )
        await upgrade(store)
        async with store.engine.connect() as conn:
            prefixes = dict((await conn.execute(text("SELECT id, invoice_prefix FROM tenants"))).all())
        assert prefixes == {"ten_0": "ACME", "ten_1": "ACME2", "ten_2": "INV", "ten_3": "NORDWIND"}
    finally:
        await store.dispose()
