"""Per-request DataLoaders, one per relation, so nested lists cost a constant
number of SQL statements however many parents there are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from models.services.base import Deps
from models.tables import TestClockRow

Row = TypeVar("Row")


def _by_id_loader(deps: Deps, table: type[Row]) -> DataLoader[str, Row | None]:
    id_column: Any = table.id  # type: ignore[attr-defined]

    async def load(ids: Sequence[str]) -> list[Row | None]:
        async with deps.store.read() as session:
            rows = (await session.scalars(select(table).where(id_column.in_(ids)))).all()
        found = {row.id: row for row in rows}  # type: ignore[attr-defined]
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """Built fresh for every request: caches never outlive it."""

    def __init__(self, deps: Deps) -> None:
        self.test_clock = _by_id_loader(deps, TestClockRow)
