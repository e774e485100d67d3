"""GraphQL fuzzing: thousands of schema-valid operations, generated from the schema by
hypothesis-graphql, sent over HTTP to the app with a seeded database.

Every answer must be one a client can act on: never a 5xx, always JSON, every error
either a parse/validation error (before execution, so no `path`) or one with a code
from `ErrorCode`. An INTERNAL_SERVER_ERROR is a masked exception, which means a bug
in our code, so it fails the run like an unmasked one would. The arguments mix real
ids and names from the seeded rows (so resolvers go past NOT_FOUND and run over real
rows) with random text, edge-case times, dates and decimals; half the operations pass
their arguments as variables, the way clients do, since variables and literals are
coerced by different code.

Hypothesis is derandomised, so CI runs the same operations every time. PostgreSQL,
which refuses what SQLite swallows, gets the bigger run; SQLite a smaller one. A run
also sends operations that break the schema once each (hypothesis-graphql's negative
mode): refused before execution, never an internal error.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql_st
from pydantic import SecretStr
from sqlalchemy import text

from gateway.app import create_app
from gateway.live import Hub
from gateway.schema import build_schema
from gateway.settings import Settings
from models.kernel.clock import FixedClock
from models.kernel.errors import ErrorCode
from models.platform.deps import Deps
from models.platform.pagination import encode_cursor
from models.platform.store import Store
from models.webhooks import deliveries as webhook_deliveries
from tests.builders.api import START, Api, new_key, new_tenant
from tests.builders.billing import attach, create_addon, plan_with_seat_addon, subscribe
from tests.builders.dns import FakeDns
from tests.builders.metering import new_meter, record

SDL = build_schema().as_str()
BOOTSTRAP_KEY = "fuzz-bootstrap-admin-key-0123456789"  # cannot be revoked by a fuzzed revokeApiKey
TYPED_CODES = {code.value for code in ErrorCode}
# Refusals before anything runs, each naming what to change; QUERY_COST_EXCEEDED comes
# back for generated documents that nest three unpaginated lists (plans, add-ons, features).
PRE_EXECUTION_CODES = {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "QUERY_COST_EXCEEDED"}
# (queries, mutations, invalid operations) per backend: 2,000 operations on PostgreSQL,
# which refuses what SQLite swallows (NUL, out-of-range numbers and dates), so finds
# more; fewer on SQLite. About 20 ms each (half generating, half answering).
BUDGET = {"postgres": (1000, 800, 200), "sqlite": (500, 400, 200)}


@dataclass
class Seeded:
    """The rows the fuzz can name, keys of every kind, and for `retarget` the values
    that an argument or input field of a given name wants (`tenantId`: the tenants)."""

    ids: list[str]
    strings: list[str]
    keys: dict[str, str | None] = field(default_factory=dict)
    slots: dict[str, list[graphql.ValueNode]] = field(default_factory=dict)

    def of_kind(self, prefix: str) -> list[str]:
        return [i for i in self.ids if i.startswith(f"{prefix}_")]


# The kind of row (by id prefix) an `id` argument of these fields names.
ID_OF_FIELD = {
    "tenant": "ten",
    "subscription": "sub",
    "invoice": "inv",
    "testClock": "clock",
    "advanceTestClock": "clock",
    "revokeApiKey": "key",
    "updateMeter": "meter",
    "updateWebhookEndpoint": "whe",
    "deleteWebhookEndpoint": "whe",
}


async def seed(api: Api, deps: Deps) -> Seeded:
    """A tenant on a test clock with a subscription (so an invoice), members, a meter
    with usage, a usage charge, a webhook endpoint, keys; and a second tenant whose ids
    a TENANT key of the first must not reach."""

    async def ok(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        data = await api(query, variables)
        result = next(iter(data.values()))
        assert "code" not in result, result
        return result

    clock = (
        await ok(
            'mutation { createTestClock(frozenTime: "2026-01-15T12:00:00Z", name: "fuzz") '
            "{ ... on TestClock { id } ... on Error { code message } } }"
        )
    )["id"]
    tenant = await new_tenant(api, "Fuzz Co", clock)
    other = await new_tenant(api, "Other Co")
    plan, seat_addon = await plan_with_seat_addon(api, "fuzz_pro", 9900, 1500, includedSeats=2, maxSeats=50)
    pack = await create_addon(api, "fuzz_pack", 5000, seatType="VIEWER", seatsPerUnit=5)
    assert (await attach(api, plan, pack))["__typename"] == "Plan"
    other_plan = (await plan_with_seat_addon(api, "fuzz_basic", 1900, 900))[0]
    subscription = await subscribe(api, tenant, plan, {seat_addon: 3})
    assert subscription["__typename"] == "Subscription", subscription
    other_subscription = await subscribe(api, other, other_plan)
    invoice = subscription["latestInvoice"]["id"]
    endpoint = (
        await ok(
            """mutation($t: ID!) { createWebhookEndpoint(input: {url: "https://hooks.fuzz.example/in",
                  events: ["seats.changed", "invoice.created"], tenantId: $t}) {
                  ... on NewWebhookEndpoint { endpoint { id } } ... on Error { code message } } }""",
            {"t": tenant},
        )
    )["endpoint"]["id"]
    member = (
        await ok(
            """mutation($t: ID!) { inviteMember(input: {tenantId: $t, email: "ann@fuzz.example"}) {
                            ... on Member { id } ... on Error { code message } } }""",
            {"t": tenant},
        )
    )["id"]
    assert (
        await webhook_deliveries.dispatch_events(deps) >= 1
    )  # the worker's step: the event becomes a delivery
    deliveries = (
        await api(
            """query($e: ID!) { webhookDeliveries(endpointId: $e) { edges { node { id } } } }""",
            {"e": endpoint},
        )
    )["webhookDeliveries"]["edges"]
    meter_name = "api_calls"
    meter = await new_meter(api, meter_name, "SUM")
    for day, value in ((10, 5.0), (14, 7.5), (15, 1.0)):
        result = await record(
            api, tenant, meter_name, value, at=f"2026-01-{day:02d}T09:00:00Z", key=f"seed-{day}"
        )
        assert result["__typename"] == "UsageRecorded", result
    await ok(
        """mutation($p: ID!) { addUsageCharge(input: {planId: $p, meterName: "api_calls", unitAmount: 2}) {
                  __typename ... on Error { code message } } }""",
        {"p": plan},
    )
    tenant_key = await new_key(api, "TENANT", tenant)
    partner_key = await new_key(api, "PARTNER", tenant)
    victim_key = await new_key(api, "TENANT", other)  # only this key's id is offered to revokeApiKey
    cursor = encode_cursor(tenant)
    ids = [
        clock,
        tenant,
        other,
        plan,
        other_plan,
        seat_addon,
        pack,
        subscription["id"],
        other_subscription["id"],
        invoice,
        member,
        meter,
        endpoint,
        deliveries[0]["node"]["id"],
        victim_key["apiKey"]["id"],
    ]
    strings = [
        meter_name,
        "2026-01",
        "2025-12",
        "2026-13",
        "0000-00",
        "9999-12",
        "USD",
        "JPY",
        "EUR",
        "XXX",
        "UTC",
        "Europe/Berlin",
        "Pacific/Kiritimati",
        "Not/AZone",
        "https://hooks.fuzz.example/in",
        "http://127.0.0.1:1/x",
        "ann@fuzz.example",
        "no-at-sign",
        "seats.changed",
        "usage.recorded",
        cursor,
        "fuzz_pro",
        "fuzz_seat",
        "US",
        "DE",
        "",
        " ",
        "-1",
        "1e309",
        tenant,
        plan,
    ]
    keys = {
        "admin": BOOTSTRAP_KEY,
        "tenant": tenant_key["secret"],
        "partner": partner_key["secret"],
        "none": None,
    }
    seeded = Seeded(ids=ids, strings=strings, keys=keys)
    slot_ids = {
        "tenantId": "ten",
        "planId": "plan",
        "addonId": "addon",
        "subscriptionId": "sub",
        "memberId": "mem",
        "endpointId": "whe",
        "deliveryId": "msg",
        "testClockId": "clock",
    }
    values = {
        "meterName": [meter_name],
        "month": ["2026-01", "2025-12"],
        "currency": ["USD"],
        "date": ["2026-01-14", "2026-01-15"],
        "from": ["2026-01-01"],
        "to": ["2026-01-31"],
        "timezone": ["Europe/Berlin"],
        "country": ["DE"],
        "email": ["bob@fuzz.example", "ann@fuzz.example"],
        "after": [encode_cursor(i) for i in ids[:3]],
    }
    seeded.slots = {
        slot: [nodes.String(i) for i in seeded.of_kind(prefix)] for slot, prefix in slot_ids.items()
    }
    seeded.slots |= {slot: [nodes.String(v) for v in vs] for slot, vs in values.items()}
    seeded.slots |= {
        "first": [nodes.Int(1), nodes.Int(2), nodes.Int(100)],
        "quantity": [nodes.Int(1), nodes.Int(4)],
    }
    return seeded


def scalars(seeded: Seeded) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Value strategies for ID and String (real values, near misses, random text) and
    for the custom input scalars (valid values across their whole range, and garbage).
    JSON is output only."""
    junk = st.text(max_size=40)  # any code point but lone surrogates: NUL, emoji, RTL marks
    offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
        lambda m: timezone(timedelta(minutes=m))
    )
    near = st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2027, 6, 1), timezones=offsets)
    anywhen = st.datetimes(timezones=offsets | st.just(UTC))
    datetimes = st.one_of(
        near.map(datetime.isoformat),
        anywhen.map(datetime.isoformat),
        st.datetimes().map(datetime.isoformat),  # naive
        st.sampled_from(
            [
                "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00+14:00",
                "2026-02-30T00:00:00Z",
                "2026-01-15",
                "2026-01-15T12:00:00.123456789Z",
                "20260115T120000Z",
                "now",
            ]
        ),
        junk,
    ).map(nodes.String)
    dates = st.one_of(
        st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)).map(date.isoformat),
        st.dates().map(date.isoformat),
        st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-29", "2026-1-5", "20260115"]),
        junk,
    ).map(nodes.String)
    decimals = st.one_of(
        st.decimals(places=4, min_value=-1000, max_value=1000).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["1e999999999", "-0", "NaN", "sNaN", "Infinity", "0.0000000001", "1" * 400]),
        junk,
    ).map(nodes.String)
    real_ids = st.sampled_from(seeded.ids)
    ids = st.one_of(
        real_ids.map(nodes.String),
        real_ids.map(nodes.String),
        real_ids.map(lambda i: i[:-1]).map(nodes.String),  # a near miss
        junk.map(nodes.String),
        st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
    )
    strings = st.one_of(st.sampled_from(seeded.strings), st.sampled_from(seeded.strings), junk).map(
        nodes.String
    )
    # MinorUnits and Long: JSON integers within ±(2^53 - 1); just past it, far past it, and
    # what is not an integer at all must be refused naming the argument.
    safe = 2**53 - 1
    integers = st.one_of(
        st.integers(min_value=-1000, max_value=100_000).map(nodes.Int),
        st.integers(min_value=-safe, max_value=safe).map(nodes.Int),
        st.sampled_from([safe + 1, -safe - 1, 2**63, 10**30]).map(nodes.Int),
        st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str).map(nodes.Float),
        junk.map(nodes.String),
    )
    return {
        "ID": ids,
        "String": strings,
        "DateTime": datetimes,
        "Date": dates,
        "Decimal": decimals,
        "MinorUnits": integers,
        "Long": integers,
    }


