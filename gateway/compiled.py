"""Plain subtrees of an operation, compiled once into one function that completes them.

graphql-core completes every value of a response through the same machinery: for each
object a grouped field set, for each field a resolve info, the resolver (Strawberry's
wrapper around getattr), then the non-null, list, leaf and object cases again. Most of
a read's response is plain: an invoice's lines (`kind description quantity amount {
amount currency }`) are attributes of the objects a loader returned, read by getattr and
coerced by their scalar. A *plain subtree* is a value of some output type together with a
selection set in which every field, at any depth, is

- a basic Strawberry field (no resolver of its own, no arguments, no permission classes
  or field extensions), or ``__typename``,
- selected plainly: no directives, no alias used twice, no fragments,
- or a resolver field marked ``loaded_when`` (resolvers.shared.loaded), whose value the
  parent object may hold already in its ``loaded`` dict (read like an attribute; absent,
  the object goes back to graphql-core, which runs the resolver),
- of a scalar, an enum, an object type backed by its Strawberry class (checked with
  ``type(value) is cls``, stricter than ``is_type_of``), or a (non-null) list of those.

`plan(return_type, node)` compiles such a subtree into a function from the value to its
completed output, or returns None when the subtree is not plain. The function returns
MISSING whenever the value holds anything unusual (a null in a non-null position, a value
the scalar refuses, an object of another class, an exception, a missing attribute, an
iterable that is not a list): the caller then hands the value back to graphql-core, which
produces the same data and the same errors at the same paths as it always did.

Plans are cached per (type, field node): a document whose parse is cached (see
``gateway.extensions``) keeps the same nodes, so its plans are compiled once. The cache is
bounded and holds its nodes weakly: it never keeps a document (and its tokens) alive, and
an entry goes with its node, so an id is never reused under it.
"""

from __future__ import annotations

import functools
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from resolvers.shared.loaded import LOADED, LOADED_AS

MISSING: Any = object()
_PLAIN = frozenset({str, int, float, bool, datetime, date})
Completer = Callable[[Any], Any]
PLAN_ENTRIES = 4096
_PLANS: OrderedDict[tuple[int, int], tuple[Any, weakref.ref[FieldNode], Completer | None]] = OrderedDict()


def plan(return_type: GraphQLOutputType, node: FieldNode) -> Completer | None:
    """The completer of ``node``'s value of ``return_type``, or None when not plain."""
    key = (id(return_type), id(node))
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is return_type and cached[1]() is node:
        return cached[2]
    completer = _compile(return_type, node) if not node.directives else None
    _PLANS[key] = (return_type, weakref.ref(node, functools.partial(_forget, key)), completer)
    if len(_PLANS) > PLAN_ENTRIES:
        _PLANS.popitem(last=False)
    return completer


def _forget(key: tuple[int, int], _: object) -> None:
    """A document's nodes are gone (its parse fell out of the cache, or it was never
    cached): so are their plans, and the ids they were kept under are free again."""
    _PLANS.pop(key, None)


def basic_attribute(field_def: Any) -> str | None:
    """The Python attribute a basic field reads (no resolver, no arguments), or None."""
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        definition is None
        or not getattr(definition, "is_basic_field", False)
        or field_def.args
        or not getattr(field_def.resolve, "_is_default", False)
    ):
        return None
    return str(definition.python_name)


def loaded_name(field_def: Any) -> str | None:
    """The ``loaded`` key of a resolver field marked with ``loaded_when`` (no arguments), or None."""
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolver = getattr(definition, "base_resolver", None)
    if resolver is None or field_def.args or getattr(definition, "extensions", None):
        return None
    return getattr(resolver.wrapped_func, LOADED_AS, None)


