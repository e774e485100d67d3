"""The entitlement check's fast path (gateway/fast_entitlements.py) answers byte for byte
what the general GraphQL path answers (GATEWAY_FAST_ENTITLEMENTS=false): for every
standing and reason, LIMIT and METERED features (rollups, edge days, a day on which the
clock changes), unlimited and ALLOW grants, test clocks, members, every kind of key and
error, and documents of many shapes, the ones it does not take included. And it is
taken: one SQL statement per check (two for METERED), none of the general path's."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from gateway.app import GatewayGraphQL, create_app
from gateway.fast_entitlements import FastEntitlements, Plan
from gateway.settings import Settings
from models.kernel.clock import FixedClock
from models.platform.deps import Deps
from tests.builders.api import START, Api, new_key, new_tenant
from tests.builders.billing import advance, attach, create_addon, create_plan, invite, subscribe
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.entitlements import consume, feature, grant
from tests.builders.metering import event, new_meter, record_all
from tests.builders.stripe_webhooks import deliver, invoice_event, state, subscribed_tenant

BOOTSTRAP = "bootstrap-admin-" + "k" * 16
FIELDS = ("featureCode", "kind", "enabled", "reason", "limit", "used", "remaining", "overage", "resetsAt")
FULL = """query Check($t: ID!, $f: String!, $m: ID) {
  entitlement(tenantId: $t, featureCode: $f, memberId: $m) { featureCode kind enabled reason limit used
    remaining overage resetsAt } }"""
CODES = ("sso", "projects", "editing", "api", "peak", "storage", "beta", "legacy", "teleport")


@dataclass
class World:
    tenants: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)  # tenant name -> member ids (and strays)
    keys: dict[str, str | None] = field(default_factory=dict)  # name -> Authorization header


async def _catalog(api: Api) -> dict[str, str]:
    await new_meter(api, "api_calls")
    await new_meter(api, "peak_users", "MAX")
    for code, kind, meter in (
        ("sso", "BOOLEAN", None),
        ("projects", "LIMIT", None),
        ("editing", "BOOLEAN", None),
        ("api", "METERED", "api_calls"),
        ("peak", "METERED", "peak_users"),
        ("storage", "LIMIT", None),
        ("beta", "BOOLEAN", None),
        ("legacy", "BOOLEAN", None),
    ):
        await feature(api, code, kind, meter)
    ids = {
        "starter": await create_plan(api, "starter", 10_00, includedSeats=2),
        "enterprise": await create_plan(api, "enterprise", 100_00, includedSeats=5),
        "pack": await create_addon(api, "project_pack", 5_00),
        "viewer": await create_addon(api, "viewer_seat", 0, seatType="VIEWER"),
        "boost": await create_addon(api, "api_boost", 9_00),
    }
    for plan in ("starter", "enterprise"):
        for addon in ("pack", "viewer", "boost"):
            await attach(api, ids[plan], ids[addon])
    starter, enterprise = ids["starter"], ids["enterprise"]
    await grant(api, "projects", plan=starter, limit=3)
    await grant(api, "projects", plan=enterprise, limit=10)
    await grant(api, "projects", addon=ids["pack"], limit=5)
    await grant(api, "sso", plan=enterprise)
    await grant(api, "editing", plan=enterprise, seatTypes=["FULL"])
    await grant(api, "editing", plan=starter, seatTypes=["FULL", "GUEST"])
    await grant(api, "api", plan=starter, limit=100)
    await grant(api, "api", plan=enterprise, limit=1000)
    await grant(api, "api", addon=ids["boost"], limit=50, overage="ALLOW")
    await grant(api, "peak", plan=starter, limit=40)
    await grant(api, "storage", plan=enterprise)  # no limit: unlimited
    await grant(api, "storage", plan=starter, limit=2)
    beta = await grant(api, "beta", plan=starter)
    await api("mutation($g: ID!) { revokeFeatureGrant(grantId: $g) { __typename } }", {"g": beta})
    legacy = await grant(api, "legacy", plan=starter)
    assert legacy
    features = await api("{ features { id code } }")
    legacy_id = next(f["id"] for f in features["features"] if f["code"] == "legacy")
    await api("mutation($f: ID!) { archiveFeature(featureId: $f) { __typename } }", {"f": legacy_id})
    return ids


async def build(api: Api, client: httpx.AsyncClient, deps: Deps) -> World:
    ids = await _catalog(api)
    world = World()
    world.tenants["idle"] = await new_tenant(api, "Idle")

    starter = world.tenants["starter"] = await new_tenant(api, "Starter")
    await subscribe(api, starter, ids["starter"], {ids["pack"]: 2})
    full = await invite(api, starter, "ada@starter.example.com", "FULL")
    for n in range(13):  # 3 + 2 x 5 projects: the limit
        await consume(api, starter, "projects", f"p{n}")
    await consume(api, starter, "storage", "s0", amount=0.5)
    world.members["starter"] = [full["id"]]

    team = world.tenants["enterprise"] = await new_tenant(api, "Enterprise")
    await subscribe(api, team, ids["enterprise"], {ids["viewer"]: 2})
    members = [await invite(api, team, f"m{n}@ent.example.com", t) for n, t in enumerate(("FULL", "VIEWER"))]
    gone = await invite(api, team, "gone@ent.example.com", "FULL")
    removed = await api("mutation($m: ID!) { removeMember(memberId: $m) { __typename } }", {"m": gone["id"]})
    assert removed["removeMember"]["__typename"] == "Member"
    await consume(api, team, "projects", "e0", amount=4)
    world.members["enterprise"] = [m["id"] for m in members] + [gone["id"], full["id"], "mem_missing"]

    # Tokyo, on a test clock: 20 days of usage (rollups) between two edge days.
    tokyo_clock = await new_clock(api, "2026-03-03T05:30:00Z")
    tokyo = world.tenants["tokyo"] = await tenant_on(api, "Tokyo", tokyo_clock, "Asia/Tokyo")
    await subscribe(api, tokyo, ids["starter"], {ids["boost"]: 1})
    await advance(api, tokyo_clock, "2026-03-24T01:00:00Z")
    calls = [
        event(tokyo, "api_calls", 3.5 + n % 4, f"2026-03-{3 + n // 4:02d}T{(n * 5) % 24:02d}:07:00Z")
        for n in range(84)
    ]
    peaks = [event(tokyo, "peak_users", 10 + n * 7 % 23, f"2026-03-{4 + n:02d}T12:00:00Z") for n in range(19)]
    await record_all(api, [e for e in calls if e["timestamp"] < "2026-03-24T01"] + peaks)

    # New York, its period starting an hour before the clocks go forward (2026-03-08 07:00 UTC).
    ny_clock = await new_clock(api, "2026-03-08T06:00:00Z")
    ny = world.tenants["new_york"] = await tenant_on(api, "New York", ny_clock, "America/New_York")
    await subscribe(api, ny, ids["starter"])
    await advance(api, ny_clock, "2026-03-09T03:00:00Z")
    await record_all(
        api, [event(ny, "api_calls", 1 + n, f"2026-03-08T{6 + n:02d}:30:00Z") for n in range(18)]
    )

    cancelled = world.tenants["cancelled"] = await new_tenant(api, "Cancelled")
    subscription = await subscribe(api, cancelled, ids["enterprise"])
    cancel = "mutation($s: ID!) { cancelSubscription(subscriptionId: $s, atPeriodEnd: false) { __typename } }"
    await api(cancel, {"s": subscription["id"]})

    late, late_subscription, invoice = await subscribed_tenant(api, deps, "Late")
    plan = await api("query($s: ID!) { subscription(id: $s) { plan { id } } }", {"s": late_subscription})
    await grant(api, "sso", plan=plan["subscription"]["plan"]["id"])
    failed = invoice_event(
        "invoice.payment_failed", "evt_fail", invoice_id=invoice, created=int(START.timestamp()) + 60
    )
    assert (await deliver(client, failed)).status_code == 200
    assert await state(api, invoice, late_subscription) == ("OPEN", "PAST_DUE")
    world.tenants["late"] = late

    own = await new_key(api, "TENANT", starter)
    partner = await new_key(api, "PARTNER", starter)
    revoked = await new_key(api, "TENANT", starter)
    await api("mutation($k: ID!) { revokeApiKey(id: $k) { __typename } }", {"k": revoked["apiKey"]["id"]})
    world.keys = {
        "admin": f"Bearer {api.key}",
        "bootstrap": f"Bearer {BOOTSTRAP}",
        "tenant": f"Bearer {own['secret']}",
        "partner": f"bearer  {partner['secret']} ",
        "revoked": f"Bearer {revoked['secret']}",
        "unknown": "Bearer gwk_" + "x" * 40,
        "not ours": "Bearer sk_nope",
        "none": None,
        "basic": "Basic YWRhOnB3",
        "empty": "Bearer ",
    }
    return world


@pytest.fixture
async def paths(settings: Settings, deps: Deps) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The same gateway twice on one database and clock: with the fast path and without."""
    clients = {}
    for name, fast in (("fast", True), ("general", False)):
        changed = settings.model_copy(
            update={"fast_entitlements": fast, "admin_api_key": SecretStr(BOOTSTRAP)}
        )
        app = create_app(changed, deps=deps)
        clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


