"""Partners' servers on loopback for outbound webhook tests: one that answers
(``Receiver``), and raw TCP ones that never answer, or reset, or record the first bytes
sent to them (``RawServer``)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict[str, Any]:
        """The payload, once its signature checks out with ``secret``."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """A partner's HTTP server on loopback. ``answers[path]``: the statuses of the next
    requests to ``path`` (then 200)."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str = "/hooks", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: Request) -> PlainTextResponse:
        self.requests.append(Received(request.url.path, dict(request.headers), await request.body()))
        queued = self.answers.get(request.url.path)
        status = queued.pop(0) if queued else 200
        return PlainTextResponse("ok" if status < 300 else "receiver is down", status_code=status)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A ``Receiver`` listening on 127.0.0.1."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    receiver.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class RawServer:
    """A TCP server on 127.0.0.1 that is no HTTP server: ``mode`` "silent" reads and
    never answers, "reset" resets each connection at once, "garbage" records the first
    bytes it gets (``first_bytes``) and answers plain text, which no TLS client takes."""

    mode: str
    port: int = 0
    connections: int = 0
    first_bytes: list[bytes] = field(default_factory=list)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def url(self, path: str = "/hooks", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        if self.mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if self.mode == "garbage":
            self.first_bytes.append(await reader.read(4096))
            writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        while await reader.read(4096):  # silent: read whatever comes, never answer
            pass


@asynccontextmanager
async def raw_server(mode: str) -> AsyncIterator[RawServer]:
    raw = RawServer(mode)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()
        for writer in raw._writers:
            writer.transport.abort()
        await server.wait_closed()


def closed_port() -> tuple[socket.socket, int]:
    """A port bound on 127.0.0.1 and never listened on (connecting is refused); close
    the socket when done."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]
