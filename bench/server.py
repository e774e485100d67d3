"""A real `billing-gateway serve` process on a free loopback port, and an httpx client
to it that keeps its connection alive, as a partner's client would."""

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
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 60.0


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


def serving_pids(root: int) -> list[int]:
    """The processes that serve: the root itself with one worker (uvicorn does not
    fork), else its leaf descendants (the workers it spawned)."""
    tree = _children()
    leaves, stack = [], [root]
    while stack:
        pid = stack.pop()
        kids = tree.get(pid, [])
        if kids:
            stack.extend(kids)
        else:
            leaves.append(pid)
    return leaves


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(f"{field} not in /proc/{pid}/status")


class Server:
    def __init__(self, db_url: str, profile_to: Path | None = None) -> None:
        self.db_url = db_url
        self.profile_to = profile_to  # run the server under cProfile, its stats written here at exit
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_key = secrets.token_hex(24)
        self.process: subprocess.Popen[bytes] | None = None
        self.http: httpx.AsyncClient | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="bench_serve_", suffix=".log", delete=False)

    async def start(self) -> None:
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": self.db_url,
            "GATEWAY_ADMIN_API_KEY": self.admin_key,
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_BILLING_INTERVAL_SECONDS": "0",
        }
        command = [gateway_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.profile_to is not None:
            self.profile_to.parent.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, "-m", "cProfile", "-o", str(self.profile_to), *command]
        self.process = subprocess.Popen(
            command,
            env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.http = httpx.AsyncClient(
            base_url=self.base, timeout=300, headers={"Authorization": f"Bearer {self.admin_key}"}
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"billing-gateway serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if (await self.http.get("/healthz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"billing-gateway serve was not healthy within {START_TIMEOUT:.0f} s:\n{self.output()}")

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-4000:]

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

    def peak_rss(self) -> tuple[int, list[int]]:
        """(VmHWM in kB, the pids it was read from): the largest of the serving processes."""
        assert self.process is not None
        pids = serving_pids(self.process.pid)
        return max(status_kb(pid, "VmHWM") for pid in pids), pids

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.process is not None and self.process.poll() is None:
            # Ctrl-C: uvicorn shuts down, then re-raises the signal; SIGINT's KeyboardInterrupt
            # still lets cProfile write its stats, where SIGTERM's default action would not.
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)
