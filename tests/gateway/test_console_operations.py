"""Every operation the operator console sends (gateway/static/console/operations.js)
is one named operation that validates against the schema, within the depth and alias
limits the gateway enforces: a renamed field breaks this test, not an operator's page."""

from __future__ import annotations

import hashlib
import re

from graphql import OperationDefinitionNode, parse, specified_rules, validate
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from gateway.pages import console
from gateway.pages.console import OPERATIONS
from gateway.schema import build_schema
from gateway.settings import Settings

STATIC = OPERATIONS.parent


def console_documents() -> dict[str, str]:
    """Every `export const NAME = \\`...\\`;` of operations.js, as the server reads them; one
    that interpolates or escapes (so the browser would send other text) is not read, and
    fails the count."""
    found = console.documents()
    assert OPERATIONS.read_text().count("export const") == len(found), "every export is one plain document"
    return found


def test_every_console_operation_is_one_named_operation_valid_against_the_schema() -> None:
    settings = Settings()
    schema = build_schema(settings)._schema
    rules = [
        *specified_rules,
        max_depth_rule(settings.max_query_depth, None, None),
        max_aliases_rule(settings.max_aliases),
    ]
    documents = console_documents()
    assert len(documents) >= 10
    names = set()
    for constant, text in documents.items():
        document = parse(text)
        (operation,) = document.definitions
        assert isinstance(operation, OperationDefinitionNode), constant
        assert operation.name is not None and operation.name.value.startswith("Console"), constant
        names.add(operation.name.value)
        assert validate(schema, document, rules) == [], constant
    assert len(names) == len(documents), "operation names are unique"


def test_the_console_modules_send_only_the_operations_module_s_documents() -> None:
    """No page writes its own GraphQL: every query and mutation lives in operations.js,
    where the test above can see it."""
    for path in STATIC.rglob("*.js"):
        if path == OPERATIONS:
            continue
        text = path.read_text()
        assert not re.search(r"`\s*(query|mutation|subscription)\b", text), path
        assert not re.search(r"[\"']\s*(query|mutation)\s+\w+", text), path


def test_the_operations_the_console_needs_are_all_there() -> None:
    wanted = {
        "ConsoleSignInCheck",
        "ConsoleTenants",
        "ConsoleTenant",
        "ConsoleUpdateBillingInfo",
        "ConsoleInvoice",
        "ConsoleCatalog",
        "ConsoleAuditLog",
        "ConsoleRetryProviderTasks",
        "ConsoleWebhookEndpoints",
        "ConsoleWebhookDeliveries",
        "ConsoleRedeliverWebhook",
        "ConsolePortalConfiguration",
        "ConsoleUpdatePortalConfiguration",
    }
    names = {parse(text).definitions[0].name.value for text in console_documents().values()}  # type: ignore[attr-defined]  # reason: every definition is an operation (asserted above)
    assert wanted <= names


def test_the_trusted_documents_of_the_console_are_keyed_by_the_sha256_the_browser_sends() -> None:
    persisted = console.persisted_documents()
    assert sorted(persisted.values()) == sorted(console_documents().values())
    for key, text in persisted.items():
        assert key == hashlib.sha256(text.encode()).hexdigest()