def retarget(document: str, seeded: Seeded, pick: int) -> str:
    """Point ids at rows of the kind their slot wants (`tenantId` a tenant,
    `revokeApiKey(id:)` a key) and fill named slots (`meterName`, `month`, `first`)
    with seeded values, so operations reach past NOT_FOUND and VALIDATION_FAILED into
    the resolvers' real work. ``pick`` chooses among the candidates."""
    fields: list[str] = []

    def swap(slot: str, value: graphql.ValueNode) -> graphql.ValueNode | None:
        if isinstance(value, graphql.NullValueNode | graphql.VariableNode):
            return None
        if slot == "id" and fields and fields[-1] in ID_OF_FIELD:
            candidates = [nodes.String(i) for i in seeded.of_kind(ID_OF_FIELD[fields[-1]])]
        else:
            candidates = seeded.slots.get(slot, [])
        return candidates[pick % len(candidates)] if candidates else None

    class Retarget(graphql.Visitor):
        def enter_field(self, node: graphql.FieldNode, *_: Any) -> None:
            fields.append(node.name.value)

        def leave_field(self, *_: Any) -> None:
            fields.pop()

        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            value = swap(node.name.value, node.value)
            return None if value is None else graphql.ArgumentNode(name=node.name, value=value)

        def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> Any:
            value = swap(node.name.value, node.value)
            return None if value is None else graphql.ObjectFieldNode(name=node.name, value=value)

    return graphql.print_ast(graphql.visit(graphql.parse(document), Retarget()))


