"""Queries shared by services and DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def rows_by_ids(session: AsyncSession, table: type[Row], ids: Sequence[str]) -> list[Row | None]:
    """One SELECT for many ids; the result lines up with ``ids`` (None where missing)."""
    id_column: Any = table.id  # type: ignore[attr-defined]
    rows = (await session.scalars(select(table).where(id_column.in_(ids)))).all()
    found = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [found.get(i) for i in ids]
