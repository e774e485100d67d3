"""Live GraphQL subscriptions: the gateway under uvicorn on a loopback port, a
`graphql-transport-ws` client, and a tenant whose seats change."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
import websockets

from gateway.app import create_app
from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api, new_tenant
from tests.builders.billing import plan_with_seat_addon, subscribe

SEATS = """subscription($t: ID!) { seatsChanged(tenantId: $t) { id tenantId at reason memberId
  seats { included purchased total used available byType { seatType total used available } } } }"""

QUIET = 0.5  # how long "receives nothing" waits, once the event has reached everyone it would


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serve(settings: Settings, deps: Deps) -> AsyncIterator[str]:
    """The gateway under uvicorn on a free loopback port, lifespan (hub, workers) included."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, deps=deps),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    assert server.started, "the server did not start"
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def http_api(address: str, key: str) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http:
        yield Api(http, key)


class LiveClient:
    """A graphql-transport-ws client: connection_init with the key, then subscribe."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = 0

    async def subscribe(self, query: str, variables: dict[str, Any]) -> str:
        self.ids += 1
        op = str(self.ids)
        await self.ws.send(
            json.dumps({"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables}})
        )
        return op

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def assert_silent(self, seconds: float = QUIET) -> None:
        try:
            message = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, received {message}")


@asynccontextmanager
async def live(address: str, key: str | None) -> AsyncIterator[LiveClient]:
    payload = {"Authorization": f"Bearer {key}"} if key else {}
    async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        yield LiveClient(ws)


async def subscribed(hub: Any, count: int) -> None:
    """Wait until the server's hub holds `count` subscribers: the protocol has no
    acknowledgement of a subscribe, and events committed before it are not streamed."""
    for _ in range(500):
        if hub.subscriber_count == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{hub.subscriber_count} subscribers, expected {count}")


async def seated_tenant(api: Api, name: str, included: int = 3) -> str:
    """A tenant on a plan with `included` FULL seats."""
    tenant = await new_tenant(api, name)
    code = name.lower().replace(" ", "_")
    plan, _ = await plan_with_seat_addon(api, code, 49_00, 10_00, includedSeats=included)
    assert (await subscribe(api, tenant, plan))["__typename"] == "Subscription"
    return tenant


def next_data(message: dict[str, Any], op: str, field: str) -> dict[str, Any]:
    assert message["type"] == "next" and message["id"] == op, message
    assert not message["payload"].get("errors"), message
    return message["payload"]["data"][field]