def with_typename(document: str) -> str:
    """Select `__typename` on the root field too, so the tally can tell which member of
    a result union came back even when the operation selected none of its fields."""
    ast = graphql.parse(document)
    operation = ast.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    root = operation.selection_set.selections[0]
    if not isinstance(root, graphql.FieldNode) or root.selection_set is None:
        return document
    typename = graphql.FieldNode(name=graphql.NameNode(value="__typename"))
    selection_set = graphql.SelectionSetNode(selections=(typename, *root.selection_set.selections))
    root = graphql.FieldNode(
        alias=root.alias,
        name=root.name,
        arguments=root.arguments,
        directives=root.directives,
        selection_set=selection_set,
    )
    operation = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        directives=operation.directives,
        variable_definitions=operation.variable_definitions,
        selection_set=graphql.SelectionSetNode(selections=(root,)),
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=(operation,)))


def literals_to_variables(document: str, schema: graphql.GraphQLSchema) -> tuple[str, dict[str, Any]]:
    """The same operation with every field argument passed as a variable of the
    argument's type: clients send variables, which graphql-core coerces from JSON by
    other code than literals."""
    ast = graphql.parse(document)
    type_info = graphql.TypeInfo(schema)
    definitions: list[graphql.VariableDefinitionNode] = []
    variables: dict[str, Any] = {}

    class Lift(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            argument = type_info.get_argument()
            if argument is None or isinstance(node.value, graphql.VariableNode):
                return None
            name = f"v{len(definitions)}"
            variables[name] = graphql.value_from_ast_untyped(node.value)
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=graphql.VariableNode(name=graphql.NameNode(value=name)),
                    type=graphql.parse_type(str(argument.type)),
                )
            )
            return graphql.ArgumentNode(
                name=node.name, value=graphql.VariableNode(name=graphql.NameNode(value=name))
            )

    lifted = graphql.visit(ast, graphql.TypeInfoVisitor(type_info, Lift()))
    operation = lifted.definitions[0]
    operation = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        directives=operation.directives,
        variable_definitions=tuple(definitions),
        selection_set=operation.selection_set,
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=(operation,))), variables


