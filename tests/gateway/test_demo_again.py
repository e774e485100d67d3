"""`make demo` run again while a demo is serving, as a newcomer does it: on a busy port it
says so in one line and touches nothing; with `PORT=` a second demo serves beside the
first, and neither locks the other out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders.live_subscriptions import free_port

pytestmark = pytest.mark.serve

ROOT = Path(__file__).resolve().parents[2]
KEYS = "query Keys { apiKeys(first: 100) { edges { node { id name revokedAt } } } }"


class Make:
    """`make demo PORT=…` in the repository, with a virtualenv made of this interpreter so
    the Makefile installs nothing; the database is the test's."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        bin_dir = tmp_path / "venv" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "python").symlink_to(sys.executable)
        gateway = bin_dir / "billing-gateway"
        gateway.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gateway "$@"\n')
        gateway.chmod(0o755)
        (tmp_path / "venv" / ".installed-runtime").touch()
        self.venv = tmp_path / "venv"
        self.env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": db_url,
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_SECRET_KEY_FILE": str(tmp_path / "gateway-secret.key"),
        }
        self.running: list[subprocess.Popen[str]] = []

    def command(self, port: int) -> list[str]:
        return ["make", "--no-print-directory", "-C", str(ROOT), "demo", f"PORT={port}", f"VENV={self.venv}"]

    def demo(self, port: int) -> str:
        """Start a demo on ``port``; its admin key once it answers."""
        process = subprocess.Popen(
            self.command(port),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.running.append(process)
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if "Admin API key:" in line:
                assert f"http://127.0.0.1:{port}/graphql" in "".join(printed)
                wait_healthy(port, process)
                return line.split("Admin API key:")[1].split()[0]
        raise AssertionError(f"no admin key printed: {''.join(printed)} {process.stderr.read()}")  # type: ignore[union-attr]

    def refused(self, port: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(port), env=self.env, capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        for process in self.running:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()


def wait_healthy(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.1)
    raise AssertionError(f"nothing healthy on port {port}")


def keys_seen(port: int, key: str) -> list[dict]:
    answer = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": KEYS},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["apiKeys"]["edges"]]


@pytest.fixture
def make(db_url: str, tmp_path: Path) -> Iterator[Make]:
    runner = Make(db_url, tmp_path)
    yield runner
    runner.stop()


def test_make_demo_on_a_busy_port_says_so_in_one_line_and_leaves_the_running_demo_alone(make: Make) -> None:
    port = free_port()
    key = make.demo(port)
    before = keys_seen(port, key)

    again = make.refused(port)

    assert again.returncode != 0
    assert "Admin API key" not in again.stdout
    refusal = [line for line in again.stderr.splitlines() if "billing-gateway:" in line]
    assert len(refusal) == 1, again.stderr
    assert refusal[0].startswith(
        f"billing-gateway: port {port} is in use (another demo?); run make demo PORT="
    )
    suggested = int(refusal[0].rsplit("PORT=", 1)[1])
    assert suggested != port
    assert keys_seen(port, key) == before  # the first demo's key still works; no key made or revoked


def test_a_second_make_demo_with_port_serves_beside_the_first_and_both_keys_work(make: Make) -> None:
    first_port, second_port = free_port(), free_port()
    first = make.demo(first_port)
    second = make.demo(second_port)

    seen = keys_seen(first_port, first)  # the first demo's key was not revoked by the second
    assert seen == keys_seen(second_port, second)
    live = {k["name"] for k in seen if k["revokedAt"] is None}
    assert {f"demo admin on 127.0.0.1:{first_port}", f"demo admin on 127.0.0.1:{second_port}"} <= live
