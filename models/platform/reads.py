"""Queries shared by services and DataLoaders: each answers for many parents in
one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
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


async def grouped(session: AsyncSession, query: Any, key: Any, keys: Sequence[str]) -> list[list[Any]]:
    """Rows of ``query`` whose ``key`` is in ``keys``, as one list per key."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in (await session.execute(query.where(key.in_(keys)).add_columns(key))).all():
        groups[row[-1]].append(row[0])
    return [groups.get(k, []) for k in keys]


