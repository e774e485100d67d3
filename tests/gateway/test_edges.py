"""The served gateway's edges refuse early and quietly: an oversized websocket message is
closed as it arrives while other requests go on, and clients that give up mid-upload
are an INFO line each, never an ERROR."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.builders.served import Server

pytestmark = pytest.mark.serve

TENANTS = {"query": "{ tenants(first: 5) { edges { node { name } } } }"}


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    running = Server(db_url, tmp_path, log_level="INFO")
    yield running
    running.stop()


def usage_batch_message(size: int) -> str:
    """A graphql-transport-ws subscribe of a usage batch about `size` bytes long."""
    event = {"tenantId": "ten_x", "meterName": "api_calls", "value": 1, "idempotencyKey": "k" * 40}
    count = size // len(json.dumps(event))
    payload = {
        "query": "mutation($e: [RecordUsageInput!]!) { recordUsageBatch(events: $e) { __typename } }",
        "variables": {"e": [event] * count},
    }
    return json.dumps({"id": "1", "type": "subscribe", "payload": payload})


async def timed_query(server: Server) -> float:
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.perf_counter()
        response = await http.post(
            f"{server.base}/graphql", json=TENANTS, headers={"Authorization": f"Bearer {server.admin_key}"}
        )
        elapsed = time.perf_counter() - started
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return elapsed


async def test_a_14_mb_websocket_message_is_refused_at_once_while_another_request_answers(
    server: Server,
) -> None:
    message = usage_batch_message(14 * 1024 * 1024)
    assert len(message) > 13 * 1024 * 1024
    url = f"ws://127.0.0.1:{server.port}/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {server.admin_key}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"

        async def send_it() -> None:
            try:
                await ws.send(message)
            except websockets.ConnectionClosed:
                pass  # refused while it was still being sent

        started = time.perf_counter()
        sending = asyncio.create_task(send_it())
        await asyncio.sleep(0.05)  # the message is on its way
        answered_in = await timed_query(server)
        await sending
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        refused_in = time.perf_counter() - started
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # "message too big"
    assert answered_in < 1, f"a request beside the message took {answered_in:.2f} s"
    assert refused_in < 2, f"the message was refused after {refused_in:.2f} s"
    assert (await timed_query(server)) < 1


def abort_upload(port: int, chunked: bool) -> None:
    """Start a large request body, send part of it, and hang up."""
    body = b'{"query": "' + b"x" * 64 * 1024
    framing = b"Transfer-Encoding: chunked\r\n" if chunked else b"Content-Length: 3000000\r\n"
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + framing + b"\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        sock.sendall(b"%x\r\n" % len(body) + body + b"\r\n" if chunked else body)
        time.sleep(0.02)


def test_twenty_aborted_uploads_log_no_error_and_the_server_stays_healthy(server: Server) -> None:
    for attempt in range(20):
        abort_upload(server.port, chunked=attempt % 2 == 1)
    time.sleep(0.5)  # the server notices the last hang-ups
    assert httpx.get(f"{server.base}/healthz", timeout=5).json()["status"] == "ok"
    logged = server.stop()
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    errors = [line for line in lines if line["level"] in ("error", "critical")]
    assert errors == [], errors
    assert "Traceback" not in logged
    disconnects = [line for line in lines if "client disconnected" in line["msg"]]
    assert len(disconnects) == 20 and {line["level"] for line in disconnects} == {"info"}
