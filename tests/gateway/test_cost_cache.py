"""A document's cost is worked out once per text, operation and pages asked for: the cached
cost is always what pricing it afresh gives, whatever the variables say (a connection's
`first` given as a variable changes it), and each operation of a document has its own."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from gateway import limits
from gateway.limits import cached_cost, operation_cost
from gateway.schema import build_schema
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.api.test_operation_limits import code, gateway
from tests.builders.api import Api

PAGED = """query Paged($n: Int, $m: Int!) { tenants(first: $n) { edges { node { id
    invoices(first: $m) { edges { node { id lines { kind } } } } } } } }
query Plain { tenants { edges { node { id } } } }"""

VARIABLES: list[dict[str, Any]] = [
    {"n": 10, "m": 10},
    {"n": 100, "m": 10},
    {"n": 10, "m": 100},
    {"n": None, "m": 5},
    {"m": 5},
    {"n": True, "m": 5},
    {"n": 10_000, "m": 0},
    {"n": 10, "m": 10},
]


@pytest.mark.parametrize("operation", ["Paged", "Plain"])
def test_the_cached_cost_is_the_fresh_cost_for_every_page_asked_for(operation: str) -> None:
    schema = build_schema()._schema
    document = parse(PAGED)
    limits._COSTS.clear()
    for variables in VARIABLES * 2:
        fresh = operation_cost(schema, document, operation, variables)
        assert cached_cost(schema, PAGED, document, operation, variables) == fresh, variables
    assert operation_cost(schema, document, "Paged", {"n": 100, "m": 10}) > operation_cost(
        schema, document, "Paged", {"n": 10, "m": 10}
    )


async def test_a_cached_document_asking_for_bigger_pages_is_still_refused(
    settings: Settings, deps: Deps, api: Api
) -> None:
    paged = (
        "query($n: Int) { tenants(first: $n) { edges { node { id invoices(first: $n) {"
        + " edges { cursor } } } } } }"
    )
    async with gateway(settings, deps, max_query_cost=5_000) as http:
        limited = Api(http, api.key)
        for _ in range(2):
            assert (await limited(paged, {"n": 10}))["tenants"]["edges"] == []
            assert code(await limited.raw(paged, {"n": 100})) == "QUERY_COST_EXCEEDED"
        anonymous = await Api(http, None).raw(paged, {"n": 10})
        assert code(anonymous) == "UNAUTHENTICATED"