@pytest.fixture(autouse=True)
def fallbacks() -> Iterator[list[logging.LogRecord]]:
    """What the fast path handed to the general path because it failed: nothing, unless a
    test says otherwise (an exception there would otherwise pass unseen, the general path
    answering in its place)."""
    caught: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = caught.append  # type: ignore[method-assign]
    logger = logging.getLogger("gateway.entitlements")
    logger.addHandler(handler)
    yield caught
    logger.removeHandler(handler)
    assert [record.getMessage() for record in caught] == []


@pytest.fixture
async def world(api: Api, client: httpx.AsyncClient, deps: Deps) -> World:
    return await build(api, client, deps)


async def same(
    paths: dict[str, httpx.AsyncClient],
    body: Any,
    authorization: str | None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    """Both paths' answers to one request, which must be identical; the decoded body."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    fast, general = [
        await paths[p].post("/graphql", content=payload, headers=headers) for p in ("fast", "general")
    ]
    assert (fast.status_code, fast.headers.get("content-type")) == (
        general.status_code,
        general.headers.get("content-type"),
    ), (body, fast.text, general.text)
    assert fast.content == general.content, (body, authorization)
    return fast.json() if fast.headers.get("content-type") == "application/json" else {}


def fast_path(paths: dict[str, httpx.AsyncClient]) -> FastEntitlements:
    transport = paths["fast"]._transport
    assert isinstance(transport, httpx.ASGITransport)
    view = next(r.app for r in transport.app.routes if isinstance(getattr(r, "app", None), GatewayGraphQL))
    assert view.fast is not None
    return view.fast


def check(tenant: str, code: str, member: str | None = None, query: str = FULL) -> dict[str, Any]:
    variables: dict[str, Any] = {"t": tenant, "f": code}
    if member is not None:
        variables["m"] = member
    return {"query": query, "variables": variables}


async def test_every_standing_reason_and_kind_of_feature_is_answered_alike_on_both_paths(
    api: Api, world: World, paths: dict[str, httpx.AsyncClient], deps: Deps
) -> None:
    seen: set[tuple[str, str | None]] = set()
    admin = world.keys["admin"]
    for name, tenant in world.tenants.items():
        for member in [None, *world.members.get(name, [])]:
            for code in CODES:
                body = await same(paths, check(tenant, code, member), admin)
                for error in body.get("errors", []):
                    seen.add(("error", error["extensions"]["code"]))
                if body["data"]:
                    got = body["data"]["entitlement"]
                    seen.add((got["kind"], got["reason"]))
                    seen.add(("limit", "unlimited" if got["limit"] is None else "limited"))
                    seen.add(("overage", got["overage"]))
    reasons = {"NOT_IN_PLAN", "LIMIT_REACHED", "SUBSCRIPTION_INACTIVE", "SEAT_TYPE_EXCLUDED", None}
    assert reasons <= {reason for _, reason in seen}
    assert {("METERED", None), ("LIMIT", None), ("BOOLEAN", None), ("error", "NOT_FOUND")} <= seen
    assert {("overage", "ALLOW"), ("overage", "BLOCK"), ("limit", "unlimited")} <= seen

    clock = deps.clock
    assert isinstance(clock, FixedClock)
    for moment in (
        START + deps.policy.past_due_grace - timedelta(minutes=1),
        START + deps.policy.past_due_grace * 2,
    ):
        clock.set(moment)
        late = await same(paths, check(world.tenants["late"], "sso"), admin)
        assert late["data"]["entitlement"]["enabled"] is (moment < START + deps.policy.past_due_grace)


def _shapes(rng: random.Random, count: int) -> list[tuple[str, dict[str, str], str | None]]:
    """(document, which argument is a variable, operation name to send) of many shapes."""
    shapes = []
    for n in range(count):
        fields = rng.sample([*FIELDS, "__typename"], rng.randint(1, len(FIELDS) + 1))
        if rng.random() < 0.3:
            fields.append(rng.choice(fields))  # asked twice: one answer
        selection = " ".join(f"a{i}: {f}" if rng.random() < 0.3 else f for i, f in enumerate(fields))
        arguments, declared, marks = [], [], {}
        for argument, kind in (("tenantId", "ID!"), ("featureCode", "String!"), ("memberId", "ID")):
            if argument == "memberId" and rng.random() < 0.5:
                continue
            if rng.random() < 0.5:
                arguments.append(f"{argument}: ${argument[0]}")
                declared.append(f"${argument[0]}: {kind}")
                marks[argument] = "variable"
            else:
                arguments.append(f"{argument}: LITERAL_{argument}")
                marks[argument] = "literal"
        root = ("e: " if rng.random() < 0.3 else "") + f"entitlement({', '.join(arguments)})"
        name = f"Q{n}" if rng.random() < 0.5 else ""
        head = f"query {name}({', '.join(declared)})" if declared else (f"query {name}" if name else "")
        space = "\n  # a comment\n" * rng.randint(0, 2)
        document = f"{head} {{{space}{root} {{ {selection} }} }}"
        shapes.append((document, marks, name or None if rng.random() < 0.5 else None))
    return shapes


def _request(
    shape: tuple[str, dict[str, str], str | None], tenant: str, code: str, member: str | None
) -> dict[str, Any]:
    document, marks, name = shape
    values = {"tenantId": tenant, "featureCode": code, "memberId": member}
    variables = {}
    for argument, mark in marks.items():
        value = values[argument]
        if mark == "variable":
            if value is not None:
                variables[argument[0]] = value
        else:
            document = document.replace(f"LITERAL_{argument}", "null" if value is None else json.dumps(value))
    request: dict[str, Any] = {"query": document, "variables": variables}
    if name is not None:
        request["operationName"] = name
    return request


async def test_documents_of_many_shapes_get_the_same_answers_whether_the_fast_path_takes_them_or_not(
    world: World, paths: dict[str, httpx.AsyncClient]
) -> None:
    starter, team, tokyo = world.tenants["starter"], world.tenants["enterprise"], world.tenants["tokyo"]
    cases = [
        (starter, "projects", None),
        (team, "editing", world.members["enterprise"][1]),
        (tokyo, "api", None),
    ]
    cases += [
        (team, "teleport", None),
        (team, "sso", world.members["enterprise"][2]),
        ("ten_missing", "sso", None),
    ]
    for shape in _shapes(random.Random(18), 30):
        for tenant, code, member in cases:
            await same(paths, _request(shape, tenant, code, member), world.keys["admin"])
    taken = list(fast_path(paths).plans.values())
    assert len(taken) >= 30 and all(
        isinstance(plan, Plan) for plan in taken
    )  # each shape was the fast path's

    not_taken = [
        'query($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { ...E } } '
        "fragment E on Entitlement { enabled }",
        'query($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { ... on Entitlement { enabled } } }',
        'query($t: ID!, $y: Boolean!) { entitlement(tenantId: $t, featureCode: "sso") { '
        "enabled @include(if: $y) } }",
        'query($t: ID!) { a: entitlement(tenantId: $t, featureCode: "sso") { enabled } '
        'b: entitlement(tenantId: $t, featureCode: "api") { used } }',
        'query($t: ID!) { __typename entitlement(tenantId: $t, featureCode: "sso") { enabled } }',
        'query($t: ID! = "ten_x") { entitlement(tenantId: $t, featureCode: "sso") { enabled } }',
        'query($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { enabled nope } }',
        'query($t: String!) { entitlement(tenantId: $t, featureCode: "sso") { enabled } }',
        'query($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { enabled }',
        'query($t: ID!) { entitlement(tenantId: $t, featureCode: "s\\u0000o") { enabled } }',
        'mutation($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { enabled } }',
    ]
    for document in not_taken:
        await same(paths, {"query": document, "variables": {"t": starter, "y": True}}, world.keys["admin"])
    plain = 'query Q($t: ID!) { entitlement(tenantId: $t, featureCode: "sso") { enabled } }'
    odd_requests: list[Any] = [
        {"query": plain, "variables": {"t": 7}},
        {"query": plain, "variables": {"t": None}},
        {"query": plain, "variables": {}},
        {"query": plain, "variables": {"t": starter, "extra": "x"}},
        {"query": plain, "variables": {"t": "ten\u0000"}},
        {"query": plain, "variables": {"t": starter}, "operationName": "Other"},
        {"query": plain, "variables": {"t": starter}, "operationName": "Q"},
        {"query": plain, "variables": [starter]},
        {"query": plain, "variables": {"t": starter}, "extensions": {"persistedQuery": {"version": 1}}},
        [{"query": plain, "variables": {"t": starter}}],
        {"query": None},
        b'{"query": "{ entitlement',
    ]
    for request in odd_requests:
        await same(paths, request, world.keys["admin"])
    await same(paths, {"query": plain, "variables": {"t": starter}}, world.keys["admin"], "text/plain")


async def test_every_kind_of_key_is_told_the_same_on_both_paths(
    world: World, paths: dict[str, httpx.AsyncClient]
) -> None:
    told = {}
    for key, authorization in world.keys.items():
        for tenant in (world.tenants["starter"], world.tenants["enterprise"]):
            body = await same(paths, check(tenant, "projects"), authorization)
            told[(key, tenant == world.tenants["starter"])] = (body.get("errors") or [{}])[0].get(
                "extensions"
            )
    assert told[("tenant", True)] is None and told[("partner", True)] is None
    assert told[("tenant", False)] == {"code": "NOT_FOUND"}  # another tenant's: as if it did not exist
    for key in ("revoked", "unknown", "not ours", "none", "basic", "empty"):
        assert told[(key, True)] == {"code": "UNAUTHENTICATED"}, key


def _logged(stream: Any, since: int) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()[since:] if line.startswith("{")]


async def test_a_check_costs_one_statement_and_a_metered_one_two_and_the_general_path_runs_none_of_its_own(
    world: World, paths: dict[str, httpx.AsyncClient], log_output: Any
) -> None:
    for code, statements in (("sso", 1), ("projects", 1), ("api", 2)):
        for path in ("fast", "general"):
            since = len(log_output.getvalue().splitlines())
            tenant = world.tenants["tokyo"] if code == "api" else world.tenants["starter"]
            response = await paths[path].post(
                "/graphql",
                json=check(tenant, code),
                headers={"Authorization": world.keys["tenant" if code != "api" else "admin"]},
            )
            assert response.json()["data"]["entitlement"]["featureCode"] == code
            lines = _logged(log_output, since)
            sql = [line for line in lines if line["logger"].startswith("sqlalchemy.engine")]
            fast = [line for line in lines if line["logger"] == "gateway.entitlements"]
            if path == "fast":
                assert [line["statements"] for line in fast] == [statements], lines
                assert sql == []  # neither the key's session nor the service's
            else:
                assert fast == [] and len(sql) > 5


async def test_a_revoked_key_is_refused_on_the_next_check(
    api: Api, world: World, paths: dict[str, httpx.AsyncClient]
) -> None:
    key = await new_key(api, "TENANT", world.tenants["starter"])
    ask = check(world.tenants["starter"], "sso")
    assert (await same(paths, ask, f"Bearer {key['secret']}"))["data"]["entitlement"][
        "reason"
    ] == "NOT_IN_PLAN"
    await api("mutation($k: ID!) { revokeApiKey(id: $k) { __typename } }", {"k": key["apiKey"]["id"]})
    refused = await same(paths, ask, f"Bearer {key['secret']}")
    assert refused["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_a_check_whose_connection_died_is_answered_by_the_general_path_and_the_next_one_reconnects(
    backend: str,
    world: World,
    paths: dict[str, httpx.AsyncClient],
    deps: Deps,
    log_output: Any,
    fallbacks: list[logging.LogRecord],
) -> None:
    if backend != "postgres":
        pytest.skip("the database server ends the connections")
    ask = check(world.tenants["starter"], "projects")
    first = await same(paths, ask, world.keys["admin"])
    async with deps.store.transaction() as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    since = len(log_output.getvalue().splitlines())
    for _ in range(3):
        assert (await same(paths, ask, world.keys["admin"])) == first
    warned = [line for line in _logged(log_output, since) if line["logger"] == "gateway.entitlements"]
    assert [line["level"] for line in warned][:1] == ["warning"]
    assert [line.get("statements") for line in warned][-1] == 1
    assert len(fallbacks) == 1  # the dead connection's check only
    fallbacks.clear()
