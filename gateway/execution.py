"""A faster path through graphql-core for the commonest field of all: a scalar or
enum read straight off an object (`id`, `amount`, `status`, ...).

graphql-core treats every field alike: it builds a GraphQLResolveInfo, calls the
field's resolver (Strawberry's wrapper, which calls getattr), checks whether the
result is awaitable, then completes the value through the non-null, list, leaf and
object cases. For a leaf with no resolver of its own that is ~10 µs to read one
attribute, and a 100-tenant fleet query holds ~36,000 of them: profiling it showed
graphql-core and Strawberry spending most of the response's CPU there.

`LeafFastPath` answers such fields with getattr and the type's output coercion, and hands
anything unusual (no value for a non-null field, a value the scalar refuses, an
attribute that is missing) back to graphql-core, so errors and their paths come out
exactly as before. A field qualifies when Strawberry calls it basic (no resolver, no
permission classes or field extensions), it takes no arguments, its type is a
(non-null) scalar or enum, and no middleware is installed.

The same holds one level up for a basic field whose type is an object and whose
selection is only such leaves, written plainly (no fragments, directives or
arguments): `total { amount currency }` on each of a thousand invoices. Its value
must be an instance of the type's own Strawberry class (what `is_type_of` checks).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from gateway.compiled import MISSING, basic_attribute, plan

_MISSING = MISSING
# GraphQLField -> (python attribute, serializer, nullable), or None: not a plain leaf.
# Keyed by the field object (its id, with the object kept alive beside it), so
# several schemas in one process never share an entry.
_PLANS: dict[int, tuple[GraphQLField, tuple[str, Any, bool] | None]] = {}


def _plan(field_def: GraphQLField) -> tuple[str, Any, bool] | None:
    cached = _PLANS.get(id(field_def))
    if cached is not None and cached[0] is field_def:
        return cached[1]
    plan = None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return_type = field_def.type
    nullable = not isinstance(return_type, GraphQLNonNull)
    leaf = return_type if nullable else return_type.of_type  # type: ignore[union-attr]  # non-null types wrap one
    if (
        definition is not None
        and getattr(definition, "is_basic_field", False)
        and not field_def.args
        and isinstance(leaf, GraphQLScalarType | GraphQLEnumType)
        and getattr(field_def.resolve, "_is_default", False)
    ):
        plan = (definition.python_name, leaf.coerce_output_value, nullable)
    _PLANS[id(field_def)] = (field_def, plan)
    return plan


def _leaf(value: Any, plan: tuple[str, Any, bool]) -> Any:
    """The leaf's output value, or _MISSING when graphql-core must handle it."""
    attribute, coerce, nullable = plan
    value = getattr(value, attribute, _MISSING)
    if value is None:
        return None if nullable else _MISSING
    if value is _MISSING or isinstance(value, Exception):
        return _MISSING
    try:
        coerced = coerce(value)
    except Exception:  # graphql-core reports it, with the field's path
        return _MISSING
    return _MISSING if coerced is None or coerced is Undefined else coerced


def _plain_subtree(field_def: GraphQLField, node: FieldNode, source: Any) -> Any:
    """A basic field whose whole selection is plain (``gateway.compiled``), answered
    directly; _MISSING when it is anything else."""
    attribute = basic_attribute(field_def)
    completer = plan(field_def.type, node) if attribute is not None else None
    if completer is None:
        return _MISSING
    value = getattr(source, attribute, _MISSING)  # type: ignore[arg-type]  # set with the completer
    return _MISSING if value is _MISSING else completer(value)


class LeafFastPath(StrawberryGraphQLCoreExecutionContext):
    def execute_field(  # type: ignore[override]  # graphql-core's own signature, narrowed
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        middleware = self.middleware_manager
        if middleware is None or not middleware.middlewares:  # Strawberry always passes a manager
            field_def = parent_type.fields.get(field_details_list[0].node.name.value)
            plan = _plan(field_def) if field_def is not None else None
            if plan is not None:
                value = _leaf(source, plan)
            elif field_def is not None and len(field_details_list) == 1:
                value = _plain_subtree(field_def, field_details_list[0].node, source)
            else:
                value = _MISSING
            if value is not _MISSING:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_value(  # type: ignore[override]  # graphql-core's own signature, narrowed
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        """A resolver's value (a loader's list of invoice lines) whose selection is plain
        (``gateway.compiled``) is completed by its compiled plan; anything else, and any
        value the plan hands back, by graphql-core."""
        middleware = self.middleware_manager
        if len(field_details_list) == 1 and (middleware is None or not middleware.middlewares):
            completer = plan(return_type, field_details_list[0].node)
            if completer is not None:
                value = completer(result)
                if value is not _MISSING:
                    return value
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)
