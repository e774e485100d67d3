"""The README's GraphQL examples are what a frontend developer pastes into GraphiQL or
feeds to GraphQL Code Generator: each block is a document of named operations taking
their ids as variables, valid against the schema, so the walkthrough never drifts from
the API and codegen accepts every block as it is."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    GraphQLSchema,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    validate,
    visit,
)

from gateway.schema import build_schema

README = Path(__file__).resolve().parents[2] / "README.md"


def graphql_blocks(text: str) -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", text, flags=re.S)


class IdLiterals(Visitor):
    """Every string written inline where the schema takes an ID: ids come from variables."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.found: list[str] = []

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        expected = self.type_info.get_input_type()
        if expected is not None and get_named_type(expected).name == "ID":
            self.found.append(node.value)


def problems_of(block: str, schema: GraphQLSchema) -> list[str]:
    """What keeps a block from being pasted into GraphiQL or fed to codegen as it is."""
    document: DocumentNode = parse(block)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    problems = [f"anonymous {op.operation.value}: name it" for op in operations if op.name is None]
    if not operations:
        problems.append("no operation in the block")
    problems += [str(error) for error in validate(schema, document)]
    type_info = TypeInfo(schema)
    literals = IdLiterals(type_info)
    visit(document, TypeInfoVisitor(type_info, literals))
    problems += [f"literal ID {value!r}: pass it as a variable" for value in literals.found]
    return problems


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def test_every_readme_block_is_named_operations_with_variables_that_validate(schema: GraphQLSchema) -> None:
    blocks = graphql_blocks(README.read_text())
    assert len(blocks) >= 10
    refused = {block: problems for block in blocks if (problems := problems_of(block, schema))}
    assert refused == {}
    operations = sum(
        isinstance(d, OperationDefinitionNode) for block in blocks for d in parse(block).definitions
    )
    assert operations >= 30  # the seat walkthrough alone has nine


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("{ plans { id } }", "anonymous query: name it"),
        ("query Plans { plans { id } }\nmutation { archiveAddon(addonId: $id) { __typename } }", "anonymous"),
        ('query Tenant { tenant(id: "ten_1") { id } }', "literal ID 'ten_1': pass it as a variable"),
        (
            'mutation Invite { inviteMember(input: {tenantId: "ten_1", email: "a@b.x"}) { __typename } }',
            "literal ID 'ten_1'",
        ),
        ("query Tenant($id: ID!) { tenant(id: $id) { nope } }", "Cannot query field 'nope'"),
        ("fragment Names on Plan { name }", "no operation in the block"),
    ],
)
def test_a_block_codegen_or_graphiql_would_refuse_is_caught(
    schema: GraphQLSchema, block: str, problem: str
) -> None:
    assert any(problem in found for found in problems_of(f"{block}\n", schema)), problems_of(block, schema)


def test_named_operations_with_fragments_and_variables_pass(schema: GraphQLSchema) -> None:
    block = """
query Tenant($id: ID!) { tenant(id: $id) { ...Names } }
fragment Names on Tenant { id name }
mutation Archive($addonId: ID!) { archiveAddon(addonId: $addonId) { __typename } }
"""
    assert problems_of(block, schema) == []


def test_every_javascript_snippet_in_the_readme_parses_as_a_module(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the README's JavaScript snippets cannot be checked")
    snippets = re.findall(r"```js\n(.*?)```", README.read_text(), flags=re.S)
    assert len(snippets) >= 3  # the token check, Apollo Client, urql
    for index, snippet in enumerate(snippets):
        module = tmp_path / f"snippet{index}.mjs"
        module.write_text(snippet)
        checked = subprocess.run([node, "--check", str(module)], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, (snippet, checked.stderr)