def origin_of(object_type: GraphQLObjectType) -> type | None:
    """The Strawberry class every value of ``object_type`` must be, or None."""
    definition = (object_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    origin = getattr(definition, "origin", None)
    if isinstance(origin, type) and not getattr(definition, "is_graphql_generic", False):
        return origin
    return None


def _compile(return_type: Any, node: FieldNode) -> Completer | None:
    if isinstance(return_type, GraphQLNonNull):
        inner = _compile(return_type.of_type, node)
        return None if inner is None else _non_null(inner)
    if isinstance(return_type, GraphQLList):
        inner = _compile(return_type.of_type, node)
        return None if inner is None else _list(inner)
    if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
        enum = isinstance(return_type, GraphQLEnumType)
        return None if node.selection_set is not None else _leaf(return_type.coerce_output_value, enum)
    if isinstance(return_type, GraphQLObjectType) and node.selection_set is not None:
        return _object(return_type, node)
    return None  # interfaces and unions: graphql-core resolves their runtime type


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        return MISSING if value is None else inner(value)

    return complete


def _list(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not list and type(value) is not tuple:
            return MISSING
        out = []
        for item in value:
            completed = inner(item)
            if completed is MISSING:
                return MISSING
            out.append(completed)
        return out

    return complete


def _leaf(coerce: Callable[[Any], Any], enum: bool = False) -> Completer:
    # An enum's members are few and their output fixed: remembered once coerced.
    known: dict[Any, Any] = {}

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if enum and isinstance(value, Enum):
            found = known.get(value, MISSING)
            if found is not MISSING:
                return found
        elif type(value) not in _PLAIN and (isinstance(value, Exception) or hasattr(value, "__await__")):
            return MISSING  # graphql-core raises the one, awaits the other
        try:
            coerced = coerce(value)
        except Exception:  # graphql-core reports it, with the field's path
            return MISSING
        if coerced is None or coerced is Undefined:
            return MISSING
        if enum and isinstance(value, Enum) and len(known) < 256:
            known[value] = coerced
        return coerced

    return complete


def _object(object_type: GraphQLObjectType, node: FieldNode) -> Completer | None:
    origin = origin_of(object_type)
    if origin is None or node.selection_set is None:
        return None
    fields: list[_Field] = []
    keys: set[str] = set()
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        name = selection.name.value
        key = selection.alias.value if selection.alias else name
        if key in keys:
            return None  # the same key twice: graphql-core merges them
        keys.add(key)
        if name == "__typename":
            fields.append(_Field(key, None, None, None, False))
            continue
        field_def = object_type.fields.get(name)
        if field_def is None:
            return None
        attribute = basic_attribute(field_def)
        loaded = loaded_name(field_def) if attribute is None else None
        completer = _compile(field_def.type, selection) if attribute or loaded else None
        if completer is None or (attribute is not None and not attribute.isidentifier()):
            return None
        leaf = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
        text = leaf is GraphQLString or leaf is GraphQLID  # a str is its own output
        fields.append(_Field(key, attribute, loaded, completer, text))
    return _object_completer(origin, object_type.name, fields)


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # in the output
    attribute: str | None  # a basic field's
    loaded: str | None  # a loaded_when resolver's key in ``loaded``
    completer: Completer | None  # None: __typename
    text: bool  # String or ID: a str value is output as it is


def _object_completer(origin: type, type_name: str, fields: list[_Field]) -> Completer:
    """One function for the object's selection, written out field by field (a loop over
    the fields cost a third of a fleet's completion): read every value, complete each
    (a str of a String or ID field as it is), and build the output in one dict display."""
    names: dict[str, Any] = {"origin": origin, "MISSING": MISSING, "EMPTY": {}}
    reads, completes, output = [], [], []
    for i, field in enumerate(fields):
        if field.completer is None:
            output.append(f"{field.key!r}: {type_name!r}")
            continue
        names[f"c{i}"] = field.completer
        if field.attribute is not None:
            reads.append(f"        a{i} = value.{field.attribute}")
        else:
            reads.append(f"        a{i} = getattr(value, {LOADED!r}, EMPTY).get({field.loaded!r}, MISSING)")
            completes.append(f"    if a{i} is MISSING:\n        return MISSING")
        pad = "    " if field.text else ""  # under the str check
        if field.text:
            completes.append(f"    if type(a{i}) is not str:")
        completes.append(
            f"{pad}    a{i} = c{i}(a{i})\n{pad}    if a{i} is MISSING:\n{pad}        return MISSING"
        )
        output.append(f"{field.key!r}: a{i}")
    source = "\n".join(
        [
            "def complete(value):",
            "    if value is None:",
            "        return None",
            "    if type(value) is not origin:",
            "        return MISSING",
            "    try:",
            *(reads or ["        pass"]),
            "    except AttributeError:",
            "        return MISSING",
            *completes,
            f"    return {{{', '.join(output)}}}",
        ]
    )
    exec(compile(source, f"<plan of {type_name}>", "exec"), names)  # noqa: S102 - our own source, from the schema's names
    return names["complete"]  # type: ignore[no-any-return]  # defined by the source above
