"""Schema extensions: the gate that refuses anonymous callers, the text guard, a
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
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    Visitor,
    parse,
    visit,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation.rules import overlapping_fields_can_be_merged
from starlette.websockets import WebSocket
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from gateway.limits import ANONYMOUS, ANONYMOUS_INTROSPECTION, reads_beyond
from models.kernel.errors import DomainError, ErrorCode


def is_unexpected(error: GraphQLError) -> bool:
    """An exception from our code that is not a DomainError: a bug or an outage."""
    original = error.original_error
    return original is not None and not isinstance(original, (DomainError, GraphQLError))


def _refuse(ctx: ExecutionContext, message: str, code: ErrorCode, **extensions: Any) -> None:
    """End the operation before it runs, with one error."""
    ctx.result = GraphQLExecutionResult(
        data=None,
        errors=[GraphQLError(message, extensions={"code": code.value, **extensions})],
    )


class RequireApiKey(SchemaExtension):
    """Without a valid key, only `__typename` answers (and introspection, when
    GATEWAY_ANONYMOUS_INTROSPECTION allows it); every other root field fails the whole
    operation with UNAUTHENTICATED. Over HTTP ``gateway.limits.OperationLimits`` refuses
    such operations before validation already; a websocket's key is checked again here
    for each operation."""

    def __init__(self, *, anonymous_introspection: bool = False) -> None:
        self.anonymous = ANONYMOUS_INTROSPECTION if anonymous_introspection else ANONYMOUS

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if context.refresh is not None:  # a websocket: check the key again, fresh loaders
            await context.refresh(context)
        document = ctx.graphql_document
        if context.principal is None and document is not None and reads_beyond(document, self.anonymous):
            _refuse(ctx, context.auth_problem, ErrorCode.UNAUTHENTICATED)
        yield


def _unstorable(text: str) -> bool:
    """U+0000 (PostgreSQL text cannot hold it) or a lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _any_unstorable(value: Any) -> bool:
    """Whether any text in ``value`` is unstorable: one pass that builds no paths (a
    10,000-event usage batch has 60,000 values; naming each cost 14 ms). A loop, not
    recursion: variables nested 900 deep (JSON allows it) raised RecursionError."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _unstorable_in(value: Any, path: str) -> str | None:
    """The path of the first unstorable text in ``value``, or None."""
    if not _any_unstorable(value):
        return None
    pending = [(path, value)]
    while pending:
        item_path, item = pending.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return item_path
        elif isinstance(item, dict):
            pending.extend(reversed([(f"{item_path}.{k}", v) for k, v in item.items()]))
        elif isinstance(item, list):
            pending.extend(reversed([(f"{item_path}[{i}]", v) for i, v in enumerate(item)]))
    return None


class _StringLiterals(Visitor):
    """Finds the argument whose string literal holds text no database can store."""

    def __init__(self) -> None:
        super().__init__()
        self.argument: str | None = None
        self.found: str | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.argument = node.name.value

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if self.found is None and _unstorable(node.value):
            self.found = self.argument or "query"


class RefuseUnstorableText(SchemaExtension):
    """U+0000 and lone surrogates: PostgreSQL cannot hold the first and neither
    driver can encode the second, while SQLite would keep some of them. Refuse them at
    the edge so both backends answer VALIDATION_FAILED instead of an internal error."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.result is None:
            where = _unstorable_in(ctx.variables or {}, "$")
            if where is None and ctx.graphql_document is not None and "\\u" in (ctx.query or ""):
                literals = _StringLiterals()
                visit(ctx.graphql_document, literals)
                where = literals.found
            if where is not None:
                field = where.replace("$.", "$", 1)
                message = f"{field}: must be UTF-8 text without the NUL character (U+0000)"
                _refuse(ctx, message, ErrorCode.VALIDATION_FAILED, field=field)
        yield