def problems_in(status: int, body: Any) -> list[str]:
    """What is wrong with one answer; nothing when a client could act on it."""
    if status >= 500:
        return [f"HTTP {status}"]
    if status != 200:
        return [f"HTTP {status} for a well-formed request"]
    if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
        return [f"not a GraphQL response: {str(body)[:200]}"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        message = error.get("message", "")
        if code in PRE_EXECUTION_CODES:
            if error.get("path"):  # an execution error dressed as a validation one
                found.append(f"{code} raised while executing {error['path']}: {message}")
        elif code not in TYPED_CODES:
            found.append(f"error with code {code!r}: {message}")
        if "Traceback" in message or "Error(" in message:
            found.append(f"exception text leaked: {message[:200]}")
    return found


class Fuzzer:
    """Sends operations through the app over HTTP in its own event loop (hypothesis
    drives a synchronous function) and keeps count of what came back."""

    def __init__(self, runner: asyncio.Runner, http: httpx.AsyncClient, deps: Deps, seeded: Seeded) -> None:
        self.runner = runner
        self.http = http
        self.deps = deps
        self.seeded = seeded
        self.schema = graphql.build_schema(SDL)
        self.sent = 0
        self.outcomes: dict[str, int] = {}

    def send(self, document: str, key_name: str, as_variables: bool, pick: int | None) -> None:
        report = self.check(document, key_name, as_variables, pick)
        assert not report, report

    def check(self, document: str, key_name: str, as_variables: bool, pick: int | None) -> str:
        """Send one operation; what was wrong with the answer, or an empty string."""
        variables: dict[str, Any] = {}
        document = with_typename(document if pick is None else retarget(document, self.seeded, pick))
        if as_variables:
            document, variables = literals_to_variables(document, self.schema)
        key = self.seeded.keys[key_name]
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        payload = json.dumps({"query": document, "variables": variables}, allow_nan=False)
        response = self.runner.run(self.http.post("/graphql", content=payload, headers=headers))
        self.sent += 1
        try:
            body = response.json()
        except ValueError:
            body = None
        self._tally(body)
        problems = problems_in(response.status_code, body)
        if not problems:
            return ""
        return (
            f"{problems}\nkey: {key_name}\nrequest id: {response.headers.get('x-request-id')}\n"
            f"operation:\n{document}\nvariables: {json.dumps(variables)[:2000]}\nanswer: "
            f"{response.text[:2000]}"
        )

    def _tally(self, body: Any) -> None:
        """Counts of each outcome, printed at the end: a run that only ever saw
        UNAUTHENTICATED or NOT_FOUND would have tested little."""
        outcomes = []
        if isinstance(body, dict):
            outcomes += [(e.get("extensions") or {}).get("code", "?") for e in body.get("errors") or []]
            for value in (body.get("data") or {}).values():
                typename = value.get("__typename", "") if isinstance(value, dict) else ""
                outcomes.append(typename if typename.endswith("Error") else "ok")
        for outcome in outcomes or ["ok"]:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def operations(kind: str, custom: dict[str, st.SearchStrategy[graphql.ValueNode]]) -> st.SearchStrategy[str]:
    """Operations on one root field each, drawn evenly over the root fields: every
    field gets its share, and generating small documents is five times faster than
    documents that select many root fields at once. (Several root fields in one
    operation, one of them failing, also left sibling resolvers' coroutines never
    awaited: a RuntimeWarning, which pytest turns into an error at random places.)
    ``invalid``: operations with one violation of the schema each (a wrong type, a
    missing argument, an unknown enum value), on every field that takes arguments."""
    schema = graphql.build_schema(SDL)
    if kind == "invalid":
        fields = [(gql_st.queries, name, f) for name, f in schema.query_type.fields.items()]  # type: ignore[union-attr]
        fields += [(gql_st.mutations, name, f) for name, f in schema.mutation_type.fields.items()]  # type: ignore[union-attr]
        return st.one_of(
            [
                generate(SDL, fields=[name], custom_scalars=custom, mode=gql_st.Mode.NEGATIVE)
                for generate, name, field in fields
                if field.args
            ]
        )
    root, generate = (
        (schema.query_type, gql_st.queries) if kind == "query" else (schema.mutation_type, gql_st.mutations)
    )
    assert root is not None
    return st.one_of([generate(SDL, fields=[name], custom_scalars=custom) for name in root.fields])


def run_fuzz(fuzzer: Fuzzer, operations: st.SearchStrategy[str], examples: int, keys: list[str]) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(
        document=operations,
        key_name=st.sampled_from(keys),
        as_variables=st.booleans(),
        pick=st.sampled_from([None, 0, 1, 2]),
    )
    def fuzz(document: str, key_name: str, as_variables: bool, pick: int | None) -> None:
        fuzzer.send(document, key_name, as_variables, pick)

    fuzz()


@contextmanager
def fuzzer_for(db_url: str) -> Iterator[Fuzzer]:
    """The app over a freshly seeded database, in an event loop of its own."""

    async def start() -> tuple[httpx.AsyncClient, Deps, Seeded]:
        store = Store(db_url)
        # FakeDns: the seeded webhook endpoint's example host name resolves, to a public address.
        deps = Deps(store=store, clock=FixedClock(START), bus=Hub(store.dialect), resolver=FakeDns())
        app = create_app(Settings(database_url=db_url, admin_api_key=SecretStr(BOOTSTRAP_KEY)), deps=deps)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")
        return http, deps, await seed(Api(http, BOOTSTRAP_KEY), deps)

    async def stop(http: httpx.AsyncClient, deps: Deps) -> None:
        await http.aclose()
        await deps.store.dispose()

    with asyncio.Runner() as runner:
        http, deps, seeded = runner.run(start())
        try:
            yield Fuzzer(runner, http, deps, seeded)
        finally:
            runner.run(stop(http, deps))


@pytest.mark.slow
def test_generated_operations_never_fail_unexpectedly(db_url: str, backend: str) -> None:
    started = time.perf_counter()
    with fuzzer_for(db_url) as fuzzer:
        custom = scalars(fuzzer.seeded)
        n_queries, n_mutations, n_invalid = BUDGET[backend]
        # Reads mostly by the tenant's own key; writes mostly by the admin, who may do the most.
        run_fuzz(
            fuzzer, operations("query", custom), n_queries, ["admin", "tenant", "tenant", "partner", "none"]
        )
        run_fuzz(
            fuzzer,
            operations("mutation", custom),
            n_mutations,
            ["admin", "admin", "tenant", "partner", "none"],
        )
        run_fuzz(fuzzer, operations("invalid", custom), n_invalid, ["admin", "tenant"])
        healthy = fuzzer.runner.run(fuzzer.http.get("/healthz"))
        assert healthy.json() == {"status": "ok", "database": "up"}
    elapsed = time.perf_counter() - started
    common = sorted(fuzzer.outcomes.items(), key=lambda kv: -kv[1])
    print(f"\n{backend}: {fuzzer.sent} operations in {elapsed:.1f} s; outcomes: {common}")
    assert fuzzer.sent >= sum(BUDGET[backend])
    # Retargeted ids and names take many operations past NOT_FOUND: a good share must succeed.
    assert fuzzer.outcomes.get("ok", 0) >= fuzzer.sent // 4, common


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_fuzz_flags_what_it_must(db_url: str) -> None:
    """The oracle itself: a failing resolver (masked as INTERNAL_SERVER_ERROR) and an
    execution error passed off as a validation error both fail the run."""
    with fuzzer_for(db_url) as fuzzer:
        assert fuzzer.check("{ meters { id } }", "admin", as_variables=False, pick=None) == ""

        async def lose_meters() -> None:
            async with fuzzer.deps.store.transaction() as session:
                await session.execute(text("ALTER TABLE meters RENAME TO meters_gone"))

        fuzzer.runner.run(lose_meters())
        report = fuzzer.check("{ meters { id } }", "admin", as_variables=True, pick=None)
    assert "error with code 'INTERNAL_SERVER_ERROR'" in report and "meters" in report
    disguised = {
        "data": None,
        "errors": [
            {
                "message": "Int cannot represent 2**40",
                "path": ["plans", 0],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    }
    assert problems_in(200, disguised) == [
        "GRAPHQL_VALIDATION_FAILED raised while executing ['plans', 0]: Int cannot represent 2**40"
    ]
    assert problems_in(502, None) == ["HTTP 502"]
