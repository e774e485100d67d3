"""The README's GraphQL examples are valid against the schema, so the walkthrough a
newcomer copies into GraphiQL never drifts from the API."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import DocumentNode, parse, print_ast, validate

from gateway.schema import build_schema

README = Path(__file__).resolve().parents[2] / "README.md"


def graphql_blocks() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.S)


def test_every_graphql_example_in_the_readme_validates() -> None:
    schema = build_schema()._schema
    blocks = graphql_blocks()
    assert len(blocks) >= 3
    operations = 0
    for block in blocks:
        for definition in parse(block).definitions:  # each pasted into GraphiQL on its own
            operations += 1
            errors = validate(schema, DocumentNode(definitions=(definition,)))
            assert errors == [], (print_ast(definition), errors)
    assert operations >= 10  # the seat walkthrough alone has nine
