"""Hostile and malformed requests, beyond tests/api/test_hardening.py's
`abusive_requests`: other content types and encodings, batches, huge variables,
aliases on a field that reaches the database, fragment cycles and fragment bombs,
long literals, repeated directives, deep nesting of every kind.

Each must get the answer a client can act on: the exact status class, and a message
that names the problem (a 4xx body, or a GraphQL error with a code), never a 500 or
an INTERNAL_SERVER_ERROR. The gateway must stay healthy afterwards and keep
answering real traffic while they arrive. Every case runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.builders.api import Api, new_tenant
from tests.builders.hostile import abusive_requests, assert_refused_cleanly

TOKENS = "more than 20000 tokens"
TOO_COMPLEX = "too complex to check"
UNSUPPORTED = "Unsupported content type"


@dataclass(frozen=True)
class Hostile:
    """One request (httpx keyword arguments, `method` among them) and the answer it
    must get: ``status``, ``says`` somewhere in its message, and for a GraphQL error
    (top-level or a typed member of a result union) its ``code``."""

    what: str
    request: dict[str, Any]
    status: int
    says: str
    code: str | None = None


def fragment_bomb(levels: int) -> str:
    """A "billion laughs": each fragment spreads the one before it twice, so the
    operation selects 2**levels fields once expanded, in a few hundred bytes."""
    fragments = ['fragment L0 on Query { tenant(id: "ten_x") { id } }']
    fragments += [f"fragment L{i} on Query {{ ...L{i - 1} ...L{i - 1} }}" for i in range(1, levels + 1)]
    return f"query Laughs {{ ...L{levels} }} " + " ".join(fragments)


def hostile_requests(key: str) -> list[Hostile]:
    auth = {"Authorization": f"Bearer {key}"}
    as_json = {**auth, "Content-Type": "application/json"}
    typename = json.dumps({"query": "{ __typename }"})
    create_tenant = """mutation($i: CreateTenantInput!) { createTenant(input: $i) { __typename
                         ... on Error { code message } } }"""

    def post(what: str, query: str, status: int, says: str, code: str | None = None, **body: Any) -> Hostile:
        return Hostile(what, {"json": {"query": query, **body}, "headers": auth}, status, says, code)

    return [
        # -- what HTTP carries: content types, encodings, lengths, methods, batches --
        Hostile(
            "JSON labelled text/plain",
            {"content": typename, "headers": {**auth, "Content-Type": "text/plain"}},
            400,
            UNSUPPORTED,
        ),
        Hostile("no Content-Type at all", {"content": typename.encode(), "headers": auth}, 400, UNSUPPORTED),
        Hostile(
            "an application/graphql body",
            {"content": b"{ __typename }", "headers": {**auth, "Content-Type": "application/graphql"}},
            400,
            UNSUPPORTED,
        ),
        Hostile(
            "a form-encoded body", {"data": {"query": "{ __typename }"}, "headers": auth}, 400, UNSUPPORTED
        ),
        Hostile(
            "a multipart upload",
            {"files": {"operations": (None, typename), "map": (None, "{}")}, "headers": auth},
            400,
            UNSUPPORTED,
        ),
        Hostile(
            "a gzip-encoded body",
            {"content": gzip.compress(typename.encode()), "headers": {**as_json, "Content-Encoding": "gzip"}},
            415,
            "Content-Encoding 'gzip' is not supported",
        ),
        Hostile(
            "a negative Content-Length",
            {"content": typename.encode(), "headers": {**as_json, "Content-Length": "-1"}},
            400,
            "Content-Length '-1' is not a number",
        ),
        Hostile(
            "a body in Latin-1",
            {
                "content": '{"query": "{ __typename }", "variables": {"x": "é"}}'.encode("latin-1"),
                "headers": {**auth, "Content-Type": "application/json; charset=latin-1"},
            },
            400,
            "not valid UTF-8",
        ),
        Hostile(
            "a batch of two operations",
            {"json": [{"query": "{ __typename }"}] * 2, "headers": auth},
            400,
            "Batching is not enabled",
        ),
        Hostile("an empty batch", {"json": [], "headers": auth}, 400, "Batching is not enabled"),
        Hostile(
            "a query that is a number",
            {"json": {"query": 5}, "headers": auth},
            400,
            "`query` must be a string",
        ),
        Hostile(
            "extensions that are a number",
            {"json": {"query": "{ __typename }", "extensions": 5}, "headers": auth},
            400,
            "`extensions` must be an object",
        ),
        post(
            "an operationName that names nothing",
            "query A { __typename }",
            400,
            'Unknown operation named "Z"',
            operationName="Z",
        ),
        Hostile(
            "PUT",
            {"method": "PUT", "json": {"query": "{ __typename }"}, "headers": auth},
            405,
            "Method Not Allowed",
        ),
        post(
            "a subscription over POST",
            'subscription { seatsChanged(tenantId: "ten_x") { tenantId } }',
            400,
            "subscriptions are not allowed when using POST",
        ),
        Hostile(
            "a subscription over GET",
            {
                "method": "GET",
                "params": {"query": 'subscription { seatsChanged(tenantId: "t") { tenantId } }'},
                "headers": auth,
            },
            400,
            "subscriptions are not allowed when using GET",
        ),
        # -- credentials --
        Hostile(
            "an Authorization header that is not text",
            {
                "json": {"query": "{ tenants { edges { cursor } } }"},
                "headers": {"Authorization": b"Bearer \xff\xfe"},
            },
            200,
            "not valid",
            "UNAUTHENTICATED",
        ),
        Hostile(
            "a 100 KB Authorization header",
            {
                "json": {"query": "{ tenants { edges { cursor } } }"},
                "headers": {"Authorization": "Bearer " + "k" * 100_000},
            },
            200,
            "not valid",
            "UNAUTHENTICATED",
        ),
        # -- size and multiplication: aliases, fragments, repeats --
        post(
            "5,000 aliases of tenant",
            "{ " + " ".join(f'a{i}: tenant(id: "ten_{i}") {{ id }}' for i in range(5000)) + " }",
            200,
            TOKENS,
            "GRAPHQL_PARSE_FAILED",
        ),
        post(
            "1,500 aliases of tenant",
            "{ " + " ".join(f'a{i}: tenant(id: "ten_{i}") {{ id }}' for i in range(1500)) + " }",
            200,
            "1500 aliases found. Allowed: 100",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "aliases multiplied by fragments",
            "query { ...F10 } fragment F0 on Query { a: __typename } "
            + " ".join(f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 11)),
            200,
            "1024 aliases found. Allowed: 100",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "a fragment cycle",
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            200,
            "Cannot spread fragment 'A' within itself via 'B'",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "a fragment bomb of 2**60 fields",
            fragment_bomb(60),
            200,
            "more than 20000 fields once its fragments are expanded",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "a chain of 1,500 fragments",
            "query { ...C1500 } fragment C0 on Query { __typename } "
            + " ".join(f"fragment C{i} on Query {{ ...C{i - 1} }}" for i in range(1, 1501)),
            200,
            TOO_COMPLEX,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "the same field 2,000 times",
            "{ " + "tenants { edges { cursor } } " * 2000 + "}",
            200,
            TOO_COMPLEX,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "tenant with 1,000 different ids under one name",
            "{ " + " ".join(f'tenant(id: "ten_{i}") {{ id }}' for i in range(1000)) + " }",
            200,
            TOO_COMPLEX,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "@skip twice on one field",
            "{ __typename @skip(if: false) @skip(if: false) }",
            200,
            "The directive '@skip' can only be used once at this location",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "3,000 directives on one field",
            "{ __typename " + "@include(if: true) " * 3000 + "}",
            200,
            TOKENS,
            "GRAPHQL_PARSE_FAILED",
        ),
        post(
            "a 3 MB string literal",
            'mutation { createTenant(input: {name: "%s", '
            'email: "a@b.example", currency: "USD"}) { __typename '
            "... on Error { code message } } }" % ("n" * 3_000_000),
            200,
            "input.name: ",
            "VALIDATION_FAILED",
        ),
        post(
            "a 3 MB string variable",
            create_tenant,
            200,
            "input.name: ",
            "VALIDATION_FAILED",
            variables={"i": {"name": "n" * 3_000_000, "email": "a@b.example", "currency": "USD"}},
        ),
        post(
            "an input with 50,000 unknown fields",
            create_tenant,
            200,
            "Variable '$i' has invalid value",
            "GRAPHQL_VALIDATION_FAILED",
            variables={"i": {f"k{i}": i for i in range(50_000)}},
        ),
        post(
            "20,000 usage events in one call",
            """mutation($e: [RecordUsageInput!]!) { recordUsageBatch(events: $e) { __typename
                  ... on Error { code message } } }""",
            200,
            "at most 10,000 fit in one call",
            "VALIDATION_FAILED",
            variables={"e": [{"tenantId": "ten_x", "meterName": "api_calls", "value": 1}] * 20_000},
        ),
        # -- nesting: selections, literals, variables, introspection --
        post(
            "selections nested 3,000 deep",
            "{ " + 'tenant(id: "t") { ' * 3000 + "id" + " }" * 3000 + " }",
            200,
            "Document is nested too deeply",
            "GRAPHQL_PARSE_FAILED",
        ),
        post(
            "a list literal nested 3,000 deep",
            "{ tenant(id: " + "[" * 3000 + "]" * 3000 + ") { id } }",
            200,
            "Document is nested too deeply",
            "GRAPHQL_PARSE_FAILED",
        ),
        post(
            "an object literal nested 3,000 deep",
            "mutation { createTenant(input: " + "{a: " * 3000 + "1" + "}" * 3000 + ") { __typename } }",
            200,
            "Document is nested too deeply",
            "GRAPHQL_PARSE_FAILED",
        ),
        post(
            "a variable nested 900 deep",
            "query($id: ID!) { tenant(id: $id) { id } }",
            200,
            "Variable '$id' has invalid value: ID cannot represent value",
            "GRAPHQL_VALIDATION_FAILED",
            variables={"id": json.loads("[" * 900 + "]" * 900)},
        ),
        post(
            "usage events nested 900 deep",
            "mutation($e: [RecordUsageInput!]!) { recordUsageBatch(events: $e) { __typename } }",
            200,
            "Variable '$e' has invalid value",
            "GRAPHQL_VALIDATION_FAILED",
            variables={"e": json.loads("[" * 900 + "]" * 900)},
        ),
        post(
            "introspection nested 10 types deep",
            '{ __type(name: "Tenant") { '
            + "fields { type { fields { type { " * 10
            + "name"
            + " } } } }" * 10
            + " } }",
            200,
            "Maximum introspection depth exceeded",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        post(
            "a NUL outside any string",
            "{ __typename \x00 }",
            200,
            "Unexpected character: U+0000",
            "GRAPHQL_PARSE_FAILED",
        ),
    ]


def answer_of(response: httpx.Response) -> tuple[str, str | None]:
    """(every message in the answer, the first code): top-level errors, then typed
    errors in the data, else the raw body of a 4xx."""
    try:
        body = response.json()
    except ValueError:
        return response.text, None
    if not isinstance(body, dict):
        return response.text, None
    errors = body.get("errors") or []
    typed = [v for v in (body.get("data") or {}).values() if isinstance(v, dict) and "code" in v]
    found = errors + typed
    codes = [(e.get("extensions") or {}).get("code") for e in errors] + [t["code"] for t in typed]
    return " | ".join(str(e.get("message")) for e in found), (codes[0] if codes else None)


def mismatch(case: Hostile, response: httpx.Response) -> str | None:
    """Why the answer is not the one the case expects, or None."""
    message, code = answer_of(response)
    if response.status_code != case.status:
        return f"{case.what}: HTTP {response.status_code}, expected {case.status}: {response.text[:300]}"
    if case.says.lower() not in message.lower():
        return f"{case.what}: the answer does not say {case.says!r}: {message[:300]}"
    if case.status == 200 and code != case.code:
        return f"{case.what}: code {code!r}, expected {case.code!r}: {message[:300]}"
    if len(response.content) > 64_000:
        return f"{case.what}: a {len(response.content):,}-byte answer echoes the request back"
    return None


async def send(http: httpx.AsyncClient, request: dict[str, Any]) -> httpx.Response:
    request = dict(request)
    method = request.pop("method", "GET" if "params" in request else "POST")
    return await http.request(method, "/graphql", **request)


async def still_answers(http: httpx.AsyncClient, api: Api, tenant: str) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok", "database": "up"}
    assert await api("query($id: ID!) { tenant(id: $id) { id name } }", {"id": tenant}) == {
        "tenant": {"id": tenant, "name": "Hostile Co"}
    }


async def test_each_hostile_request_gets_the_answer_that_names_its_problem(
    client: httpx.AsyncClient, api: Api, admin_key: str
) -> None:
    tenant = await new_tenant(api, "Hostile Co")
    problems = []
    for case in hostile_requests(admin_key):
        problems.append(mismatch(case, await send(client, case.request)))
        await still_answers(client, api, tenant)
    wrong = [p for p in problems if p]
    assert not wrong, "\n".join(wrong)


async def test_real_requests_are_answered_while_hostile_ones_arrive(
    client: httpx.AsyncClient, api: Api, admin_key: str
) -> None:
    """Every hostile request of both suites at once, among real reads and writes: each
    real one gets its right answer, each hostile one its refusal, and none a 500."""
    tenant = await new_tenant(api, "Hostile Co")
    hostile = hostile_requests(admin_key)
    abusive = abusive_requests(admin_key)
    reads = [api.raw("query($id: ID!) { tenant(id: $id) { id name } }", {"id": tenant}) for _ in range(20)]
    writes = [
        api.raw(
            'mutation($n: String!) { createTenant(input: {name: $n, email: "x@y.example", currency: "EUR"}) '
            "{ ... on Tenant { name } } }",
            {"n": f"Tenant {i}"},
        )
        for i in range(10)
    ]
    answers = await asyncio.gather(
        *(send(client, case.request) for case in hostile),
        *(send(client, request) for _, request in abusive),
        *reads,
        *writes,
    )
    hostile_answers, rest = answers[: len(hostile)], answers[len(hostile) :]
    abusive_answers, rest = rest[: len(abusive)], rest[len(abusive) :]
    wrong = [p for p in map(mismatch, hostile, hostile_answers) if p]
    assert not wrong, "\n".join(wrong)
    for (what, _), response in zip(abusive, abusive_answers, strict=True):
        assert_refused_cleanly(what, response)
    assert rest[: len(reads)] == [{"data": {"tenant": {"id": tenant, "name": "Hostile Co"}}}] * len(reads)
    assert sorted(a["data"]["createTenant"]["name"] for a in rest[len(reads) :]) == sorted(
        f"Tenant {i}" for i in range(10)
    )
    await still_answers(client, api, tenant)


async def test_harmless_oddities_are_answered_normally(
    client: httpx.AsyncClient, api: Api, admin_key: str
) -> None:
    """Odd but well-formed requests are not refused: 100 aliases of a field that reads
    the database (the limit) resolve every one, unused variables are ignored, a UTF-8
    byte order mark is skipped, and of duplicate JSON keys the last one counts."""
    ids = [await new_tenant(api, f"Team {i}") for i in range(3)]
    aliased = " ".join(f'a{i}: tenant(id: "{ids[i % 3]}") {{ id }}' for i in range(100))
    data = await api("{ " + aliased + " }")
    assert [data[f"a{i}"]["id"] for i in range(100)] == [ids[i % 3] for i in range(100)]
    unused = await api.raw("{ __typename }", {f"k{i}": i for i in range(100_000)})
    assert unused == {"data": {"__typename": "Query"}}
    headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}
    bom = await client.post("/graphql", content=b'\xef\xbb\xbf{"query": "{ __typename }"}', headers=headers)
    assert bom.json() == {"data": {"__typename": "Query"}}
    twice = await client.post(
        "/graphql", content=b'{"query": "{ nope }", "query": "{ __typename }"}', headers=headers
    )
    assert twice.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("backend", ["sqlite"])  # validation only: no database reached
async def test_a_fragment_bomb_is_refused_before_anything_expands_it(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    """2**22 fields from 23 fragments: expanding them (as Strawberry's depth and alias
    rules did) took about a minute of CPU, while the worker answered nobody else."""
    started = time.perf_counter()
    response = await client.post(
        "/graphql", json={"query": fragment_bomb(22)}, headers={"Authorization": f"Bearer {admin_key}"}
    )
    assert time.perf_counter() - started < 5
    assert response.json()["errors"][0]["message"] == (
        "The operation selects more than 20000 fields once its fragments are expanded; spread fragments "
        "fewer times."
    )
