"""Relay connections: ``edges { cursor node }`` and ``pageInfo { hasNextPage endCursor }``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from models.platform.pagination import Page, encode_cursor

Node = TypeVar("Node")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


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
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
