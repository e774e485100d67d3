"""Alembic, driven from code: ``billing-gateway migrate`` and ``serve`` call this."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from models.store.engine import Store

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


async def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the database to ``revision`` on the store's own engine (pragmas included)."""
    await _run(store, command.upgrade, revision)


async def downgrade(store: Store, revision: str) -> None:
    await _run(store, command.downgrade, revision)


async def _run(store: Store, alembic_command: Any, revision: str) -> None:
    def run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        alembic_command(cfg, revision)

    async with store.engine.begin() as conn:
        await conn.run_sync(run)
