"""Alembic, driven from code: ``billing-gateway migrate`` and ``serve`` call this."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from models.platform.store import Store

# Any constant works; it names "the gateway's schema migration" among advisory locks.
_MIGRATION_LOCK = 0x6761_7465_7761_79

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


async def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the database to ``revision`` on the store's own engine (pragmas included)."""
    await _run(store, command.upgrade, revision)


async def upgrade_url(url: str) -> None:
    """``upgrade`` on a database of its own Store, disposed of after (tests, the bench)."""
    store = Store(url)
    try:
        await upgrade(store)
    finally:
        await store.dispose()


async def downgrade(store: Store, revision: str) -> None:
    await _run(store, command.downgrade, revision)


async def _run(store: Store, alembic_command: Any, revision: str) -> None:
    def run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        alembic_command(cfg, revision)

    # Replicas starting together migrate one at a time: an advisory lock on
    # PostgreSQL, the database write lock (BEGIN IMMEDIATE) on SQLite.
    async with store.write_engine.begin() as conn:
        if store.dialect == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(run)
