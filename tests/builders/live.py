"""Real `billing-gateway serve` processes for the reliability tests: started as an
operator starts them, on a free loopback port, with their log in a file (a pipe
nobody reads would block a busy server), and stopped, or killed, by pid.

The admin key is the bootstrap `GATEWAY_ADMIN_API_KEY`, so a restarted server on the
same database takes the same key."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import signal
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.server import free_port, gateway_command, serving_pids, status_kb
from tests.builders.api import Api

START_TIMEOUT = 60.0  # migrations and imports on a loaded CI runner
STOP_TIMEOUT = 15.0


class LiveServer:
    """One `billing-gateway serve` process tree on ``db_url``."""

    def __init__(
        self,
        db_url: str,
        log_path: Path,
        *,
        workers: int = 1,
        log_level: str = "WARNING",
        admin_key: str | None = None,
    ) -> None:
        self.db_url = db_url
        self.log_path = log_path
        self.workers = workers
        self.log_level = log_level
        self.admin_key = admin_key or secrets.token_hex(24)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> LiveServer:
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": self.db_url,
            "GATEWAY_ADMIN_API_KEY": self.admin_key,
            "GATEWAY_LOG_LEVEL": self.log_level,
            "GATEWAY_LOG_FORMAT": "json",
        }
        command = [
            gateway_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await self._wait_healthy()
        return self

    async def _wait_healthy(self) -> None:
        """Poll /healthz (and, with several workers, until each worker runs) instead of
        sleeping a guessed time."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.base, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.output()}")
                try:
                    healthy = (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    healthy = False
                if healthy and self._workers_started():
                    return
                await asyncio.sleep(0.1)
        raise AssertionError(f"serve was not healthy within {START_TIMEOUT:.0f} s:\n{self.output()}")

    def _workers_started(self) -> bool:
        """Every worker is up; at INFO, each has logged that its startup is complete, so
        a burst of connections right after finds them all accepting."""
        if self.workers == 1:
            return True
        pids = set(self.pids())
        if len(pids) < self.workers:
            return False
        if self.log_level not in ("INFO", "DEBUG"):
            return True
        started = {
            e.get("pid") for e in self.log_entries() if e.get("msg") == "Application startup complete."
        }
        return pids <= started

    def pids(self) -> list[int]:
        """The processes that serve requests: the root itself with one worker, else the
        workers (not multiprocessing's resource tracker, a leaf of the tree too)."""
        assert self.process is not None
        return sorted(serving_pids(self.process.pid))

    def rss_kb(self) -> int:
        """Resident memory of the serving processes, summed (one worker: the server's own)."""
        return sum(status_kb(pid, "VmRSS") for pid in self.pids())

    def http(self, **options: Any) -> httpx.AsyncClient:
        """A keep-alive client with the admin key, generous timeouts for a loaded runner."""
        options.setdefault("timeout", 60)
        options.setdefault("verify", _tls())  # one CA bundle load, not one per client (~30 ms each)
        return httpx.AsyncClient(
            base_url=self.base, headers={"Authorization": f"Bearer {self.admin_key}"}, **options
        )

    def kill(self) -> list[int]:
        """SIGKILL every process of the tree, the supervisor first so none is respawned;
        returns the pids killed."""
        assert self.process is not None
        victims = [self.process.pid, *(p for p in self.pids() if p != self.process.pid)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=STOP_TIMEOUT)
        return victims

    def stop(self) -> None:
        """Ctrl-C, as an operator stops it; SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        workers = [p for p in self.pids() if p != self.process.pid]
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        for pid in workers:  # a worker the supervisor left behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def output(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def log_entries(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (other lines, e.g. a traceback, skipped)."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:  # a line still being written
                    continue
        return entries


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


@asynccontextmanager
async def running(db_url: str, log_path: Path, **options: Any) -> AsyncIterator[LiveServer]:
    server = LiveServer(db_url, log_path, **options)
    try:
        yield await server.start()
    finally:
        server.stop()


@asynccontextmanager
async def admin_api(server: LiveServer, **options: Any) -> AsyncIterator[Api]:
    """The tests' `Api` (and so the tests.api step helpers) over real HTTP to ``server``."""
    async with server.http(**options) as http:
        yield Api(http, server.admin_key)


def server_errors(server: LiveServer) -> list[dict[str, Any]]:
    """The log's error lines: an unhandled exception in a request is one."""
    return [e for e in server.log_entries() if e.get("level") in ("error", "critical")]
