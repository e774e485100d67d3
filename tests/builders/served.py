"""`billing-gateway serve --demo` in its own process, as a newcomer runs it: the tests
read its admin key from what it prints and talk to it over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.builders.live_subscriptions import free_port


class Server:
    def __init__(
        self,
        db_url: str,
        cwd: Path,
        workers: int = 1,
        log_level: str = "WARNING",
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GATEWAY_DATABASE_URL": db_url, "GATEWAY_LOG_LEVEL": log_level, **(env or {})}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--demo",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.admin_key = self._read_admin_key()
        self._wait_healthy()

    def _read_admin_key(self) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "Admin API key:" in line:
                return line.split("Admin API key:")[1].split()[0]
        raise AssertionError(f"no admin key printed; stderr: {self.process.stderr.read()}")  # type: ignore[union-attr]

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.1)
        raise AssertionError("server never became healthy")

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, stderr = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return stderr
