"""Servers the bench talks to, each a process of its own on a free loopback port, and
the clients that time them.

- ``Server``: a real `billing-gateway serve` (one process, one worker), with an httpx
  client to it that keeps its connection alive, as a partner's client would;
- ``BaselineServer``: the hand-written baseline (bench.baseline) under uvicorn, started
  the way `serve` starts the gateway (one process, one worker, uvicorn's defaults:
  uvloop and httptools when installed, no access log);
- ``HttpConnection``: one kept-alive HTTP/1.1 connection that sends pre-encoded
  requests and reads just enough of the answer to check it. Load is generated with it
  rather than httpx because httpx costs more CPU per request than the baseline does
  to answer one: on two cores the client would cap the baseline and flatter the ratio.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gateway_command() -> str:
    """The venv's console script beside this interpreter (`.venv/bin/billing-gateway`)."""
    beside = Path(sys.executable).parent / "billing-gateway"
    if beside.exists():
        return str(beside)
    found = shutil.which("billing-gateway")
    if found is None:
        raise RuntimeError("billing-gateway is not installed in this environment")
    return found


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def serving_pids(root: int) -> list[int]:
    """The processes that serve: the root itself with one worker (uvicorn does not
    fork), else its leaf descendants (the workers it spawned), leaving out
    multiprocessing's resource tracker, which is a leaf too."""
    tree = _children()
    leaves, stack = [], [root]
    while stack:
        pid = stack.pop()
        kids = tree.get(pid, [])
        if kids:
            stack.extend(kids)
        elif "resource_tracker" not in _cmdline(pid):
            leaves.append(pid)
    return leaves


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(f"{field} not in /proc/{pid}/status")


class Process:
    """A server process on a free loopback port, healthy once GET /healthz answers 200.
    Subclasses say what to run (``command``) and with which environment (``env``)."""

    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.http: httpx.AsyncClient | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="bench_serve_", suffix=".log", delete=False)

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def headers(self) -> dict[str, str]:
        return {}

    async def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(),
            env=self.env(),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.AsyncClient(base_url=self.base, timeout=300, headers=self.headers())
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            try:
                if (await self.http.get("/healthz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} was not healthy within {START_TIMEOUT:.0f} s:\n{self.output()}")

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def peak_rss(self) -> tuple[int, list[int]]:
        """(VmHWM in kB, the pids it was read from): the largest of the serving processes."""
        assert self.process is not None
        pids = serving_pids(self.process.pid)
        return max(status_kb(pid, "VmHWM") for pid in pids), pids

    async def connect(self) -> HttpConnection:
        return await HttpConnection.open(self.port)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.process is not None and self.process.poll() is None:
            # Ctrl-C: uvicorn shuts down, then re-raises the signal; SIGINT's KeyboardInterrupt
            # still lets pyinstrument write its call tree, where SIGTERM's default action would not.
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


class Server(Process):
    """`billing-gateway serve`, its bootstrap admin key on the httpx client."""

    name = "billing-gateway serve"

    def __init__(self, db_url: str, profile_to: Path | None = None) -> None:
        super().__init__()
        self.db_url = db_url
        self.profile_to = profile_to  # run the server under pyinstrument, its call tree written here at exit
        self.admin_key = secrets.token_hex(24)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GATEWAY_DATABASE_URL": self.db_url,
            "GATEWAY_ADMIN_API_KEY": self.admin_key,
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_BILLING_INTERVAL_SECONDS": "0",
        }

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def command(self) -> list[str]:
        command = [gateway_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.profile_to is not None:
            self.profile_to.parent.mkdir(parents=True, exist_ok=True)
            command = [
                sys.executable,
                "-m",
                "pyinstrument",
                "-r",
                "text",
                "-o",
                str(self.profile_to),
                *command,
            ]
        return command

    async def post(self, body: bytes) -> httpx.Response:
        """POST an already encoded GraphQL request to /graphql."""
        assert self.http is not None
        return await self.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an operation; any GraphQL error is the bench's failure."""
        assert self.http is not None
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        if response.status_code != 200:
            raise RuntimeError(f"/graphql answered {response.status_code}: {response.text[:500]}")
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]


class BaselineServer(Process):
    """bench.baseline's Starlette app under uvicorn, on the same database."""

    name = "the baseline server"

    def __init__(self, db_url: str) -> None:
        super().__init__()
        self.db_url = db_url

    def env(self) -> dict[str, str]:
        return {**os.environ, "BENCH_BASELINE_DATABASE_URL": self.db_url}

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.baseline:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            "--lifespan",
            "on",
        ]


# -- timing clients ------------------------------------------------------------------


class HttpError(RuntimeError):
    pass


def post_request(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a keep-alive HTTP/1.1 POST of a JSON body."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class HttpConnection:
    """One kept-alive HTTP/1.1 connection: one request at a time, answered with a
    Content-Length or chunked body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, request: bytes) -> Response:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ", 2)[1])
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
            body = b"".join(parts)
        else:
            raise HttpError(f"an answer with neither Content-Length nor chunks: {head[:300]!r}")
        return Response(status, headers, body)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


@dataclass(slots=True)
class Load:
    """What ``run_load`` measured: every timed request's latency in seconds."""

    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


async def run_load(
    connections: Sequence[HttpConnection],
    request: bytes,
    *,
    seconds: float,
    warmup: int,
    check: Callable[[Response], None],
) -> Load:
    """Every connection sends ``request`` back to back: first ``warmup`` untimed ones
    each, then for ``seconds``. Each answer goes to ``check`` (which raises on a wrong
    one); the time is from the first timed send to the last timed answer."""

    async def warm(conn: HttpConnection) -> None:
        for _ in range(warmup):
            check(await conn.send(request))

    await asyncio.gather(*(warm(c) for c in connections))
    load = Load(0.0)
    began = time.perf_counter()
    deadline = began + seconds

    async def drive(conn: HttpConnection) -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            answer = await conn.send(request)
            load.latencies.append(time.perf_counter() - sent)
            check(answer)

    await asyncio.gather(*(drive(c) for c in connections))
    load.seconds = time.perf_counter() - began
    return load


async def run_mixed_load(
    connections: Sequence[HttpConnection],
    requests: Sequence[bytes],
    *,
    seconds: float,
    warmup: int,
    check: Callable[[int, Response], None],
) -> Load:
    """``run_load`` over several requests: connection ``c`` of ``n`` sends them in turn,
    starting at request ``c * len(requests) // n``, so the connections ask different
    things at any moment. ``check`` gets the request's index with each answer."""
    count = len(requests)

    def turns(conn_index: int) -> Iterator[int]:
        index = conn_index * count // max(len(connections), 1)
        while True:
            yield index % count
            index += 1

    async def warm(conn: HttpConnection, order: Iterator[int]) -> None:
        for _ in range(warmup):
            index = next(order)
            check(index, await conn.send(requests[index]))

    orders = [turns(i) for i in range(len(connections))]
    await asyncio.gather(*(warm(c, o) for c, o in zip(connections, orders, strict=True)))
    load = Load(0.0)
    began = time.perf_counter()
    deadline = began + seconds

    async def drive(conn: HttpConnection, order: Iterator[int]) -> None:
        while time.perf_counter() < deadline:
            index = next(order)
            sent = time.perf_counter()
            answer = await conn.send(requests[index])
            load.latencies.append(time.perf_counter() - sent)
            check(index, answer)

    await asyncio.gather(*(drive(c, o) for c, o in zip(connections, orders, strict=True)))
    load.seconds = time.perf_counter() - began
    return load
