"""Schema extensions: the gate that refuses anonymous callers, the NUL guard, a
parse/validation cache for small documents, and masking of unexpected errors."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    Visitor,
    parse,
    visit,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from models.errors import DomainError, ErrorCode


def is_unexpected(error: GraphQLError) -> bool:
    """An exception from our code that is not a DomainError: a bug or an outage."""
    original = error.original_error
    return original is not None and not isinstance(original, (DomainError, GraphQLError))


def _root_fields(selection_set: SelectionSetNode, fragments: dict[str, Any]) -> Iterator[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _root_fields(fragments[selection.name.value].selection_set, fragments)


def _reads_data(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation asks for anything beyond `__typename` and introspection."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return any(
        not name.startswith("__")
        for op in document.definitions
        if isinstance(op, OperationDefinitionNode)
        and (operation_name is None or (op.name is not None and op.name.value == operation_name))
        for name in _root_fields(op.selection_set, fragments)
    )


def _refuse(ctx: ExecutionContext, message: str, code: ErrorCode, **extensions: Any) -> None:
    """End the operation before it runs, with one error."""
    ctx.result = GraphQLExecutionResult(
        data=None,
        errors=[GraphQLError(message, extensions={"code": code.value, **extensions})],
    )


class RequireApiKey(SchemaExtension):
    """Without a valid key, only `__typename` and introspection answer; every other
    root field fails the whole operation with UNAUTHENTICATED."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if context.refresh is not None:  # a websocket: check the key again, fresh loaders
            await context.refresh(context)
        document = ctx.graphql_document
        if context.principal is None and document is not None and _reads_data(document, ctx.operation_name):
            _refuse(ctx, context.auth_problem, ErrorCode.UNAUTHENTICATED)
        yield


def _nul_in_value(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _nul_in_value(item, f"{path}{key}" if str(key).startswith("[") else f"{path}.{key}")
        if found:
            return found
    return None


class _StringLiterals(Visitor):
    """Finds the argument whose literal holds a NUL (escaped as \\u0000 in the text)."""

    def __init__(self) -> None:
        super().__init__()
        self.argument: str | None = None
        self.found: str | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.argument = node.name.value

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if self.found is None and "\x00" in node.value:
            self.found = self.argument or "query"


class RefuseNulCharacters(SchemaExtension):
    """PostgreSQL text cannot hold U+0000 and SQLite can: refuse it at the edge so
    both backends answer the same VALIDATION_FAILED instead of an internal error."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.result is None:
            where = _nul_in_value(ctx.variables or {}, "$")
            if where is None and ctx.graphql_document is not None and "\\u" in (ctx.query or ""):
                literals = _StringLiterals()
                visit(ctx.graphql_document, literals)
                where = literals.found
            if where is not None:
                field = where.replace("$.", "$", 1)
                message = f"{field}: must not contain the NUL character (U+0000)"
                _refuse(ctx, message, ErrorCode.VALIDATION_FAILED, field=field)
        yield


# Documents up to this size are parsed and validated once. Bigger ones (rare, and
# up to ~8 MB of AST at the token limit) are not kept, so the caches stay small.
CACHED_QUERY_CHARS = 16_384
CACHE_ENTRIES = 512


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _parse(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _validate(schema: GraphQLSchema, document: DocumentNode, rules: tuple[Any, ...]) -> list[GraphQLError]:
    return validate_document(schema, document, rules)


class CacheSmallDocuments(SchemaExtension):
    """Clients send the same few operations again and again: parse and validate each
    once (validation was most of a small request's time). Validation rules must be
    the same objects on every request for the cache to hit; see `build_schema`."""

    def _cacheable(self) -> bool:
        query = self.execution_context.query
        return query is not None and len(query) <= CACHED_QUERY_CHARS

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if self._cacheable():
            try:
                ctx.graphql_document = _parse(ctx.query, ctx.parse_options.get("max_tokens"))
            except GraphQLError:
                pass  # Strawberry parses again and reports the error its usual way.
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self._cacheable() and ctx.graphql_document is not None:
            ctx.pre_execution_errors = _validate(
                ctx.schema._schema, ctx.graphql_document, tuple(ctx.validation_rules)
            )
        yield


class MaskUnexpectedErrors(MaskErrors):
    """Replaces unexpected errors with a message that carries the request id; the
    original was logged (with the same id) by `GatewaySchema.process_errors`."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        return GraphQLError(
            f"Unexpected error. Quote request id {request_id} when reporting it.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