class _HugeInts(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[GraphQLError] = []

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        # MinorUnits and Long reach 2^53 - 1: sixteen digits and a sign. Anything much longer
        # is refused before graphql-core turns it into an integer.
        if len(node.value) > 20:
            self.errors.append(GraphQLError(f"Integer literal {node.value[:20]}... is out of range.", node))


def _shape(selection_set: SelectionSetNode) -> tuple[int, dict[str, int]]:
    """The fields under a selection set, at any depth, and how often it spreads each
    fragment (not followed)."""
    fields = 0
    spreads: dict[str, int] = {}
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                spreads[selection.name.value] = spreads.get(selection.name.value, 0) + 1
                continue
            fields += isinstance(selection, FieldNode)
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                pending.append(selection.selection_set)
    return fields, spreads


def expanded_fields(document: DocumentNode, limit: int) -> int:
    """How many fields the operations select once every fragment spread is replaced by
    its fragment (at most ``limit + 1``: counting stops mattering there). Each
    fragment's size is worked out once, so a "billion laughs" of fragments (each
    spreading the previous one twice) costs as little to count as to parse; a spread
    back into a fragment being expanded counts nothing (NoFragmentCycles reports it)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    shapes = {name: _shape(fragment.selection_set) for name, fragment in fragments.items()}
    sizes: dict[str, int] = {}
    for root in fragments:
        stack, expanding = [root], set()
        while stack:  # depth-first without recursion: a chain of 2,000 fragments fits in the token limit
            name = stack[-1]
            if name in sizes or name not in shapes:
                stack.pop()
                continue
            expanding.add(name)
            fields, spreads = shapes[name]
            waiting = [n for n in spreads if n not in sizes and n not in expanding and n in shapes]
            if waiting:
                stack.extend(waiting)
                continue
            sizes[name] = min(
                limit + 1, fields + sum(count * sizes.get(n, 0) for n, count in spreads.items())
            )
            expanding.discard(name)
            stack.pop()
    total = 0
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode):
            fields, spreads = _shape(operation.selection_set)
            total += fields + sum(count * sizes.get(n, 0) for n, count in spreads.items())
    return min(total, limit + 1)


# graphql-core meters the work of OverlappingFieldsCanBeMerged and aborts validation
# past a budget. At its default (500,000) one 30 KB document selecting the same field
# 300 times took 2 s of CPU, while the worker answered nobody else; 50,000 caps that
# near 0.3 s. A field selected 100 times in one place costs 40,000; introspection, 0.
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = 50_000
DEFAULT_MAX_FIELDS = 20_000  # Settings.max_tokens' default, for a schema built without MaxTokensLimiter
TOO_COMPLEX = (
    "Validation aborted: the operation is too complex to check (a field selected many times "
    "in one selection set, or fragments spread through hundreds of others). Simplify it."
)


def validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[Any, ...], max_fields: int | None
) -> list[GraphQLError]:
    """Strawberry's validation, after two checks that keep it from going wrong:
    - Int literals of thousands of digits: graphql-core's own rules would hand those
      to int(), whose ValueError would surface as an internal error;
    - more than ``max_fields`` (the token limit) fields once fragments are expanded:
      Strawberry's depth and alias rules expand every spread, so a few hundred bytes
      of fragments spreading each other twice kept a worker busy for hours. A document
      without fragments holds fewer fields than tokens, so this limit only ever bites
      fragments that multiply."""
    huge = _HugeInts()
    visit(document, huge)
    if huge.errors:
        return huge.errors
    limit = max_fields or DEFAULT_MAX_FIELDS
    if expanded_fields(document, limit) > limit:
        return [
            GraphQLError(
                f"The operation selects more than {limit} fields once its fragments are expanded; "
                "spread fragments fewer times."
            )
        ]
    try:
        errors = validate_document(schema, document, rules)
    except RecursionError:  # Strawberry's depth rule follows a chain of 1,000 fragments by recursion
        return [GraphQLError(TOO_COMPLEX)]
    return [GraphQLError(TOO_COMPLEX) if e.message == "Validation aborted." else e for e in errors]


# Small documents from authenticated callers are parsed and validated once. Anonymous
# callers and bigger documents (a 2 KB one keeps ~0.5 MB of tokens) are not kept, so
# nobody can fill memory through the cache: at most ~64 MB per worker.
CACHED_QUERY_CHARS = 2048
CACHE_ENTRIES = 128


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _parse(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _validate(
    schema: GraphQLSchema, query: str, max_tokens: int | None, rules: tuple[Any, ...]
) -> list[GraphQLError]:
    # Keyed by the text, not the document: equal documents from different texts
    # would otherwise share error locations.
    return validate(schema, _parse(query, max_tokens), rules, max_tokens)


class ParseAndValidate(SchemaExtension):
    """Runs validation (see `validate`) in place of Strawberry's. Clients send the same
    few operations again and again, so small documents are parsed and validated once
    (validation was most of a small request's time). Validation rules must be the
    same objects on every request for the cache to hit; see `build_schema`.

    Subscriptions are served on the websocket only: over HTTP, Strawberry allows them
    for streaming transports this gateway does not offer, and otherwise ran them as
    queries, whose async-generator fields then failed as internal errors. Taking them
    out of the allowed operations makes it the 400 a mutation over GET gets."""

    def _cacheable(self) -> bool:
        ctx = self.execution_context
        return (
            ctx.query is not None
            and len(ctx.query) <= CACHED_QUERY_CHARS
            and getattr(ctx.context, "principal", None) is not None
        )

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if not isinstance(getattr(ctx.context, "request", None), WebSocket):
            ctx.allowed_operations = set(ctx.allowed_operations) - {OperationType.SUBSCRIPTION}
        if self._cacheable():
            try:
                ctx.graphql_document = _parse(ctx.query, ctx.parse_options.get("max_tokens"))
            except GraphQLError:
                pass  # Strawberry parses again and reports the error its usual way.
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        rules = tuple(ctx.validation_rules)
        if ctx.graphql_document is None or ctx.pre_execution_errors:
            pass  # refused before validation (gateway.limits.OperationLimits)
        elif self._cacheable():
            max_tokens = ctx.parse_options.get("max_tokens")
            ctx.pre_execution_errors = list(_validate(ctx.schema._schema, ctx.query, max_tokens, rules))
        else:
            max_tokens = ctx.parse_options.get("max_tokens")
            ctx.pre_execution_errors = validate(ctx.schema._schema, ctx.graphql_document, rules, max_tokens)
        yield


class CodeEveryError(SchemaExtension):
    """Give errors raised before execution a code too, so clients can branch on
    `extensions.code` for every error: GRAPHQL_PARSE_FAILED for syntax (and the token
    limit), GRAPHQL_VALIDATION_FAILED for the rest (unknown fields, limits, variables)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_with_code(error) for error in result.errors]


def _with_code(error: GraphQLError) -> GraphQLError:
    if (error.extensions or {}).get("code") or is_unexpected(error):
        return error
    code = "GRAPHQL_PARSE_FAILED" if error.message.startswith("Syntax Error") else "GRAPHQL_VALIDATION_FAILED"
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code},
    )


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
