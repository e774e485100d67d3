"""Per-request DataLoaders, one per relation, so nested lists cost a constant
number of SQL statements however many parents there are.

They load children of objects a service already scope-checked, so they check no
scope themselves: never hand one an id that came straight from a caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader

from models.services.base import Deps
from models.store.queries import rows_by_ids
from models.tables import TestClockRow

Row = TypeVar("Row")


def _by_id_loader(deps: Deps, table: type[Row]) -> DataLoader[str, Row | None]:
    async def load(ids: Sequence[str]) -> list[Row | None]:
        async with deps.store.read() as session:
            return await rows_by_ids(session, table, ids)

    return DataLoader(load_fn=load)


class Loaders:
    """Built fresh for every request (and every websocket operation)."""

    def __init__(self, deps: Deps) -> None:
        self.test_clock = _by_id_loader(deps, TestClockRow)
