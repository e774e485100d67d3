"""What an operation may cost, checked before it runs.

The depth, alias and token limits bound a document's size, not its work: 99 aliased pages
of a tenant's invoices fit in them and cost seconds. So every operation is also priced,
for every caller, before it runs: each field costs one for every object it is selected on,
and a list multiplies what is selected under it by its size: a connection by its page
(``first``, else the default page), any other list by the most it can hold (``BOUNDS``,
else ``DEFAULT_BOUND``). Over ``GATEWAY_MAX_QUERY_COST`` the operation is refused with
QUERY_COST_EXCEEDED naming both numbers. Callers without a key may ask for ``__typename``
only (introspection too when ``GATEWAY_ANONYMOUS_INTROSPECTION`` is on), and no document
may ask for ``__schema`` more than once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from models.kernel.errors import ErrorCode
from models.metering.ingest import BATCH_LIMIT
from models.platform.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

DEFAULT_BOUND = 100
# The most items a list field without pagination holds, where it is not DEFAULT_BOUND.
BOUNDS: Mapping[str, int] = {
    "SeatSummary.byType": 3,
    "Invoice.lines": 50,
    "PlanChangePreview.usage": 50,
    "Tenant.meterUnitMonthCounts": 50,
    "Query.meterUnitDateCounts": 50,
    "Query.meterUnitMonthCounts": 50,
    "Query.meterUnitPeriodCounts": 366,
    "SeatsInUseError.members": 1000,
    "Tenant.members": 1000,
    "FeatureGrant.seatTypes": 3,
    "Plan.features": 50,
    "Addon.features": 50,
}
SCHEMA_COST = 2_000  # one introspection of the whole schema, as GraphiQL asks for it


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> int:
    """What the operation (the document's only one, or the one named) costs."""
    return _priced(schema, document, operation_name, variables)[0]


def _priced(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> tuple[int, frozenset[str]]:
    """The cost, and the variables it was read from (the pages given as ``first: $var``)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    pricer = _Pricer(schema, fragments, variables or {})
    return _price(pricer, schema, document, operation_name), frozenset(pricer.read)


def _price(pricer: _Pricer, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> int:
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode) and (
            operation_name is None or (operation.name is not None and operation.name.value == operation_name)
        ):
            root = {"query": schema.query_type, "mutation": schema.mutation_type}.get(
                operation.operation.value, schema.subscription_type
            )
            return pricer.selection(operation.selection_set, root, 1, None) if root else 0
    return 0


class _Pricer:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables
        self.read: set[str] = set()

    def selection(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, times: int, page: int | None
    ) -> int:
        total = 0
        for node, on in self._fields(selection_set, parent, set()):
            total += self.field(node, on, times, page)
        return total

    def _fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, spreading: set[str]
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType | None]]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                on = self._type(selection.type_condition.name.value) if selection.type_condition else parent
                yield from self._fields(selection.selection_set, on, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in spreading:
                    on = self._type(fragment.type_condition.name.value)
                    yield from self._fields(fragment.selection_set, on, spreading | {name})

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, times: int, page: int | None) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        if name in ("__schema", "__type"):
            return SCHEMA_COST if name == "__schema" else SCHEMA_COST // 20
        definition = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
        if definition is None:  # an interface's or a union's own field: priced as one
            return times
        returns = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        named = get_named_type(definition.type)
        if isinstance(returns, GraphQLList):
            if name == "edges" and page is not None:
                size = page
            else:
                size = BOUNDS.get(f"{parent.name}.{name}", DEFAULT_BOUND)
            times *= size
        cost = times
        if node.selection_set is not None:
            inner_page = self._page(node) if named.name.endswith("Connection") else None
            cost += self.selection(node.selection_set, named, times, inner_page)
        return cost

    def _page(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = argument.value
                if isinstance(value, IntValueNode):
                    return min(max(int(value.value), 1), MAX_PAGE_SIZE)
                if isinstance(value, VariableNode):
                    self.read.add(value.name.value)
                    page = _page_of(self.variables.get(value.name.value))
                    if page is not None:
                        return page
        return DEFAULT_PAGE_SIZE

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.schema.type_map.get(name)


def _page_of(given: Any) -> int | None:
    """The page a variable given as ``first`` asks for, or None (the default page)."""
    if isinstance(given, int) and not isinstance(given, bool):
        return min(max(given, 1), MAX_PAGE_SIZE)
    return None


# Costs of small documents, per (schema, text, operation): the variables the cost was read
# from, and the cost for each of their values (a connection's `first: $n` changes it).
COSTED_CHARS = 2048
COSTED_DOCUMENTS = 256
COSTED_VARIANTS = 16
_COSTS: OrderedDict[tuple[GraphQLSchema, str, str | None], tuple[frozenset[str], dict[tuple[Any, ...], int]]]
_COSTS = OrderedDict()


def cached_cost(
    schema: GraphQLSchema,
    query: str,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
) -> int:
    """`operation_cost`, worked out once per document text, operation and pages asked for:
    a document's cost depends on nothing else (the text fixes the document)."""
    if len(query) > COSTED_CHARS:
        return operation_cost(schema, document, operation_name, variables)
    key = (schema, query, operation_name)
    entry = _COSTS.get(key)
    if entry is not None:
        _COSTS.move_to_end(key)
        names, costs = entry
        pages = tuple(_page_of(variables.get(name)) for name in sorted(names))
        cost = costs.get(pages)
        if cost is not None:
            return cost
    cost, names = _priced(schema, document, operation_name, variables)
    pages = tuple(_page_of(variables.get(name)) for name in sorted(names))
    costs = entry[1] if entry is not None and entry[0] == names else {}
    if len(costs) >= COSTED_VARIANTS:
        costs.clear()
    costs[pages] = cost
    _COSTS[key] = (names, costs)
    if len(_COSTS) > COSTED_DOCUMENTS:
        _COSTS.popitem(last=False)
    return cost


def schema_fields(document: DocumentNode) -> int:
    """How many times the document asks for ``__schema``, wherever it does."""
    count = 0
    pending: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode) and selection.name.value == "__schema":
                count += 1
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                pending.append(selection.selection_set)
    return count


def _error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def reads_beyond(document: DocumentNode, allowed: frozenset[str]) -> bool:
    """Whether any operation of the document asks for a root field outside ``allowed``."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    pending = [d.selection_set for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value not in allowed:
                    return True
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                if selection.name.value in fragments:
                    pending.append(fragments[selection.name.value].selection_set)
    return False


ANONYMOUS = frozenset({"__typename"})
ANONYMOUS_INTROSPECTION = frozenset({"__typename", "__schema", "__type"})


class OperationLimits(SchemaExtension):
    """Before validation: a caller without a key may only ask for ``__typename`` (and
    introspect, when allowed), and ``__schema`` at most once. A refusal costs a parse, and
    tells a caller without a key nothing about the schema (validation would)."""

    def __init__(self, *, anonymous_introspection: bool) -> None:
        self.anonymous = ANONYMOUS_INTROSPECTION if anonymous_introspection else ANONYMOUS

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        context = ctx.context
        if document is not None and ctx.pre_execution_errors is None:
            # Over HTTP a key is known here; a websocket checks its key again at each operation
            # (RequireApiKey, when it executes).
            on_socket = isinstance(getattr(context, "request", None), WebSocket)
            if (
                not on_socket
                and getattr(context, "principal", True) is None
                and reads_beyond(document, self.anonymous)
            ):
                ctx.pre_execution_errors = [_error(context.auth_problem, ErrorCode.UNAUTHENTICATED.value)]
            elif schema_fields(document) > 1:
                ctx.pre_execution_errors = [
                    _error("Ask for __schema once per document.", "GRAPHQL_VALIDATION_FAILED")
                ]
        yield


class CostLimit(SchemaExtension):
    """After validation (it runs after ``ParseAndValidate``), before execution: an operation
    costing more than the limit is QUERY_COST_EXCEEDED, naming both numbers."""

    def __init__(self, *, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        # Strawberry decides whether to execute before the extensions' exits run: this
        # check must set its error on the way in.
        if document is not None and ctx.pre_execution_errors == []:
            variables = ctx.variables or {}
            if ctx.query is not None and getattr(ctx.context, "principal", None) is not None:
                cost = cached_cost(ctx.schema._schema, ctx.query, document, ctx.operation_name, variables)
            else:
                cost = operation_cost(ctx.schema._schema, document, ctx.operation_name, variables)
            if cost > self.max_cost:
                ctx.pre_execution_errors = [
                    _error(
                        f"The operation costs {cost:,}, more than the limit of {self.max_cost:,} "
                        "(GATEWAY_MAX_QUERY_COST): ask for smaller pages (first), fewer aliases or fewer "
                        "nested lists.",
                        "QUERY_COST_EXCEEDED",
                        cost=cost,
                        maxCost=self.max_cost,
                    )
                ]
        yield


# The longest list any input takes: a usage batch's 10,000 events. A list up to twice that
# is read and answered by its field's own check (a batch's typed ValidationError, which
# clients branch on); a longer one is refused before graphql-core reads any of its items,
# so what a list can cost is bounded by twice the work of the largest real request.
MAX_LIST_ITEMS = BATCH_LIMIT
UNREAD_LIST_ITEMS = 2 * MAX_LIST_ITEMS


def oversized_list(value: Any, path: str = "$") -> str | None:
    """The path of the first list in ``value`` (a request's variables) more than twice as
    long as any input takes, or None. Looked at before graphql-core coerces them, which would
    otherwise check each of a few million items before the list's length."""
    pending = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, list):
            if len(item) > UNREAD_LIST_ITEMS:
                return where
            pending.extend((f"{where}[{i}]", v) for i, v in enumerate(item) if isinstance(v, list | dict))
        elif isinstance(item, dict):
            pending.extend((f"{where}.{k}", v) for k, v in item.items() if isinstance(v, list | dict))
    return None


class RefuseOversizedLists(SchemaExtension):
    """A list variable more than twice as long as any input takes is VALIDATION_FAILED
    naming it, before anything coerces its items (HTTP and websockets alike)."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        where = oversized_list(ctx.variables) if ctx.result is None and ctx.variables else None
        if where is not None:
            field = where.replace("$.", "$", 1)
            ctx.result = GraphQLExecutionResult(
                data=None,
                errors=[
                    _error(
                        f"{field}: holds more than {UNREAD_LIST_ITEMS:,} items; at most {MAX_LIST_ITEMS:,} "
                        "fit in one call (a usage batch), fewer in any other input: split it into "
                        "smaller requests",
                        ErrorCode.VALIDATION_FAILED.value,
                        field=field,
                    )
                ],
            )
        yield
