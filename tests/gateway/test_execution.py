"""The executor's fast path for plain leaves and plain-leaf objects answers exactly
what graphql-core answers: the same data and the same errors at the same paths,
whatever the query does (aliases, fragments, directives, __typename, the same key
twice) and whatever the data holds (nulls in non-null fields, values a scalar
refuses, objects of the wrong class)."""

from __future__ import annotations

import enum
import gc
from collections import Counter
from typing import Any, NewType

import pytest
import strawberry
from graphql import parse
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway import compiled
from gateway.execution import LeafFastPath


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _refuse(value: Any) -> Any:
    if value == "bad":
        raise ValueError("refused")
    return value


Picky = NewType("Picky", str)
CONFIG = StrawberryConfig(
    scalar_map={Picky: strawberry.scalar(name="Picky", serialize=_refuse, parse_value=str)}
)


@strawberry.type
class Amount:
    value: int
    unit: str
    color: Color | None


@strawberry.type
class Other:
    value: int
    unit: str
    color: Color | None


@strawberry.type
class Item:
    name: str
    label: str | None
    color: Color
    picky: Picky
    amount: Amount
    maybe: Amount | None

    @strawberry.field
    def computed(self) -> str:
        return self.name.upper()


def item(**changes: Any) -> Item:
    values: dict[str, Any] = {
        "name": "a",
        "label": None,
        "color": Color.RED,
        "picky": "ok",
        "amount": Amount(value=5, unit="usd", color=None),
        "maybe": None,
    }
    values.update(changes)
    return Item(**values)


ITEMS = [
    item(),
    item(name="b", label="B", color=Color.BLUE, maybe=Amount(value=1, unit="jpy", color=Color.BLUE)),
    item(name=None),  # a null in a non-null leaf
    item(picky="bad"),  # a value the scalar refuses
    item(amount=None),  # a null in a non-null object
    item(amount=Other(value=1, unit="x", color=None)),  # an object of another class
    item(color="not a member"),  # a value the enum refuses
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return ITEMS


def run(executor: type, query: str) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor, config=CONFIG)
    result = schema.execute_sync(query)
    errors = sorted((e.message, tuple(e.path or ())) for e in result.errors or [])
    return {"data": result.data, "errors": errors}


QUERIES = [
    "{ items { name label color picky computed } }",
    "{ items { amount { value unit color } maybe { value unit } } }",
    "{ items { a: name b: name amount { v: value __typename u: unit } } }",
    "{ items { amount { value value } maybe { unit } } }",
    "{ items { ...F amount { ...A } } } fragment F on Item { name color } fragment A on Amount { value }",
    "{ items { amount { value @skip(if: true) unit } name @include(if: false) color } }",
    "{ items { amount { value } amount { unit } } }",
    "{ items { __typename amount { __typename } } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_fast_path_answers_what_graphql_core_answers(query: str) -> None:
    fast = run(LeafFastPath, query)
    assert fast == run(StrawberryGraphQLCoreExecutionContext, query)
    assert fast["data"] is not None


def test_errors_in_plain_leaves_keep_their_paths() -> None:
    result = run(LeafFastPath, "{ items { name picky amount { value } } }")
    assert result["data"]["items"][0] == {"name": "a", "picky": "ok", "amount": {"value": 5}}
    assert sorted(path for _, path in result["errors"]) == [
        ("items", 2, "name"),
        ("items", 3, "picky"),
        ("items", 4, "amount"),
    ]
    assert [result["data"]["items"][i] for i in (2, 3, 4)] == [None] * 3
    # graphql-core does not check an object's class when its type has no is_type_of;
    # the fast path leaves such an object to it.
    assert result["data"]["items"][5]["amount"] == {"value": 1}


def test_plain_fields_skip_graphql_cores_field_machinery(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only `items` itself and the resolver field go the long way; Strawberry's own
    schema (it always passes a middleware manager, if empty) must not turn it off."""
    calls: list[str] = []
    slow_path = StrawberryGraphQLCoreExecutionContext.execute_field

    def counted(self: Any, parent_type: Any, *args: Any) -> Any:
        calls.append(f"{parent_type.name}.{args[2].key}")
        return slow_path(self, parent_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counted)
    result = run(LeafFastPath, "{ items { name color computed amount { value unit } } }")
    assert result["data"]["items"][1] == {
        "name": "b",
        "color": "BLUE",
        "computed": "B",
        "amount": {"value": 5, "unit": "usd"},
    }
    # The long way: the list, the resolver of each item, and only the values the fast
    # path hands back: item 2's null name, item 4's null amount and item 5's Other,
    # item 6's color that is no member (items 2 and 6 stop at that error, before `computed`).
    assert Counter(calls) == {
        "Query.items": 1,
        "Item.computed": len(ITEMS) - 2,
        "Item.name": 1,
        "Item.amount": 2,
        "Item.color": 1,
    }


def test_a_plain_subtree_is_compiled_once_per_document_and_forgotten_with_it() -> None:
    schema = strawberry.Schema(query=Query, config=CONFIG)
    items = schema._schema.query_type.fields["items"].type  # type: ignore[union-attr]  # the schema has a query
    document = parse("{ items { name amount { value unit } } }")
    node = document.definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]  # an operation
    first = compiled.plan(items, node)
    assert first is not None and compiled.plan(items, node) is first
    assert first([ITEMS[0]]) == [{"name": "a", "amount": {"value": 5, "unit": "usd"}}]
    assert first([ITEMS[2]]) is compiled.MISSING  # a null name: graphql-core reports it
    key = (id(items), id(node))
    assert key in compiled._PLANS
    del document, node
    gc.collect()
    assert key not in compiled._PLANS  # the plan kept neither the document nor its id


def test_a_subtree_with_a_resolver_fragment_or_directive_is_left_to_graphql_core() -> None:
    schema = strawberry.Schema(query=Query, config=CONFIG)
    items = schema._schema.query_type.fields["items"].type  # type: ignore[union-attr]  # the schema has a query
    for query in (
        "{ items { name computed } }",
        "{ items { ...F } } fragment F on Item { name }",
        "{ items { name @include(if: true) } }",
        "{ items { n: name n: label } }",
    ):
        node = parse(query).definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]  # an operation
        assert compiled.plan(items, node) is None, query
