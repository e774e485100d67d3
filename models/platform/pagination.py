"""Cursor pagination over id-ordered rows (ids sort by creation time)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_next_page: bool

    @classmethod
    def of(cls, rows: list[T], size: int) -> Page[T]:
        """A page from up to ``size + 1`` rows: the extra one only says there is more."""
        return cls(items=rows[:size], has_next_page=len(rows) > size)

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
) -> Page[Any]:
    size = page_size(first)
    if after is not None:
        cursor = decode_cursor(after)
        query = query.where(id_column < cursor if newest_first else id_column > cursor)
    order = id_column.desc() if newest_first else id_column
    rows = list((await session.scalars(query.order_by(order).limit(size + 1))).all())
    return Page.of(rows, size)
