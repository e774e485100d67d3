"""What every use case is given: the store and the process clock; and inserting a
row whose name must be unique."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from models.clock import Clock, SystemClock
from models.errors import ValidationFailed
from models.store import Store


@dataclass(frozen=True, slots=True)
class Deps:
    store: Store
    clock: Clock = field(default_factory=SystemClock)


Row = TypeVar("Row", bound=SQLModel)


async def insert_unique(deps: Deps, row: Row, field: str, taken: str) -> Row:
    """Insert ``row`` in its own transaction; when a unique column is taken (even a
    moment ago, by a concurrent request) it is a VALIDATION_FAILED on ``field`` saying
    ``taken``."""
    try:
        async with deps.store.transaction() as session, session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise ValidationFailed(field, taken) from None
    return row
