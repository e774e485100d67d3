"""Relay connections: ``edges { cursor node }`` and
``pageInfo { hasNextPage hasPreviousPage startCursor endCursor }``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from models.platform.pagination import Page, encode_cursor

Node = TypeVar("Node")


@strawberry.type(description="Where a page sits in its list (Relay's PageInfo), paging with first and after.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page: false on the first page; after a cursor, true "
        "while the item it points at still exists."
    )
    start_cursor: str | None = strawberry.field(description="The first edge's cursor; null on an empty page.")
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor (pass it as `after` for the next page); null on an empty page."
    )


@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: Page[Any], to_node: Callable[[Any], Node]) -> Connection[Node]:
        return cls(
            edges=[Edge(cursor=encode_cursor(row.id), node=to_node(row)) for row in page.items],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.start_cursor,
                end_cursor=page.end_cursor,
            ),
        )
