"""Cursor pagination over id-ordered rows (ids sort by creation time)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.errors import ValidationFailed
from models.platform.reads import fetch

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_next_page: bool
    # Relay, paging forward: true when rows before ``after`` exist (the cursor's own row,
    # which the query reads along); false on the first page.
    has_previous_page: bool = False

    @classmethod
    def of(cls, rows: list[T], size: int, *, has_previous_page: bool = False) -> Page[T]:
        """A page from up to ``size + 1`` rows: the extra one only says there is more."""
        return cls(items=rows[:size], has_next_page=len(rows) > size, has_previous_page=has_previous_page)

    @property
    def start_cursor(self) -> str | None:
        return encode_cursor(getattr(self.items[0], "id")) if self.items else None  # noqa: B009 - T has an id

    @property
    def end_cursor(self) -> str | None:
        # Pages hold rows with a string id (or objects carrying one, as a DeliveryLog does).
        return encode_cursor(getattr(self.items[-1], "id")) if self.items else None  # noqa: B009 - T has an id


def encode_cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(f"id:{object_id}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("id:") or len(raw) <= 3 or not raw.isprintable():
        raise ValidationFailed("after", "is not a cursor this API issued; pass a pageInfo.endCursor")
    return raw[3:]


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed("first", f"must be between 1 and {MAX_PAGE_SIZE}; got {size}")
    return size


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    id_column: Any,
    first: int | None,
    after: str | None,
    *,
    newest_first: bool = False,
    light: bool = False,
) -> Page[Any]:
    """A page of ``first`` rows after the cursor ``after``, in one statement: with a cursor
    it also reads the cursor's own row, which (when it still exists) says there is a
    previous page. ``light``: read-only light rows (``models.platform.reads.fetch``), for
    queries, instead of ORM objects."""
    size = page_size(first)
    order = id_column.desc() if newest_first else id_column

    async def read(statement: Select[Any]) -> list[Any]:
        if light:
            return await fetch(session, statement)
        return list((await session.scalars(statement)).all())

    if after is None:
        return Page.of(await read(query.order_by(order).limit(size + 1)), size)
    cursor = decode_cursor(after)
    query = query.where(id_column <= cursor if newest_first else id_column >= cursor)
    rows = await read(query.order_by(order).limit(size + 2))
    previous = bool(rows) and getattr(rows[0], id_column.key) == cursor
    if previous:
        rows = rows[1:]
    return Page.of(rows[: size + 1], size, has_previous_page=previous)
