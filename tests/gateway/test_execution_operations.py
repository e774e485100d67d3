"""Every query a user of this gateway actually sends (each README example, each console
page's document) answers the same JSON, data and errors alike, with the compiled plans of
plain subtrees (gateway.compiled, through gateway.execution.LeafFastPath) as with
graphql-core's own executor, on the demo's data: every demo tenant, every invoice, pages
of 1 and 100."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway import demo
from gateway.app import GatewayGraphQL, create_app
from gateway.execution import LeafFastPath
from gateway.pages.console import documents
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api
from tests.gateway.test_readme_operations import README, graphql_blocks

IDS = """{ tenants(first: 100) { edges { node { id
  invoices(first: 100) { edges { node { id } } } } } } webhookEndpoints { id } }"""


def queries() -> Iterator[tuple[str, str, str]]:
    """(where, operation name, document) of every query of the README and the console."""
    sources = [(f"README block {i}", block) for i, block in enumerate(graphql_blocks(README.read_text()))]
    sources += [(f"console {name}", text) for name, text in documents().items()]
    for where, text in sources:
        for definition in parse(text).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.operation.value == "query":
                assert definition.name is not None
                yield where, definition.name.value, text


def variable_sets(operation: OperationDefinitionNode, ids: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Values for the operation's variables: each id the demo holds of the kind it asks for."""
    choices: dict[str, list[Any]] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name == "id":
            kind = "invoice" if "Invoice" in (operation.name.value if operation.name else "") else "tenant"
            choices[name] = ids[kind]
        elif name == "tenantId":
            choices[name] = ids["tenant"]
        elif name == "endpointId":
            choices[name] = ids["endpoint"] or ["whe_missing"]
        elif name == "first":
            choices[name] = [1, 100]
        elif name == "month":
            choices[name] = ["2026-01", "1999-13"]  # a month, and one the field refuses
        elif name == "featureCode":
            choices[name] = ["projects", "sso"]
        else:
            choices[name] = [None]
    names = list(choices)
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*choices.values())]
    return combos[:40]


async def answer(http: httpx.AsyncClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def demo_app(settings: Settings, deps: Deps) -> tuple[httpx.AsyncClient, GatewayGraphQL]:
    await demo.seed_demo(deps)
    app = create_app(settings, deps=deps)
    view = next(r.endpoint for r in app.routes if isinstance(getattr(r, "endpoint", None), GatewayGraphQL))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"), view


async def test_every_readme_and_console_query_answers_the_same_with_plans_and_without(
    demo_app: tuple[httpx.AsyncClient, GatewayGraphQL], admin_key: str
) -> None:
    http, view = demo_app
    assert view.schema.execution_context_class is LeafFastPath
    seen = (await Api(http, admin_key)(IDS))["tenants"]["edges"]
    ids = {
        "tenant": [e["node"]["id"] for e in seen],
        "invoice": [i["node"]["id"] for e in seen for i in e["node"]["invoices"]["edges"]],
    }
    ids["endpoint"] = [e["id"] for e in (await Api(http, admin_key)(IDS))["webhookEndpoints"]]
    assert len(ids["tenant"]) >= 3 and ids["invoice"]
    ran, with_data = 0, 0
    for where, name, text in queries():
        operation = next(
            d
            for d in parse(text).definitions
            if isinstance(d, OperationDefinitionNode) and d.name.value == name
        )
        for variables in variable_sets(operation, ids):
            body = {"query": text, "operationName": name, "variables": variables}
            view.schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
            expected = await answer(http, admin_key, body)
            view.schema.execution_context_class = LeafFastPath
            planned = await answer(http, admin_key, body)
            assert planned == expected, (where, name, variables)
            ran += 1
            with_data += bool(expected.get("data"))
    assert ran >= 40 and with_data >= ran // 2
    await http.aclose()


async def test_a_document_that_does_not_validate_is_refused_alike_with_plans_and_without(
    demo_app: tuple[httpx.AsyncClient, GatewayGraphQL], admin_key: str
) -> None:
    http, view = demo_app
    body = {"query": "query Bad { tenants(first: 1) { edges { node { id nope } } } }"}
    answers = []
    for executor in (StrawberryGraphQLCoreExecutionContext, LeafFastPath, LeafFastPath):
        view.schema.execution_context_class = executor
        answers.append(await answer(http, admin_key, body))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    await http.aclose()
