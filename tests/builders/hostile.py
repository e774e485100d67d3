"""Hostile and malformed requests, and what refusing one cleanly means."""

from __future__ import annotations

import base64

import httpx


def abusive_requests(key: str) -> list[tuple[str, dict]]:
    """(what, httpx request kwargs) for each hostile payload. Several reach PostgreSQL
    with values SQLite would swallow: both must answer the same typed error."""
    auth = {"Authorization": f"Bearer {key}"}
    json_headers = {**auth, "Content-Type": "application/json"}
    nested = "query { __schema { types { " + "fields { type { " * 30 + "name" + " } }" * 30 + " } } }"
    return [
        ("malformed JSON", {"content": b'{"query": "{ tenants ', "headers": json_headers}),
        ("invalid UTF-8", {"content": b'{"query": "\xff\xfe\xfd"}', "headers": json_headers}),
        ("JSON that is not an object", {"content": b"[1, 2, 3]", "headers": json_headers}),
        ("no query", {"json": {"variables": {}}, "headers": auth}),
        (
            "wrong variable types",
            {
                "json": {
                    "query": "query($n: Int) { tenants(first: $n) { edges { cursor } } }",
                    "variables": {"n": "ten"},
                },
                "headers": auth,
            },
        ),
        (
            "variables that are not an object",
            {"json": {"query": "{ __typename }", "variables": "nope"}, "headers": auth},
        ),
        ("2 MB query", {"json": {"query": "{ " + "__typename " * 200_000 + "}"}, "headers": auth}),
        (
            "5,000 aliases",
            {
                "json": {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(5000)) + " }"},
                "headers": auth,
            },
        ),
        ("deep nesting", {"json": {"query": nested}, "headers": auth}),
        ("syntax error", {"json": {"query": "{ tenants { "}, "headers": auth}),
        ("unknown field", {"json": {"query": "{ nope }"}, "headers": auth}),
        (
            "a mutation over GET",
            {"params": {"query": 'mutation { revokeApiKey(id: "x") { __typename } }'}, "headers": auth},
        ),
        ("9 MB body", {"content": b"{" + b" " * 9_000_000 + b"}", "headers": json_headers}),
        (
            "NUL in a variable",
            {
                "json": {
                    "query": "query($id: ID!) { tenant(id: $id) { id } }",
                    "variables": {"id": "ten_\x00"},
                },
                "headers": auth,
            },
        ),
        ("NUL in a literal", {"json": {"query": '{ tenant(id: "ten_\\u0000") { id } }'}, "headers": auth}),
        (
            "NUL in a cursor",
            {
                "json": {
                    "query": "query($a: String) { tenants(after: $a) { edges { cursor } } }",
                    "variables": {"a": base64.urlsafe_b64encode(b"id:\x00").decode()},
                },
                "headers": auth,
            },
        ),
        (
            "NUL in an input",
            {
                "json": {
                    "query": "mutation($i: CreateTenantInput!) { createTenant(input: $i) { __typename } }",
                    "variables": {"i": {"name": "A\x00B", "email": "a@b.example", "currency": "USD"}},
                },
                "headers": auth,
            },
        ),
        (
            "overlong test clock name",
            {
                "json": {
                    "query": (
                        'mutation { createTestClock(frozenTime: "2026-01-01T00:00:00Z", name: "%s") '
                        "{ ... on Error { code } } }"
                    )
                    % ("n" * 500)
                },
                "headers": auth,
            },
        ),
        ("a JSON number as the body", {"content": b"5", "headers": json_headers}),
        ("JSON null as the body", {"content": b"null", "headers": json_headers}),
        ("a JSON string as the body", {"content": b'"x"', "headers": json_headers}),
        (
            "a 5,000-digit number",
            {
                "content": b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5000 + b"}}",
                "headers": json_headers,
            },
        ),
        (
            "JSON nested 5,000 deep",
            {
                "content": b'{"query": "{ __typename }", "variables": {"n": '
                + b"[" * 5000
                + b"]" * 5000
                + b"}}",
                "headers": json_headers,
            },
        ),
        (
            "GET with variables that are not an object",
            {"params": {"query": "{ __typename }", "variables": "5"}, "headers": auth},
        ),
        (
            "GET with variables that are not JSON",
            {"params": {"query": "{ __typename }", "variables": "{nope"}, "headers": auth},
        ),
        (
            "a lone surrogate",
            {
                "content": (
                    b'{"query": "query($id: ID!) { tenant(id: $id) { id } }", "variables": {"id": "\\ud800"}}'
                ),
                "headers": json_headers,
            },
        ),
        (
            "a time past year 9999 in UTC",
            {
                "json": {
                    "query": (
                        'mutation { createTestClock(frozenTime: "9999-12-31T23:00:00-05:00") '
                        "{ ... on Error { code } } }"
                    )
                },
                "headers": auth,
            },
        ),
        (
            "a 5,000-digit Int literal",
            {
                "json": {"query": "{ tenants(first: %s) { edges { cursor } } }" % ("9" * 5000)},
                "headers": auth,
            },
        ),
        (
            "overlong id",
            {
                "json": {
                    "query": "query($id: ID!) { tenant(id: $id) { id } }",
                    "variables": {"id": "t" * 10_000},
                },
                "headers": auth,
            },
        ),
    ]


def assert_refused_cleanly(what: str, response: httpx.Response) -> None:
    """A 4xx, or a 200 carrying a GraphQL error or a typed error, never an internal one."""
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    if response.status_code == 200:
        body = response.json()
        errors = body.get("errors") or []
        codes = [e.get("extensions", {}).get("code") for e in errors]
        assert None not in codes, (what, body)  # every GraphQL error carries a code
        codes += [v["code"] for v in (body.get("data") or {}).values() if isinstance(v, dict) and "code" in v]
        assert codes, (what, body)
        assert "INTERNAL_SERVER_ERROR" not in codes, (what, body)
