"""Resolver values a parent loaded ahead: a page of invoices loads every invoice's lines
in one statement when the query asks for them, and keeps each invoice's in its ``loaded``
dict. The resolver (marked ``loaded_when``) answers from there when it can, and a
compiled plan (gateway.compiled) reads the value like an attribute, so a page of plain
objects completes without graphql-core running a resolver per object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

LOADED = "loaded"  # the private dict an object keeps the values in
LOADED_AS = "__loaded_as__"  # set on a resolver: its key in that dict


def loaded_when(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a resolver whose value a parent may have loaded already, under ``name``."""

    def mark(resolver: Callable[..., Any]) -> Callable[..., Any]:
        setattr(resolver, LOADED_AS, name)
        return resolver

    return mark


def selects(info: Any, *path: str) -> bool:
    """Whether the field being resolved selects ``path`` (e.g. ``edges``, ``node``,
    ``lines``) in any of its nodes, through fragments too."""
    raw = getattr(info, "_raw_info", info)
    return any(_selects(node.selection_set, path, raw.fragments) for node in raw.field_nodes)


def _selects(
    selection_set: SelectionSetNode | None, path: tuple[str, ...], fragments: dict[str, Any]
) -> bool:
    if not path:
        return True
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == path[0] and _selects(selection.selection_set, path[1:], fragments):
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects(selection.selection_set, path, fragments):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and _selects(fragment.selection_set, path, fragments):
                return True
    return False
