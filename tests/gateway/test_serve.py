"""The real thing: `billing-gateway serve --demo` under uvicorn, as a newcomer runs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from gateway.demo import DEMO_TENANTS
from tests.builders.hostile import abusive_requests, assert_refused_cleanly
from tests.builders.served import Server

pytestmark = pytest.mark.serve


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    running = Server(db_url, tmp_path)
    yield running
    running.stop()


def query(server: Server, document: str, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key or server.admin_key}"}
    response = httpx.post(f"{server.base}/graphql", json={"query": document}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


DEMO_NAMES = "{ tenants { edges { node { name currency timezone } } } }"


def test_demo_serves_graphiql_and_demo_tenants(server: Server) -> None:
    page = httpx.get(f"{server.base}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    tenants = query(server, DEMO_NAMES)["data"]["tenants"]["edges"]
    assert [t["node"]["name"] for t in tenants] == [t["name"] for t in DEMO_TENANTS]
    assert {t["node"]["currency"] for t in tenants} == {"USD", "JPY", "EUR"}


def test_hostile_requests_never_get_a_500_and_the_server_stays_healthy(server: Server) -> None:
    with httpx.Client(base_url=server.base, timeout=30) as http:
        for what, request in abusive_requests(server.admin_key):
            method = "GET" if "params" in request else "POST"
            assert_refused_cleanly(what, http.request(method, "/graphql", **request))
        assert http.get("/healthz").json()["status"] == "ok"
    assert len(query(server, DEMO_NAMES)["data"]["tenants"]["edges"]) == len(DEMO_TENANTS)
    assert server.process.poll() is None


async def test_graphql_transport_ws_authenticates_in_connection_init(server: Server) -> None:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {server.admin_key}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": DEMO_NAMES}}))
        message = json.loads(await ws.recv())
        assert message["type"] == "next"
        assert len(message["payload"]["data"]["tenants"]["edges"]) == len(DEMO_TENANTS)
        assert json.loads(await ws.recv()) == {"id": "1", "type": "complete"}

    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": "Bearer gwk_wrong_key_000000000000"}}
            )
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4403

    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": DEMO_NAMES}}))
        message = json.loads(await ws.recv())
        assert message["type"] == "next" and message["payload"]["data"] is None, message
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def child_pids(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def test_serve_with_two_workers_each_logging_structured_lines(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, tmp_path, workers=2, log_level="INFO")
    try:
        workers = child_pids(server.process.pid)
        assert len(workers) >= 2, workers
        for _ in range(10):
            assert len(query(server, DEMO_NAMES)["data"]["tenants"]["edges"]) == len(DEMO_TENANTS)
    finally:
        stderr = server.stop()
    access = [json.loads(line) for line in stderr.splitlines() if '"gateway.access"' in line]
    assert len([a for a in access if a["msg"] == "POST /graphql 200"]) == 10
    assert {a["pid"] for a in access} <= workers
    assert all(a["request_id"] for a in access)
    assert server.admin_key not in stderr


async def test_a_websocket_checks_its_key_and_reloads_data_for_every_operation(server: Server) -> None:
    admin = server.admin_key
    made = query(
        server,
        """mutation { createTestClock(frozenTime: "2026-03-01T00:00:00Z") { ... on TestClock { id } } }""",
    )
    clock = made["data"]["createTestClock"]["id"]
    tenant = query(
        server,
        f'''mutation {{ createTenant(input: {{name: "WS", email: "ws@x.example",
        currency: "USD", testClockId: "{clock}"}}) {{ ... on Tenant {{ id }} }} }}''',
    )["data"]["createTenant"]["id"]
    key = query(
        server,
        f'''mutation {{ createApiKey(input: {{role: TENANT, tenantId: "{tenant}"}}) {{
        ... on NewApiKey {{ secret apiKey {{ id }} }} }} }}''',
    )["data"]["createApiKey"]
    now = f'{{ tenant(id: "{tenant}") {{ now }} }}'

    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:

        async def run(op_id: str, document: str) -> dict:
            await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": document}}))
            message = json.loads(await ws.recv())
            assert json.loads(await ws.recv())["type"] == "complete"
            return message["payload"]

        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key['secret']}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        assert (await run("1", now))["data"]["tenant"]["now"] == "2026-03-01T00:00:00+00:00"

        query(
            server,
            f'''mutation {{ advanceTestClock(id: "{clock}", frozenTime: "2026-04-01T00:00:00Z") {{
              __typename }} }}''',
            admin,
        )
        assert (await run("2", now))["data"]["tenant"]["now"] == "2026-04-01T00:00:00+00:00"

        query(server, f'''mutation {{ revokeApiKey(id: "{key["apiKey"]["id"]}") {{ __typename }} }}''', admin)
        refused = await run("3", now)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
