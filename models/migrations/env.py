"""Alembic environment: uses the caller's connection when given one (the gateway's
own engine, with its SQLite pragmas), else connects to ``GATEWAY_DATABASE_URL`` (plain ``alembic upgrade head`` from the repository root)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import models.tables  # noqa: F401  (registers every table on the metadata)
from models.tables import metadata

config = context.config


def _configure_and_run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return os.environ.get("GATEWAY_DATABASE_URL") or "sqlite+aiosqlite:///./gateway.db"


async def _run_online() -> None:
    engine = create_async_engine(_url())
    async with engine.begin() as conn:
        await conn.run_sync(_configure_and_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _configure_and_run(connection)
else:
    asyncio.run(_run_online())
