"""Queries shared by services and DataLoaders: each answers for many parents in
one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from models.tables.base import table_of

Row = TypeVar("Row", bound=SQLModel)


async def rows_by_ids(session: AsyncSession, table: type[Row], ids: Sequence[str]) -> list[Row | None]:
    """One SELECT for many ids; the result lines up with ``ids`` (None where missing).
    Every table it is given has a string primary key named ``id``."""
    id_column: Any = table_of(table).c.id
    rows = (await session.scalars(select(table).where(id_column.in_(ids)))).all()
    found: dict[str, Row] = {getattr(row, "id"): row for row in rows}  # noqa: B009 - Row is any table with an id
    return [found.get(i) for i in ids]


async def grouped(session: AsyncSession, query: Any, key: Any, keys: Sequence[str]) -> list[list[Any]]:
    """Rows of ``query`` whose ``key`` is in ``keys``, as one list per key."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in (await session.execute(query.where(key.in_(keys)).add_columns(key))).all():
        groups[row[-1]].append(row[0])
    return [groups.get(k, []) for k in keys]
